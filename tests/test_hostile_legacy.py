"""Issue 21, wrong or missing words: a run folder written by vaestudio 0.1.0 itself (tests/data/run-0.1.0,
see tests/data/README.md) opens as the README promises: inspect says it has no weights, render shows its
recorded grid, the window's replay shows every snapshot, and --resume continues a complete one."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from hostile_helpers import REPO, cli_env, run_cli, stderr_problems, write_tiny_idx
from vaestudio.cli import main

LEGACY = Path(__file__).parent / "data" / "run-0.1.0"
COMMIT_0_1_0 = "2db3c681a7590c5f86b0c6dcdc96194bf8daa35e"  # __version__ = "0.1.0", config.json with "extra"


@pytest.fixture
def legacy_run(tmp_path) -> Path:
    run = tmp_path / "run-0.1.0"
    shutil.copytree(LEGACY, run)
    return run


def test_the_folder_is_what_0_1_0_wrote():
    config = json.loads((LEGACY / "config.json").read_text())
    assert config["version"] == 1 and config["vaestudio"] == "0.1.0" and config["extra"] == {}
    assert not list((LEGACY / "snapshots").glob("*.npz"))


def test_replay_opens_it_with_every_grid(legacy_run):
    from vaestudio.core.events import EpochEnd, Snapshot
    from vaestudio.core.runs import replay

    events = list(replay(legacy_run))
    snapshots = [e for e in events if isinstance(e, Snapshot)]
    assert len(snapshots) == 3 and all(s.weights is None and s.mosaic.size for s in snapshots)
    assert [e.epoch for e in events if isinstance(e, EpochEnd)] == [1]


def test_inspect_says_it_has_no_weights_and_render_draws_its_grid(legacy_run, tmp_path):
    result = run_cli(["inspect", str(legacy_run), "--iwae-k", "0"], timeout=120)
    assert result.returncode == 2 and not stderr_problems(result.stderr), result.stderr
    assert "without model weights (vaestudio 0.1.0)" in result.stderr and "unknown setting" not in result.stderr
    picture = tmp_path / "grid.png"
    result = run_cli(["render", str(legacy_run), "--grid", "--scale", "2", "--out", str(picture)], timeout=120)
    assert result.returncode == 0, result.stderr
    from PIL import Image

    with Image.open(picture) as image, Image.open(legacy_run / "snapshots" / "frame-00002.png") as recorded:
        assert image.size == (recorded.width * 2, recorded.height * 2)


def test_resume_without_its_checkpoint_names_the_checkpoint_not_the_config(legacy_run):
    result = run_cli(["train", "--resume", str(legacy_run), "--epochs", "2"], timeout=120)
    assert result.returncode == 2 and not stderr_problems(result.stderr), result.stderr
    assert "checkpoint.npz: is missing" in result.stderr and "extra" not in result.stderr


def _has_history() -> bool:
    try:
        return subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", COMMIT_0_1_0], capture_output=True,
                              timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@pytest.mark.skipif(not _has_history(), reason="needs this repository's git history (the 0.1.0 code)")
def test_a_complete_0_1_0_run_resumes(tmp_path, capsys):
    """Written by the 0.1.0 code itself (from git history), then continued by this one."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", COMMIT_0_1_0, "vaestudio"], capture_output=True,
                             check=True, timeout=60).stdout
    old_code = tmp_path / "vaestudio-0.1.0"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(old_code, filter="data")
    data = write_tiny_idx(tmp_path / "idx")
    run = tmp_path / "run"
    env = cli_env(PYTHONPATH=str(old_code))
    written = subprocess.run([sys.executable, "-m", "vaestudio", "train", "--data", str(data), "--epochs", "1",
                              "--batch-size", "32", "--grid", "2",
                              "--seed", "3", "--out", str(run)], env=env, cwd=old_code, capture_output=True,
                             text=True, timeout=300)
    assert written.returncode == 0, written.stderr[-2000:]
    assert json.loads((run / "config.json").read_text())["vaestudio"] == "0.1.0"
    assert main(["train", "--resume", str(run), "--epochs", "2"]) == 0, capsys.readouterr().err[-2000:]
    epochs = [line.split(",")[1] for line in (run / "metrics.csv").read_text().splitlines() if line.startswith("epoch")]
    assert epochs == ["1", "2"]
