"""Never lose a run: checkpoints, resume (also after kill -9), divergence and damaged run folders."""

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time

import imageio.v3 as iio
import numpy as np
import pytest
from idx_files import write_idx_folder

from vaestudio.cli import main
from vaestudio.core.store.checkpoint import load_checkpoint
from vaestudio.core.config import TrainConfig
from vaestudio.core.data import synthetic_dataset
from vaestudio.core.errors import RunFolderError
from vaestudio.core.events import EpochEnd, Finished, StepMetrics
from vaestudio.core.replay import replay
from vaestudio.core.runs import Run
from vaestudio.core.tf.trainer import Trainer

COMMON = ["--batch-size", "32", "--lr", "2e-3", "--grid", "4", "--seed", "3"]


@pytest.fixture(scope="module")
def idx_folder(tmp_path_factory):
    data = synthetic_dataset(n_train=192, n_test=64, seed=2)
    return write_idx_folder(tmp_path_factory.mktemp("idx"),
                            (data.train_images, data.train_labels, data.test_images, data.test_labels))


def _epoch_rows(run):
    with open(run / "metrics.csv", newline="") as handle:
        return [row for row in csv.DictReader(handle) if row["kind"] == "epoch"]


def test_resume_continues_exactly_where_the_run_stopped(idx_folder, tmp_path, capsys):
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert main(["train", "--data", str(idx_folder), "--epochs", "3", *COMMON, "--out", str(straight)]) == 0
    assert main(["train", "--data", str(idx_folder), "--epochs", "1", *COMMON, "--out", str(split)]) == 0
    assert main(["train", "--resume", str(split), "--epochs", "3"]) == 0
    assert "Resuming" in capsys.readouterr().out
    rows_straight, rows_split = _epoch_rows(straight), _epoch_rows(split)
    assert [r["epoch"] for r in rows_split] == ["1", "2", "3"]  # no duplicate, none missing
    # Optimizer state, noise and data order all continue: the same numbers as the uninterrupted run.
    assert [r["test_elbo"] for r in rows_split] == [r["test_elbo"] for r in rows_straight]
    frames = iio.imread(split / "training.gif", index=None)
    assert len(frames) == len(iio.imread(straight / "training.gif", index=None)) == 5  # before, batch 1, 3 epochs
    assert json.loads((split / "config.json").read_text())["epochs"] == 3


@pytest.mark.parametrize("stop_at", [5, 8])  # mid-epoch, and after the last step (stops the test pass)
def test_stop_mid_epoch_checkpoints_and_resumes_exactly(tmp_path, stop_at):
    data = synthetic_dataset(n_train=256, n_test=64, seed=1)
    config = TrainConfig.from_preset("custom", epochs=2, batch_size=32, learning_rate=2e-3, grid_size=4,
                                     metrics_every=1, steps_per_call=1, seed=4)
    reference = [e.test_elbo for e in Trainer(config, data).events() if isinstance(e, EpochEnd)]

    run = Run.new(tmp_path / "run", config, load_dataset=lambda _config: data)
    for event in run.events():
        if isinstance(event, StepMetrics) and event.step == stop_at:
            run.stop()
    finished = [e for e in RunFolderEvents(run.path) if isinstance(e, Finished)]
    assert finished and finished[-1].reason == "stopped"
    saved = load_checkpoint(run.path / "checkpoint.npz")
    assert (saved.epoch, saved.step, saved.epoch_step) == (0, stop_at, stop_at)

    resumed = Run.resuming(run.path, load_dataset=lambda _config: data)
    test = [e.test_elbo for e in resumed.events() if isinstance(e, EpochEnd)]
    assert test == reference
    assert [r["epoch"] for r in _epoch_rows(run.path)] == ["1", "2"]
    steps = [int(r["step"]) for r in csv.DictReader(open(run.path / "metrics.csv")) if r["kind"] == "step"]
    assert steps == sorted(set(steps)) and steps[:6] == [1, 2, 3, 4, 5, 6]


