"""A batch in parts on the CPU (core/tf/threads.py): the policy, the thread counts a fresh process gets,
and that a model in parts computes what it computes whole — outputs, gradients, and a run's training."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
from vaestudio.core.tf.threads import MAX_CORES, planned_parts, usable_cores  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def test_the_batch_is_split_only_on_a_cpu_with_a_few_cores():
    assert planned_parts(2, has_gpu=False) == 2
    assert planned_parts(MAX_CORES, has_gpu=False) == MAX_CORES
    assert planned_parts(1, has_gpu=False) == 1  # nothing to share
    assert planned_parts(MAX_CORES + 1, has_gpu=False) == 1  # not measured: TensorFlow's defaults
    assert planned_parts(2, has_gpu=True) == 1
    assert planned_parts(2, has_gpu=False, setting="0") == 1
    assert planned_parts(2, has_gpu=False, setting=" 0\n") == 1
    assert planned_parts(2, has_gpu=False, setting="1") == 2


_CHILD = """
import json, sys
if sys.argv[1] == "started":  # TensorFlow ran an operation before vaestudio imported it
    import tensorflow as tf
    tf.constant(1.0) + 1.0
from vaestudio.core.config import TrainConfig
from vaestudio.core.data import synthetic_dataset
from vaestudio.core.events import Started
from vaestudio.core.tf.trainer import Trainer
import tensorflow as tf
config = TrainConfig.from_preset("custom", epochs=1, batch_size=8, grid_size=2, snapshot_every=0)
trainer = Trainer(config, synthetic_dataset(n_train=16, n_test=8, seed=1))
device = next(event.device for event in trainer.events() if isinstance(event, Started))
print(json.dumps({"intra": tf.config.threading.get_intra_op_parallelism_threads(),
                  "inter": tf.config.threading.get_inter_op_parallelism_threads(),
                  "model": trainer.model.batch_parts, "device": device}))
"""


def _child(mode: str, **env) -> dict:
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "", **env}
    result = subprocess.run([sys.executable, "-c", _CHILD, mode], cwd=ROOT, env=environment, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_fresh_process_runs_each_operation_on_one_thread_and_its_model_splits_batches_per_core():
    expected = planned_parts(usable_cores(), has_gpu=False)
    seen = _child("fresh")
    if expected > 1:
        assert (seen["intra"], seen["inter"], seen["model"]) == (1, expected, expected)
        assert seen["device"].startswith("CPU") and f"each batch in {expected} parts" in seen["device"]
    else:
        assert seen["model"] == 1 and "parts" not in seen["device"]


def test_the_split_can_be_turned_off_and_a_tensorflow_already_started_keeps_its_threads():
    for seen in (_child("fresh", VAESTUDIO_CPU_SPLIT="0"), _child("started")):
        assert (seen["intra"], seen["inter"], seen["model"]) == (0, 0, 1)
        assert "parts" not in seen["device"]


@pytest.mark.parametrize("count", [1, 2, 5, 16])
def test_a_model_in_parts_encodes_decodes_and_differentiates_like_a_whole_one(count):
    import tensorflow as tf

    from vaestudio.core.tf.model import build_cvae

    model = build_cvae(2)
    x = tf.constant(np.random.default_rng(count).random((count, 28, 28, 1)), tf.float32)

    def run(parts):
        model.batch_parts = parts
        with tf.GradientTape() as tape:
            mean, logvar = model.encode(x)
            logits = model.decode(mean + 0.1 * logvar)
            total = tf.reduce_sum(logits * logits) + tf.reduce_sum(logvar)
        return [mean, logvar, logits, *tape.gradient(total, model.trainable_variables)]

    whole = run(1)
    for parts in (2, 3):
        for a, b in zip(whole, run(parts)):
            assert a.shape == b.shape
            np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=2e-4, atol=2e-5)
    model.batch_parts = 2
    assert model.encode(x[:0])[0].shape[0] == 0  # an empty batch stays empty (and no empty part reaches oneDNN)


def test_training_in_parts_follows_training_whole():
    from vaestudio.core.config import TrainConfig
    from vaestudio.core.data import synthetic_dataset
    from vaestudio.core.tf.inputs import InputPipeline
    from vaestudio.core.tf.prepare import build_training

    data = synthetic_dataset(n_train=96, n_test=8, seed=3)
    config = TrainConfig.from_preset("custom", epochs=1, batch_size=24, learning_rate=1e-3, grid_size=2, seed=5)
    results = []
    for parts in (1, 2):
        built = build_training(config)
        built.model.batch_parts = parts
        built.steps.inputs = pipeline = InputPipeline(data, config.architecture, 24, config.seed)
        sums = built.steps.train_chunk(pipeline.epoch_iterator(1), 4)
        results.append((sums, [v.numpy() for v in built.model.trainable_variables]))
    (whole, weights), (split, split_weights) = results
    assert whole["count"] == split["count"] == 96
    assert split["elbo"] == pytest.approx(whole["elbo"], rel=1e-4)
    for a, b in zip(weights, split_weights):
        np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-5)
