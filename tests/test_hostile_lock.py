"""Issue 9 #1: a run folder is locked while a process writes it, by an OS lock that dies with the process.

A second `vaestudio train` on the folder (`--resume` or `--out`) exits 2 naming the folder and the
holder's PID, from the holder's start-up on; after the holder is killed with SIGKILL the folder is usable
at once (no stale lock file to delete by hand).
"""

from __future__ import annotations

import signal


from hostile_helpers import (assert_run_complete, epoch_rows, start_cli, stop_process, tiny_idx, train_args,
                             wait_for)
from vaestudio.cli import main
from vaestudio.core.store.run_folder import RunFolder

__all__ = ["tiny_idx"]  # fixture


def test_a_folder_being_trained_is_refused_to_others_and_free_after_a_kill(tiny_idx, tmp_path, capsys):
    run = tmp_path / "run"
    holder = start_cli(train_args(tiny_idx, run, 400))
    try:
        wait_for(lambda: len(epoch_rows(run)) >= 1, holder, what="the holder's first epoch")
        resume_code = main(["train", "--resume", str(run), "--epochs", str(len(epoch_rows(run)) + 2)])
        resume_err = capsys.readouterr().err
        out_code = main(train_args(tiny_idx, run, 1))
        out_err = capsys.readouterr().err
        assert holder.poll() is None, "the holder stopped while the others were refused"
    finally:
        stop_process(holder, signal.SIGKILL)
    assert resume_code == 2 and str(run) in resume_err and str(holder.pid) in resume_err, resume_err
    assert out_code == 2 and str(run) in out_err and str(holder.pid) in out_err, out_err
    # SIGKILL: no clean-up ran, yet the lock is gone with the process. The checkpoint says how many epochs
    # were done (the kill may land after an epoch's checkpoint and before its metrics row).
    epochs = RunFolder(run).read_state().epochs_done + 1
    code = main(["train", "--resume", str(run), "--epochs", str(epochs)])
    assert code == 0, capsys.readouterr().err
    assert_run_complete(run, epochs)


def test_the_lock_is_held_from_the_start_up_on(tiny_idx, tmp_path, capsys):
    run = tmp_path / "run"
    holder = start_cli(train_args(tiny_idx, run, 400))
    try:
        wait_for(lambda: (run / "config.json").exists(), holder, what="config.json")
        code = main(["train", "--resume", str(run)])
        err = capsys.readouterr().err
    finally:
        stop_process(holder, signal.SIGKILL)
    assert code == 2 and str(holder.pid) in err and str(run) in err, err
