"""The window on an idle and on a busy machine (issue 22, items 1, 3 and 4), under Xvfb.

    python benchmarks/window_responsiveness.py                          # 1 round, idle and busy
    python benchmarks/window_responsiveness.py --rounds 3 --load busy --limit 9600 --epochs 3
    python benchmarks/window_responsiveness.py --only responsiveness --profile   # where the stalls come from

Run without a display it re-runs itself under `xvfb-run -a -s "-screen 0 1400x900x24"`. Each round, for
each load ("busy": one CPU-bound Python busy loop per core started beside vaestudio, killed after), runs
in fresh processes (children in window_children.py):

1. responsiveness: `vaestudio train --preset fast` headless and the window training the same (order
   alternating by round), the window with every dock shown (--layout default: as the app opens), a 60 Hz cursor drag and a timeline step back
   once a second from the end of epoch 1 on. Targets idle: no UI-thread stall over 50 ms (gaps between
   ticks of a 10 ms timer), drag p95 <= 16 ms (cursor move -> the preview repainted), scrub p95 <= 50 ms
   (one step -> every picture of that moment computed and the panels repainted; not
   the test-image scans, paced while training, nor the drag's Compare previews); busy: no stall over
   100 ms, drag p95 <= 33 ms; both: images/s with the window >= 0.9 of headless (epochs 2..N, wall clock).
3. start-up: the window visible (its first frame) against an empty PySide6 window in the same round
   (benchmarks/startup.py's contenders and timer, imported): target x1.5.
4. closing: the app as `vaestudio` starts it, closed mid-training (after its first trained snapshot):
   target: the process gone <= 1 s after the close, the run's checkpoint saved.

Printed per round and per load, then medians over rounds, each with the load average when it ran, and
FAILED naming each missed target (never ok for a miss). --profile adds the stall probe's table
(ui_stall_probe.py): the stalls' time split into the UI thread's own work, waiting for a core and
blocked (interpreter lock), garbage collections, and the UI thread's stacks.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for folder in (str(ROOT), str(HERE)):
    if folder not in sys.path:
        sys.path.insert(0, folder)

import startup  # noqa: E402  (benchmarks/startup.py: the launch contenders and their timer)
from machine import header  # noqa: E402

XVFB = ["xvfb-run", "-a", "-s", "-screen 0 1400x900x24"]
CHILDREN = HERE / "window_children.py"
TARGETS = {  # load -> (longest stall ms, drag p95 ms, scrub p95 ms or None)
    "idle": (50.0, 16.0, 50.0),
    "busy": (100.0, 33.0, None),
}
RATIO_TARGET, STARTUP_TARGET, CLOSE_TARGET_S = 0.9, startup.TARGET_RATIO, 1.0
PARTS = ("responsiveness", "startup", "close")


def load_average() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


# -- the busy machine ------------------------------------------------------------------------------------
class BusyLoops:
    """One CPU-bound process per core beside vaestudio while inside `with`; killed on leaving."""

    def __init__(self, count: int):
        self.count = count
        self.processes: list[subprocess.Popen] = []

    def __enter__(self) -> BusyLoops:
        code = "while True:\n    pass"
        self.processes = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(self.count)]
        return self

    def __exit__(self, *_exc) -> None:
        for process in self.processes:
            process.kill()
        for process in self.processes:
            process.wait()


# -- children ----------------------------------------------------------------------------------------------
def child_environment(home: str) -> dict[str, str]:
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=home, QT_QPA_PLATFORM="xcb",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def child(kind: str, args: argparse.Namespace, home: str) -> dict:
    command = [sys.executable, str(CHILDREN), kind, "--limit", str(args.limit), "--epochs", str(args.epochs)]
    if kind == "window":
        command += ["--layout", args.layout, "--interaction", args.interaction]
        command += ["--profile"] if args.profile else []
    out = subprocess.run(command, capture_output=True, text=True, env=child_environment(home))
    if out.returncode != 0:
        raise SystemExit(f"{kind} run failed ({out.returncode}):\n{out.stderr[-6000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if args.profile and kind == "window":
        print("\n".join(line for line in out.stderr.splitlines() if line.startswith(("stall probe", "  "))))
        busiest = sorted(result["threads"].items(), key=lambda item: -item[1])[:6]
        print("  the window's threads while it trained (cores): "
              + ", ".join(f"{name} {cores_busy(dict(result['cpu'], thread=seconds), 'thread'):.2f}"
                          for name, seconds in busiest))
    return result


def images_per_second(result: dict, limit: int) -> float:
    times = result["epoch_times"]
    return limit * (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else math.nan


def responsiveness(args: argparse.Namespace, home: str, round_: int) -> dict:
    runs = {}
    for kind in (("headless", "window") if round_ % 2 else ("window", "headless")):
        runs[kind] = child(kind, args, home)
    window = runs["window"]
    a, b = images_per_second(runs["headless"], args.limit), images_per_second(window, args.limit)
    gaps = sorted(window["gaps_ms"], reverse=True)
    return {"ratio": b / a, "headless": a, "window": b, "drag_p50": pct(window["drags_ms"], 50),
            "drag": pct(window["drags_ms"], 95), "drags": len(window["drags_ms"]), "moves": window["moves"],
            "scrub_p50": pct(window["scrubs_ms"], 50), "scrub": pct(window["scrubs_ms"], 95),
            "scrubs": len(window["scrubs_ms"]), "stall": gaps[0] if gaps else 0.0, "top_gaps": gaps[:5],
            "over50": sum(g > 50 for g in gaps), "ticks": len(gaps),
            "cores_headless": cores_busy(runs["headless"]["cpu"], "process"),
            "cores_window": cores_busy(window["cpu"], "process"), "cores_ui": cores_busy(window["cpu"], "ui"),
            "cores_x": cores_busy(window["cpu"], "x_server")}


def cores_busy(cpu: dict, key: str) -> float:
    """CPU seconds per wall-clock second: how many cores' worth `key` kept busy."""
    return cpu[key] / cpu["wall"] if cpu.get("wall") else math.nan


