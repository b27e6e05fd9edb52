"""What the image panels cost the UI thread (the window's share of issue 13's budgets).

    python benchmarks/image_panels_cost.py [--rounds 200]

Pictures of every snapshot of a small random-weights run are computed first (off the clock). Then, in
one loop, contenders are interleaved step by step:

- scrub: the explorer publishes the next snapshot's pictures (the moment, then its reconstructions,
  interpolation and own encodings, as the background tasks deliver them) with the reconstruction,
  interpolation, own-images, drawing-pad and quality panels visible, painted before the clock stops;
  against the same publishing with no panel listening;
- draw: one drawing-pad update (prepare the 28 x 28 drawing, replace the own image; the encode itself
  runs on the explorer's executor, here a no-op, but the explorer encodes interpolation endpoints on the
  calling thread) after a mouse stroke segment, against the stroke alone.

NumPy's OpenBLAS threads matter a great deal on a busy 2-core machine: compare OPENBLAS_NUM_THREADS=1.

Prints the CPU, its flags, PySide6's version and p50/p95 per contender in ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def cpu() -> str:
    name, flags = platform.processor() or "unknown CPU", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    wanted = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if f in flags]
    return f"{name} ({os.cpu_count()} CPUs; {' '.join(wanted) or 'no avx2/avx512/amx'})"


class Collecting:
    """An executor that keeps tasks for the caller to run (off the clock) and deliver (on it)."""

    def __init__(self):
        self.tasks = []

    def submit(self, fn, on_done, on_error=None, key=None):
        self.tasks.append((fn, on_done))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--profile", help="profile the timed loop into this file (pstats)")
    args = parser.parse_args(argv)

    import PySide6
    from PySide6.QtCore import QPointF, QSettings, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication, QWidget, QGridLayout

    from random_weights import random_weights
    from vaestudio.core.config import TrainConfig
    from vaestudio.core.data import synthetic_dataset
    from vaestudio.core.events import EpochEnd, Snapshot, Started
    from vaestudio.gui.commands import Commands
    from vaestudio.gui.panels.drawing_pad import DrawingPadPanel
    from vaestudio.gui.panels.interpolation import InterpolationPanel
    from vaestudio.gui.panels.own_images import OwnImagesPanel
    from vaestudio.gui.panels.quality import QualityPanel
    from vaestudio.gui.panels.reconstructions import ReconstructionsPanel
    from vaestudio.gui.state.explorer import EVENTS, InlineExecutor, Probe
    from vaestudio.gui.state.latent_view import Endpoint, OwnImage
    from vaestudio.gui.state.run_history import RunHistory
    from vaestudio.gui.state.studio import Studio

    app = QApplication.instance() or QApplication([])
    config = TrainConfig.from_preset("custom", epochs=2, grid_size=20)
    snapshots = 8
    probe = Probe.from_dataset(synthetic_dataset(n_train=16, n_test=1000, seed=0))

    def history_of() -> RunHistory:
        history = RunHistory(config=config, cache_size=snapshots + 1)
        history.feed(Started(2, 4, 1, "CPU"))
        for n in range(snapshots):
            history.feed(Snapshot(n, n * 10, f"epoch {n}, batch 10", np.zeros((560, 560), np.uint8),
                                  random_weights(config.architecture, seed=n), frame=n))
            history.feed(EpochEnd(n, n * 10, -150.0 - n, -140.0, 10.0, 1.0))
        return history

    # Every snapshot's pictures, computed once with the inline executor.
    studio = Studio(InlineExecutor())
    history = history_of()
    studio.add_run(history)
    studio.set_probe(history, probe)
    studio.view.pick_endpoint(Endpoint.test_image(0))
    studio.view.pick_endpoint(Endpoint.test_image(5))
    drawing = np.zeros((28, 28, 1), np.float32)
    drawing[6:22, 12:16] = 1.0
    studio.view.add_own_image(OwnImage("drawing", drawing, (drawing[..., 0] * 255).astype(np.uint8), "drawing"))
    sequences = []
    for index in range(snapshots):
        published = []
        slots = {part: (lambda pictures, part=part: published.append((part, pictures))) for part in EVENTS}
        for part, slot in slots.items():
            studio.explorer.event_of(part).connect(slot)
        history.select(index)
        for part, slot in slots.items():
            studio.explorer.event_of(part).disconnect(slot)
        sequences.append(published)

    def setup(with_panels: bool):
        executor = Collecting()
        target = Studio(executor)
        run = history_of()
        target.add_run(run)
        target.set_probe(run, probe)
        target.view.endpoint_a, target.view.endpoint_b = studio.view.endpoint_a, studio.view.endpoint_b
        target.view.own_images = studio.view.own_images
        window = None
        if with_panels:
            window = QWidget()
            grid = QGridLayout(window)
            commands = Commands(target, QSettings(os.devnull, QSettings.Format.IniFormat))
            for n, cls in enumerate((ReconstructionsPanel, InterpolationPanel, OwnImagesPanel, DrawingPadPanel,
                                     QualityPanel)):
                grid.addWidget(cls(target, commands), n // 2, n % 2)
            window.resize(1500, 900)
            window.show()
            app.processEvents()
        return target, window

    bare, _ = setup(False)
    full, window = setup(True)
    pad = window.findChild(DrawingPadPanel)
    canvas = pad.canvas
    times = {"scrub, panels": [], "scrub, no panel": [], "draw + update": [], "draw alone": []}

    def scrub(target, step: int) -> float:
        sequence = sequences[step % snapshots]
        started = time.perf_counter()
        for part, pictures in sequence:
            target.explorer.pictures = pictures
            target.explorer.event_of(part).emit(pictures)
        app.processEvents()  # paint
        return time.perf_counter() - started

    def stroke(step: int, update: bool) -> float:
        y = 4 + step % 20
        square = canvas.square()
        point = QPointF(square.left() + (6 + step % 16 + 0.5) * square.width() / 28,
                        square.top() + (y + 0.5) * square.height() / 28)
        started = time.perf_counter()
        for kind, buttons in ((QMouseEvent.Type.MouseButtonPress, Qt.MouseButton.LeftButton),
                              (QMouseEvent.Type.MouseButtonRelease, Qt.MouseButton.NoButton)):
            QApplication.sendEvent(canvas, QMouseEvent(kind, point, canvas.mapToGlobal(point),
                                                       Qt.MouseButton.LeftButton, buttons,
                                                       Qt.KeyboardModifier.NoModifier))
        pad._timer.stop()  # the throttle's own update would land in the next contender's time
        if update:
            pad.push()
        app.processEvents()
        return time.perf_counter() - started

    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    for step in range(args.rounds):
        times["scrub, panels"].append(scrub(full, step))
        times["scrub, no panel"].append(scrub(bare, step))
        times["draw + update"].append(stroke(step, True))
        times["draw alone"].append(stroke(step, False))
        if step % 20 == 19:
            canvas.clear()
            app.processEvents()

    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    print(f"CPU: {cpu()}; Python {platform.python_version()}, PySide6 {PySide6.__version__}, "
          f"Qt platform {app.platformName()}")
    for name, values in times.items():
        ms = np.asarray(values) * 1000
        print(f"{name:>16}: p50 {np.percentile(ms, 50):6.2f} ms   p95 {np.percentile(ms, 95):6.2f} ms   "
              f"max {ms.max():6.2f} ms  ({len(ms)} steps)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
