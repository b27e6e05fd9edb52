"""Run folders of real `vaestudio train` processes killed at a crash point (VAESTUDIO_KILL_AT, see
core/store/faults.py), for the hostile tests that recover them (test_hostile_faults, _dead_ends, _leftovers).

A kill at a given point of a given command leaves the same folder every time, and several modules kill at the
same points: each kill is made once per test run, in a fresh process, and every test recovers its own copy.
A module starts its kills before its tests run (`start_kills`), two at a time beside them: a killed process
spends most of its life starting (imports, tracing) on one core, and the recoveries run in the test process.

The fixture `crash_runs` is session-scoped and registered by tests/conftest.py.
"""

from __future__ import annotations

import subprocess
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import pytest

from hostile_helpers import copy_run, kill_at, run_cli, train_args

NEW_RUN_EPOCHS, RESUMED_EPOCHS = 2, 3
KILLERS = 2  # killed processes at a time


def phase_args(phase: str, data: Path, run: Path) -> tuple[list[str], int]:
    """The command of a phase for the folder `run`, and the epochs the run should end with: "new" is a 2-epoch
    run (`--out`), "resume" the resume to 3 epochs (`--resume --epochs 3`) of a run stopped in epoch 2."""
    if phase == "new":
        return train_args(data, run, NEW_RUN_EPOCHS), NEW_RUN_EPOCHS
    return ["train", "--resume", str(run), "--epochs", str(RESUMED_EPOCHS)], RESUMED_EPOCHS


class CrashRuns:
    """The killed folders of this test run, by (phase, crash point), made in the background on request."""

    def __init__(self, root: Path, data: Path) -> None:
        self.root, self.data = root, data
        self.pool = ThreadPoolExecutor(max_workers=KILLERS)
        self.jobs: dict[tuple[str, str], Future] = {}

    def start(self, phase: str, spec: str, stale: Path | None = None) -> Future:
        """Start the kill at `spec` in `phase` unless it was started before; a resume kills a copy of `stale`
        (a run stopped in epoch 2: trained_runs.stale)."""
        key = (phase, spec)
        if key not in self.jobs:
            if phase == "resume" and stale is None:
                raise ValueError("a resume phase needs the stopped run to resume")
            self.jobs[key] = self.pool.submit(self._kill, phase, spec, self.root / str(len(self.jobs)) / "run", stale)
        return self.jobs[key]

    def _kill(self, phase: str, spec: str, run: Path, stale: Path | None) -> tuple[Path, subprocess.CompletedProcess]:
        if phase == "resume":
            copy_run(stale, run)
        else:
            run.parent.mkdir(parents=True)
        args, _epochs = phase_args(phase, self.data, run)
        return run, run_cli(args, env=kill_at(spec))

    def killed(self, phase: str, spec: str, target: Path,
               stale: Path | None = None) -> tuple[list[str], int, subprocess.CompletedProcess]:
        """A copy at `target` of what the kill at `spec` in `phase` left (nothing, if it left no folder): the
        phase's command for `target`, the epochs the run should end with, and the killed process."""
        folder, process = self.start(phase, spec, stale).result()
        if folder.exists():
            copy_run(folder, target)
        args, epochs = phase_args(phase, self.data, target)
        return args, epochs, process

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


@pytest.fixture(scope="session")
def crash_runs(tiny_idx, tmp_path_factory):
    runs = CrashRuns(tmp_path_factory.mktemp("crashes"), tiny_idx)
    yield runs
    runs.close()


def start_kills(request, crash_runs: CrashRuns, spec_of: Callable[[pytest.Item], str | None]) -> None:
    """Start the new-run kills of the calling module's selected tests, in the order they run; `spec_of(item)`
    is a test's crash point (None: the test kills nothing)."""
    for item in request.session.items:
        if item.module is request.module:
            spec = spec_of(item)
            if spec is not None:
                crash_runs.start("new", spec)
