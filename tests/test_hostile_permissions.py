"""Issue 9 #11 (a data folder without search permission: PermissionError, exit 1) and its relatives:
files and folders the user may not read or write. Exit 2, one line naming the path, nothing changed.

As root, chmod stops nothing, so the CLI runs as root without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH
(dropped from the capability bounding set before exec): file modes then apply to it as to any owner.
"""

from __future__ import annotations

import os
import shutil

import pytest

from hostile_helpers import (assert_run_complete, assert_unchanged, copy_run, run_cli, stderr_problems, tiny_idx,
                             train_args, trained_runs, tree_state)

__all__ = ["tiny_idx", "trained_runs"]  # fixtures


@pytest.fixture(scope="module")
def drop_dac() -> bool:
    """Whether the CLI must shed root's permission override; skips when that is impossible."""
    if os.geteuid() != 0:
        return False
    probe = run_cli(["--version"], drop_dac=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip(f"cannot drop root's permission override here: {probe.stderr.strip()}")
    return True


def _cli(args, drop_dac):
    return run_cli(args, drop_dac=drop_dac, timeout=120)


def _assert_refused(result, *words):
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert stderr_problems(result.stderr) == [], result.stderr[-2000:]
    for word in words:
        assert word in result.stderr, (word, result.stderr[-2000:])


@pytest.fixture
def private_idx(tiny_idx, tmp_path):
    """A copy of the data that tests may chmod (restored for clean-up)."""
    folder = shutil.copytree(tiny_idx, tmp_path / "data")
    yield folder
    for path in [folder, *folder.iterdir()]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


def test_a_data_folder_without_search_permission_is_refused_before_a_run_folder_exists(private_idx, tmp_path,
                                                                                      drop_dac):
    os.chmod(private_idx, 0o644)  # readable listing, no search: the files inside cannot be opened or stat'ed
    run = tmp_path / "run"
    _assert_refused(_cli(train_args(private_idx, run, 1), drop_dac), str(private_idx))
    assert not run.exists()


def test_an_unreadable_data_file_is_refused_by_name_before_a_run_folder_exists(private_idx, tmp_path, drop_dac):
    images = private_idx / "train-images-idx3-ubyte.gz"
    os.chmod(images, 0o000)
    run = tmp_path / "run"
    _assert_refused(_cli(train_args(private_idx, run, 1), drop_dac), "train-images-idx3-ubyte")
    assert not run.exists()


def test_out_under_a_read_only_folder_is_refused_by_name(tiny_idx, tmp_path, drop_dac):
    parent = tmp_path / "read-only"
    parent.mkdir()
    os.chmod(parent, 0o555)
    try:
        _assert_refused(_cli(train_args(tiny_idx, parent / "run", 1), drop_dac), str(parent / "run"))
        assert list(parent.iterdir()) == []
    finally:
        os.chmod(parent, 0o755)


def _restore_modes(run):
    for path in [run, *run.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


@pytest.mark.parametrize("target, mode, words", [
    pytest.param("config.json", 0o000, ["config.json"], id="unreadable_config"),
    pytest.param("checkpoint.npz", 0o000, ["checkpoint.npz"], id="unreadable_checkpoint"),
    pytest.param("snapshots/index.csv", 0o000, ["index.csv"], id="unreadable_snapshot_index"),
    pytest.param(".", 0o555, [], id="read_only_run_folder"),
    pytest.param("snapshots", 0o555, ["snapshots"], id="read_only_snapshots_folder"),
])
def test_a_run_folder_it_may_not_read_or_write_is_refused_with_nothing_changed(target, mode, words, trained_runs,
                                                                              tmp_path, drop_dac):
    run = copy_run(trained_runs.stale, tmp_path / "run")
    os.chmod(run / target, mode)
    before = tree_state(run)
    try:
        result = _cli(["train", "--resume", str(run)], drop_dac)
        _assert_refused(result, *words)
        assert str(run) in result.stderr
        assert_unchanged(before, run)
    finally:
        _restore_modes(run)


def test_a_read_only_metrics_file_is_refused_untouched_or_the_run_completes(trained_runs, tmp_path, drop_dac):
    run = copy_run(trained_runs.stale, tmp_path / "run")
    os.chmod(run / "metrics.csv", 0o444)
    before = tree_state(run)
    try:
        result = _cli(["train", "--resume", str(run)], drop_dac)
        assert result.returncode in (0, 2) and "Traceback" not in result.stderr, result.stderr[-2000:]
        if result.returncode == 2:
            assert "metrics.csv" in result.stderr
            assert_unchanged(before, run)
        else:
            assert_run_complete(run, 2)
    finally:
        _restore_modes(run)
