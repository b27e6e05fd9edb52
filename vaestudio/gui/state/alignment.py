"""Where a run's steps fall in another unit of training: images seen, or seconds of training (Qt-free).

Runs compared by step read wrongly when their batch sizes differ (a step of 128 images is not a step of
32), so compared runs are aligned by images seen by default. What a run's history holds decides each unit:

- step: as recorded.
- images seen: step x batch size (the run's config; a run's batch size never changes while it trains or
  resumes). The last, smaller batch of each epoch is counted as a full one (an error of at most one batch
  per epoch). A branch (core.branching) counts its parents' images up to the step it began at, each with
  its own batch size.
- wall time: seconds spent training, from what the run recorded: each finished epoch's training seconds
  (EpochEnd.seconds: train steps only, without the test pass, pauses or snapshots), spread evenly over the
  epoch's steps, and after the last finished epoch the last reported rate (images per second). A branch's
  clock starts at 0 where it began; an epoch stopped and resumed counts only its seconds after the resume. A run that recorded no training time (a model opened from a .keras
  file, a run stopped before its first report) cannot be aligned by wall time: `RunClock.unavailable`
  says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

STEP, IMAGES, SECONDS = "step", "images", "seconds"
UNITS = (IMAGES, STEP, SECONDS)  # the order the selector lists them
DEFAULT_UNIT = IMAGES
UNIT_NAMES = {STEP: "step", IMAGES: "images seen", SECONDS: "wall time"}
AXIS_LABELS = {STEP: "step", IMAGES: "images seen", SECONDS: "wall time (s of training)"}


def checked_unit(unit: str) -> str:
    """`unit` if it is one of UNITS, else a ValueError naming it."""
    if unit not in UNITS:
        raise ValueError(f"alignment unit {unit!r} is not one of {', '.join(UNITS)}")
    return unit


@dataclass(frozen=True)
class RunClock:
    """A run's steps in images seen and in seconds of training (see the module's docstring)."""

    origin_step: int = 0  # where the run's own records begin (its parent's step for a branch)
    batch_size: int = 1
    images_before: float = 0.0  # images seen before `origin_step` (a branch's parents')
    time_steps: tuple[float, ...] = ()  # knots: steps at which the seconds of training are known ...
    time_seconds: tuple[float, ...] = ()  # ... and those seconds (time_steps[0] is origin_step, 0 s)
    steps_per_second: float | None = None  # the last reported rate, beyond the last knot

    @property
    def unavailable(self) -> dict[str, str]:
        """unit -> why this run cannot be aligned by it (only units that cannot)."""
        if len(self.time_steps) < 2 and not self.steps_per_second:
            return {SECONDS: "this run recorded no training time"}
        return {}

    def convert(self, steps: Sequence[float] | np.ndarray, unit: str) -> np.ndarray:
        """`steps` (global steps of this run) in `unit`, as floats."""
        steps = np.asarray(steps, dtype=float)
        if checked_unit(unit) == STEP:
            return steps.copy()
        if unit == IMAGES:
            return self.images_before + (steps - self.origin_step) * self.batch_size
        if SECONDS in self.unavailable:
            raise ValueError(self.unavailable[SECONDS])
        knots_x, knots_y = self._knots()
        seconds = np.interp(steps, knots_x, knots_y)
        if self.steps_per_second:
            beyond = steps > knots_x[-1]
            seconds[beyond] = knots_y[-1] + (steps[beyond] - knots_x[-1]) / self.steps_per_second
        return seconds

    def step_at(self, value: float, unit: str) -> float:
        """The (fractional) step at which this run reached `value` in `unit`: convert's inverse."""
        if checked_unit(unit) == STEP:
            return float(value)
        if unit == IMAGES:
            return self.origin_step + (float(value) - self.images_before) / self.batch_size
        knots_x, knots_y = self._knots()
        if self.steps_per_second and value > knots_y[-1]:
            return float(knots_x[-1] + (value - knots_y[-1]) * self.steps_per_second)
        return float(np.interp(value, knots_y, knots_x))

    def _knots(self) -> tuple[np.ndarray, np.ndarray]:
        if len(self.time_steps) >= 1:
            return np.asarray(self.time_steps, float), np.asarray(self.time_seconds, float)
        return np.asarray([self.origin_step], float), np.zeros(1)


def clock_of(history, images_before: float = 0.0) -> RunClock:
    """The clock of a RunHistory (gui.state.run_history) as its events so far recorded it."""
    config = history.config
    batch_size = int(config.batch_size) if config is not None else 1
    origin = history.snapshots[0].step if history.snapshots else 0
    steps, seconds = [float(origin)], [0.0]
    for end in history.epoch_ends:
        if end.step > steps[-1] and end.seconds > 0:
            steps.append(float(end.step))
            seconds.append(seconds[-1] + float(end.seconds))
    rate = None
    last = history.last_metrics
    if last is not None and last.images_per_second > 0 and batch_size > 0:
        rate = last.images_per_second / batch_size
    if len(steps) < 2 and rate is None:
        steps, seconds = [], []
    return RunClock(origin, max(batch_size, 1), float(images_before), tuple(steps), tuple(seconds), rate)


def images_before_branch(folder: str | Path | None) -> float:
    """Images a branch's parents saw up to the step it began at (0 for a root run or an unknown folder).

    Reads the lineage's run.json and config.json files (small); a parent that cannot be read counts its
    steps with the branch's own batch size."""
    if folder is None:
        return 0.0
    from vaestudio.core.branching import lineage
    from vaestudio.core.config import TrainConfig
    from vaestudio.core.errors import VaeStudioError

    chain = lineage(folder)  # [(folder, step its own records begin at)], child first, root last
    if len(chain) < 2:
        return 0.0
    images = 0.0
    batch_sizes = []
    for path, _start in chain:
        try:
            batch_sizes.append(TrainConfig.load(Path(path) / "config.json").batch_size)
        except (VaeStudioError, OSError):
            batch_sizes.append(batch_sizes[-1] if batch_sizes else 1)
    # entry i's parent (i+1) trained from its own start to entry i's start with its own batch size
    for i in range(len(chain) - 1, 0, -1):
        parent_start, child_start = chain[i][1], chain[i - 1][1]
        images += max(child_start - parent_start, 0) * batch_sizes[i]
    return images
