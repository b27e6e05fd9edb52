"""The window while it trains: cursor latency, scrub latency, UI-thread stalls, and throughput against
headless training — with every panel visible.

    python benchmarks/window_responsiveness.py                         # 3 rounds, offscreen and Xvfb
    python benchmarks/window_responsiveness.py --rounds 1 --limit 6400 --platform offscreen

Each round runs, in fresh processes one after the other, (a) `vaestudio train` exactly as the command line
runs it and (b) the window training the same settings (the `fast` preset) with all its docks shown side by
side (none tabbed away), while from the end of epoch 1 to the end of the run a 60 Hz drag moves the latent
cursor along a spiral and, once a second, the timeline steps one snapshot back (then follows again).
Throughput is wall-clock images/s over epochs 2..N (tracing in epoch 1 left out), test pass, snapshots and
run-folder writes included. Printed per round and as medians, with FAILED naming each missed target:

- images/s headless and with the window, and their ratio (target >= 0.95);
- drag latency: cursor position change -> the cursor preview repainted, p50/p95 (target p95 <= 16 ms);
- scrub latency: one timeline step -> every picture of that moment computed and the panels repainted,
  p50/p95 (target p95 <= 50 ms);
- the longest gaps between ticks of a 10 ms UI-thread timer while training runs (target: none > 50 ms).

`--platform xvfb` runs the window under a real X server (xvfb-run), `offscreen` without one, `both` (the
default) does both in each round. The machine's CPU, its flags, the TensorFlow and PySide6 versions, the
thread settings and the load average are printed with the figures: timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import io
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

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RATIO_TARGET, DRAG_P95_MS, SCRUB_P95_MS, STALL_MS = 0.95, 16.0, 50.0, 50.0


# -- child: headless ------------------------------------------------------------------------------
class _EpochClock(io.TextIOBase):
    """The CLI's output stream: remembers when each 'Epoch: N' line was printed."""

    def __init__(self):
        self.epoch_times: list[float] = []

    def write(self, text: str) -> int:
        if text.startswith("Epoch:"):
            self.epoch_times.append(time.perf_counter())
        return len(text)


def run_headless(limit: int, epochs: int) -> dict:
    from vaestudio.cli import build_parser, train_command

    clock = _EpochClock()
    with tempfile.TemporaryDirectory() as tmp:
        args = build_parser().parse_args(["train", "--preset", "fast", "--limit", str(limit), "--epochs",
                                          str(epochs), "--out", str(Path(tmp) / "run")])
        code = train_command(args, out=clock)
    if code != 0:
        raise SystemExit(f"vaestudio train exited {code}")
    return {"epoch_times": clock.epoch_times}


# -- child: window --------------------------------------------------------------------------------
def show_every_dock(window) -> None:
    """Untabify: every dock visible at once, side docks stacked, bottom docks side by side."""
    from PySide6.QtCore import Qt

    previous: dict = {}
    for key, dock in window.docks.items():
        area = window.dockWidgetArea(dock)
        window.removeDockWidget(dock)
        if area in previous:
            orientation = Qt.Orientation.Horizontal if area == Qt.DockWidgetArea.BottomDockWidgetArea \
                else Qt.Orientation.Vertical
            window.addDockWidget(area, dock)
            window.splitDockWidget(previous[area], dock, orientation)
        else:
            window.addDockWidget(area, dock)
        dock.show()
        previous[area] = dock


