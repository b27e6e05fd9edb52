"""The Qt-free run record behind the panels: smoothing, progress and ETA."""

import pytest

from vaestudio.core.events import EpochEnd, Snapshot, Started, StepMetrics
from vaestudio.gui.session import RunSession, format_duration


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def metrics(step, elbo, per_epoch=100):
    epoch = (step - 1) // per_epoch + 1
    return StepMetrics(epoch, step, step - (epoch - 1) * per_epoch, per_epoch, elbo, elbo + 5, 5.0, 100.0)


def test_eta_comes_from_the_measured_step_rate():
    clock = FakeClock()
    session = RunSession(clock=clock)
    session.on_started(Started(total_epochs=2, steps_per_epoch=100, start_epoch=1, device="CPU"))
    assert session.progress().eta_seconds is None
    for step in (10, 20, 30):
        session.on_metrics(metrics(step, -200.0))
        clock.now += 2.0  # 10 steps every 2 s -> 5 steps/s
    progress = session.progress()
    assert session.steps_per_second == pytest.approx(5.0)
    assert progress.eta_seconds == pytest.approx((200 - 30) / 5.0)
    assert progress.epoch_fraction == pytest.approx(0.3) and progress.run_fraction == pytest.approx(0.15)


def test_test_pass_time_does_not_count_as_training_rate():
    clock = FakeClock()
    session = RunSession(clock=clock)
    session.on_started(Started(2, 100, 1, "CPU"))
    session.on_metrics(metrics(50, -200.0))
    clock.now += 10.0
    session.on_metrics(metrics(100, -190.0))  # 50 steps in 10 s
    session.on_epoch_end(EpochEnd(1, 100, -185.0, -180.0, 5.0, 20.0))
    clock.now += 60.0  # a slow test pass
    session.on_metrics(metrics(150, -180.0))
    assert session.steps_per_second == pytest.approx(5.0)
    assert session.test_elbo.y == [-185.0]


def test_train_curve_is_smoothed_but_starts_at_the_first_value():
    session = RunSession(smoothing=0.5)
    session.on_started(Started(1, 100, 1, "CPU"))
    session.on_metrics(metrics(1, -300.0))
    session.on_metrics(metrics(2, -100.0))
    assert session.train_elbo.y == [-300.0, -200.0]
    assert session.train_kl.y == [5.0, 5.0]


def test_snapshot_labels_are_kept_in_order_but_only_the_latest_mosaic():
    import numpy as np

    session = RunSession()
    for value, label in enumerate(("before training", "epoch 1")):
        session.on_snapshot(Snapshot(1, 0, label, np.full((56, 56), value, np.uint8)))
    assert session.frame_labels == ["before training", "epoch 1"]
    assert session.latest_snapshot.label == "epoch 1" and session.latest_snapshot.mosaic[0, 0] == 1


def test_history_from_a_run_folder_refills_the_curves_like_live_events():
    rows = [dict(kind="step", epoch=1, step=step, elbo=elbo, log_likelihood=elbo + 5, kl=5.0, test_elbo=None,
                 test_log_likelihood=None, test_kl=None, seconds=None, images_per_second=100.0)
            for step, elbo in ((1, -300.0), (2, -100.0))]
    rows.append(dict(kind="epoch", epoch=1, step=2, elbo=None, log_likelihood=None, kl=None, test_elbo=-150.0,
                     test_log_likelihood=-145.0, test_kl=5.0, seconds=3.0, images_per_second=None))
    replayed, live = RunSession(smoothing=0.5), RunSession(smoothing=0.5)
    replayed.load_history(rows, ["before training", "epoch 1"])
    live.on_metrics(metrics(1, -300.0))
    live.on_metrics(metrics(2, -100.0))
    assert replayed.train_elbo.y == live.train_elbo.y == [-300.0, -200.0]
    assert replayed.test_elbo.x == [2.0] and replayed.test_elbo.y == [-150.0]
    assert replayed.last_epoch_end.epoch == 1
    assert replayed.frame_labels == ["before training", "epoch 1"]
    # a resumed run then goes on from there
    replayed.on_started(Started(total_epochs=3, steps_per_epoch=2, start_epoch=2, device="CPU", start_step=2))
    progress = replayed.progress()
    assert progress.epoch == 2 and progress.epoch_fraction == 0 and progress.run_fraction == pytest.approx(1 / 3)


@pytest.mark.parametrize("seconds, text", [(None, "…"), (35.4, "35 s"), (252, "4 min 12 s"), (3720, "1 h 02 min")])
def test_durations_read_naturally(seconds, text):
    assert format_duration(seconds) == text
