"""Progress of a run: where it stands, its training rate and ETA, smoothed curves, and durations as
people read them.

Shared by the command line's progress bar and the window's progress panel.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

from vaestudio.core.events import EpochEnd, Started, StepMetrics


class Ema:
    """Exponential moving average that starts at the first value (no bias towards 0)."""

    def __init__(self, alpha: float):
        self.alpha = alpha
        self.value: float | None = None

    def update(self, x: float) -> float:
        self.value = x if self.value is None else self.value + self.alpha * (x - self.value)
        return self.value


@dataclass(frozen=True)
class Progress:
    """Where a run stands: what progress bars and the ETA show."""

    epoch: int
    total_epochs: int
    epoch_fraction: float  # 0..1 within the current epoch
    run_fraction: float  # 0..1 of the whole run
    eta_seconds: float | None  # None until a step rate has been measured
    steps_per_second: float | None = None


class ProgressTracker:
    """Follows Started / StepMetrics / EpochEnd events and estimates the time left.

    The rate is the steps trained in this session (since the last Started) over the wall time they took,
    summed over the last RATE_REPORTS reports, so that reports handled late or in a burst cannot skew
    it. Not counted: metrics before Started or at or below its start step (a continued run's recorded
    history), the test pass at the end of an epoch (the clock restarts after it), and time spent paused
    (`pause()` / `resume()`). No rate until RATE_MIN_SECONDS of training have been measured.
    """

    RATE_REPORTS = 20
    RATE_MIN_SECONDS = 0.5

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self.reset()

    def reset(self) -> None:
        self.started: Started | None = None
        self.last_metrics: StepMetrics | None = None
        self.last_epoch_end: EpochEnd | None = None
        self._intervals: deque[tuple[int, float]] = deque(maxlen=self.RATE_REPORTS)  # (steps, seconds)
        self._last_tick: tuple[float, int] | None = None  # (time, step) of the last report counted
        self._paused_at: float | None = None
        self._paused_seconds = 0.0  # paused since the last report

    def on_started(self, event: Started) -> None:
        self.reset()
        self.started = event

    def on_metrics(self, event: StepMetrics) -> None:
        self.last_metrics = event
        if self.started is None or event.step <= self.started.start_step:
            return  # recorded before this session: not trained now
        now = self._clock()
        if self._last_tick is not None:
            seconds = now - self._last_tick[0] - self._paused_seconds  # a report while paused: steps in flight
            steps = event.step - self._last_tick[1]
            if seconds <= 0 or steps <= 0:
                return  # handled at the same moment as the last: counted with the next one
            self._intervals.append((steps, seconds))
        self._last_tick = (now, event.step)
        self._paused_seconds = 0.0
        if self._paused_at is not None:
            self._paused_at = now  # the pause counts from the last steps trained

    def on_epoch_end(self, event: EpochEnd) -> None:
        self.last_epoch_end = event
        self._last_tick = None

    def pause(self) -> None:
        """Training is paused: the time until `resume()` is not training time."""
        if self._paused_at is None:
            self._paused_at = self._clock()

    def resume(self) -> None:
        if self._paused_at is not None:
            self._paused_seconds += self._clock() - self._paused_at
            self._paused_at = None

    @property
    def steps_per_second(self) -> float | None:
        seconds = sum(s for _, s in self._intervals)
        if seconds < self.RATE_MIN_SECONDS:
            return None
        return sum(steps for steps, _ in self._intervals) / seconds

    def progress(self) -> Progress | None:
        if self.started is None:
            return None
        per_epoch = max(self.started.steps_per_epoch, 1)
        total_epochs = self.started.total_epochs
        total_steps = max(total_epochs * per_epoch, 1)
        m = self.last_metrics
        if m is None or m.step < self.started.start_step:
            epoch, epoch_step = self.started.start_epoch, self.started.start_step - (self.started.start_epoch - 1) * per_epoch
            step = self.started.start_step
        else:
            epoch, epoch_step, step = m.epoch, m.epoch_step, m.step
        if self.last_epoch_end is not None and self.last_epoch_end.step >= step:
            epoch, epoch_step, step = self.last_epoch_end.epoch, per_epoch, self.last_epoch_end.step
        rate = self.steps_per_second
        eta = (total_steps - step) / rate if rate else None
        return Progress(epoch=min(epoch, total_epochs), total_epochs=total_epochs,
                        epoch_fraction=min(max(epoch_step / per_epoch, 0.0), 1.0),
                        run_fraction=min(step / total_steps, 1.0), eta_seconds=eta, steps_per_second=rate)


def format_duration(seconds: float | None) -> str:
    """"1 h 02 min", "4 min 12 s", "35 s" or "…" when unknown."""
    if seconds is None or seconds != seconds:
        return "…"
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"
