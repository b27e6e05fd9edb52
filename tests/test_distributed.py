"""Training on several devices (issue 12 §3, §4): 2 logical CPU replicas, and 2 worker processes on
127.0.0.1 (MultiWorkerMirroredStrategy through TF_CONFIG), train like one device; checkpoints move
between device counts; the gradient is that of the global batch's mean; a stop asked of one worker
stops all of them at the same step.

The CPU can be split into logical devices, and workers can join, only before TensorFlow starts, so
those halves run in fresh interpreters: this file run as a script (`python tests/test_distributed.py
two-replicas OUT`, or `worker OUT` with TF_CONFIG set).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
STEPS = 50
BATCH = 32
STOP_AT = 25
# 50 steps of 32, the last one short (25 images): a split of 13 + 12 (or so) across two replicas.
TRAIN_IMAGES = STEPS * BATCH - 7


def _data():
    from vaestudio.core.data import synthetic_dataset

    return synthetic_dataset(n_train=TRAIN_IMAGES, n_test=48, seed=1)


def _config():
    from vaestudio.core.config import TrainConfig

    return TrainConfig.from_preset("custom", epochs=1, batch_size=BATCH, learning_rate=1e-3, grid_size=2, seed=4,
                                   metrics_every=5, steps_per_call=5, snapshot_every=0)


def _train(folder: Path, devices=None, stop_at: int | None = None, resume: bool = False):
    """A run into (or resumed in) `folder`, stopped after step `stop_at` when given; its events."""
    from vaestudio.core.events import StepMetrics
    from vaestudio.core.runs import Run

    data = _data()
    if resume:
        run = Run.resuming(folder, load_dataset=lambda _config: data, devices=devices)
    else:
        run = Run.new(folder, _config(), load_dataset=lambda _config: data, devices=devices)
    events = []
    for event in run.events():
        events.append(event)
        if stop_at is not None and isinstance(event, StepMetrics) and event.step == stop_at:
            run.stop()
    return events


# -- the half that runs in a fresh interpreter, on 2 logical CPU devices ----------------------------------------
ONE_STOPPED_READY = "one_stopped.ready"  # written by the test process once its one-device run stopped at STOP_AT


def _await_file(path: Path, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            sys.exit(f"{path}: not written within {timeout:.0f} s")
        time.sleep(0.1)


def _two_replica_half(out: Path) -> None:
    from vaestudio.core.errors import ConfigError
    from vaestudio.core.events import Started
    from vaestudio.core.tf.device import plan_devices, split_cpu

    plan = plan_devices(2)  # first of all: TensorFlow has not started yet
    report = {"label": plan.label, "replicas": plan.replicas, "devices": list(plan.device_names)}
    started = [e for e in _train(out / "two", devices=2) if isinstance(e, Started)]
    report["started"] = [started[0].device, started[0].replicas]
    _train(out / "two_stopped", devices=2, stop_at=STOP_AT)
    report["sgd"] = _sgd_steps_agree()
    _await_file(out / ONE_STOPPED_READY)  # the test process trains it meanwhile
    _train(out / "one_stopped", devices=2, resume=True)  # a checkpoint of one device, resumed on two
    try:
        split_cpu(3)
    except ConfigError as exc:
        report["late_split"] = str(exc)
    (out / "report.json").write_text(json.dumps(report))


def _sgd_steps_agree() -> float:
    """How far apart the weights are after two plain SGD steps (linear in the gradient, so a gradient
    twice too large would show) on one device and on two replicas, against how far the steps moved
    them; the second step has a single image, so one replica gets none."""
    import keras
    import tensorflow as tf

    from vaestudio.core.architecture import Architecture
    from vaestudio.core.data import synthetic_dataset
    from vaestudio.core.tf.inputs import InputPipeline
    from vaestudio.core.tf.model import build_cvae
    from vaestudio.core.tf.steps import Schedule, TrainingSteps

    data = synthetic_dataset(n_train=BATCH + 1, n_test=8, seed=3)
    architecture = Architecture(2)
    keras.utils.set_random_seed(0)
    start = build_cvae(architecture).get_weights()
    results = []
    for strategy in (None, tf.distribute.MirroredStrategy(["/device:CPU:0", "/device:CPU:1"])):
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            model = build_cvae(architecture)
            model.set_weights(start)
            optimizer = keras.optimizers.SGD(0.01)
            optimizer.build(model.trainable_variables)
        inputs = InputPipeline(data, architecture, BATCH, seed=0, strategy=strategy)
        steps = TrainingSteps(model, optimizer, inputs, 7, Schedule("constant", 0, 0, 2), 0.01, 1.0,
                              np.zeros((4, 2), np.float32), strategy=strategy)
        sums = steps.train_chunk(inputs.epoch_iterator(1), 2)
        assert sums["count"] == BATCH + 1
        results.append(model.get_weights())
    flat = [np.concatenate([np.ravel(w) for w in weights]) for weights in [start, *results]]
    return float(np.linalg.norm(flat[2] - flat[1]) / np.linalg.norm(flat[1] - flat[0]))


# -- the half that runs in each of two worker processes ------------------------------------------------------
def _worker_half(out: Path) -> None:
    from vaestudio.core.events import Finished
    from vaestudio.core.tf.workers import worker_role

    rank = worker_role().rank
    report = {}
    for name, stop_at in (("workers", None), ("workers_stopped", STOP_AT if rank == 1 else None)):
        finished = [e for e in _train(out / name, devices="workers", stop_at=stop_at) if isinstance(e, Finished)]
        report[name] = [finished[-1].reason, finished[-1].step]
    (out / f"worker{rank}.json").write_text(json.dumps(report))


# -- the tests ---------------------------------------------------------------------------------------------------
def _script(mode: str, out: Path, **env) -> subprocess.Popen:
    """This file run as a script; its output goes to OUT/<mode><n>.log (nobody need read it while it runs)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", **env}
    log = out / f"{mode}{len(list(out.glob(f'{mode}*.log')))}.log"
    with open(log, "wb") as handle:
        process = subprocess.Popen([sys.executable, __file__, mode, str(out)], cwd=ROOT, env=env,
                                   stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    process.log = log
    return process


def _finish(process: subprocess.Popen, timeout: float = 900) -> None:
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    assert process.returncode == 0, process.log.read_text(errors="replace")[-3000:]


def _start_workers(out: Path) -> list[subprocess.Popen]:
    """The two worker processes (a cluster on two free ports of 127.0.0.1), started and left running."""
    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    return [_script("worker", out, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}))
            for i in range(2)]


