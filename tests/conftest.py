"""Shared test settings (headless Qt, quiet TensorFlow), the session fixtures every module may use, and the
PyInstaller build, started in the background as soon as the tests that need it are collected."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("VAESTUDIO_SETTINGS_ORG", "vaestudio-tests")

# Tiny IDX data and trained run folders, made once per test run for every module that asks for them.
from hostile_helpers import tiny_idx, trained_runs  # noqa: E402,F401  (session fixtures)

PACKAGING = Path(__file__).resolve().parent.parent / "packaging"
EXIT_NO_PYINSTALLER = 3  # packaging/build.py's exit code when PyInstaller is missing and cannot be installed


class BackgroundBuild:
    """`packaging/build.py` into a temporary folder, in a process of low priority that runs beside the
    other tests: the build takes minutes of mostly one core, and a 2-core machine has one to spare."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="vaestudio-frozen-"))
        self.log_path = self.base / "build.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(PACKAGING / "build.py"), "--dist", str(self.base / "dist"),
                 "--work", str(self.base / "work"), "--format", "gz"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=lambda: os.nice(10))

    def wait(self) -> Path:
        """The built dist/ folder; skips when PyInstaller is unavailable, fails with the log's end otherwise."""
        code = self.process.wait()
        log = self.log_path.read_text(encoding="utf-8", errors="replace")
        if code == EXIT_NO_PYINSTALLER:
            pytest.skip(f"PyInstaller cannot be installed, so the binary cannot be built: {log.strip()[-300:]}")
        assert code == 0, log[-5000:]
        return self.base / "dist"

    def discard(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.base, ignore_errors=True)


_build: BackgroundBuild | None = None


@pytest.hookimpl(trylast=True)  # after -m/-k have deselected what they deselect
def pytest_collection_modifyitems(session, config, items):
    """Tests of the frozen build go last, and the build starts now, so it is ready when they come."""
    global _build
    frozen = [item for item in items if "frozen_build" in getattr(item, "fixturenames", ())]
    if not frozen:
        return
    items[:] = [item for item in items if item not in frozen] + frozen
    if _build is None and not config.option.collectonly:
        _build = BackgroundBuild()


def pytest_sessionfinish(session, exitstatus):
    global _build
    if _build is not None:
        _build.discard()
        _build = None


@pytest.fixture(scope="session")
def frozen_build() -> Path:
    """dist/ of packaging/build.py: the self-contained vaestudio folder and its .tar.gz."""
    global _build
    if _build is None:  # not started at collection (e.g. selected by a plugin afterwards)
        _build = BackgroundBuild()
    return _build.wait()