def startup_ratio(home: str) -> dict:
    env = startup.environment(home)
    qt = startup.spawn_to_marker(startup.FLOORS["qt"], env)[0]
    vaestudio = startup.spawn_to_marker(startup.FLOORS["vaestudio"], env)[0]
    return {"qt": qt, "vaestudio": vaestudio, "startup": vaestudio / qt}


def close_mid_training(args: argparse.Namespace, home: str) -> dict:
    """The app closed after its first trained snapshot: seconds from the close to the process's end, and
    whether the run folder has its checkpoint."""
    runs = Path(home) / "runs"
    env = child_environment(home)
    env["VAESTUDIO_RUNS_DIR"] = str(runs)
    command = [sys.executable, str(CHILDREN), "close", "--limit", str(args.limit), "--epochs", "50"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    closing, lines = None, []
    try:
        for line in process.stderr:
            lines.append(line)
            if line.startswith("closing "):
                closing = float(line.split()[1])
        process.wait(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    gone = time.monotonic()
    if closing is None:
        raise SystemExit("close run: the window never closed:\n" + "".join(lines[-20:]))
    checkpoints = list(runs.rglob("checkpoint.npz"))
    return {"close": gone - closing, "checkpoint": bool(checkpoints), "exit": process.returncode}


# -- the report --------------------------------------------------------------------------------------------
def misses(load: str, r: dict) -> list[str]:
    stall_ms, drag_ms, scrub_ms = TARGETS[load]
    missed = []
    if "stall" in r:
        if not r["stall"] <= stall_ms:
            missed.append(f"a UI stall of {r['stall']:.0f} ms > {stall_ms:.0f} ms")
        interacting = r["moves"] > 0  # --interaction none: no drag or scrub to judge
        if interacting and not r["drag"] <= drag_ms:
            missed.append(f"drag p95 {r['drag']:.1f} ms > {drag_ms:.0f} ms")
        if interacting and scrub_ms is not None and not r["scrub"] <= scrub_ms:
            missed.append(f"scrub p95 {r['scrub']:.1f} ms > {scrub_ms:.0f} ms")
        if not r["ratio"] >= RATIO_TARGET:
            missed.append(f"throughput with the window {r['ratio']:.2f} of headless < {RATIO_TARGET}")
    if "startup" in r and not r["startup"] <= STARTUP_TARGET:
        missed.append(f"window visible after x{r['startup']:.2f} an empty Qt window's time > x{STARTUP_TARGET}")
    if "close" in r:
        if not r["close"] <= CLOSE_TARGET_S:
            missed.append(f"process gone {r['close']:.2f} s after the close > {CLOSE_TARGET_S:.0f} s")
        if not r["checkpoint"]:
            missed.append("no checkpoint saved when closed mid-training")
    return missed


def describe(r: dict) -> str:
    parts = []
    if "stall" in r:
        user = (f"drag {r['drags']} of {r['moves']} moves p50 {r['drag_p50']:.1f} p95 {r['drag']:.1f} ms; scrub "
                f"{r['scrubs']} steps p50 {r['scrub_p50']:.0f} p95 {r['scrub']:.0f} ms" if r["moves"] else
                "the user only watching (no drag, no scrub)")
        parts.append(f"images/s headless {r['headless']:.0f}, window {r['window']:.0f} (x{r['ratio']:.2f}); "
                     f"{user}; stalls > 50 ms "
                     f"{r['over50']} of {r['ticks']} ticks, longest {', '.join(f'{g:.0f}' for g in r['top_gaps'])} ms; "
                     f"cores busy: headless {r['cores_headless']:.2f}, window process {r['cores_window']:.2f} (its UI "
                     f"thread {r['cores_ui']:.2f}), X server {r['cores_x']:.2f}")
    if "startup" in r:
        parts.append(f"window visible {r['vaestudio']:.2f} s, empty Qt window {r['qt']:.2f} s (x{r['startup']:.2f})")
    if "close" in r:
        parts.append(f"closed mid-training: process gone after {r['close']:.2f} s, checkpoint "
                     f"{'saved' if r['checkpoint'] else 'MISSING'}")
    return "; ".join(parts)


def median_of(rounds: list[dict]) -> dict:
    keys = [k for k, v in rounds[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    merged = {k: statistics.median(r[k] for r in rounds) for k in keys}
    merged["top_gaps"] = [max(r["stall"] for r in rounds)] if "stall" in merged else []
    if "checkpoint" in rounds[0]:
        merged["checkpoint"] = all(r["checkpoint"] for r in rounds)
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--limit", type=int, default=9600,
                        help="training images (default 9600: with `fast`'s batch 32, 300 steps an epoch)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--load", choices=("idle", "busy", "both"), default="both")
    parser.add_argument("--only", help=f"comma-separated parts of {', '.join(PARTS)} (default: all)")
    parser.add_argument("--profile", action="store_true", help="the stall probe's report for each window run")
    parser.add_argument("--interaction", choices=("drag-and-scrub", "none"), default="drag-and-scrub",
                        help="what the user does from the end of epoch 1 on: a 60 Hz drag and a step back each "
                             "second, or nothing (watching training); 'none' has no drag or scrub figures")
    parser.add_argument("--layout", choices=("every-dock", "default"), default="every-dock",
                        help="the window's docks: every one shown side by side (the most work per moment), or "
                             "the layout the app opens with (docks tabbed; only the front ones draw)")
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        if shutil.which("xvfb-run") is None:
            raise SystemExit("xvfb-run is not installed (Debian: apt-get install xvfb)")
        os.execvp(XVFB[0], [*XVFB, sys.executable, *sys.argv])
    parts = args.only.split(",") if args.only else list(PARTS)
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise SystemExit(f"--only: unknown part {', '.join(sorted(unknown))} (choose from {', '.join(PARTS)})")
    loads = ["idle", "busy"] if args.load == "both" else [args.load]
    cores = os.cpu_count() or 1
    print(header(), flush=True)
    print(f"Xvfb display {os.environ['DISPLAY']}; {args.limit} images, {args.epochs} epochs, fast preset; "
          f"window layout {args.layout}; the user: {args.interaction}; busy = "
          f"{cores} extra busy-loop processes (one per core)", flush=True)
    results: dict[str, list[dict]] = {load: [] for load in loads}
    with tempfile.TemporaryDirectory(prefix="vaestudio-window-bench-") as home:
        for round_ in range(1, args.rounds + 1):
            for load in (loads if round_ % 2 else loads[::-1]):
                with BusyLoops(cores if load == "busy" else 0):
                    before = load_average()
                    r: dict = {}
                    if "responsiveness" in parts:
                        r.update(responsiveness(args, home, round_))
                    if "startup" in parts:
                        r.update(startup_ratio(home))
                    if "close" in parts:
                        r.update(close_mid_training(args, home))
                    results[load].append(r)
                    print(f"round {round_} [{load}, load average {before} -> {load_average()}]: {describe(r)}",
                          flush=True)
                    for missed in misses(load, r):
                        print(f"  FAILED [{load}, round {round_}]: {missed}", flush=True)
    failed = False
    for load, rounds in results.items():
        merged = median_of(rounds)
        print(f"median of {len(rounds)} round(s) [{load}]: {describe(merged)}")
        for missed in misses(load, merged):
            failed = True
            print(f"FAILED [{load}]: {missed}")
        if not misses(load, merged):
            print(f"ok [{load}]: every target of {', '.join(parts)} met")
    print(f"load average at the end: {load_average()}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
