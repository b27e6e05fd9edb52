"""The model zoo's objectives on two logical CPU devices (issue 19): free bits, IWAE, the cyclical
schedule, the VampPrior (its pseudo-inputs learn like any weight) and the conditional model take the same SGD steps on two replicas as on one (the free-bits mask is the whole batch's);
beta-TCVAE's minibatch estimate is each replica's share, so its steps differ a little, but they train,
also when one replica gets no image. The devices are split in a fresh interpreter: this file run as a
script (`python tests/test_zoo_distributed.py OUT`), which tests/conftest.py starts when the tests are collected."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
BATCH = 16
VARIANTS = {"free_bits": dict(free_bits=0.05), "iwae": dict(objective="iwae", samples=3),
            "cyclical": dict(kl_schedule="cyclical", cycles=2), "tcvae": dict(objective="tcvae", beta=4.0),
            "vamp": dict(prior="vamp", pseudo_inputs=4, objective="iwae", samples=2),
            "conditional": dict(model="conditional", free_bits=0.05)}


def _steps_agree(values: dict, mirrored) -> dict:
    """For each variant: (distance between the weights after two SGD steps on one device and on two
    replicas) / (distance the steps moved them), and whether they stayed finite. The second step has one
    image, so one replica gets none."""
    import keras

    from vaestudio.core.config import TrainConfig
    from vaestudio.core.data import synthetic_dataset
    from vaestudio.core.tf.inputs import InputPipeline
    from vaestudio.core.tf.model import build_cvae
    from vaestudio.core.tf.steps import Schedule, TrainingSteps, Variant

    data = synthetic_dataset(n_train=BATCH + 1, n_test=8, seed=3)
    report = {}
    for name, settings in values.items():
        config = TrainConfig.from_preset("custom", batch_size=BATCH, latent_dim=3, epochs=1, **settings)
        architecture = config.architecture
        keras.utils.set_random_seed(0)
        start = build_cvae(architecture).get_weights()
        results = []
        for strategy in (None, mirrored):
            with strategy.scope() if strategy is not None else contextlib.nullcontext():
                model = build_cvae(architecture)
                model.set_weights(start)
                optimizer = keras.optimizers.SGD(0.01)
                optimizer.build(model.trainable_variables)
            inputs = InputPipeline(data, architecture, BATCH, seed=0, strategy=strategy)
            steps = TrainingSteps(model, optimizer, inputs, 7, Schedule.of(config, 2), 0.01, config.beta,
                                  np.zeros((4, 3), np.float32), strategy=strategy,
                                  variant=Variant.of(config, len(data.train_images)))
            sums = steps.train_chunk(inputs.epoch_iterator(1), 2)
            results.append((model.get_weights(), sums))
        flat = [np.concatenate([np.ravel(w) for w in weights]) for weights in [start, *(r[0] for r in results)]]
        report[name] = {"ratio": float(np.linalg.norm(flat[2] - flat[1]) / np.linalg.norm(flat[1] - flat[0])),
                        "finite": bool(all(np.all(np.isfinite(f)) for f in flat)),
                        "objectives": [r[1]["objective"] for r in results],
                        "counts": [r[1]["count"] for r in results]}
    return report


def _script_half(out: Path) -> None:
    from vaestudio.core.tf.device import plan_devices

    plan = plan_devices(2)  # first of all: TensorFlow has not started yet
    report = _steps_agree(VARIANTS, plan.strategy())
    report["runs"] = _runs_in_turn(out)
    (out / "report.json").write_text(json.dumps(report))


def _runs_in_turn(out: Path) -> list[str]:
    """How runs of other architectures end when they follow each other on two devices in one process
    (as in the window)."""
    from vaestudio.core.config import TrainConfig
    from vaestudio.core.data import synthetic_dataset
    from vaestudio.core.events import Finished
    from vaestudio.core.runs import Run

    data = synthetic_dataset(n_train=64, n_test=16, seed=1)
    reasons = []
    for name, settings in (("two", dict(latent_dim=2)), ("vamp", dict(prior="vamp", pseudo_inputs=3)),
                           ("conditional", dict(model="conditional"))):
        config = TrainConfig.from_preset("custom", epochs=1, batch_size=32, grid_size=2, snapshot_every=0, **settings)
        run = Run.new(out / name, config, load_dataset=lambda _config: data, devices=2)
        reasons += [e.reason for e in run.events() if isinstance(e, Finished)]
    return reasons


@pytest.fixture(scope="module")
def report(zoo_two_devices):
    """The script's report; tests/conftest.py starts the script when the tests are collected, to run beside them."""
    pytest.importorskip("tensorflow")
    code, output, out = zoo_two_devices
    assert code == 0, output[-3000:]
    return json.loads((out / "report.json").read_text())


@pytest.mark.parametrize("variant", ["free_bits", "iwae", "cyclical", "vamp", "conditional"])
def test_two_replicas_take_the_steps_of_one_device(report, variant):
    facts = report[variant]
    assert facts["finite"] and facts["counts"] == [BATCH + 1, BATCH + 1]
    assert facts["ratio"] < 1e-3
    assert facts["objectives"][1] == pytest.approx(facts["objectives"][0], rel=1e-4)


def test_runs_of_other_architectures_follow_each_other_on_two_devices(report):
    assert report["runs"] == ["completed"] * 3


def test_tcvae_trains_on_two_replicas(report):
    facts = report["tcvae"]
    assert facts["finite"] and facts["counts"] == [BATCH + 1, BATCH + 1]
    assert facts["ratio"] < 0.5  # the per-replica minibatch estimate moves the weights much as one device does


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    _script_half(Path(sys.argv[1]))