def run_window(limit: int, epochs: int, drag_cursor: bool = True, scrub: bool = True) -> dict:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from vaestudio.core.data import load_dataset
    from vaestudio.gui.app import create_application
    from vaestudio.gui.main_window import MainWindow
    from vaestudio.gui.run_paths import RUNS_DIR_VARIABLE
    from vaestudio.gui.selftest import PaintClock, StallWatch, wait_until

    tmp = tempfile.TemporaryDirectory()
    os.environ[RUNS_DIR_VARIABLE] = tmp.name
    os.environ["VAESTUDIO_SETTINGS_ORG"] = "vaestudio-benchmark"
    app = create_application()
    window = MainWindow()
    window.resize(1500, 950)
    show_every_dock(window)
    window.show()

    wait_until(lambda: window.device_ready, 300, "TensorFlow to load", poll_ms=20)
    dataset = load_dataset("fashion_mnist", limit=limit)
    window.dataset_provider = lambda config: dataset
    window.controls.apply_preset("fast")
    window.controls.fields["epochs"].setText(str(epochs))
    studio = window.studio

    epoch_times: list[float] = []
    snapshot_times: list[float] = []
    latencies: list[float] = []
    scrubs: list[float] = []
    watch = StallWatch()
    preview = window.panel("cursor_preview")
    clock = PaintClock(preview)
    clock.install(app)
    moves = [0]
    pending_move = [0.0]
    scrub_state: dict = {"started": None, "target": None}

    def on_run_started(history) -> None:
        history.epoch_ended.connect(lambda _e: epoch_times.append(time.perf_counter()))
        history.snapshot_added.connect(lambda _s: snapshot_times.append(time.perf_counter()))

    window.training.run_started.connect(on_run_started)

    def move() -> None:
        if pending_move[0] and clock.last >= pending_move[0]:
            latencies.append((clock.last - pending_move[0]) * 1000.0)
        index = moves[0]
        angle = 2 * math.pi * index / 240
        radius = 1.8 * abs(math.sin(math.pi * index / 600))
        pending_move[0] = time.perf_counter()
        studio.view.move_cursor_on_plane(radius * math.cos(angle), radius * math.sin(angle))
        moves[0] += 1

    def scrub_step() -> None:
        history = studio.active
        if scrub_state["started"] is not None or history is None or len(history.snapshots) < 3:
            return
        target = max(history.snapshots[-1].index - 1, 0)
        scrub_state.update(started=time.perf_counter(), target=target)
        history.select(target)
        poll.start()

    def scrub_poll() -> None:
        pictures = studio.explorer.pictures
        if pictures.info is not None and pictures.info.index == scrub_state["target"] and not window.executor.busy():
            poll.stop()
            QApplication.processEvents()  # the repaints of the visible panels
            scrubs.append((time.perf_counter() - scrub_state["started"]) * 1000.0)
            scrub_state["started"] = None
            if studio.active is not None:
                studio.active.follow()

    drag = QTimer()
    drag.setInterval(16)
    drag.timeout.connect(move)
    scrubber = QTimer()
    scrubber.setInterval(1000)
    scrubber.timeout.connect(scrub_step)
    poll = QTimer()
    poll.setInterval(1)
    poll.timeout.connect(scrub_poll)

    window.controls.start_button.click()
    watch.start()
    wait_until(lambda: epoch_times or not studio.is_training, 900, "the first epoch", poll_ms=20)
    if drag_cursor:
        drag.start()
    if scrub:
        scrubber.start()
    wait_until(lambda: not studio.is_training, 3600, "training to finish", poll_ms=20)
    for timer in (drag, scrubber, poll):
        timer.stop()
    watch.stop()
    cpu = thread_cpu_seconds()
    clock.remove(app)
    error = window.last_error
    window.close()
    app.processEvents()
    tmp.cleanup()
    if error:
        raise SystemExit(error)
    return {"epoch_times": epoch_times, "latencies_ms": latencies, "scrubs_ms": scrubs, "moves": moves[0],
            "gaps_ms": watch.gaps, "platform": app.platformName(), "cpu": cpu}


def thread_cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by this process's threads, summed by thread name (Linux /proc)."""
    totals: dict[str, float] = {}
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    main_id = os.getpid()
    for task in Path(f"/proc/{main_id}/task").glob("*"):
        try:
            stat = (task / "stat").read_text()
            name = (task / "comm").read_text().strip()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        seconds = (int(fields[11]) + int(fields[12])) / ticks
        if int(task.name) == main_id:
            name = "UI thread"
        elif name.startswith("Thread (pooled)"):
            name = "explorer pool (QtExecutor)"
        totals[name] = totals.get(name, 0.0) + seconds
    return totals


