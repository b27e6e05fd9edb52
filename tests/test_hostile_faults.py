"""Issue 9, "Done when": kill a training process at random moments and inside every atomic write, resume
until the run completes, and check what a user would: the folder opens, every epoch is in metrics.csv
exactly once and in order, step rows strictly increase, snapshots/index.csv lists frames 0..n-1 once
each, training.gif has as many frames as the index, and no temporary file is left anywhere.

Crash points are VAESTUDIO_KILL_AT=<point>:<file>[:<n>] (vaestudio/core/store/faults.py): the process
SIGKILLs itself there. A point is taken in one of two phases: a new run (`--out`, 2 epochs) or a resume
(`--resume --epochs 3` of a run stopped in epoch 2). Random kills are seeded: the seed is printed and
set with VAESTUDIO_FAULT_SEED to replay a failure; VAESTUDIO_FAULT_ROUNDS sets the slow test's rounds.

The quick cases run in the normal suite; the full sweep is marked slow.
"""

from __future__ import annotations

import os
import random
import signal
import time

import pytest

from hostile_helpers import assert_run_complete, copy_run, kill_at, recover, run_cli, start_cli, train_args


NEW_RUN_EPOCHS, RESUMED_EPOCHS = 2, 3


def _seed() -> int:
    return int(os.environ.get("VAESTUDIO_FAULT_SEED") or random.SystemRandom().randrange(1 << 30))


def _crash_and_recover(phase: str, spec: str, tiny_idx, trained_runs, run) -> None:
    """Run the phase with VAESTUDIO_KILL_AT=spec, require that it was killed there, then recover the folder."""
    if phase == "new":
        args, epochs = train_args(tiny_idx, run, NEW_RUN_EPOCHS), NEW_RUN_EPOCHS
    else:
        copy_run(trained_runs.stale, run)
        args, epochs = ["train", "--resume", str(run), "--epochs", str(RESUMED_EPOCHS)], RESUMED_EPOCHS
    killed = run_cli(args, env=kill_at(spec))
    assert killed.returncode == -signal.SIGKILL, f"{spec} ({phase}) was not reached: exit {killed.returncode} " \
                                                 f"{killed.stderr[-1500:]}"
    codes = recover(run, args, epochs if phase == "resume" else None)
    assert codes[-1] == 0, f"after a kill at {spec} ({phase}) the folder did not recover: exit codes {codes}"
    assert_run_complete(run, epochs, f"killed at {spec} ({phase})")


def _param(phase, spec, xfail=None):
    marks = []  # every crash point recovers now (the issue 9 defects these once marked are fixed)
    return pytest.param(phase, spec, id=f"{phase}-{spec}", marks=marks)


DEAD_END = "#4: killed before the first checkpoint, --resume says 'no checkpoint'"
LEFTOVER = "#5: the killed write's temporary file stays after the resume"
LOST_SNAPSHOT = "new: the epoch's snapshot comes after its checkpoint; a kill between them loses it for good"
NO_APPEND_POINT = "the 'append' crash points (torn appends) do not exist yet: the run is not killed"

QUICK = [
    _param("resume", "atomic:config.json", LEFTOVER),
    _param("resume", "atomic:metrics.csv", LEFTOVER),
    _param("resume", "atomic:index.csv", LEFTOVER),
    _param("new", "atomic:grid_final.png", LEFTOVER),
    _param("new", "append:metrics.csv:2", NO_APPEND_POINT),
]

EVERY_POINT = [
    _param("new", "atomic:config.json", LEFTOVER),
    _param("new", "atomic:frame-00000.png", DEAD_END),
    _param("new", "atomic:frame-00001.png", DEAD_END),
    _param("new", "atomic:checkpoint.npz", DEAD_END),
    _param("new", "atomic:frame-00002.png", LOST_SNAPSHOT),
    _param("new", "atomic:checkpoint.npz:2", LEFTOVER),
    _param("new", "atomic:frame-00003.png", LOST_SNAPSHOT),
    _param("new", "atomic:model.keras", LEFTOVER),
    _param("new", "atomic:grid_final.png", LEFTOVER),
    _param("new", "atomic:training.gif", LEFTOVER),
    _param("new", "append:metrics.csv", NO_APPEND_POINT),
    _param("new", "append:metrics.csv:3", NO_APPEND_POINT),
    _param("new", "atomic:index.csv:2", LEFTOVER),
    _param("resume", "atomic:config.json", LEFTOVER),
    _param("resume", "atomic:metrics.csv", LEFTOVER),
    _param("resume", "atomic:index.csv", LEFTOVER),
    _param("resume", "atomic:checkpoint.npz", LEFTOVER),
    _param("resume", "atomic:frame-00003.png", LOST_SNAPSHOT),
    _param("resume", "atomic:frame-00004.png", LOST_SNAPSHOT),
    _param("resume", "atomic:model.keras", LEFTOVER),
    _param("resume", "atomic:training.gif", LEFTOVER),
    _param("resume", "append:metrics.csv", NO_APPEND_POINT),
]


