"""The window while it trains: cursor latency, UI-thread stalls, and throughput against headless training.

    python benchmarks/window_responsiveness.py                 # 3 rounds, 19 200 images, 4 epochs (~6 min)
    python benchmarks/window_responsiveness.py --rounds 1 --limit 6400

Each round runs, in fresh processes one after the other, (a) `vaestudio train` exactly as the command
line runs it and (b) the window training the same settings (the window's default `fast` preset) while a
60 Hz drag moves the latent cursor along a spiral from the end of epoch 1 to the end of the run.
Throughput is wall-clock images/s over epochs 2..N (tracing in epoch 1 left out), test pass,
snapshots and run-folder writes included. Printed per round and as medians:

- images/s headless and with the window, and their ratio (target >= 0.95);
- drag latency, cursor position change to the new preview image set, p50/p95 (target p95 <= 16 ms);
- the longest gaps between ticks of a 10 ms UI-thread timer while training runs (target: none > 50 ms),
  with how many gaps over 50 ms fell within 0.5 s of a snapshot arriving.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


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
def run_window(limit: int, epochs: int, drag_cursor: bool = True) -> dict:
    from PySide6.QtCore import QTimer

    from vaestudio.core.data import load_dataset
    from vaestudio.gui.app import create_application
    from vaestudio.gui.main_window import MainWindow
    from vaestudio.gui.run_paths import RUNS_DIR_VARIABLE
    from vaestudio.gui.selftest import wait_until

    tmp = tempfile.TemporaryDirectory()
    os.environ[RUNS_DIR_VARIABLE] = tmp.name
    os.environ["VAESTUDIO_SETTINGS_ORG"] = "vaestudio-benchmark"
    app = create_application()
    window = MainWindow()
    window.resize(1400, 900)
    window.show()

    wait_until(lambda: window.device_ready, 300, "TensorFlow to load", poll_ms=20)
    dataset = load_dataset("fashion_mnist", limit=limit)
    window.dataset_provider = lambda config: dataset
    window.controls.apply_preset("fast")
    window.controls.fields["epochs"].setText(str(epochs))

    epoch_times: list[float] = []
    snapshot_times: list[float] = []
    session = window.session
    on_epoch_end, on_snapshot = session.on_epoch_end, session.on_snapshot
    session.on_epoch_end = lambda event: (epoch_times.append(time.perf_counter()), on_epoch_end(event))[1]
    session.on_snapshot = lambda event: (snapshot_times.append(time.perf_counter()), on_snapshot(event))[1]

    gaps: list[tuple[float, float]] = []  # (when, gap seconds)
    last_tick = [None]

    def tick():
        now = time.perf_counter()
        if last_tick[0] is not None:
            gaps.append((now, now - last_tick[0]))
        last_tick[0] = now

    heartbeat = QTimer()
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(tick)

    moves = [0]

    def move():
        index = moves[0]
        angle = 2 * math.pi * index / 240
        radius = 1.8 * abs(math.sin(math.pi * index / 600))
        window.plane.set_cursor_z(radius * math.cos(angle), radius * math.sin(angle))
        moves[0] += 1

    drag = QTimer()
    drag.setInterval(16)
    drag.timeout.connect(move)

    window.controls.start_button.click()
    heartbeat.start()
    wait_until(lambda: epoch_times or not window.is_training(), 900, "the first epoch", poll_ms=20)
    window.preview.latencies_ms.clear()
    if drag_cursor:
        drag.start()
    wait_until(lambda: not window.is_training(), 1800, "training to finish", poll_ms=20)
    drag.stop()
    heartbeat.stop()
    if window.last_error:
        raise SystemExit(window.last_error)
    latencies = list(window.preview.latencies_ms)
    window.close()
    app.processEvents()
    tmp.cleanup()
    return {"epoch_times": epoch_times, "latencies_ms": latencies, "moves": moves[0],
            "gaps": gaps, "snapshot_times": snapshot_times}


# -- parent ---------------------------------------------------------------------------------------
def child(kind: str, limit: int, epochs: int, extra: tuple[str, ...] = ()) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, "--limit", str(limit), "--epochs", str(epochs),
                          *extra], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{kind} run failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def images_per_second(result: dict, limit: int) -> float:
    times = result["epoch_times"]
    return limit * (len(times) - 1) / (times[-1] - times[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=19_200)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--no-drag", action="store_true", help="leave the cursor still (what the window alone costs)")
    parser.add_argument("--child", choices=("headless", "window"))
    args = parser.parse_args()
    if args.child:
        if args.child == "headless":
            result = run_headless(args.limit, args.epochs)
        else:
            result = run_window(args.limit, args.epochs, drag_cursor=not args.no_drag)
        print(json.dumps(result))
        return

    ratios, p50s, p95s, worst = [], [], [], []
    for round_ in range(1, args.rounds + 1):
        headless = child("headless", args.limit, args.epochs)
        windowed = child("window", args.limit, args.epochs, ("--no-drag",) if args.no_drag else ())
        a, b = images_per_second(headless, args.limit), images_per_second(windowed, args.limit)
        lat = sorted(windowed["latencies_ms"]) or [math.nan]
        p50, p95 = statistics.median(lat), lat[min(len(lat) - 1, int(0.95 * len(lat)))]
        # Stalls while training ran (the heartbeat starts with Start and stops when the run ends).
        gaps = windowed["gaps"]
        long_gaps = [(when, gap) for when, gap in gaps if gap > 0.050]
        near_snapshot = sum(any(abs(when - s) < 0.5 for s in windowed["snapshot_times"]) for when, _ in long_gaps)
        top = sorted((gap * 1000 for _, gap in gaps), reverse=True)[:5]
        ratios.append(b / a), p50s.append(p50), p95s.append(p95), worst.append(top[0])
        print(f"round {round_}: images/s headless {a:.0f}, window {b:.0f}, ratio {b / a:.3f}; "
              f"drag {len(lat)} samples ({windowed['moves']} moves) p50 {p50:.1f} ms p95 {p95:.1f} ms; "
              f"UI gaps > 50 ms: {len(long_gaps)} of {len(gaps)} ticks ({near_snapshot} within 0.5 s of a snapshot), "
              f"longest {', '.join(f'{g:.0f}' for g in top)} ms", flush=True)
    print(f"median over {args.rounds} rounds: throughput ratio window/headless {statistics.median(ratios):.3f}, "
          f"drag p95 {statistics.median(p95s):.1f} ms, longest UI gap {statistics.median(worst):.0f} ms "
          f"({args.limit} images, {args.epochs} epochs, fast preset, {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
