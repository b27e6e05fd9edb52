"""Qt-free record of one training run as the window sees it: curves, snapshots, progress and ETA.

The main window feeds it core events; panels read from it. Keeping it free of Qt makes the
arithmetic (smoothing, rates, ETA) testable without a window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from vaestudio.core.events import EpochEnd, Snapshot, Started, StepMetrics


@dataclass
class Curve:
    """x/y points that grow as a run goes on."""

    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)

    def append(self, x: float, y: float) -> None:
        self.x.append(float(x))
        self.y.append(float(y))

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(self.x, dtype=float), np.asarray(self.y, dtype=float)

    def clear(self) -> None:
        self.x.clear()
        self.y.clear()


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
    """What the progress bars show."""

    epoch: int
    total_epochs: int
    epoch_fraction: float  # 0..1 within the current epoch
    run_fraction: float  # 0..1 of the whole run
    eta_seconds: float | None  # None until a step rate has been measured


class RunSession:
    """Everything one run has produced so far, in the order it arrived."""

    def __init__(self, smoothing: float = 0.2, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._smoothing = smoothing
        self.reset()

    def reset(self) -> None:
        self.started: Started | None = None
        self.train_elbo = Curve()
        self.train_log_likelihood = Curve()
        self.train_kl = Curve()
        self.test_elbo = Curve()
        # Labels of every snapshot; the mosaics themselves are in the run folder (memory stays flat).
        self.frame_labels: list[str] = []
        self.latest_snapshot: Snapshot | None = None
        self.last_metrics: StepMetrics | None = None
        self.last_epoch_end: EpochEnd | None = None
        self._emas = [Ema(self._smoothing) for _ in range(3)]
        self._rate = Ema(0.3)  # steps per second
        self._last_tick: tuple[float, int] | None = None

    # -- feeding ---------------------------------------------------------------------------------
    def on_started(self, event: Started) -> None:
        self.started = event
        self._last_tick = None

    def on_metrics(self, event: StepMetrics) -> None:
        self.last_metrics = event
        for ema, curve, value in zip(self._emas, (self.train_elbo, self.train_log_likelihood, self.train_kl),
                                     (event.elbo, event.log_likelihood, event.kl)):
            curve.append(event.step, ema.update(value))
        now = self._clock()
        if self._last_tick is not None:
            seconds, steps = now - self._last_tick[0], event.step - self._last_tick[1]
            if seconds > 0 and steps > 0:
                self._rate.update(steps / seconds)
        self._last_tick = (now, event.step)

    def on_snapshot(self, event: Snapshot) -> None:
        self.latest_snapshot = event
        self.frame_labels.append(event.label)

    def load_history(self, rows: Sequence[Mapping[str, Any]], frame_labels: Sequence[str]) -> None:
        """Refill the curves from a run folder's metrics rows (MetricsLog.rows()) and its snapshot labels,
        smoothed as if they had arrived live; the step rate starts afresh."""
        for row in rows:
            if row["kind"] == "step":
                for ema, curve, name in zip(self._emas, (self.train_elbo, self.train_log_likelihood, self.train_kl),
                                            ("elbo", "log_likelihood", "kl")):
                    curve.append(row["step"], ema.update(float(row[name])))
            elif row["kind"] == "epoch":
                event = EpochEnd(int(row["epoch"]), int(row["step"]), float(row["test_elbo"]),
                                 float(row["test_log_likelihood"]), float(row["test_kl"]), float(row["seconds"] or 0))
                self.on_epoch_end(event)
        self.frame_labels.extend(frame_labels)

    def on_epoch_end(self, event: EpochEnd) -> None:
        self.last_epoch_end = event
        self.test_elbo.append(event.step, event.test_elbo)
        # The test pass is not training time: restart the rate clock so it does not count.
        self._last_tick = None

    # -- reading ---------------------------------------------------------------------------------
    @property
    def steps_per_second(self) -> float | None:
        return self._rate.value

    def progress(self) -> Progress | None:
        if self.started is None:
            return None
        per_epoch = max(self.started.steps_per_epoch, 1)
        total_epochs = self.started.total_epochs
        first_step = (self.started.start_epoch - 1) * per_epoch
        total_steps = max(total_epochs * per_epoch, 1)
        m = self.last_metrics
        if m is None:
            epoch, epoch_step, step = self.started.start_epoch, 0, first_step
        else:
            epoch, epoch_step, step = m.epoch, m.epoch_step, m.step
        if self.last_epoch_end is not None and self.last_epoch_end.step >= step:
            epoch, epoch_step, step = self.last_epoch_end.epoch, per_epoch, self.last_epoch_end.step
        rate = self._rate.value
        eta = (total_steps - step) / rate if rate else None
        return Progress(epoch=epoch, total_epochs=total_epochs,
                        epoch_fraction=min(epoch_step / per_epoch, 1.0),
                        run_fraction=min(step / total_steps, 1.0), eta_seconds=eta)


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