@pytest.fixture(scope="module")
def one_device(tmp_path_factory):
    """The reference: 50 steps on one device, and a run stopped after 25 (in this process). The two workers
    and the two-replica script start first and train beside it (a process spends most of its start on one
    core); the script waits for the stopped run only at its end, to resume it on two devices."""
    pytest.importorskip("tensorflow")
    out = tmp_path_factory.mktemp("distributed")
    processes = [*_start_workers(out), _script("two-replicas", out)]
    try:
        _train(out / "one")
        _train(out / "one_stopped", stop_at=STOP_AT)
        (out / ONE_STOPPED_READY).write_text("")
    except BaseException:
        for process in processes:
            process.kill()
            process.wait()
        raise
    yield out, processes
    for process in processes:  # left running only when no test asked for them
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def runs(one_device):
    out, processes = one_device
    _finish(processes[2])
    _train(out / "two_stopped", resume=True)  # a checkpoint of two replicas, resumed on one device
    return out, json.loads((out / "report.json").read_text())


@pytest.fixture(scope="module")
def workers(one_device):
    out, processes = one_device
    for process in processes[:2]:
        _finish(process)
    _train(out / "workers_stopped", resume=True)  # a checkpoint of two workers, resumed on one device
    return out, [json.loads((out / f"worker{i}.json").read_text()) for i in range(2)]


def _final_weights(folder: Path) -> list[np.ndarray]:
    from vaestudio.core.store.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(folder / "checkpoint.npz")
    assert (checkpoint.epoch, checkpoint.step) == (1, STEPS)
    return checkpoint.model_weights


def _initial_weights(folder: Path) -> list[np.ndarray]:
    from vaestudio.core.events import Snapshot
    from vaestudio.core.runs import replay

    first = next(e for e in replay(folder) if isinstance(e, Snapshot))
    assert first.step == 0
    return list(first.weights.encoder) + list(first.weights.decoder)


def _relative_gap(folder: Path, reference: Path) -> float:
    """|w - w_ref| / |w_ref - w_0| over all weights: how far apart, against how far training moved them."""
    flat = lambda arrays: np.concatenate([np.ravel(a) for a in arrays]).astype(np.float64)  # noqa: E731
    ref, start = flat(_final_weights(reference)), flat(_initial_weights(reference))
    return float(np.linalg.norm(flat(_final_weights(folder)) - ref) / np.linalg.norm(ref - start))


def _test_elbo(folder: Path) -> float:
    with open(folder / "metrics.csv", newline="") as handle:
        return float(next(r for r in csv.DictReader(handle) if r["kind"] == "epoch")["test_elbo"])


