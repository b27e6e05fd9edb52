"""Issue 9, "Done when": kill a training process at random moments and inside every atomic write, resume
until the run completes, and check what a user would: the folder opens, every epoch is in metrics.csv
exactly once and in order, step rows strictly increase, snapshots/index.csv lists frames 0..n-1 once
each, training.gif has as many frames as the index, and no temporary file is left anywhere.

Crash points are VAESTUDIO_KILL_AT=<point>:<file>[:<n>] (vaestudio/core/store/faults.py): the process
SIGKILLs itself there. A point is taken in one of two phases: a new run (`--out`, 2 epochs) or a resume
(`--resume --epochs 3` of a run stopped in epoch 2). Random kills are seeded: the seed is printed and
set with VAESTUDIO_FAULT_SEED to replay a failure; VAESTUDIO_FAULT_ROUNDS sets the slow test's rounds (default 8, 1-3 kills each; more for a longer sweep).

A few crash points run in the normal suite, the others are marked slow.
"""

from __future__ import annotations

import os
import random
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from crash_runs import KILLERS, NEW_RUN_EPOCHS
from hostile_helpers import assert_run_complete, recover, start_cli, train_args


def _seed() -> int:
    return int(os.environ.get("VAESTUDIO_FAULT_SEED") or random.SystemRandom().randrange(1 << 30))


def _recover(phase: str, spec: str, run, args: list[str], epochs: int, killed) -> None:
    """Require that the phase was killed at its crash point, then recover the folder."""
    assert killed.returncode == -signal.SIGKILL, f"{spec} ({phase}) was not reached: exit {killed.returncode} " \
                                                 f"{killed.stderr[-1500:]}"
    codes = recover(run, args, epochs if phase == "resume" else None)
    assert codes[-1] == 0, f"after a kill at {spec} ({phase}) the folder did not recover: exit codes {codes}"
    assert_run_complete(run, epochs, f"killed at {spec} ({phase})")


@pytest.fixture(scope="module")
def killed_runs(request, trained_runs, crash_runs):
    """The killed phase of each crash point selected in this session, started in the order the tests run
    (tests/crash_runs.py: two at a time, beside the tests that recover the earlier ones)."""
    for item in request.session.items:
        if item.module is request.module and item.originalname == "test_a_kill_at_every_crash_point_is_recovered":
            crash_runs.start(item.callspec.params["phase"], item.callspec.params["spec"], trained_runs.stale)
    return crash_runs


# Every crash point, in the phase where it is reached. The quick ones run in the normal suite, the rest is
# marked slow; a whole run (`pytest`) takes each once.
QUICK = {("resume", "atomic:config.json"), ("resume", "atomic:metrics.csv"), ("resume", "atomic:index.csv"),
         ("new", "atomic:grid_final.png"), ("new", "append:metrics.csv:2")}
EVERY_POINT = [
    ("new", "atomic:config.json"),
    ("new", "atomic:frame-00000.png"),
    ("new", "atomic:frame-00001.png"),
    ("new", "atomic:checkpoint.npz"),
    ("new", "atomic:frame-00002.png"),
    ("new", "atomic:checkpoint.npz:2"),
    ("new", "atomic:frame-00003.png"),
    ("new", "atomic:model.keras"),
    ("new", "atomic:grid_final.png"),
    ("new", "atomic:training.gif"),
    ("new", "append:metrics.csv"),
    ("new", "append:metrics.csv:2"),
    ("new", "append:metrics.csv:3"),
    ("new", "atomic:index.csv:2"),
    ("resume", "atomic:config.json"),
    ("resume", "atomic:metrics.csv"),
    ("resume", "atomic:index.csv"),
    ("resume", "atomic:checkpoint.npz"),
    ("resume", "atomic:frame-00003.png"),
    ("resume", "atomic:frame-00004.png"),
    ("resume", "atomic:model.keras"),
    ("resume", "atomic:training.gif"),
    ("resume", "append:metrics.csv"),
]


@pytest.mark.parametrize("phase, spec", [
    pytest.param(phase, spec, id=f"{phase}-{spec}", marks=[] if (phase, spec) in QUICK else [pytest.mark.slow])
    for phase, spec in EVERY_POINT])
def test_a_kill_at_every_crash_point_is_recovered(phase, spec, trained_runs, killed_runs, tmp_path):
    run = tmp_path / "run"  # a copy of what the kill left (started now if not known at collection)
    args, epochs, killed = killed_runs.killed(phase, spec, run, trained_runs.stale)
    _recover(phase, spec, run, args, epochs, killed)


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


def _rounds(tiny_idx, tmp_path, capsys, rounds: int, kills_per_round) -> None:
    """Rounds of random kills (two at a time), each round recovered here as soon as its kills are done."""
    seed = _seed()
    failures = []
    with ThreadPoolExecutor(max_workers=KILLERS) as pool:
        started = []
        for round_ in range(rounds):
            rng = random.Random(f"{seed}/{round_}")  # each round its own: replayable whatever the threads do
            run = tmp_path / f"run-{round_}"
            started.append((round_, run, pool.submit(_random_kills, rng, run, tiny_idx, kills=kills_per_round(rng),
                                                     max_delay=14.0)))
        for round_, run, job in started:
            context = f"VAESTUDIO_FAULT_SEED={seed}, round {round_}: {job.result()}"
            print(context)
            try:
                codes = recover(run, train_args(tiny_idx, run, NEW_RUN_EPOCHS))
                assert codes[-1] == 0, f"recovery exit codes {codes}: {capsys.readouterr().err[-800:]}"
                assert_run_complete(run, NEW_RUN_EPOCHS, context)
            except AssertionError as exc:
                failures.append(f"{context}: {str(exc).splitlines()[0]}")
    assert not failures, f"{len(failures)} of {rounds} rounds did not recover:\n" + "\n".join(failures)


def test_random_kills_are_recovered_quick(tiny_idx, tmp_path, capsys):
    _rounds(tiny_idx, tmp_path, capsys, rounds=2, kills_per_round=lambda rng: 1)


@pytest.mark.slow
def test_random_kills_are_recovered_many_times(tiny_idx, tmp_path, capsys):
    rounds = int(os.environ.get("VAESTUDIO_FAULT_ROUNDS", "8"))
    _rounds(tiny_idx, tmp_path, capsys, rounds=rounds, kills_per_round=lambda rng: rng.randint(1, 3))