# -- parent ---------------------------------------------------------------------------------------
def child(kind: str, limit: int, epochs: int, platform: str = "offscreen", extra: tuple[str, ...] = ()) -> dict:
    command = [sys.executable, __file__, "--child", kind, "--limit", str(limit), "--epochs", str(epochs), *extra]
    env = dict(os.environ)
    if platform == "xvfb":
        env["QT_QPA_PLATFORM"] = "xcb"
        command = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", *command]
    else:
        env["QT_QPA_PLATFORM"] = "offscreen"
    out = subprocess.run(command, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"{kind} run ({platform}) failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def images_per_second(result: dict, limit: int) -> float:
    times = result["epoch_times"]
    return limit * (len(times) - 1) / (times[-1] - times[0])


def pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def machine() -> str:
    import PySide6

    from vaestudio.core.machine import cpu_summary

    try:
        import importlib.metadata as md

        tf_version = md.version("tensorflow")
    except Exception:  # noqa: BLE001
        tf_version = "unknown"
    threads = {name: os.environ.get(name) for name in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                                                       "TF_NUM_INTEROP_THREADS") if os.environ.get(name)}
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{cpu_summary()}; TensorFlow {tf_version}, PySide6 {PySide6.__version__}, Python "
            f"{sys.version.split()[0]}; threads {threads or 'TensorFlow defaults'}; training threads nice +5; "
            f"GIL switch interval 0.5 ms; load average {load}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=19_200)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--platform", choices=("offscreen", "xvfb", "both"), default="both")
    parser.add_argument("--no-drag", action="store_true", help="leave the cursor still (what the window alone costs)")
    parser.add_argument("--no-scrub", action="store_true", help="leave the timeline alone")
    parser.add_argument("--child", choices=("headless", "window"))
    args = parser.parse_args()
    if args.child:
        if args.child == "headless":
            result = run_headless(args.limit, args.epochs)
        else:
            result = run_window(args.limit, args.epochs, drag_cursor=not args.no_drag, scrub=not args.no_scrub)
        print(json.dumps(result))
        return

    platforms = ["offscreen", "xvfb"] if args.platform == "both" else [args.platform]
    if "xvfb" in platforms and shutil.which("xvfb-run") is None:
        print("xvfb-run is not installed (Debian: apt-get install xvfb): measuring offscreen only")
        platforms = ["offscreen"]
    extra = tuple(flag for flag, off in (("--no-drag", args.no_drag), ("--no-scrub", args.no_scrub)) if off)
    print(f"machine: {machine()}", flush=True)
    results: dict[str, dict[str, list[float]]] = {p: {"ratio": [], "drag": [], "scrub": [], "gap": []}
                                                 for p in platforms}
    for round_ in range(1, args.rounds + 1):
        for platform in platforms:  # interleaved: headless, window, headless, window, ...
            headless = child("headless", args.limit, args.epochs)
            windowed = child("window", args.limit, args.epochs, platform, extra)
            a, b = images_per_second(headless, args.limit), images_per_second(windowed, args.limit)
            lat, scrubs, gaps = windowed["latencies_ms"], windowed["scrubs_ms"], windowed["gaps_ms"]
            top = sorted(gaps, reverse=True)[:5]
            r = results[platform]
            r["ratio"].append(b / a), r["drag"].append(pct(lat, 95)), r["scrub"].append(pct(scrubs, 95))
            r["gap"].append(top[0] if top else 0.0)
            print(f"round {round_} [{windowed['platform']}]: images/s headless {a:.0f}, window {b:.0f}, ratio "
                  f"{b / a:.3f}; drag {len(lat)} samples ({windowed['moves']} moves) p50 {pct(lat, 50):.1f} ms "
                  f"p95 {pct(lat, 95):.1f} ms; scrub {len(scrubs)} steps p50 {pct(scrubs, 50):.1f} ms p95 "
                  f"{pct(scrubs, 95):.1f} ms; UI gaps > {STALL_MS:.0f} ms: {sum(g > STALL_MS for g in gaps)} of "
                  f"{len(gaps)}, longest {', '.join(f'{g:.0f}' for g in top)} ms", flush=True)
            cpu = sorted(windowed.get("cpu", {}).items(), key=lambda kv: -kv[1])[:6]
            print("    window CPU seconds by thread: " + ", ".join(f"{name} {sec:.1f}" for name, sec in cpu), flush=True)
    failed = False
    for platform, r in results.items():
        ratio, drag, scrub, gap = (statistics.median(r[k]) for k in ("ratio", "drag", "scrub", "gap"))
        print(f"median over {args.rounds} rounds [{platform}]: throughput ratio window/headless {ratio:.3f}, "
              f"drag p95 {drag:.1f} ms, scrub p95 {scrub:.1f} ms, longest UI gap {gap:.0f} ms "
              f"({args.limit} images, {args.epochs} epochs, fast preset)")
        missed = []
        if not ratio >= RATIO_TARGET:
            missed.append(f"throughput ratio {ratio:.3f} < {RATIO_TARGET}")
        if not args.no_drag and not drag <= DRAG_P95_MS:
            missed.append(f"drag p95 {drag:.1f} ms > {DRAG_P95_MS:.0f} ms")
        if not args.no_scrub and not scrub <= SCRUB_P95_MS:
            missed.append(f"scrub p95 {scrub:.1f} ms > {SCRUB_P95_MS:.0f} ms")
        if not gap <= STALL_MS:
            missed.append(f"a UI stall of {gap:.0f} ms > {STALL_MS:.0f} ms")
        if missed:
            failed = True
            print(f"FAILED [{platform}]: " + "; ".join(missed))
    print(f"machine at the end: load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