def test_stop_cuts_the_graph_call_in_flight_and_resumes_exactly(tmp_path, monkeypatch):
    """A stop asked while a call of 64 steps runs ends it after the step under way: the run stops mid-call,
    its checkpoint is at that step, and the resumed run ends with the uninterrupted run's numbers."""
    from vaestudio.core.tf.steps import TrainingSteps

    data = synthetic_dataset(n_train=512, n_test=64, seed=1)
    config = TrainConfig.from_preset("custom", epochs=2, batch_size=8, learning_rate=2e-3, grid_size=4,
                                     metrics_every=64, snapshot_every=0, steps_per_call=64, seed=4)
    reference = [e.test_elbo for e in Trainer(config, data).events() if isinstance(e, EpochEnd)]

    run = Run.new(tmp_path / "run", config, load_dataset=lambda _config: data)
    original, watchers = TrainingSteps.train_steps, []

    def stop_during_the_call(self, iterator, steps):
        if not watchers:  # the first call: ask for a stop from another thread once 3 of its steps are done
            def watch():
                while int(self.optimizer.iterations.numpy()) < 3:
                    time.sleep(0.0005)
                run.stop()
            watchers.append(threading.Thread(target=watch, daemon=True))
            watchers[0].start()
        return original(self, iterator, steps)

    monkeypatch.setattr(TrainingSteps, "train_steps", stop_during_the_call)
    list(run.events())
    watchers[0].join(5)
    monkeypatch.undo()
    finished = [e for e in RunFolderEvents(run.path) if isinstance(e, Finished)]
    assert finished and finished[-1].reason == "stopped"
    saved = load_checkpoint(run.path / "checkpoint.npz")
    assert 3 <= saved.step < 64  # not at the call's end (step 64)
    assert (saved.epoch, saved.epoch_step, finished[-1].step) == (0, saved.step, saved.step)

    resumed = Run.resuming(run.path, load_dataset=lambda _config: data)
    test = [e.test_elbo for e in resumed.events() if isinstance(e, EpochEnd)]
    assert np.allclose(test, reference, rtol=1e-5, atol=0) and len(test) == 2
    assert [r["epoch"] for r in _epoch_rows(run.path)] == ["1", "2"]


def RunFolderEvents(path):
    return list(replay(path))


def test_kill_9_loses_at_most_the_epoch_in_progress(idx_folder, tmp_path):
    run = tmp_path / "run"
    command = [sys.executable, "-m", "vaestudio", "train", "--data", str(idx_folder), "--epochs", "400",
               "--batch-size", "32", "--lr", "1e-3", "--grid", "3", "--out", str(run)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while len(_epoch_rows(run) if (run / "metrics.csv").exists() else []) < 3:
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "training did not reach epoch 3"
            time.sleep(0.05)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    checkpoint = load_checkpoint(run / "checkpoint.npz")
    completed = len(_epoch_rows(run))
    assert checkpoint.epoch >= completed - 1 >= 2  # at most the epoch in progress is lost

    assert main(["train", "--resume", str(run), "--epochs", str(checkpoint.epoch + 2)]) == 0
    epochs = [int(r["epoch"]) for r in _epoch_rows(run)]
    assert epochs == list(range(1, checkpoint.epoch + 3))
    assert (run / "model.keras").exists() and (run / "training.gif").exists()


def test_divergence_is_reported_and_good_weights_are_saved(idx_folder, tmp_path, capsys):
    run = tmp_path / "run"
    code = main(["train", "--data", str(idx_folder), "--epochs", "30", "--batch-size", "32", "--lr", "100",
                 "--out", str(run)])
    err = capsys.readouterr().err
    assert code == 2
    assert "diverged" in err and f"vaestudio train --resume {run} --lr 10" in err
    from vaestudio.core.tf.model_file import load_model

    model = load_model(run / "model.keras")
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())


def test_damaged_or_foreign_run_folders_are_refused_by_name(idx_folder, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", str(idx_folder), "--epochs", "1", *COMMON, "--out", str(run)]) == 0
    checkpoint_bytes = (run / "checkpoint.npz").read_bytes()

    (run / "checkpoint.npz").write_bytes(checkpoint_bytes[: len(checkpoint_bytes) // 2])
    assert main(["train", "--resume", str(run)]) == 2
    assert "checkpoint.npz: damaged checkpoint" in capsys.readouterr().err

    (run / "checkpoint.npz").write_bytes(checkpoint_bytes)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps(config | {"version": 99}))
    assert main(["train", "--resume", str(run)]) == 2
    assert "format 99 is not supported" in capsys.readouterr().err

    assert main(["train", "--resume", str(tmp_path / "nowhere")]) == 2
    assert "no such run folder" in capsys.readouterr().err
    with pytest.raises(RunFolderError, match="config.json is missing"):
        Run.resuming(idx_folder)


def test_ctrl_c_stops_cleanly_and_keeps_everything(idx_folder, tmp_path):
    run = tmp_path / "run"
    command = [sys.executable, "-m", "vaestudio", "train", "--data", str(idx_folder), "--epochs", "400",
               "--batch-size", "32", "--lr", "1e-3", "--grid", "3", "--out", str(run)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(_epoch_rows(run) if (run / "metrics.csv").exists() else []) < 1:
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "training did not finish an epoch"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert f"vaestudio train --resume {run}" in out
    assert (run / "model.keras").exists() and (run / "training.gif").exists()
    assert load_checkpoint(run / "checkpoint.npz").step > 0