@pytest.mark.parametrize("phase, spec", QUICK)
def test_a_kill_inside_a_write_is_recovered(phase, spec, tiny_idx, trained_runs, tmp_path):
    _crash_and_recover(phase, spec, tiny_idx, trained_runs, tmp_path / "run")


@pytest.mark.slow
@pytest.mark.parametrize("phase, spec", EVERY_POINT)
def test_a_kill_at_every_crash_point_is_recovered(phase, spec, tiny_idx, trained_runs, tmp_path):
    _crash_and_recover(phase, spec, tiny_idx, trained_runs, tmp_path / "run")


def _random_kills(rng: random.Random, run, tiny_idx, kills: int, max_delay: float) -> list[str]:
    """Start the run, then kill it (and each resume) after random delays; returns what happened, for messages."""
    history = []
    args = train_args(tiny_idx, run, NEW_RUN_EPOCHS)
    for attempt in range(kills):
        if attempt and (run / "config.json").exists():
            args = ["train", "--resume", str(run)]
        process = start_cli(args)
        delay = rng.uniform(0.0, max_delay)
        sig = rng.choice([signal.SIGKILL, signal.SIGKILL, signal.SIGKILL, signal.SIGINT])
        # The clock starts when the run folder has its config (start-up before it touches nothing).
        while not (run / "config.json").exists() and process.poll() is None:
            time.sleep(0.01)
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.01)
        if process.poll() is None:
            process.send_signal(sig)
        process.communicate(timeout=180)
        history.append(f"{' '.join(args[:2])} {signal.Signals(sig).name} after {delay:.2f}s -> exit {process.returncode}")
        if process.returncode == 0:
            break
    return history


# Failures that are defects already reported (issue 9 #4, #5 and the lost epoch snapshot), recognised by their
# message. A random kill cannot be a strict xfail (it may land where all works today), so a round failing with
# one of these is an expected failure and anything else fails the test. Empty this when they are fixed.
KNOWN: dict[str, str] = {}  # was: issue 9 #4, #5 and the lost epoch snapshot, all fixed


def _rounds(tiny_idx, tmp_path, capsys, rounds: int, kills_per_round) -> None:
    seed = _seed()
    rng = random.Random(seed)
    failures, known = [], []
    for round_ in range(rounds):
        run = tmp_path / f"run-{round_}"
        history = _random_kills(rng, run, tiny_idx, kills=kills_per_round(rng), max_delay=14.0)
        context = f"VAESTUDIO_FAULT_SEED={seed}, round {round_}: {history}"
        print(context)
        try:
            codes = recover(run, train_args(tiny_idx, run, NEW_RUN_EPOCHS))
            assert codes[-1] == 0, f"recovery exit codes {codes}: {capsys.readouterr().err[-800:]}"
            assert_run_complete(run, NEW_RUN_EPOCHS, context)
        except AssertionError as exc:
            message = f"{context}: {str(exc).splitlines()[0]}"
            labels = [label for words, label in KNOWN.items() if words in str(exc)]
            (known if labels else failures).append(message + (f" [{labels[0]}]" if labels else ""))
    assert not failures, f"{len(failures)} of {rounds} rounds did not recover:\n" + "\n".join(failures + known)
    if known:
        pytest.xfail(f"{len(known)} of {rounds} rounds hit known defects:\n" + "\n".join(known))


def test_random_kills_are_recovered_quick(tiny_idx, tmp_path, capsys):
    _rounds(tiny_idx, tmp_path, capsys, rounds=2, kills_per_round=lambda rng: 1)


@pytest.mark.slow
def test_random_kills_are_recovered_many_times(tiny_idx, tmp_path, capsys):
    rounds = int(os.environ.get("VAESTUDIO_FAULT_ROUNDS", "12"))
    _rounds(tiny_idx, tmp_path, capsys, rounds=rounds, kills_per_round=lambda rng: rng.randint(1, 3))