def test_two_logical_cpu_replicas_are_named_and_recorded(runs):
    out, report = runs
    assert report["label"] == "2 × CPU (logical)" and report["replicas"] == 2
    assert len(set(report["devices"])) == 2 and all("CPU" in name for name in report["devices"])
    assert report["started"] == ["2 × CPU (logical)", 2]
    facts = json.loads((out / "two" / "run.json").read_text())
    assert (facts["device"], facts["replicas"]) == ("2 × CPU (logical)", 2)
    assert json.loads((out / "one" / "run.json").read_text())["replicas"] == 1


def test_fifty_steps_on_two_replicas_give_the_weights_of_one_device(runs):
    out, _ = runs
    # Same noise for the same image, same data order, loss over the global batch: only the order of
    # float additions differs (Adam magnifies it for weights whose gradient is ~0, hence a norm).
    assert _relative_gap(out / "two", out / "one") < 1e-2
    assert _test_elbo(out / "two") == pytest.approx(_test_elbo(out / "one"), abs=0.05)


def test_the_gradient_is_the_global_batch_mean_even_when_a_replica_gets_no_image(runs):
    _, report = runs
    assert report["sgd"] < 1e-4


@pytest.mark.parametrize("folder", ["one_stopped", "two_stopped"])  # 1 -> 2 replicas, 2 -> 1
def test_a_checkpoint_moves_between_device_counts_and_trains_on(runs, folder):
    out, _ = runs
    assert _relative_gap(out / folder, out / "one") < 1e-2
    with open(out / folder / "metrics.csv", newline="") as handle:
        steps = [int(r["step"]) for r in csv.DictReader(handle) if r["kind"] == "step"]
    assert steps == list(range(5, STEPS + 1, 5))  # continuous: nothing lost or repeated at the resume


def test_splitting_the_cpu_again_once_tensorflow_runs_asks_for_a_restart(runs):
    _, report = runs
    assert "--devices 3" in report["late_split"] and "restart" in report["late_split"]


def test_two_workers_on_this_machine_train_like_one_device(workers):
    out, _ = workers
    facts = json.loads((out / "workers" / "run.json").read_text())
    assert (facts["device"], facts["replicas"]) == ("2 workers × CPU", 2)
    assert _relative_gap(out / "workers", out / "one") < 1e-2
    assert _test_elbo(out / "workers") == pytest.approx(_test_elbo(out / "one"), abs=0.05)


def test_a_stop_asked_of_one_worker_stops_all_at_the_same_step(workers):
    out, reports = workers
    assert [r["workers"] for r in reports] == [["completed", STEPS]] * 2
    assert [r["workers_stopped"] for r in reports] == [["stopped", STOP_AT]] * 2  # worker 1 was asked, 0 followed
    # ... and the chief's checkpoint of that step resumed on one device (in the fixture) and trained on.
    assert _relative_gap(out / "workers_stopped", out / "one") < 1e-2
    with open(out / "workers_stopped" / "metrics.csv", newline="") as handle:
        steps = [int(r["step"]) for r in csv.DictReader(handle) if r["kind"] == "step"]
    assert steps == list(range(5, STEPS + 1, 5))


# -- the command line -------------------------------------------------------------------------------------------
def test_a_bad_devices_option_is_one_line_and_writes_nothing(tmp_path, capsys):
    from vaestudio.cli import main

    assert main(["train", "--out", str(tmp_path / "run"), "--devices", "several"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--devices 'several'" in err
    assert not (tmp_path / "run").exists()


def test_devices_that_the_machine_lacks_are_refused_before_the_folder_is_made(tmp_path, capsys):
    from vaestudio.cli import main
    from vaestudio.core.tf.device import max_devices

    folder = tmp_path / "idx"
    data = _data()
    sys.path.insert(0, str(ROOT / "tests"))
    from idx_files import write_idx_folder

    write_idx_folder(folder, (data.train_images[:64], data.train_labels[:64], data.test_images, data.test_labels))
    code = main(["train", "--data", str(folder), "--out", str(tmp_path / "run"), "--devices", str(max_devices())])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and f"--devices {max_devices()}" in err
    assert not (tmp_path / "run").exists()


def test_devices_may_change_on_resume_since_they_are_not_part_of_the_run(one_device):
    from vaestudio.cli import build_parser
    from vaestudio.train_command import make_run

    out, _ = one_device
    run = make_run(build_parser().parse_args(["train", "--resume", str(out / "one"), "--epochs", "2",
                                              "--devices", "all"]))
    assert run.devices == "all" and run.config.epochs == 2


if __name__ == "__main__":
    modes = {"two-replicas": _two_replica_half, "worker": _worker_half}
    if len(sys.argv) != 3 or sys.argv[1] not in modes:
        sys.exit(f"usage: {sys.argv[0]} two-replicas|worker OUT")
    modes[sys.argv[1]](Path(sys.argv[2]))
