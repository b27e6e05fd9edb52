"""The child processes of benchmarks/window_responsiveness.py: each runs in a fresh process and prints one
JSON line on stdout.

    headless  `vaestudio train --preset fast` as the command line runs it: the time of each epoch's end
    window    the window (every dock shown side by side, memory settled as the app does) training the same,
              while from the end of epoch 1 on a 60 Hz drag moves the latent cursor along a spiral and once
              a second the timeline steps one snapshot back (then follows again; --interaction none: the
              user only watches); a 10 ms UI-thread timer records the gaps between its ticks (a gap over
              50 ms is a stall); the CPU seconds of the process, its UI thread and the X server over the same
              time. --profile adds the stall probe's report (ui_stall_probe.py) on stderr
    close     the app as `vaestudio` starts it (app.run): once the window is built and training has made
              its first snapshot, it closes the window as the close button does; the parent times the
              process's end from the "closing" line and looks for the checkpoint in the run folder
"""

from __future__ import annotations

import faulthandler
import io
import math
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
faulthandler.enable()  # a crash prints every thread's stack on stderr
HERE = Path(__file__).resolve().parent
for folder in (str(HERE.parent), str(HERE)):
    if folder not in sys.path:
        sys.path.insert(0, folder)


# -- headless --------------------------------------------------------------------------------------------
class _EpochClock(io.TextIOBase):
    """The CLI's output stream: remembers when each 'Epoch: N' line was printed."""

    def __init__(self):
        self.epoch_times: list[float] = []
        self.epoch_cpu: list[float] = []

    def write(self, text: str) -> int:
        if text.startswith("Epoch:"):
            self.epoch_times.append(time.perf_counter())
            times = os.times()
            self.epoch_cpu.append(times.user + times.system)
        return len(text)


def run_headless(limit: int, epochs: int) -> dict:
    from vaestudio.cli import build_parser
    from vaestudio.train_command import train_command

    clock = _EpochClock()
    with tempfile.TemporaryDirectory() as tmp:
        args = build_parser().parse_args(["train", "--preset", "fast", "--limit", str(limit), "--epochs",
                                          str(epochs), "--out", str(Path(tmp) / "run")])
        code = train_command(args, out=clock)
    if code != 0:
        raise SystemExit(f"vaestudio train exited {code}")
    cpu = {"process": clock.epoch_cpu[-1] - clock.epoch_cpu[0], "wall": clock.epoch_times[-1] - clock.epoch_times[0]}
    return {"epoch_times": clock.epoch_times, "cpu": cpu}


# -- the window while it trains --------------------------------------------------------------------------
def show_every_dock(window) -> None:
    """Untabify: every dock visible at once, side docks stacked, bottom docks side by side."""
    from PySide6.QtCore import Qt

    previous: dict = {}
    for dock in window.docks.values():
        area = window.dockWidgetArea(dock)
        window.removeDockWidget(dock)
        window.addDockWidget(area, dock)
        if area in previous:
            orientation = Qt.Orientation.Horizontal if area == Qt.DockWidgetArea.BottomDockWidgetArea \
                else Qt.Orientation.Vertical
            window.splitDockWidget(previous[area], dock, orientation)
        dock.show()
        previous[area] = dock


def _stat_cpu_seconds(stat_text: str) -> float:
    """User + system CPU seconds from the text of a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat file."""
    fields = stat_text.rsplit(")", 1)[1].split()  # after the name, which may hold spaces and parentheses
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def x_server_cpu_seconds() -> float:
    """CPU seconds (user + system) of this display's X server so far: the Xvfb process painting the window
    (NaN when it cannot be found)."""
    display = os.environ.get("DISPLAY", "")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if "(Xvfb)" in text and display.encode() in cmdline:
            return _stat_cpu_seconds(text)
    return math.nan


