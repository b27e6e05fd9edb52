"""Issue 9 #5: the hidden temporary files a kill leaves (.checkpoint.npz.*.part.npz, 852 KB; .training.gif.*;
.model.keras.*; .frame-*.png.* in snapshots/) are gone after the next resume, and nothing else is.

Each case kills a real `vaestudio train` inside an atomic write (VAESTUDIO_KILL_AT), checks that the
temporary file is really there, resumes, and expects a complete run with no temporary file left, while
the user's own hidden files in the folder survive.
"""

from __future__ import annotations

import signal

import pytest

from crash_runs import start_kills
from hostile_helpers import assert_run_complete, assert_snapshots_consistent, epoch_rows, index_rows, part_files
from vaestudio.cli import main

BETWEEN_CHECKPOINT_AND_SNAPSHOT = "atomic:frame-00002.png"


@pytest.fixture(scope="module", autouse=True)
def kills_started(request, crash_runs):
    """This module's kills (tests/crash_runs.py), started before its tests, two at a time beside them."""
    start_kills(request, crash_runs, lambda item: item.callspec.params["crash_point"] if hasattr(item, "callspec")
                else BETWEEN_CHECKPOINT_AND_SNAPSHOT)
    return crash_runs


@pytest.mark.parametrize("crash_point, leftover", [
    ("atomic:checkpoint.npz:2", ".checkpoint.npz."),  # the epoch-2 checkpoint: 852 KB left behind
    ("atomic:model.keras", ".model.keras."),
    ("atomic:training.gif", ".training.gif."),
    ("atomic:frame-00002.png", "snapshots/.frame-00002.png."),
])
def test_temporary_files_left_by_a_kill_are_gone_after_the_resume(crash_point, leftover, kills_started, tmp_path,
                                                                   capsys):
    run = tmp_path / "run"  # a copy of what `train` (2 epochs, --out run) killed at the crash point left
    _args, _epochs, killed = kills_started.killed("new", crash_point, run)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    left = [str(p.relative_to(run)) for p in part_files(run)]
    assert any(name.startswith(leftover) for name in left), f"the kill left {left}, expected {leftover}*"
    (run / ".my-notes").write_text("mine")  # the user's own hidden files are not ours to delete
    (run / "snapshots" / ".keep").write_text("")
    code = main(["train", "--resume", str(run)])
    assert code == 0, capsys.readouterr().err
    assert (run / ".my-notes").read_text() == "mine" and (run / "snapshots" / ".keep").exists()
    assert part_files(run) == [], f"left after the resume: {part_files(run)}"
    assert [r["epoch"] for r in epoch_rows(run)] == ["1", "2"]
    assert_snapshots_consistent(run, crash_point)  # (whether every snapshot survived is the next test's)


def test_a_kill_between_the_checkpoint_and_the_epoch_snapshot_loses_no_snapshot(kills_started, tmp_path, capsys):
    run = tmp_path / "run"  # a copy of what `train` (2 epochs, --out run) killed there left
    _args, _epochs, killed = kills_started.killed("new", BETWEEN_CHECKPOINT_AND_SNAPSHOT, run)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert main(["train", "--resume", str(run)]) == 0, capsys.readouterr().err
    labels = [row[3] for row in index_rows(run)]
    assert "epoch 1" in labels, f"snapshots after the resume: {labels}"
    assert_run_complete(run, 2)
