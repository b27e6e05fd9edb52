"""Issue 9 #10 (and #4's "full disk" dead end): writes that fail for real.

Two ways to fill the disk, no mocks:
- a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored): any write past the limit fails with EFBIG, so a
  limit between the sizes of two files fails exactly the bigger one (the checkpoint, or the GIF);
- a small tmpfs (16 MB: a run keeps each snapshot's weights; needs root and CAP_SYS_ADMIN, skipped otherwise) with a filler file leaving N pages
  free, so the run meets ENOSPC at its N+1-th page: its snapshot index, a snapshot, its checkpoint.
Each failure must be exit 2 and one line naming the file, with no traceback or "Exception ignored"
noise, no 0-byte or half-written file, no temporary file; and once space is back, the folder resumes
(or, if it has no config yet, the same command starts it) and completes.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from hostile_helpers import (assert_run_complete, empty_files, index_rows, part_files, recover, run_cli,
                             stderr_problems, tiny_idx, train_args)

__all__ = ["tiny_idx"]  # fixture

CHECKPOINT_FAILS = 600_000  # config, metrics, snapshots (3 KB), model.keras (315 KB) fit; the checkpoint (852 KB) not
GIF_FAILS = 1_000_000  # 40 x 40 grid, 6 epochs: checkpoint (853 KB) and frames (<0.5 MB) fit, the GIF (8 frames, 32 greys) does not


def _assert_clean_failure(result: subprocess.CompletedProcess, run, file_name: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-3000:])
    assert stderr_problems(result.stderr) == [], result.stderr[-3000:]
    assert file_name in result.stderr, result.stderr[-3000:]
    assert part_files(run) == [], part_files(run)
    assert empty_files(run) == [], empty_files(run)
    if (run / "snapshots" / "index.csv").exists():
        assert (run / "snapshots" / "index.csv").read_bytes().endswith(b"\n")
        index_rows(run)


@pytest.fixture(scope="module")
def checkpoint_too_big(tiny_idx, tmp_path_factory):
    run = tmp_path_factory.mktemp("efbig") / "run"
    return run_cli(train_args(tiny_idx, run, 2), fsize=CHECKPOINT_FAILS), run


def test_a_checkpoint_that_cannot_be_written_is_one_line_naming_it(checkpoint_too_big):
    result, run = checkpoint_too_big
    _assert_clean_failure(result, run, "checkpoint.npz")


def test_a_run_whose_first_checkpoint_failed_resumes_once_space_is_back(checkpoint_too_big, tmp_path, capsys):
    _, failed = checkpoint_too_big
    run = shutil.copytree(failed, tmp_path / "run")
    codes = recover(run, [])
    assert codes == [0], (codes, capsys.readouterr().err)
    assert_run_complete(run, 2)


@pytest.fixture(scope="module")
def gif_too_big(tiny_idx, tmp_path_factory):
    run = tmp_path_factory.mktemp("efbig-gif") / "run"
    args = ["train", "--data", str(tiny_idx), "--epochs", "6", "--batch-size", "32", "--lr", "2e-3", "--grid", "40",
            "--seed", "3", "--out", str(run)]
    return run_cli(args, fsize=GIF_FAILS), run


def test_a_gif_that_cannot_be_written_is_one_line_naming_it(gif_too_big):
    result, run = gif_too_big
    _assert_clean_failure(result, run, "training.gif")
    assert (run / "model.keras").exists() and not (run / "training.gif").exists()


def test_a_run_whose_gif_failed_writes_it_on_resume_once_space_is_back(gif_too_big, tmp_path, capsys):
    """Training completed but its outputs did not: a plain --resume must finish the job (a rule that refuses
    to resume 'finished' runs must not count this one as finished)."""
    from vaestudio.cli import main

    _, failed = gif_too_big
    run = shutil.copytree(failed, tmp_path / "run")
    assert main(["train", "--resume", str(run)]) == 0, capsys.readouterr().err
    assert_run_complete(run, 6)


# -- a real full disk: a small tmpfs --------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def _fill_leaving(disk, pages: int):
    stats = os.statvfs(disk)
    filler = disk / "filler"
    filler.write_bytes(b"\0" * ((stats.f_bavail - pages) * stats.f_bsize))
    assert os.statvfs(disk).f_bavail == pages
    return filler


@pytest.mark.parametrize("free_pages, where", [
    pytest.param(2, "snapshots/index.csv", id="at_the_snapshot_index"),
    pytest.param(3, "a snapshot", id="at_a_snapshot"),
    pytest.param(4, "metrics.csv", id="at_the_metrics_log"),
    pytest.param(150, "checkpoint.npz", id="at_the_checkpoint"),
])
def test_a_full_disk_is_reported_in_one_line_and_the_run_resumes_once_space_is_back(free_pages, where, small_disk,
                                                                                   tiny_idx, capsys):
    run = small_disk / "run"
    filler = _fill_leaving(small_disk, free_pages)
    args = train_args(tiny_idx, run, 2)
    result = run_cli(args)
    assert result.returncode == 2, (where, result.returncode, result.stderr[-3000:])
    assert stderr_problems(result.stderr) == [], result.stderr[-3000:]
    assert "No space left" in result.stderr or "space" in result.stderr.lower(), result.stderr[-3000:]
    assert part_files(run) == [] and empty_files(run) == [], (part_files(run), empty_files(run))
    if (run / "snapshots" / "index.csv").exists():
        assert (run / "snapshots" / "index.csv").read_bytes().endswith(b"\n")
    filler.unlink()
    codes = recover(run, args)
    assert codes[-1] == 0, (codes, capsys.readouterr().err)
    assert_run_complete(run, 2)
