"""Issue 9 #4: a run that stops before its first checkpoint leaves a folder that resumes.

Today such a folder is a dead end: `--resume` says "no checkpoint" and `--out` says "already holds a
run". Each case stops a real `vaestudio train` process at that moment (SIGKILL at a crash point,
SIGINT during start-up, a divergence in epoch 1), then resumes the folder and expects a complete run:
every epoch once, snapshots 0..n-1 without a second "before training", model.keras and training.gif.
"""

from __future__ import annotations

import signal

import pytest

from crash_runs import start_kills
from hostile_helpers import (assert_run_complete, recover, start_cli, stop_process, stderr_problems, tiny_idx,
                             train_args, wait_for)
from vaestudio.cli import main

__all__ = ["tiny_idx"]  # fixture


@pytest.fixture(scope="module", autouse=True)
def kills_started(request, crash_runs):
    """This module's kills (tests/crash_runs.py), started before its tests, two at a time beside them."""
    def crash_point(item) -> str | None:
        if item.originalname == "test_a_run_killed_while_writing_its_first_config_can_be_started_again":
            return "atomic:config.json"
        return item.callspec.params.get("crash_point") if hasattr(item, "callspec") else None

    start_kills(request, crash_runs, crash_point)
    return crash_runs


@pytest.mark.parametrize("crash_point", [
    "atomic:frame-00001.png",  # in epoch 1, at its first snapshot after batch 1
    "atomic:checkpoint.npz",  # while the first checkpoint is written: epoch 1 was complete
])
def test_a_run_killed_before_its_first_checkpoint_resumes(crash_point, kills_started, tmp_path, capsys):
    run = tmp_path / "run"  # a copy of what `train` (2 epochs, --out run) killed at the crash point left
    _args, _epochs, killed = kills_started.killed("new", crash_point, run)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    code = main(["train", "--resume", str(run)])
    assert code == 0, capsys.readouterr().err
    assert_run_complete(run, 2, crash_point)


def test_ctrl_c_during_start_up_leaves_a_folder_that_resumes(tiny_idx, tmp_path, capsys):
    run = tmp_path / "run"
    process = start_cli(train_args(tiny_idx, run, 2))
    try:
        wait_for(lambda: (run / "config.json").exists(), process, what="config.json")
    finally:
        out, err = stop_process(process, signal.SIGINT)
    assert process.returncode == 130, err
    assert stderr_problems(err) == [], err
    code = main(["train", "--resume", str(run)])
    assert code == 0, capsys.readouterr().err
    assert_run_complete(run, 2)


def test_a_run_that_diverged_in_epoch_1_resumes_with_a_lower_learning_rate(tiny_idx, tmp_path, capsys):
    run = tmp_path / "run"
    code = main(["train", "--data", str(tiny_idx), "--epochs", "2", "--batch-size", "32", "--lr", "100",
                 "--grid", "4", "--seed", "3", "--out", str(run)])
    err = capsys.readouterr().err
    assert code == 2 and "diverged" in err, err
    code = main(["train", "--resume", str(run), "--lr", "1e-3"])
    assert code == 0, capsys.readouterr().err
    assert_run_complete(run, 2)


def test_a_run_killed_while_writing_its_first_config_can_be_started_again(kills_started, tmp_path, capsys):
    """The folder has no config.json, only what a kill left (snapshots/, a temporary file): the same command
    must still work, or --resume must; an 'only empty folders' rule or a lock file must not make it a dead end."""
    run = tmp_path / "run"  # a copy of what `train` (2 epochs, --out run) killed there left
    args, _epochs, killed = kills_started.killed("new", "atomic:config.json", run)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    codes = recover(run, args)
    assert codes[-1] == 0, (codes, capsys.readouterr().err)
    assert_run_complete(run, 2)
