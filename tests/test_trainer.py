"""The trainer: its events, schedule, control from another thread, repeatability and divergence."""

import threading
import time

import numpy as np
import pytest

pytest.importorskip("tensorflow")
from vaestudio.core.config import TrainConfig  # noqa: E402
from vaestudio.core.data import synthetic_dataset  # noqa: E402
from vaestudio.core.errors import ConfigError  # noqa: E402
from vaestudio.core.events import EpochEnd, Finished, HyperChanged, Snapshot, Started, StepMetrics  # noqa: E402
from vaestudio.core.tf.trainer import Trainer  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset(n_train=256, n_test=64, seed=0)


def tiny(**overrides) -> TrainConfig:
    values = dict(epochs=2, batch_size=32, learning_rate=3e-3, grid_size=4, metrics_every=2, snapshot_every=3,
                  steps_per_call=4)
    values.update(overrides)
    return TrainConfig.from_preset("custom", **values)


def test_events_follow_the_tutorials_schedule(data):
    events = list(Trainer(tiny(), data).events())
    assert isinstance(events[0], Started) and events[0].steps_per_epoch == 8
    snapshots = [e for e in events if isinstance(e, Snapshot)]
    # before training, after batches 1, 4, 7 of epoch 1 (every 3, like the article's idx % 75 == 0), each epoch end
    assert [s.label for s in snapshots] == ["before training", "epoch 1, batch 1", "epoch 1, batch 4",
                                            "epoch 1, batch 7", "epoch 1", "epoch 2"]
    assert all(s.mosaic.shape == (112, 112) and s.mosaic.dtype == np.uint8 for s in snapshots)
    assert len(snapshots[-1].weights.decoder) == 8 and len(snapshots[-1].weights.encoder) == 6
    # Each epoch's snapshot comes just before its EpochEnd, at the same step.
    for index, event in enumerate(events):
        if isinstance(event, EpochEnd):
            assert isinstance(events[index - 1], Snapshot) and events[index - 1].step == event.step
    metrics = [e for e in events if isinstance(e, StepMetrics)]
    assert [m.step for m in metrics] == [2, 4, 6, 8, 10, 12, 14, 16]
    assert all(np.isfinite(m.elbo) and m.elbo < 0 and m.kl > -1 and m.images_per_second > 0 for m in metrics)
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert [e.epoch for e in epochs] == [1, 2] and all(e.seconds > 0 for e in epochs)
    assert epochs[-1].test_elbo == pytest.approx(epochs[-1].test_log_likelihood - epochs[-1].test_kl, abs=1e-3)
    assert events[-1] == Finished("completed", 2, 16, "trained 2 epochs")


def test_training_improves_the_elbo(data):
    events = list(Trainer(tiny(epochs=4), data).events())
    test = [e.test_elbo for e in events if isinstance(e, EpochEnd)]
    assert test[-1] > test[0] + 20, test
    grids = [e.mosaic for e in events if isinstance(e, Snapshot)]
    assert not np.array_equal(grids[0], grids[-1])


def test_a_seeded_run_repeats_itself_and_chunking_does_not_matter(data):
    def test_elbos(**overrides):
        return [e.test_elbo for e in Trainer(tiny(**overrides), data).events() if isinstance(e, EpochEnd)]

    first = test_elbos(seed=5)
    assert test_elbos(seed=5, steps_per_call=1) == first
    assert test_elbos(seed=6) != first


def _run_in_thread(trainer):
    events, done = [], threading.Event()

    def consume():
        for event in trainer.events():
            events.append((time.monotonic(), event))
        done.set()

    threading.Thread(target=consume, daemon=True).start()
    return events, done


def _wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_stop_from_another_thread_takes_effect_within_half_a_second(data):
    trainer = Trainer(tiny(epochs=500, steps_per_call=2), data)
    events, done = _run_in_thread(trainer)
    _wait_for(lambda: any(isinstance(e, StepMetrics) for _, e in events))
    asked = time.monotonic()
    trainer.control.stop()
    assert done.wait(5)
    stamp, last = events[-1]
    assert isinstance(last, Finished) and last.reason == "stopped"
    assert stamp - asked < 0.5


def test_pause_holds_training_until_resumed(data):
    trainer = Trainer(tiny(epochs=500, steps_per_call=1, metrics_every=1), data)
    events, done = _run_in_thread(trainer)
    _wait_for(lambda: any(isinstance(e, StepMetrics) for _, e in events))
    trainer.control.pause()
    time.sleep(0.3)  # let a step in flight finish
    steps_when_paused = trainer.state.step
    time.sleep(0.4)
    assert trainer.control.is_paused and trainer.state.step == steps_when_paused
    trainer.control.resume()
    _wait_for(lambda: trainer.state.step > steps_when_paused)
    trainer.control.stop()
    assert done.wait(5)


