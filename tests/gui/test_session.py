"""The Qt-free record of a run behind the panels (RunHistory): smoothing, progress and ETA, and a replayed
folder that refills the curves like live events."""

import pytest

from vaestudio.core.events import EpochEnd, Snapshot, Started, StepMetrics
from vaestudio.core.progress import ProgressTracker, format_duration
from vaestudio.gui.state.run_history import RunHistory


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def metrics(step, elbo, per_epoch=100):
    epoch = (step - 1) // per_epoch + 1
    return StepMetrics(epoch, step, step - (epoch - 1) * per_epoch, per_epoch, elbo, elbo + 5, 5.0, 100.0)


def history_with(clock) -> RunHistory:
    history = RunHistory("run")
    history.tracker = ProgressTracker(clock)
    return history


def test_eta_comes_from_the_measured_step_rate():
    clock = FakeClock()
    history = history_with(clock)
    history.feed(Started(total_epochs=2, steps_per_epoch=100, start_epoch=1, device="CPU"))
    assert history.progress().eta_seconds is None
    for step in (10, 20, 30):
        history.feed(metrics(step, -200.0))
        clock.now += 2.0  # 10 steps every 2 s -> 5 steps/s
    progress = history.progress()
    assert progress.steps_per_second == pytest.approx(5.0)
    assert progress.eta_seconds == pytest.approx((200 - 30) / 5.0)
    assert progress.epoch_fraction == pytest.approx(0.3) and progress.run_fraction == pytest.approx(0.15)


def test_test_pass_time_does_not_count_as_training_rate():
    clock = FakeClock()
    history = history_with(clock)
    history.feed(Started(2, 100, 1, "CPU"))
    history.feed(metrics(50, -200.0))
    clock.now += 10.0
    history.feed(metrics(100, -190.0))  # 50 steps in 10 s
    history.feed(EpochEnd(1, 100, -185.0, -180.0, 5.0, 20.0))
    clock.now += 60.0  # a slow test pass
    history.feed(metrics(150, -180.0))
    assert history.progress().steps_per_second == pytest.approx(5.0)
    assert history.curves["test_elbo"].y == [-185.0]


def test_train_curve_is_smoothed_but_starts_at_the_first_value():
    history = RunHistory(smoothing=0.5)
    history.feed(Started(1, 100, 1, "CPU"))
    history.feed(metrics(1, -300.0))
    history.feed(metrics(2, -100.0))
    assert history.curves["train_elbo"].y == [-300.0, -200.0]
    assert history.curves["train_kl"].y == [5.0, 5.0]


def test_snapshots_are_kept_in_order_and_followed():
    import numpy as np

    history = RunHistory()
    moments = []
    history.moment_changed.connect(moments.append)
    for value, label in enumerate(("before training", "epoch 1")):
        history.feed(Snapshot(1, value, label, np.full((56, 56), value, np.uint8)))
    assert [s.label for s in history.snapshots] == ["before training", "epoch 1"]
    assert history.current.label == "epoch 1" and [m.label for m in moments] == ["before training", "epoch 1"]
    assert history.mosaic_at(history.current)[0, 0] == 1


def test_a_replayed_folder_refills_the_curves_like_live_events(recorded_run):
    from vaestudio.core.runs import replay

    path, config = recorded_run
    replayed = RunHistory(folder=path, config=config)
    for event in replay(path):
        replayed.feed(event)
    assert len(replayed.curves["train_elbo"]) == 8 and len(replayed.curves["test_elbo"]) == 2
    assert [s.label for s in replayed.snapshots][:2] == ["before training", "epoch 1, batch 1"]
    assert replayed.finished_event.reason == "completed"
    progress = replayed.progress()
    assert progress.run_fraction == 1.0 and progress.epoch == 2


@pytest.mark.parametrize("seconds, text", [(None, "…"), (35.4, "35 s"), (252, "4 min 12 s"), (3720, "1 h 02 min")])
def test_durations_read_naturally(seconds, text):
    assert format_duration(seconds) == text
