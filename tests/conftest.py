"""Shared test settings (headless Qt, quiet TensorFlow), the session fixtures every module may use, and the
fresh processes that some tests only check the results of (the PyInstaller build, the window on two devices),
started as soon as those tests are collected, to run beside the others."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("VAESTUDIO_SETTINGS_ORG", "vaestudio-tests")

# Tiny IDX data and trained run folders, made once per test run for every module that asks for them.
from hostile_helpers import tiny_idx, trained_runs  # noqa: E402,F401  (session fixtures)
# Run folders of processes killed at a crash point, made once per test run for the hostile tests that recover them.
from crash_runs import crash_runs  # noqa: E402,F401  (session fixture)

TESTS = Path(__file__).resolve().parent
PACKAGING = TESTS.parent / "packaging"
EXIT_NO_PYINSTALLER = 3  # packaging/build.py's exit code when PyInstaller is missing and cannot be installed


class EarlyJob:
    """A fresh process that a test needs only the result of, started when the tests are collected, to run
    beside them: such a process spends most of its time on one core (start-up, PyInstaller's analysis), and
    the tests leave much of a second core idle. Its folder is removed at the end of the session."""

    def __init__(self, name: str, command: Callable[[Path], list[str]], env: dict[str, str] | None = None) -> None:
        self.base = Path(tempfile.mkdtemp(prefix=f"vaestudio-{name}-"))
        self.log_path = self.base / "output.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command(self.base), stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=env)

    def wait(self, timeout: float | None = None) -> tuple[int, str]:
        """Its exit code and output (stdout and stderr), once it has ended."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return self.process.returncode, self.log_path.read_text(encoding="utf-8", errors="replace")

    def discard(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.base, ignore_errors=True)


def _frozen_build() -> EarlyJob:
    """tests/frozen_job.py: packaging/build.py, then the built executable's self-test and a short training."""
    return EarlyJob("frozen", lambda base: [sys.executable, str(TESTS / "frozen_job.py"), str(base)])


def _two_device_window() -> EarlyJob:
    """tests/gui/test_window_devices.py as a script: the window training on 2 logical CPU devices."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", VAESTUDIO_SETTINGS_ORG="vaestudio-tests",
               CUDA_VISIBLE_DEVICES="-1")
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS.parent), *filter(None, [env.get("PYTHONPATH")])])
    return EarlyJob("devices", lambda base: [sys.executable, str(TESTS / "gui" / "test_window_devices.py"), str(base)],
                    env)


def _zoo_two_devices() -> EarlyJob:
    """tests/test_zoo_distributed.py as a script: the zoo's objectives on 2 logical CPU devices."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(TESTS.parent))
    return EarlyJob("zoo-devices", lambda base: [sys.executable, str(TESTS / "test_zoo_distributed.py"), str(base)],
                    env)


EARLY_JOBS = {"frozen_build": _frozen_build, "two_device_window": _two_device_window,
              "zoo_two_devices": _zoo_two_devices}  # by the fixture that waits
_started: dict[str, EarlyJob] = {}


def _job(name: str) -> EarlyJob:
    if name not in _started:
        _started[name] = EARLY_JOBS[name]()
    return _started[name]


@pytest.hookimpl(trylast=True)  # after -m/-k have deselected what they deselect
def pytest_collection_modifyitems(session, config, items):
    """The early jobs of the selected tests start now, and those tests run last, to give them the most time."""
    wanted = {item: [name for name in EARLY_JOBS if name in getattr(item, "fixturenames", ())] for item in items}
    late = [item for item in items if wanted[item]]
    if not late or config.option.collectonly:
        return
    items[:] = [item for item in items if not wanted[item]] + late
    for name in dict.fromkeys(name for item in late for name in wanted[item]):
        _job(name)


def pytest_sessionfinish(session, exitstatus):
    while _started:
        _started.popitem()[1].discard()


@pytest.fixture(scope="session")
def frozen_build() -> Path:
    """The folder of tests/frozen_job.py: dist/ (the self-contained vaestudio folder and its .tar.gz) and, for
    each of its runs of the executable, <run>/ with result.json (exit code, stdout, stderr) and its files."""
    job = _job("frozen_build")
    code, log = job.wait()
    if code == EXIT_NO_PYINSTALLER:
        pytest.skip(f"PyInstaller cannot be installed, so the binary cannot be built: {log.strip()[-300:]}")
    assert code == 0, log[-5000:]
    return job.base


@pytest.fixture(scope="session")
def two_device_window() -> tuple[int, str, Path]:
    """The exit code, output and folder of tests/gui/test_window_devices.py run as a script."""
    job = _job("two_device_window")
    code, log = job.wait(timeout=600)
    return code, log, job.base


@pytest.fixture(scope="session")
def zoo_two_devices() -> tuple[int, str, Path]:
    """The exit code, output and folder of tests/test_zoo_distributed.py run as a script."""
    job = _job("zoo_two_devices")
    code, log = job.wait(timeout=600)
    return code, log, job.base
