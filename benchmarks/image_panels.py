"""Try the image panels without the main window: a tiny recorded run in a plain QMainWindow.

    python benchmarks/image_panels.py                      # show them; close the window to quit
    python benchmarks/image_panels.py --shots /tmp/shots    # act like a user, save screenshots, quit
    python benchmarks/image_panels.py --run RUN_FOLDER      # explore a run folder instead

The run (synthetic shapes, a few hundred steps) is recorded once into --cache and replayed from there.
The harness loads TensorFlow itself (in the real window the shell's loader does) and reports timings of
the panels' UI-thread work: strip redraws on scrubbing, drawing-pad updates.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def record_run(folder: Path, latent_dim: int) -> Path:
    from vaestudio.core.config import TrainConfig
    from vaestudio.core.data import synthetic_dataset
    from vaestudio.core.runs import Run

    if (folder / "config.json").exists():
        return folder
    data = synthetic_dataset(n_train=1024, n_test=200, seed=0)
    config = TrainConfig.from_preset("custom", epochs=4, batch_size=32, learning_rate=3e-3, grid_size=10,
                                     metrics_every=4, snapshot_every=16, latent_dim=latent_dim, seed=1)
    run = Run.new(folder, config, load_dataset=lambda _: data)
    for _event in run.events():
        pass
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a run folder to explore (default: a recorded tiny run)")
    parser.add_argument("--latent-dim", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "vaestudio-image-panels")
    parser.add_argument("--shots", type=Path, help="save screenshots here and quit")
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from PySide6.QtCore import QSettings, Qt, QTimer
    from PySide6.QtWidgets import QDockWidget, QMainWindow

    from vaestudio.core.config import TrainConfig
    from vaestudio.core.data import synthetic_dataset
    from vaestudio.core.runs import replay
    from vaestudio.gui.app import create_application
    from vaestudio.gui.commands import Commands
    from vaestudio.gui.panels.drawing_pad import DrawingPadPanel
    from vaestudio.gui.panels.interpolation import InterpolationPanel
    from vaestudio.gui.panels.own_images import OwnImagesPanel
    from vaestudio.gui.panels.quality import QualityPanel
    from vaestudio.gui.panels.reconstructions import ReconstructionsPanel
    from vaestudio.gui.state.explorer import Probe
    from vaestudio.gui.state.run_history import RunHistory
    from vaestudio.gui.state.studio import Studio
    from vaestudio.gui.threads import QtExecutor

    folder = args.run or record_run(args.cache / f"run-latent{args.latent_dim}", args.latent_dim)
    app = create_application()
    studio = Studio(QtExecutor())
    config = TrainConfig.load(folder / "config.json")
    history = RunHistory(folder=folder, config=config)
    for event in replay(folder):
        history.feed(event)
    studio.add_run(history)
    if args.run is None:
        studio.set_probe(history, Probe.from_dataset(synthetic_dataset(n_train=1024, n_test=200, seed=0)))

    def load_tensorflow() -> None:
        import tensorflow as tf

        QTimer.singleShot(0, app, lambda: studio.set_device(None, tf.__version__))

    threading.Thread(target=load_tensorflow, daemon=True).start()

    window = QMainWindow()
    window.setWindowTitle(f"image panels — {folder}")
    settings = QSettings(str(args.cache / "settings.ini"), QSettings.Format.IniFormat)
    commands = Commands(studio, settings, window)
    panels = {}
    areas = [Qt.DockWidgetArea.TopDockWidgetArea, Qt.DockWidgetArea.TopDockWidgetArea,
             Qt.DockWidgetArea.BottomDockWidgetArea, Qt.DockWidgetArea.BottomDockWidgetArea,
             Qt.DockWidgetArea.RightDockWidgetArea]
    for area, cls in zip(areas, (ReconstructionsPanel, InterpolationPanel, OwnImagesPanel, DrawingPadPanel,
                                 QualityPanel)):
        panel = cls(studio, commands)
        dock = QDockWidget(cls.title, window)
        dock.setObjectName(cls.__name__)
        dock.setWidget(panel)
        window.addDockWidget(area, dock)
        panels[cls.__name__] = panel
    studio.message.connect(lambda text, ms: window.statusBar().showMessage(text, ms))
    studio.explorer.failed.connect(lambda text: print("explorer failed:", text))
    studio.error.connect(lambda title, text: window.statusBar().showMessage(f"{title}: {text}", 8000))
    window.resize(1500, 950)
    window.show()
    if args.shots is None:
        return int(app.exec())
    return act_and_shoot(app, window, studio, panels, history, args.shots)


def act_and_shoot(app, window, studio, panels, history, shots: Path) -> int:
    """Drive the panels as a user would, saving a screenshot after each step; print UI-thread timings."""
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtTest import QTest
    from PIL import Image

    shots.mkdir(parents=True, exist_ok=True)

    def settle(seconds: float = 0.6) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.01)

    def shoot(name: str) -> None:
        settle()
        window.grab().save(str(shots / f"{name}.png"))
        print("wrote", shots / f"{name}.png")

    settle(1.5)
    shoot("1-opened")
    recon = panels["ReconstructionsPanel"]
    for column in (0, 3):
        rect = recon.strip.tile_rect(column, 1)
        QTest.mouseClick(recon.strip.canvas, Qt.MouseButton.LeftButton, pos=rect.center())
    shoot("2-endpoints")
    pad = panels["DrawingPadPanel"]
    canvas = pad.canvas
    square = canvas.square()
    points = [QPointF(square.left() + square.width() * (0.3 + 0.4 * t), square.top() + square.height() *
                      (0.25 + 0.5 * abs(np.sin(3 * t)))) for t in np.linspace(0, 1, 40)]
    press = QMouseEvent(QMouseEvent.Type.MouseButtonPress, points[0], canvas.mapToGlobal(points[0]),
                        Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    app.sendEvent(canvas, press)
    for point in points[1:]:
        app.sendEvent(canvas, QMouseEvent(QMouseEvent.Type.MouseMove, point, canvas.mapToGlobal(point),
                                          Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton,
                                          Qt.KeyboardModifier.NoModifier))
        settle(0.016)
    app.sendEvent(canvas, QMouseEvent(QMouseEvent.Type.MouseButtonRelease, points[-1], canvas.mapToGlobal(points[-1]),
                                      Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton,
                                      Qt.KeyboardModifier.NoModifier))
    print(f"drawing: {len(points)} mouse moves -> {pad.updates} encodes")
    own = panels["OwnImagesPanel"]
    picture = np.full((90, 120, 3), 235, np.uint8)
    picture[20:70, 50:70] = (20, 20, 120)
    path = shots / "my-photo.png"
    Image.fromarray(picture).save(path)
    bad = shots / "not-an-image.png"
    bad.write_bytes(b"hello")
    own.encode_files([path, bad])
    shoot("3-own-images")
    # Scrub the timeline back and forth and time the panels' share of each step.
    timings = []
    for index in list(range(len(history.snapshots) - 1, -1, -3)) + list(range(0, len(history.snapshots), 3)):
        started = time.perf_counter()
        history.select(index)
        timings.append((time.perf_counter() - started) * 1000)
        settle(0.05)
    print(f"scrub: select() with the panels listening p50 {np.percentile(timings, 50):.2f} ms, "
          f"p95 {np.percentile(timings, 95):.2f} ms over {len(timings)} steps")
    history.select(len(history.snapshots) // 2)
    shoot("4-scrubbed")
    quality = panels["QualityPanel"]
    quality.samples.setValue(20)
    quality.images.setValue(100)
    while studio.tf_status != "ready":
        settle(0.2)
    quality.start()
    while quality.running:
        settle(0.2)
    shoot("5-quality")
    return 0


if __name__ == "__main__":
    sys.exit(main())
