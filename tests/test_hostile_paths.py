"""Issue 9 #12: paths that are not valid UTF-8 (b'run-\\xff'), with strict UTF-8 output as on a desktop.

Linux allows any bytes in a file name; Python hands them over as surrogates, which a strict UTF-8 stream
refuses to print. Training must finish and say where it wrote, and a bad --data path must fail (exit 2)
before any run folder exists. Relative: a console whose encoding lacks the path's characters (Windows).
"""

from __future__ import annotations

import io
import shutil
import sys

import pytest

from hostile_helpers import (assert_run_complete, cli_env, copy_run, non_utf8, run_cli, stderr_problems, tiny_idx,
                             train_args, trained_runs)
from vaestudio.cli import main

__all__ = ["tiny_idx", "trained_runs"]  # fixtures

STRICT_UTF8 = {"PYTHONIOENCODING": "utf-8", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}


@pytest.fixture
def strict_console(monkeypatch):
    """stdout that refuses what it cannot encode (like PYTHONIOENCODING=utf-8); stderr as Python sets it up."""
    def install(encoding: str = "utf-8"):
        out = io.TextIOWrapper(io.BytesIO(), encoding=encoding, errors="strict", write_through=True)
        err = io.TextIOWrapper(io.BytesIO(), encoding=encoding, errors="backslashreplace", write_through=True)
        monkeypatch.setattr(sys, "stdout", out)
        monkeypatch.setattr(sys, "stderr", err)

        def read() -> tuple[str, str]:
            return (out.buffer.getvalue().decode(encoding, "replace"), err.buffer.getvalue().decode(encoding, "replace"))
        return read
    return install


def test_a_run_into_a_non_utf8_folder_finishes_and_says_where(tiny_idx, tmp_path):
    run = non_utf8(tmp_path, b"run-\xff")
    result = run_cli(train_args(tiny_idx, run, 1), env=cli_env(**STRICT_UTF8))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Wrote" in result.stdout and "Traceback" not in result.stderr
    assert (run / "model.keras").exists() and (run / "training.gif").exists()


def test_a_non_utf8_run_folder_resumes(trained_runs, tmp_path, strict_console):
    run = copy_run(trained_runs.stale, non_utf8(tmp_path, b"run-\xff"))
    read = strict_console()
    code = main(["train", "--resume", str(run)])
    out, err = read()
    assert code == 0, err
    assert_run_complete(run, 2)


def test_a_non_utf8_data_path_works_or_fails_before_a_run_folder_exists(tiny_idx, tmp_path, strict_console):
    data = shutil.copytree(tiny_idx, non_utf8(tmp_path, b"data-\xff"))
    run = tmp_path / "run"
    read = strict_console()
    code = main(train_args(data, run, 1))
    out, err = read()
    assert code == 0 or (code == 2 and not run.exists()), (code, err, run.exists())


def test_a_missing_non_utf8_data_path_is_one_line(tmp_path):
    missing = non_utf8(tmp_path, b"nowhere-\xff\xfe")
    result = run_cli(["train", "--data", str(missing), "--out", str(tmp_path / "run")], env=cli_env(**STRICT_UTF8))
    assert result.returncode == 2 and stderr_problems(result.stderr) == [], result.stderr
    assert "nowhere-" in result.stderr
    assert not (tmp_path / "run").exists()


def test_a_console_that_cannot_show_the_folder_name_does_not_fail_the_run(tiny_idx, tmp_path, strict_console):
    run = tmp_path / "运行"
    read = strict_console("cp1252")
    code = main(train_args(tiny_idx, run, 1))
    out, err = read()
    assert code == 0, err
    assert (run / "model.keras").exists() and "Wrote" in out
