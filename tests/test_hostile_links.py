"""Issue 21, data lost or damaged: missing snapshot indexes and checkpoints, and symbolic links in run and
image folders. Real files, real links, `vaestudio` as a subprocess: what a user would see."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hostile_helpers import assert_unchanged, copy_run, run_cli, stderr_problems, train_args, tree_state


def frame_files(run: Path) -> list[str]:
    return sorted(p.name for p in (run / "snapshots").glob("frame-*"))


def refused(result, *words: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert not stderr_problems(result.stderr), stderr_problems(result.stderr)
    for word in words:
        assert word in result.stderr, (word, result.stderr)


@pytest.mark.parametrize("damage", ["deleted", "header only"])
def test_resume_never_deletes_snapshots_when_the_index_is_gone(trained_runs, tmp_path, damage):
    run = copy_run(trained_runs.finished, tmp_path / "run")
    index = run / "snapshots" / "index.csv"
    if damage == "deleted":
        index.unlink()
    else:
        index.write_text("frame,epoch,step,label\n")
    frames = frame_files(run)
    assert frames
    result = run_cli(["train", "--resume", str(run), "--epochs", "3"])
    refused(result, str(index), "will not delete")
    assert frame_files(run) == frames


def test_finished_run_without_its_checkpoint_is_not_cut_to_step_0(trained_runs, tmp_path):
    run = copy_run(trained_runs.finished, tmp_path / "run")
    (run / "checkpoint.npz").unlink()
    before = tree_state(run)
    result = run_cli(["train", "--resume", str(run), "--epochs", "3"])
    refused(result, str(run / "checkpoint.npz"), "is missing")
    assert "before its first checkpoint" not in result.stderr + result.stdout
    assert_unchanged(before, run)


@pytest.mark.parametrize("how", ["resume", "new run"])
def test_a_lock_that_is_a_link_never_truncates_its_target(trained_runs, tmp_path, tiny_idx, how):
    victim = tmp_path / "precious.txt"
    victim.write_text("a user's file outside the run\n")
    if how == "resume":
        run = copy_run(trained_runs.finished, tmp_path / "run")
        (run / ".lock").unlink(missing_ok=True)
        (run / ".lock").symlink_to(victim)
        result = run_cli(["train", "--resume", str(run), "--epochs", "3"])
    else:
        run = tmp_path / "new"
        run.mkdir()
        (run / ".lock").symlink_to(victim)
        result = run_cli(train_args(tiny_idx, run, 1))
    refused(result, ".lock")
    assert victim.read_text() == "a user's file outside the run\n"


@pytest.mark.parametrize("name", ["snapshots", "tensorboard"])
def test_a_linked_subfolder_is_refused_and_left_alone(trained_runs, tmp_path, name):
    run = copy_run(trained_runs.finished, tmp_path / "run")
    outside = tmp_path / "users-folder"
    if (run / name).exists():
        shutil.move(str(run / name), outside)
    else:
        outside.mkdir()
    (outside / "frame-09999.png").write_bytes(b"a user's file")
    (run / name).symlink_to(outside)
    before = tree_state(outside)
    result = run_cli(["train", "--resume", str(run), "--epochs", "3"])
    refused(result, str(run / name), "symbolic link")
    assert_unchanged(before, outside)


def test_image_folder_link_to_root_is_not_walked(tmp_path):
    from PIL import Image

    from vaestudio.core.data.scan import scan_image_folder

    folder = tmp_path / "images"
    (folder / "cats").mkdir(parents=True)
    Image.new("L", (8, 8), 128).save(folder / "cats" / "a.png")
    (folder / "cats" / "everything").symlink_to("/")
    (folder / "cats" / "loop").symlink_to(folder)
    (folder / "cats" / "inside").symlink_to(folder / "cats")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    Image.new("L", (8, 8), 3).save(outside / "b.png")
    (folder / "dogs").symlink_to(outside)

    listing = scan_image_folder(folder)
    assert [f.relative for f in listing.files] == ["cats/a.png"]
    assert listing.class_names == ("cats",)
    skipped = {s.path: s.reason for s in listing.skipped}
    assert "outside the image folder" in skipped["cats/everything/"]
    assert "outside the image folder" in skipped["dogs/"]
    assert "cats/loop/" not in skipped  # inside: followed once (already walked), not reported


def test_new_run_into_folder_with_a_lock_link_names_the_link_not_empty(tmp_path):
    from vaestudio.core.errors import RunFolderError
    from vaestudio.core.store.run_folder import RunFolder

    folder = tmp_path / "run"
    folder.mkdir()
    (folder / ".lock").symlink_to(tmp_path / "somewhere")
    with pytest.raises(RunFolderError, match="not empty"):
        RunFolder(folder).check_can_create()
