"""The one progress computation (core.progress.ProgressTracker) behind the CLI's bar and the window's ETA."""

from __future__ import annotations

import pytest

from vaestudio.core.events import EpochEnd, Started, StepMetrics
from vaestudio.core.progress import ProgressTracker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def metrics(step: int, per_epoch: int = 100) -> StepMetrics:
    epoch = (step - 1) // per_epoch + 1
    return StepMetrics(epoch, step, step - (epoch - 1) * per_epoch, per_epoch, -200.0, -195.0, 5.0, 100.0)


def test_a_continued_run_measures_only_what_it_trains_now():
    """A continued run first receives its recorded history in a burst, then Started: the ETA must not
    read that burst as thousands of steps per second (it once showed 'ETA 0 s · 287159.4 steps/s')."""
    clock = Clock()
    tracker = ProgressTracker(clock)
    for step in range(10, 510, 10):  # the recorded history: 500 steps, fed in microseconds
        tracker.on_metrics(metrics(step))
        clock.now += 1e-5
    tracker.on_started(Started(10, 100, 6, "CPU", start_step=500))
    progress = tracker.progress()
    assert progress.steps_per_second is None and progress.eta_seconds is None
    assert progress.epoch == 6 and progress.run_fraction == pytest.approx(0.5)
    for step in (510, 520, 530, 540):
        clock.now += 4.0  # 10 steps every 4 s: 2.5 steps/s
        tracker.on_metrics(metrics(step))
    progress = tracker.progress()
    assert progress.steps_per_second == pytest.approx(2.5)
    assert progress.eta_seconds == pytest.approx((1000 - 540) / 2.5)


def test_reports_handled_in_a_burst_do_not_inflate_the_rate():
    clock = Clock()
    tracker = ProgressTracker(clock)
    tracker.on_started(Started(1, 1000, 1, "CPU"))
    tracker.on_metrics(metrics(10))
    clock.now += 3.0
    tracker.on_metrics(metrics(20))
    tracker.on_metrics(metrics(30))  # queued behind the previous one: handled at the same moment
    clock.now += 1.0
    tracker.on_metrics(metrics(40))
    assert tracker.steps_per_second == pytest.approx(30 / 4.0)  # steps trained over time spent


def test_paused_time_is_not_training_time():
    clock = Clock()
    tracker = ProgressTracker(clock)
    tracker.on_started(Started(1, 1000, 1, "CPU"))
    tracker.on_metrics(metrics(10))
    clock.now += 2.0
    tracker.pause()
    clock.now += 600.0
    tracker.resume()
    clock.now += 2.0
    tracker.on_metrics(metrics(20))  # 10 steps in 4 s of training
    assert tracker.steps_per_second == pytest.approx(2.5)
    tracker.pause()
    clock.now += 1.0
    tracker.on_metrics(metrics(25))  # the steps in flight when paused: 5 steps in 1 s
    clock.now += 50.0
    tracker.resume()
    clock.now += 1.0
    tracker.on_metrics(metrics(30))  # 5 more in 1 s of training
    assert tracker.steps_per_second == pytest.approx(20 / 6.0)


def test_no_rate_before_enough_training_time_and_a_new_start_forgets_the_old_rate():
    clock = Clock()
    tracker = ProgressTracker(clock)
    tracker.on_started(Started(2, 100, 1, "CPU"))
    tracker.on_metrics(metrics(10))
    clock.now += 0.1
    tracker.on_metrics(metrics(20))
    assert tracker.progress().eta_seconds is None  # 0.1 s measured: too little to say
    clock.now += 1.0
    tracker.on_metrics(metrics(30))
    assert tracker.steps_per_second == pytest.approx(20 / 1.1)
    tracker.on_epoch_end(EpochEnd(1, 100, -190.0, -185.0, 5.0, 3.0))
    tracker.on_started(Started(4, 100, 3, "CPU", start_step=200))
    assert tracker.steps_per_second is None
