"""Issue 9 #2: `--out` only takes a folder that does not exist or is empty; anything in it stays as it was.

Today only config.json, model.keras and metrics.csv are looked for, so a user's training.gif or
checkpoint.npz is replaced and a stray snapshots/index.csv row becomes frame 0 of the new GIF.
"""

from __future__ import annotations

import os

import pytest

from hostile_helpers import assert_run_complete, assert_unchanged, tiny_idx, train_args, tree_state
from vaestudio.cli import main

__all__ = ["tiny_idx"]  # fixture

USER_FILES = {
    "training_gif": {"training.gif": b"GIF89a my own animation"},
    "checkpoint_npz": {"checkpoint.npz": b"PK\x03\x04 someone else's checkpoint"},
    "stray_snapshot_index": {"snapshots/index.csv": b"frame,epoch,step,label\n0,0,0,not yours\n"},
    "stray_snapshot_frame": {"snapshots/frame-00000.png": b"\x89PNG\r\n\x1a\n mine"},
    "hidden_file": {".notes": b"hidden, but mine"},
    "unrelated_file": {"thesis.tex": b"\\documentclass{article}"},
    "grid_final_png": {"grid_final.png": b"\x89PNG\r\n\x1a\n my grid"},
    "empty_subfolder": {"keep/": b""},
}


@pytest.mark.parametrize("content", list(USER_FILES.values()), ids=list(USER_FILES))
def test_out_refuses_a_folder_that_is_not_empty_and_touches_nothing(content, tiny_idx, tmp_path, capsys):
    out = tmp_path / "mine"
    for name, data in content.items():
        path = out / name
        if name.endswith("/"):
            path.mkdir(parents=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    before = tree_state(out)
    code = main(train_args(tiny_idx, out, 1))
    err = capsys.readouterr().err
    assert code == 2, f"exit {code}: {err}"
    assert str(out) in err and len(err.strip().splitlines()) == 1, err
    assert_unchanged(before, out)


def test_out_refuses_a_folder_that_already_holds_a_run(tiny_idx, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(train_args(tiny_idx, out, 1)) == 0
    before = tree_state(out)
    assert main(train_args(tiny_idx, out, 1)) == 2
    assert str(out) in capsys.readouterr().err
    assert_unchanged(before, out)


def test_out_through_a_symlink_to_a_full_folder_is_refused(tiny_idx, tmp_path, capsys):
    real = tmp_path / "real"
    real.mkdir()
    (real / "training.gif").write_bytes(b"GIF89a mine")
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    before = tree_state(real)
    assert main(train_args(tiny_idx, link, 1)) == 2
    capsys.readouterr()
    assert_unchanged(before, real)


def test_out_on_a_file_or_a_dangling_symlink_is_refused(tiny_idx, tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_bytes(b"not a folder")
    assert main(train_args(tiny_idx, a_file, 1)) == 2
    assert str(a_file) in capsys.readouterr().err
    assert a_file.read_bytes() == b"not a folder"
    dangling = tmp_path / "dangling"
    os.symlink(tmp_path / "nowhere", dangling)
    code = main(train_args(tiny_idx, dangling, 1))
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and str(dangling) in err, err


def test_out_accepts_an_empty_existing_folder(tiny_idx, tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    assert main(train_args(tiny_idx, out, 2)) == 0
    assert_run_complete(out, 2)
