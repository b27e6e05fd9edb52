"""Where closing the window mid-training spends its time (issue 22, item 4), idle and busy, under Xvfb.

    python benchmarks/close_breakdown.py --rounds 3 --load both
    python benchmarks/close_breakdown.py --one-step     # training one step per call (steps_per_call 1)

Each round runs window_children.py's close child (the app as `vaestudio` starts it, closed after its first
trained snapshot) with timers around the run's end, and splits the time from the close to the process's
end (as window_responsiveness.py times it) into
    steps   until the steps in flight are done (the run's Finished event is recorded),
    writes  the final files: the stop's checkpoint, run.json, model.keras, grid_final.png, training.gif,
    exit    the rest of the window's shutdown, then the process's exit.
"busy": one CPU-bound busy loop per core beside it. --one-step trains one step per call: before a stop cut
the graph call in flight after its current step, it showed what that would give; now "steps" should match.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
for folder in (str(HERE.parent), str(HERE)):
    if folder not in sys.path:
        sys.path.insert(0, folder)

PARTS = ("steps", "writes", "exit")


def child(limit: int, one_step: bool) -> None:
    """The close child with its marks ('mark <name> <time.monotonic()>') on stderr."""
    import window_children
    from vaestudio.core import runs
    from vaestudio.core.events import Finished
    from vaestudio.core.store import recorder
    from vaestudio.gui import app

    def mark(name: str) -> None:
        print(f"mark {name} {time.monotonic()!r}", file=sys.stderr, flush=True)

    record, save, leave = recorder.RunRecorder.record, runs.Run._save_final_files, app.leave

    def record_marked(self, event):
        if isinstance(event, Finished):
            mark("finished")
        return record(self, event)

    def save_marked(self, *args):
        written = save(self, *args)
        mark("written")
        return written

    def leave_marked(code: int) -> None:
        mark("leave")
        leave(code)

    recorder.RunRecorder.record, runs.Run._save_final_files, app.leave = record_marked, save_marked, leave_marked
    if one_step:
        fill = app.fill_window

        def fill_one_step(window) -> None:
            fill(window)
            window.training.config_overrides["steps_per_call"] = 1

        app.fill_window = fill_one_step
    window_children.run_close(limit)


def one_close(limit: int, one_step: bool, home: str) -> dict[str, float]:
    from window_responsiveness import child_environment

    env = child_environment(home)
    env["VAESTUDIO_RUNS_DIR"] = str(Path(home) / "runs")
    command = [sys.executable, __file__, "--child", "--limit", str(limit)] + (["--one-step"] if one_step else [])
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    marks, lines = {}, []
    for line in process.stderr:
        lines.append(line)
        words = line.split()
        if line.startswith("closing "):
            marks["closing"] = float(words[1])
        elif line.startswith("mark ") and len(words) == 3:
            marks.setdefault(words[1], float(words[2]))
    process.wait()
    gone = time.monotonic()
    if not {"closing", "finished", "written"} <= set(marks):
        raise SystemExit("close run: no close or no final files:\n" + "".join(lines[-30:]))
    close = marks["closing"]
    return {"total": gone - close, "steps": marks["finished"] - close, "writes": marks["written"] - marks["finished"],
            "exit": gone - marks["written"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=9600)
    parser.add_argument("--load", choices=("idle", "busy", "both"), default="both")
    parser.add_argument("--one-step", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.limit, args.one_step)
        return
    import os
    import shutil

    from machine import header
    from window_responsiveness import XVFB, BusyLoops, load_average

    if not os.environ.get("DISPLAY"):
        if shutil.which("xvfb-run") is None:
            raise SystemExit("xvfb-run is not installed (Debian: apt-get install xvfb)")
        os.execvp(XVFB[0], [*XVFB, sys.executable, *sys.argv])
    loads = ["idle", "busy"] if args.load == "both" else [args.load]
    print(header(), flush=True)
    print(f"{args.limit} images, fast preset{', one step per call' if args.one_step else ''}", flush=True)
    results: dict[str, list[dict]] = {load: [] for load in loads}
    for round_ in range(1, args.rounds + 1):
        for load in (loads if round_ % 2 else loads[::-1]):
            with tempfile.TemporaryDirectory(prefix="vaestudio-close-") as home, \
                    BusyLoops((os.cpu_count() or 1) if load == "busy" else 0):
                before = load_average()
                r = one_close(args.limit, args.one_step, home)
            results[load].append(r)
            print(f"round {round_} [{load}, load average {before}]: gone after {r['total']:.2f} s = "
                  + " + ".join(f"{part} {r[part]:.2f}" for part in PARTS), flush=True)
    for load, rounds in results.items():
        medians = {key: statistics.median(r[key] for r in rounds) for key in ("total",) + PARTS}
        print(f"median of {len(rounds)} [{load}]: gone after {medians['total']:.2f} s; "
              + ", ".join(f"{part} {medians[part]:.2f}" for part in PARTS))


if __name__ == "__main__":
    main()
