"""Issue 9 #17: SIGTERM and SIGHUP (logout, shutdown, a service manager) stop a run like Ctrl+C does:
checkpoint, outputs, exit 130, and `--resume` continues exactly as if nothing had happened."""

from __future__ import annotations

import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from hostile_helpers import (assert_run_complete, epoch_rows, start_cli, stderr_problems, stop_process, tiny_idx,
                             train_args, wait_for)
from vaestudio.cli import main

__all__ = ["tiny_idx"]  # fixture

SIGNALS = {"SIGTERM": signal.SIGTERM, "SIGHUP": signal.SIGHUP}


def _signalled_after_the_first_epoch(data, run, sig) -> tuple[subprocess.Popen, str, str]:
    process = start_cli(train_args(data, run, 400))
    try:
        wait_for(lambda: len(epoch_rows(run)) >= 1, process, what="the first epoch")
    finally:
        out, err = stop_process(process, sig)
    return process, out, err


@pytest.fixture(scope="module")
def signalled_runs(request, tiny_idx, tmp_path_factory):
    """A 400-epoch run sent each signal this session tests once its first epoch is written: all started at once
    (a process spends most of its start on one core), each stopped by a thread of its own."""
    names = [item.callspec.id for item in request.session.items if item.module is request.module
             and item.originalname == "test_sigterm_and_sighup_stop_like_ctrl_c_and_resume_exactly"]
    pool = ThreadPoolExecutor(max_workers=max(1, len(names)))
    runs = {name: tmp_path_factory.mktemp(f"signalled-{name}") / "run" for name in names}
    jobs = {name: pool.submit(_signalled_after_the_first_epoch, tiny_idx, runs[name], SIGNALS[name]) for name in names}
    yield {name: (runs[name], jobs[name]) for name in names}
    pool.shutdown()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_stop_like_ctrl_c_and_resume_exactly(sig, signalled_runs, tiny_idx, tmp_path, capsys):
    run, job = signalled_runs[sig.name]
    process, out, err = job.result()
    assert process.returncode == 130, (process.returncode, err[-2000:])
    assert f"--resume {run}" in out
    assert stderr_problems(err, lines=0) == [] or stderr_problems(err, lines=1) == [], err
    assert (run / "checkpoint.npz").exists() and (run / "model.keras").exists() and (run / "training.gif").exists()

    epochs = len(epoch_rows(run)) + 1
    assert main(["train", "--resume", str(run), "--epochs", str(epochs)]) == 0, capsys.readouterr().err
    assert_run_complete(run, epochs)
    straight = tmp_path / "straight"
    assert main(train_args(tiny_idx, straight, epochs)) == 0
    assert [r["test_elbo"] for r in epoch_rows(run)] == [r["test_elbo"] for r in epoch_rows(straight)]


def test_sigterm_during_start_up_leaves_a_folder_that_resumes(tiny_idx, tmp_path, capsys):
    run = tmp_path / "run"
    process = start_cli(train_args(tiny_idx, run, 2))
    try:
        wait_for(lambda: (run / "config.json").exists(), process, what="config.json")
    finally:
        out, err = stop_process(process, signal.SIGTERM)
    assert process.returncode == 130, (process.returncode, err[-2000:])
    assert main(["train", "--resume", str(run)]) == 0, capsys.readouterr().err
    assert_run_complete(run, 2)


def test_an_impatient_second_ctrl_c_still_leaves_a_folder_that_resumes(tiny_idx, tmp_path, capsys):
    """Ctrl+C, then Ctrl+C again while the checkpoint and outputs are being written."""
    import time

    run = tmp_path / "run"
    process = start_cli(train_args(tiny_idx, run, 400))
    try:
        wait_for(lambda: len(epoch_rows(run)) >= 1, process, what="the first epoch")
        process.send_signal(signal.SIGINT)
        time.sleep(0.15)
    finally:
        out, err = stop_process(process, signal.SIGINT)
    # 130, or death by the second SIGINT while the interpreter shuts down (a shell shows both as 130)
    assert process.returncode in (130, -signal.SIGINT), (process.returncode, err[-2000:])
    assert "Traceback" not in err and "Exception ignored" not in err, err
    epochs = len(epoch_rows(run)) + 1
    assert main(["train", "--resume", str(run), "--epochs", str(epochs)]) == 0, capsys.readouterr().err
    assert_run_complete(run, epochs)
