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
from vaestudio.core.progress import Ema, Progress, ProgressTracker, format_duration

__all__ = ["Curve", "RunSession", "Progress", "format_duration"]


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
        self._progress = ProgressTracker(self._clock)

    # -- feeding ---------------------------------------------------------------------------------
    def on_started(self, event: Started) -> None:
        self.started = event
        self._progress.on_started(event)

    def on_metrics(self, event: StepMetrics) -> None:
        self.last_metrics = event
        for ema, curve, value in zip(self._emas, (self.train_elbo, self.train_log_likelihood, self.train_kl),
                                     (event.elbo, event.log_likelihood, event.kl)):
            curve.append(event.step, ema.update(value))
        self._progress.on_metrics(event)

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
        self._progress.on_epoch_end(event)

    # -- reading ---------------------------------------------------------------------------------
    @property
    def steps_per_second(self) -> float | None:
        return self._progress.steps_per_second

    def progress(self) -> Progress | None:
        return self._progress.progress()
