"""Atomic writes: a failure leaves the old file and no temp file behind."""

import os
import stat

import pytest

from vaestudio.core.store.atomic import atomic_path, write_text_atomic
from vaestudio.core.errors import ExportError


def test_failed_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / "model.txt"
    target.write_text("precious")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk died")
    assert target.read_text() == "precious"
    assert [p.name for p in tmp_path.iterdir()] == ["model.txt"]


def test_rename_failure_becomes_export_error_naming_the_file(tmp_path, monkeypatch):
    target = tmp_path / "grid.png"

    def full_disk(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(ExportError, match="grid.png.*No space left"):
        write_text_atomic(target, "x")
    assert not target.exists()


def test_new_files_get_normal_permissions_and_old_ones_keep_theirs(tmp_path):
    fresh = tmp_path / "fresh.txt"
    write_text_atomic(fresh, "a")
    assert stat.S_IMODE(fresh.stat().st_mode) & 0o044  # readable by others, unlike mkstemp's 0600
    kept = tmp_path / "kept.txt"
    kept.write_text("a")
    kept.chmod(0o640)
    write_text_atomic(kept, "b")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640 and kept.read_text() == "b"