def thread_cpu_seconds() -> dict[str, float]:
    """CPU seconds so far of this process's threads, summed by their names (Linux; empty elsewhere)."""
    totals: dict[str, float] = {}
    for stat in Path("/proc/self/task").glob("*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        name = name.rstrip("0123456789-_ ") or name  # numbered pool threads together
        totals[name] = totals.get(name, 0.0) + _stat_cpu_seconds(text)
    return totals


def cpu_now() -> dict:
    """The CPU seconds so far of this process, of its UI thread (the caller) and of the X server."""
    times = os.times()
    return {"process": times.user + times.system, "ui": time.thread_time(), "x_server": x_server_cpu_seconds(),
            "wall": time.perf_counter(), "threads": thread_cpu_seconds()}


def run_window(limit: int, epochs: int, profile: bool = False, layout: str = "every-dock",
               interaction: str = "drag-and-scrub") -> dict:
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
    window.resize(1400, 900)
    if layout == "every-dock":
        show_every_dock(window)
    window.show()
    try:  # as app.run does once the window is built (vaestudio 0.3 on; earlier ones did nothing)
        from vaestudio.gui.collector import settle_memory
    except ImportError:
        settle_memory = None
    if settle_memory is not None:
        settle_memory(window)

    wait_until(lambda: window.device_ready, 300, "TensorFlow to load", poll_ms=20)
    dataset = load_dataset("fashion_mnist", limit=limit)
    window.dataset_provider = lambda config: dataset
    window.controls.apply_preset("fast")
    window.controls.fields["epochs"].setText(str(epochs))
    studio = window.studio
    epoch_times: list[float] = []
    drags: list[float] = []
    scrubs: list[float] = []
    watch = StallWatch()
    clock = PaintClock(window.panel("cursor_preview"))
    clock.install(app)
    moves = [0]
    pending_move = [0.0]
    scrub_state: dict = {"started": None, "target": None}
    window.training.run_started.connect(
        lambda history: history.epoch_ended.connect(lambda _e: epoch_times.append(time.perf_counter())))

    def move() -> None:
        if pending_move[0] and clock.last >= pending_move[0]:
            drags.append((clock.last - pending_move[0]) * 1000.0)
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

    try:  # vaestudio 0.3 on: not the paced scans (while training) or the Compare previews (the drag's)
        from vaestudio.gui.selftest import moment_settled

        def settled(_pictures, index: int) -> bool:
            return moment_settled(window, index)
    except ImportError:
        def settled(pictures, index: int) -> bool:
            return pictures.info is not None and pictures.info.index == index and not window.executor.busy()

    def scrub_poll() -> None:
        pictures = studio.explorer.pictures
        if settled(pictures, scrub_state["target"]):
            poll.stop()
            QApplication.processEvents()  # the repaints of the visible panels
            scrubs.append((time.perf_counter() - scrub_state["started"]) * 1000.0)
            scrub_state["started"] = None
            if studio.active is not None:
                studio.active.follow()

    drag, scrubber, poll = QTimer(), QTimer(), QTimer()
    for timer, interval, slot in ((drag, 16, move), (scrubber, 1000, scrub_step), (poll, 1, scrub_poll)):
        timer.setInterval(interval)
        timer.timeout.connect(slot)
    probe = None
    if profile:
        from ui_stall_probe import StallProbe

        probe = StallProbe()
    window.controls.start_button.click()
    wait_until(lambda: epoch_times or not studio.is_training, 900, "the first epoch", poll_ms=20)
    watch.start()
    if interaction == "drag-and-scrub":
        drag.start()
        scrubber.start()
    cpu_start = cpu_now()
    if probe is not None:
        import cProfile

        profiler = cProfile.Profile(time.thread_time)  # the UI thread's CPU seconds, whatever the load
        probe.start()
        profiler.enable()
    wait_until(lambda: not studio.is_training, 3600, "training to finish", poll_ms=20)
    cpu_end = cpu_now()
    watch.stop()
    for timer in (drag, scrubber, poll):
        timer.stop()
    if probe is not None:
        profiler.disable()
        probe.stop()
        print("\n".join(probe.report()), file=sys.stderr, flush=True)
        print_ui_profile(profiler)
    clock.remove(app)
    error = window.last_error
    window.close()
    app.processEvents()
    tmp.cleanup()
    if error:
        raise SystemExit(error)
    return {"epoch_times": epoch_times, "drags_ms": drags, "scrubs_ms": scrubs, "moves": moves[0],
            "gaps_ms": watch.gaps, "platform": app.platformName(),
            "cpu": {k: cpu_end[k] - cpu_start[k] for k in cpu_start if k != "threads"},
            "threads": {name: seconds - cpu_start["threads"].get(name, 0.0)
                        for name, seconds in cpu_end["threads"].items()}}


def print_ui_profile(profiler, rows: int = 45) -> None:
    """The UI thread's CPU time by function (cumulative), from a cProfile timed with time.thread_time."""
    import pstats

    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    if os.environ.get("VAESTUDIO_UI_PSTATS"):  # the whole profile, for pstats' callers/callees
        stats.dump_stats(os.environ["VAESTUDIO_UI_PSTATS"])
    stats.sort_stats("cumulative").print_stats(rows)
    print("  UI thread's CPU seconds by function while training (cProfile, thread time):", file=sys.stderr)
    for line in stream.getvalue().splitlines():
        if line.strip() and "{built-in method builtins.exec}" not in line:
            print("    " + line.replace(str(Path(sys.prefix)), "").replace(str(HERE.parent), ""), file=sys.stderr)
    sys.stderr.flush()


# -- closing the window mid-training ---------------------------------------------------------------------
def run_close(limit: int) -> dict:
    """The app as `vaestudio` runs it; closes its window once training has made its first snapshot. Prints
    'closing <time.monotonic()>' on stderr just before closing; the process then ends as the app's does."""
    from vaestudio.core.data import load_dataset
    from vaestudio.gui import app as app_module
    from vaestudio.gui.run_paths import RUNS_DIR_VARIABLE

    runs = Path(os.environ[RUNS_DIR_VARIABLE])
    dataset = load_dataset("fashion_mnist", limit=limit)
    original_fill = app_module.fill_window

    def fill_and_train(window) -> None:
        from PySide6.QtCore import QTimer

        original_fill(window)
        window.dataset_provider = lambda config: dataset
        window.controls.apply_preset("fast")
        window.controls.fields["epochs"].setText("50")
        state = {"started": False}
        timer = QTimer(window)

        def check() -> None:
            if not state["started"] and window.device_ready:
                state["started"] = True
                window.controls.start_button.click()
            history = window.studio.live
            if history is not None and len(history.snapshots) >= 2:  # "before training" and one trained
                timer.stop()
                print(f"closing {time.monotonic()!r} {history.folder}", file=sys.stderr, flush=True)
                window.close()

        timer.timeout.connect(check)
        timer.start(20)

    app_module.fill_window = fill_and_train
    os.environ.pop("VAESTUDIO_REPORT_STARTUP", None)
    print(f"runs in {runs}", file=sys.stderr, flush=True)
    return {"code": app_module.run(["vaestudio"])}  # app.run ends the process (os._exit)


def main() -> None:
    import argparse
    import json

    parser = argparse.ArgumentParser(description="a child of benchmarks/window_responsiveness.py")
    parser.add_argument("kind", choices=("headless", "window", "close"))
    parser.add_argument("--limit", type=int, required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--layout", choices=("every-dock", "default"), default="every-dock")
    parser.add_argument("--interaction", choices=("drag-and-scrub", "none"), default="drag-and-scrub")
    args = parser.parse_args()
    if args.kind == "headless":
        result = run_headless(args.limit, args.epochs)
    elif args.kind == "window":
        result = run_window(args.limit, args.epochs, args.profile, args.layout, args.interaction)
    else:
        result = run_close(args.limit)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