def test_divergence_stops_restores_good_weights_and_suggests_a_lower_rate(data):
    trainer = Trainer(tiny(learning_rate=100.0, epochs=50, metrics_every=1, steps_per_call=1), data)
    events = list(trainer.events())
    last = events[-1]
    assert isinstance(last, Finished) and last.reason == "diverged"
    assert "at learning rate 100" in last.message and "good weights were restored" in last.message
    assert all(np.all(np.isfinite(w)) for w in trainer.model.get_weights())


def test_mixed_bfloat16_trains_and_says_so(data):
    events = list(Trainer(tiny(epochs=1, precision="mixed_bfloat16"), data).events())
    assert events[0].precision == "mixed_bfloat16"
    epoch = next(e for e in events if isinstance(e, EpochEnd))
    assert np.isfinite(epoch.test_elbo) and epoch.test_elbo < 0
    assert next(e for e in events if isinstance(e, Snapshot)).mosaic.dtype == np.uint8


def test_later_epochs_snapshot_on_their_own_schedule(data):
    events = list(Trainer(tiny(epochs=3, snapshot_every=0, snapshot_every_later=3), data).events())
    labels = [e.label for e in events if isinstance(e, Snapshot)]
    assert labels == ["before training", "epoch 1", "epoch 2, batch 3", "epoch 2, batch 6", "epoch 2",
                      "epoch 3, batch 3", "epoch 3, batch 6", "epoch 3"]


def test_beta_and_kl_warm_up_change_the_objective_not_the_reported_elbo(data):
    events = list(Trainer(tiny(epochs=1, beta=0.25, kl_warmup_steps=4, metrics_every=1, steps_per_call=1),
                          data).events())
    metrics = [e for e in events if isinstance(e, StepMetrics)]
    assert [round(m.beta, 4) for m in metrics[:5]] == [0.0625, 0.125, 0.1875, 0.25, 0.25]
    for m in metrics:
        assert m.elbo == pytest.approx(m.log_likelihood - m.kl, abs=1e-3)
        assert m.objective == pytest.approx(m.log_likelihood - m.beta * m.kl, abs=1e-2)


def test_learning_rate_and_beta_change_while_training_without_retracing(data):
    trainer = Trainer(tiny(epochs=2, metrics_every=1, steps_per_call=1, lr_warmup_steps=0), data)
    seen = []
    for event in trainer.events():
        seen.append(event)
        if isinstance(event, StepMetrics) and event.step == 3:
            trainer.control.set_learning_rate(5e-4)
            trainer.control.set_beta(2.0)
    changes = [e for e in seen if isinstance(e, HyperChanged)]
    assert changes == [HyperChanged(3, 5e-4, 2.0)]
    after = [e for e in seen if isinstance(e, StepMetrics) and e.step > 3]
    assert all(m.learning_rate == pytest.approx(5e-4) and m.beta == 2.0 for m in after)
    assert trainer._steps._train_chunk.experimental_get_tracing_count() == 1
    assert trainer.checkpoint().learning_rate == 5e-4 and trainer.checkpoint().beta == 2.0
    with pytest.raises(ConfigError, match="learning_rate must be"):
        trainer.control.set_learning_rate(-1)


def test_cosine_schedule_with_warm_up_reaches_zero_at_the_end(data):
    events = list(Trainer(tiny(epochs=2, lr_schedule="cosine", lr_warmup_steps=4, metrics_every=1,
                               steps_per_call=1), data).events())
    rates = [e.learning_rate for e in events if isinstance(e, StepMetrics)]
    base = 3e-3
    assert rates[0] == pytest.approx(base / 4) and max(rates) == pytest.approx(base, rel=0.05)
    assert rates[-1] < base * 0.02
    assert all(b <= a + 1e-12 for a, b in zip(rates[4:], rates[5:]))  # decays after the warm-up


def test_the_input_pipelines_do_not_autotune_so_a_used_iterator_frees_at_once(data):
    """tf.data's autotuning thread made freeing an epoch's used iterator wait 0.28-4.8 s at 8 of 36 epoch ends
    (the training stood still meanwhile); the pipelines turn it off, and keep the shuffle's order."""
    from vaestudio.core.architecture import Architecture
    from vaestudio.core.tf.inputs import InputPipeline

    pipeline = InputPipeline(data, Architecture(), batch_size=32, seed=3)
    for dataset in (pipeline.epoch_batches(1), pipeline.epoch_batches(2, skip=1), pipeline.test):
        assert dataset.options().autotune.enabled is False
    first = [batch.numpy() for batch in pipeline.epoch_iterator(1)]
    assert len(first) == 8 and sum(len(b) for b in first) == 256
    again = [batch.numpy() for batch in pipeline.epoch_iterator(1, skip=2)]
    assert all(np.array_equal(a, b) for a, b in zip(first[2:], again, strict=True))
    second = np.concatenate([batch.numpy() for batch in pipeline.epoch_iterator(2)])
    assert not np.array_equal(np.concatenate(first), second)  # a fresh shuffle each epoch
    images = sorted(map(bytes, second))
    assert images == sorted(map(bytes, np.concatenate(first)))  # the same images
