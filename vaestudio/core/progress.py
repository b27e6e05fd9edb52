"""Progress of a run: smoothed rates, where it stands, the ETA, and durations as people read them.

Shared by the command line's progress bar and the window's progress panel.
"""

from __future__ import annotations

import time
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

    The rate is measured in optimizer steps per second of wall time between reports, smoothed; the test
    pass at the end of an epoch is not training time, so the clock restarts after it.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, smoothing: float = 0.3):
        self._clock = clock
        self._smoothing = smoothing
        self.reset()

    def reset(self) -> None:
        self.started: Started | None = None
        self.last_metrics: StepMetrics | None = None
        self.last_epoch_end: EpochEnd | None = None
        self._rate = Ema(self._smoothing)
        self._last_tick: tuple[float, int] | None = None

    def on_started(self, event: Started) -> None:
        self.started = event
        self.last_metrics = None
        self.last_epoch_end = None
        self._last_tick = None

    def on_metrics(self, event: StepMetrics) -> None:
        self.last_metrics = event
        now = self._clock()
        if self._last_tick is not None:
            seconds, steps = now - self._last_tick[0], event.step - self._last_tick[1]
            if seconds > 0 and steps > 0:
                self._rate.update(steps / seconds)
        self._last_tick = (now, event.step)

    def on_epoch_end(self, event: EpochEnd) -> None:
        self.last_epoch_end = event
        self._last_tick = None

    @property
    def steps_per_second(self) -> float | None:
        return self._rate.value

    def progress(self) -> Progress | None:
        if self.started is None:
            return None
        per_epoch = max(self.started.steps_per_epoch, 1)
        total_epochs = self.started.total_epochs
        total_steps = max(total_epochs * per_epoch, 1)
        m = self.last_metrics
        if m is None:
            epoch, epoch_step = self.started.start_epoch, self.started.start_step - (self.started.start_epoch - 1) * per_epoch
            step = self.started.start_step
        else:
            epoch, epoch_step, step = m.epoch, m.epoch_step, m.step
        if self.last_epoch_end is not None and self.last_epoch_end.step >= step:
            epoch, epoch_step, step = self.last_epoch_end.epoch, per_epoch, self.last_epoch_end.step
        rate = self._rate.value
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
