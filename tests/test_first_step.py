"""Start -> first step (issue 22 #2): the steps are traced once for a whole run, and the training prepared
ahead of a run (core.tf.prepare, the window's head start) is the one the run would have built itself."""

import numpy as np
import pytest

pytest.importorskip("tensorflow")
from vaestudio.core.config import TrainConfig  # noqa: E402
from vaestudio.core.data import synthetic_dataset  # noqa: E402
from vaestudio.core.events import EpochEnd, Snapshot, StepMetrics  # noqa: E402
from vaestudio.core.tf import prepare  # noqa: E402
from vaestudio.core.tf.trainer import Trainer  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset(n_train=96, n_test=16, seed=1)


def tiny(**overrides) -> TrainConfig:
    # 3 steps an epoch, in chunks of 1 and 2 steps
    values = dict(epochs=2, batch_size=32, learning_rate=3e-3, grid_size=2, metrics_every=3, snapshot_every=3,
                  steps_per_call=2, seed=4)
    values.update(overrides)
    return TrainConfig.from_preset("custom", **values)


def _run(trainer: Trainer) -> list:
    return [e for e in trainer.events() if isinstance(e, (StepMetrics, EpochEnd, Snapshot))]


def _same_run(first: list, second: list) -> None:
    assert [type(e) for e in first] == [type(e) for e in second]
    for a, b in zip(first, second):
        if isinstance(a, Snapshot):
            assert a.label == b.label
            np.testing.assert_array_equal(a.mosaic, b.mosaic)
        elif isinstance(a, StepMetrics):
            assert (a.step, a.elbo, a.kl) == (b.step, b.elbo, b.kl)
        else:
            assert (a.epoch, a.test_elbo) == (b.epoch, b.test_elbo)


def test_a_whole_run_traces_each_compiled_function_once(data):
    trainer = Trainer(tiny(), data)
    events = _run(trainer)
    assert len([e for e in events if isinstance(e, EpochEnd)]) == 2
    steps = trainer._steps
    # a new input iterator every epoch, chunks of several sizes, hyper-parameter changes: no retrace
    assert steps._train_chunk.experimental_get_tracing_count() == 1
    assert steps._test_sums.experimental_get_tracing_count() == 1
    assert steps._grid.experimental_get_tracing_count() == 1


def test_a_prepared_training_is_taken_and_trains_as_one_built_at_start(data):
    # beta-TCVAE (its dataset size) and a cosine schedule (its length): both set after the preparation
    config = tiny(epochs=1, objective="tcvae", beta=2.0, lr_schedule="cosine", lr_warmup_steps=2)
    prepare.start_preparing(config)
    trainer = Trainer(config, data)
    prepared = _run(trainer)
    assert prepare.take_prepared(config) is None  # taken by the trainer, once
    # compiled ahead (on blank batches) and used without a second trace
    assert trainer._steps._train_chunk.experimental_get_tracing_count() == 1
    _same_run(prepared, _run(Trainer(config, data)))


def test_a_preparation_serves_only_the_same_model_and_steps():
    prepare.start_preparing(tiny(latent_dim=3))
    assert prepare.take_prepared(tiny(latent_dim=2)) is None
    assert prepare.take_prepared(tiny(latent_dim=3, batch_size=16)) is None
    # what the run sets afterwards may differ: epochs, learning rate, beta, the data's size
    parts = prepare.take_prepared(tiny(latent_dim=3, epochs=5, learning_rate=1e-3, beta=0.5, limit=500))
    assert parts is not None and parts.model.architecture.latent_dim == 3
    assert prepare.take_prepared(tiny(latent_dim=3)) is None  # used once
