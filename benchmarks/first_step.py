"""Start -> first training step, in fresh processes: `vaestudio train` and the window's Start (issue 22 #2).

    python benchmarks/first_step.py [--rounds 2] [--delay 5] [--xvfb] [--compare /work/main] [--only cli|window]

CLI: a child runs `vaestudio train --out TMP --epochs 1` (the tutorial preset, Fashion-MNIST); Start is its
launch, so its time holds the interpreter's start and TensorFlow's import. Window: a child shows the main
window (offscreen, or under Xvfb with --xvfb), waits until TensorFlow is loaded, then `--delay` seconds (a
user looking at the settings; the window prepares the training meanwhile), and presses Start; its time runs
from that press. Each child times its own stages (hooks around vaestudio's functions, nothing changed in
them) and ends at the first step; it also reports the CPU time its process spent from Start to the first
step (all threads): on a busy machine the wall-clock figures stretch with the load, the CPU time much less. `--compare DIR` runs the same children on another checkout (the code before
a change), interleaved with this one's in every round. Prints the split, and FAILED over 3 s (the target).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from machine import header  # noqa: E402

TARGET_SECONDS = 3.0

# Hooks every child installs first: they record when each stage begins and ends (wall-clock time.time(),
# comparable across processes) and end the process at the first training step, printing MARKS {...}.
HOOKS = r'''
import json, os, sys, threading, time
MARKS = {}
def mark(name):
    MARKS.setdefault(name, (time.time(), time.process_time()))
def timed(owner, attribute, name):
    original = getattr(owner, attribute, None)
    if original is None:
        return
    def wrapper(*args, **kwargs):
        mark(name + " begins")
        try:
            return original(*args, **kwargs)
        finally:
            mark(name + " ends")
    setattr(owner, attribute, wrapper)
import vaestudio.core.runs as runs
import vaestudio.core.tf.quiet as quiet
import vaestudio.core.tf.steps as steps
import vaestudio.core.tf.trainer as trainer
timed(quiet, "import_tensorflow", "tensorflow import")
timed(runs, "default_dataset_loader", "data load")
timed(trainer.Trainer, "_build", "trainer build")
timed(trainer.Trainer, "_snapshot", "first snapshot")
try:
    import vaestudio.core.tf.prepare as prepare
    timed(prepare, "build_training", "model build")
except ImportError:
    pass
timed(steps.TrainingSteps, "compile", "compile")
# the trainer's graph call: train_steps since a stop cuts a call short, train_chunk before
CHUNK = "train_steps" if hasattr(steps.TrainingSteps, "train_steps") else "train_chunk"
original_chunk = getattr(steps.TrainingSteps, CHUNK)
def first_chunk(self, iterator, count):
    mark("first step begins")
    result = original_chunk(self, iterator, count)
    mark("first step ends")
    print("MARKS " + json.dumps(MARKS), flush=True)
    os._exit(0)
setattr(steps.TrainingSteps, CHUNK, first_chunk)
'''

CLI_CHILD = HOOKS + r'''
mark("interpreter ready")
from vaestudio.cli import main
main(["train", "--out", sys.argv[1], "--epochs", "1"])
'''

WINDOW_CHILD = HOOKS + r'''
from pathlib import Path
from vaestudio.gui.app import create_application
from vaestudio.gui.main_window import MainWindow
app = create_application()
window = MainWindow()
window.prepare_training_ahead = True  # as `vaestudio gui` (gui/app.py) does
window.show()
mark("window shown")
window.training.runs_root = lambda: Path(sys.argv[1])
while not (window.device_ready or window.last_error):
    app.processEvents()
    time.sleep(0.005)
mark("tensorflow ready")
until = time.time() + float(sys.argv[2])
while time.time() < until:
    app.processEvents()
    time.sleep(0.005)
mark("start")
window.controls.start()
while True:
    app.processEvents()
    time.sleep(0.002)
'''

STAGES = {  # label: (from mark, to mark)
    "cli": [("interpreter and imports", "launch", "interpreter ready"),
            ("data load", "data load begins", "data load ends"),
            ("TensorFlow import", "tensorflow import begins", "tensorflow import ends"),
            ("model build", "model build begins", "model build ends"),
            ("trace + prepare graph (compile)", "compile begins", "compile ends"),
            ("trainer build (waits for the above)", "trainer build begins", "trainer build ends"),
            ("first snapshot", "first snapshot begins", "first snapshot ends"),
            ("first step", "first step begins", "first step ends")],
    "window": [("data load", "data load begins", "data load ends"),
               ("model build", "model build begins", "model build ends"),
               ("trace + prepare graph (compile)", "compile begins", "compile ends"),
               ("trainer build (waits for the above)", "trainer build begins", "trainer build ends"),
               ("first snapshot", "first snapshot begins", "first snapshot ends"),
               ("first step", "first step begins", "first step ends")],
}


def run_child(kind: str, checkout: Path, delay: float, xvfb: bool) -> dict[str, float] | None:
    folder = Path(tempfile.mkdtemp(prefix="vaestudio-first-step-"))
    env = dict(os.environ, PYTHONPATH=str(checkout), TF_CPP_MIN_LOG_LEVEL="2")
    if kind == "cli":
        command = [sys.executable, "-c", CLI_CHILD, str(folder / "run")]
    else:
        command = [sys.executable, "-c", WINDOW_CHILD, str(folder), str(delay)]
        if xvfb:
            command = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24"] + command
        else:
            env["QT_QPA_PLATFORM"] = "offscreen"
    launched = time.time()
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=folder).stdout
    except subprocess.TimeoutExpired:
        return None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    line = next((line for line in out.splitlines() if line.startswith("MARKS ")), None)
    if line is None:
        return None
    marks = json.loads(line[6:])
    marks["launch"] = (launched, 0.0)
    zero, zero_cpu = (launched, 0.0) if kind == "cli" else marks["start"]
    timeline = {name: wall - zero for name, (wall, _) in marks.items()}
    timeline.update({f"cpu {name}": cpu - zero_cpu for name, (_, cpu) in marks.items()})
    timeline["cpu"] = timeline["cpu first step ends"]
    return timeline


def describe(kind: str, rounds: list[dict[str, float]]) -> list[str]:
    lines = []
    for label, begin, end in STAGES[kind]:
        spans = [(m[begin], m[end], m[f"cpu {end}"] - m[f"cpu {begin}"]) for m in rounds if begin in m and end in m]
        if spans:
            starts = statistics.median(s for s, _, _ in spans)
            lengths = statistics.median(e - s for s, e, _ in spans)
            cpu = statistics.median(c for _, _, c in spans)
            lines.append(f"    {label:38s} {lengths:6.2f} s, CPU {cpu:5.2f} s   (from {starts:5.2f} s)")
        else:
            lines.append(f"    {label:38s}    -     (not in this code)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--delay", type=float, default=5.0, help="seconds between TensorFlow ready and Start")
    parser.add_argument("--xvfb", action="store_true", help="the window under Xvfb (else offscreen)")
    parser.add_argument("--compare", type=Path, help="another checkout to time in the same rounds")
    parser.add_argument("--only", choices=("cli", "window"))
    args = parser.parse_args()
    print(header(), flush=True)
    checkouts = {"this": HERE.parent}
    if args.compare is not None:
        checkouts["compared"] = args.compare.resolve()
    kinds = [args.only] if args.only else ["cli", "window"]
    results: dict[tuple[str, str], list[dict[str, float]]] = {(k, c): [] for k in kinds for c in checkouts}
    failed_runs = 0
    for round_ in range(args.rounds):
        order = list(checkouts) if round_ % 2 == 0 else list(checkouts)[::-1]
        for kind in kinds:
            for name in order:
                load = Path("/proc/loadavg").read_text().split()[0]
                marks = run_child(kind, checkouts[name], args.delay, args.xvfb)
                if marks is None:
                    failed_runs += 1
                    print(f"  round {round_ + 1} {kind:6s} {name:8s} did not reach a first step", flush=True)
                    continue
                results[(kind, name)].append(marks)
                print(f"  round {round_ + 1} {kind:6s} {name:8s} Start -> first step {marks['first step ends']:6.2f} s, "
                      f"CPU {marks['cpu']:5.2f} s  (load before {load})", flush=True)
    print(f"\nmedians of {args.rounds} rounds; /proc/loadavg now: {Path('/proc/loadavg').read_text().strip()}")
    verdict = []
    for kind in kinds:
        for name in checkouts:
            rounds = results[(kind, name)]
            if not rounds:
                continue
            total = statistics.median(m["first step ends"] for m in rounds)
            cpu = statistics.median(m["cpu"] for m in rounds)
            where = "from the launch" if kind == "cli" else f"from Start ({args.delay:g} s after TensorFlow is ready)"
            state = "ok" if total <= TARGET_SECONDS else "FAILED"
            print(f"  {kind} ({name}: {checkouts[name]}) Start -> first step {total:.2f} s {where}: "
                  f"{state} (target {TARGET_SECONDS:g} s); the process's CPU time over it {cpu:.2f} s")
            print("\n".join(describe(kind, rounds)))
            if name == "this":
                verdict.append(state)
    if failed_runs:
        print(f"  {failed_runs} children did not reach a first step")
    print("FAILED" if "FAILED" in verdict or failed_runs else "all within the target")


if __name__ == "__main__":
    main()
