"""UI-thread cost of one cursor-drag frame on the latent plane + cursor preview, with each lever on and off.

A 60 Hz drag (one mouse move every 16.7 ms, left button held, on a circle through the plane) runs over
the latent plane, cursor preview and latent-dimensions panels docked in a plain main window, on a
20 x 20 grid with 1000 test points overlaid. For each configuration it reports the UI thread's CPU time
per frame (time.thread_time over the drag / frames: what the window takes from training), and the
p50/p95 latency from a move to the new preview being painted. Configurations are interleaved round by
round, so a noisy machine hurts them alike; ratios are to the shipped defaults.

Levers: the cursor's label, the test-set overlay, antialiasing, cached item pictures
(DeviceCoordinateCache on the grid and the overlay), the viewport update mode, OpenGL for the plane,
the preview's size, the hover readout.

    QT_QPA_PLATFORM=offscreen python benchmarks/plane_frame_cost.py            # quick, offscreen
    xvfb-run -a -s "-screen 0 1600x1000x24" python benchmarks/plane_frame_cost.py --rounds 5
    python benchmarks/plane_frame_cost.py --record --data fashion_mnist --screenshots /tmp/shots

By default the run is fed random weights (no TensorFlow: the UI cost is the same); --record trains a
tiny run with TensorFlow and replays its folder, as the window opens runs.

Measured 2026-11-26 on a 2-CPU AMD EPYC shared with other jobs (load average 6-12, so absolute figures
are inflated; ratios are what to read): kept because they helped -- the grid and overlay drawn from
cached pictures (without: x1.05-1.19 UI time), no hover search while dragging (without: x1.17-1.20), a
32-bit preview image (8-bit grey: x1.10-1.12), minimal viewport updates (full: x1.26-1.80), fixed axis
sizes (a relayout loop on every frame before). Not taken: OpenGL for the plane (x1.87 under Xvfb's
software GL), antialiasing, a BSP scene index, a smaller preview (within noise). By far the largest
lever is outside the panels: OPENBLAS_NUM_THREADS=1 (--compare-blas) took the UI time per frame from
9.5-12.4 ms to 4.7-5.0 ms and the move-to-preview latency p95 from 150 ms to 17-19 ms, because
OpenBLAS's threads wait for a core on a busy machine for every small product of a one-point decode.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FRAMES = 90
FRAME_SECONDS = 1 / 60


def cpu_description() -> str:
    from vaestudio.core.machine import cpu_info

    info = cpu_info()
    wanted = [flag for flag in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if flag in info.flags]
    return f"{info.model}, {os.cpu_count()} CPUs, flags: {' '.join(wanted) or 'none of avx2/avx512/amx'}"


# -- the run ------------------------------------------------------------------------------------------------
def random_run(studio, dataset, latent_dim: int, grid: int):
    import numpy as np

    from vaestudio.core.architecture import Architecture
    from vaestudio.core.config import TrainConfig
    from vaestudio.core.events import Snapshot
    from vaestudio.core.numpy_vae import NumpyVAE
    from vaestudio.core.weights import VaeWeights
    from vaestudio.gui.state.explorer import Probe
    from vaestudio.gui.state.run_history import RunHistory

    architecture = Architecture(latent_dim=latent_dim)
    rng = np.random.default_rng(0)

    def arrays(shapes):
        return tuple(rng.normal(0, 1.5 / math.sqrt(max(int(np.prod(s[:-1])), 1)) if len(s) > 1 else 0.3, s)
                     .astype(np.float32) for s in shapes)

    weights = VaeWeights(architecture, arrays(architecture.encoder_shapes()), arrays(architecture.decoder_shapes()))
    config = TrainConfig.from_preset("custom", latent_dim=latent_dim, grid_size=grid)
    history = RunHistory(name="benchmark", config=config, live=True)
    studio.add_run(history)
    studio.set_probe(history, Probe.from_dataset(dataset))
    mosaic = NumpyVAE(weights).grid(grid, (0, 1) if latent_dim > 1 else (0, 0))
    history.feed(Snapshot(0, 0, "random weights", mosaic, weights, frame=-1))
    return history


def recorded_run(studio, dataset, latent_dim: int, grid: int, folder: Path, epochs: int):
    from vaestudio.core.config import TrainConfig
    from vaestudio.core.runs import Run, replay
    from vaestudio.gui.state.explorer import Probe
    from vaestudio.gui.state.run_history import RunHistory

    config = TrainConfig.from_preset("fast", epochs=epochs, latent_dim=latent_dim, grid_size=grid)
    started = time.perf_counter()
    run = Run.new(folder, config, load_dataset=lambda _: dataset)
    for _event in run.events():
        pass
    print(f"recorded {epochs} epoch(s) in {time.perf_counter() - started:.0f} s: {run.path}", file=sys.stderr)
    history = RunHistory(folder=run.path, config=config)
    for event in replay(run.path):
        history.feed(event)
    studio.add_run(history)
    studio.set_probe(history, Probe.from_dataset(dataset))
    return history


# -- the window -------------------------------------------------------------------------------------------------
class Bench:
    def __init__(self, app, studio, settings_path: Path):
        from PySide6.QtCore import QSettings, Qt
        from PySide6.QtWidgets import QDockWidget, QMainWindow

        from vaestudio.gui.commands import Commands
        from vaestudio.gui.panels.cursor_preview import CursorPreviewPanel
        from vaestudio.gui.panels.kl import KlPanel
        from vaestudio.gui.panels.latent_plane import LatentPlanePanel

        self.app, self.studio = app, studio
        self.commands = Commands(studio, QSettings(str(settings_path), QSettings.Format.IniFormat))
        self.main = QMainWindow()
        self.plane = LatentPlanePanel(studio, self.commands)
        self.preview = CursorPreviewPanel(studio, self.commands)
        self.kl = KlPanel(studio, self.commands)
        self.main.setCentralWidget(self.plane)
        self.docks = {}
        for panel in (self.preview, self.kl):
            dock = QDockWidget(panel.title)
            dock.setWidget(panel)
            self.main.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
            self.docks[panel.title] = dock
        self.main.resize(1400, 900)
        self.main.resizeDocks(list(self.docks.values()), [420, 420], Qt.Orientation.Horizontal)
        self.main.show()
        self.settle(0.5)

    def settle(self, seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            self.app.processEvents()
            time.sleep(0.002)

    def wait_for_pictures(self, timeout: float = 60) -> None:
        end = time.perf_counter() + timeout
        while self.studio.explorer.pictures.kl_per_dimension is None and time.perf_counter() < end:
            self.app.processEvents()
            time.sleep(0.005)
        self.settle(0.3)

    def pixel(self, zx: float, zy: float):
        from PySide6.QtCore import QPointF

        from vaestudio.gui import axes

        scale = self.studio.view.scale
        scene = self.plane.viewbox.mapViewToScene(QPointF(float(axes.to_plot(zx, scale)), float(axes.to_plot(zy, scale))))
        return self.plane.graphics.mapFromScene(scene)

    def drag(self, frames: int = FRAMES) -> tuple[float, list[float]]:
        """A 60 Hz drag on a circle; returns (UI-thread CPU ms per frame, move-to-painted latencies in ms).

        The moves come from a precise 60 Hz timer inside a running event loop, as a mouse's would, so
        the thread's CPU time is the window's work and not a polling loop's.
        """
        from PySide6.QtCore import QEvent, QEventLoop, QPointF, Qt, QTimer
        from PySide6.QtGui import QMouseEvent

        viewport = self.plane.graphics.viewport()

        def send(kind, point, buttons):
            button = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseMove else Qt.MouseButton.LeftButton
            position = QPointF(point)
            self.app.sendEvent(viewport, QMouseEvent(kind, position, viewport.mapToGlobal(position), button, buttons,
                                                     Qt.KeyboardModifier.NoModifier))

        points = [self.pixel(1.2 * math.cos(2 * math.pi * i / frames), 1.2 * math.sin(2 * math.pi * i / frames))
                  for i in range(frames)]
        send(QEvent.Type.MouseMove, points[0], Qt.MouseButton.NoButton)
        send(QEvent.Type.MouseButtonPress, points[0], Qt.MouseButton.LeftButton)
        self.settle(0.05)
        self.preview.latencies_ms.clear()
        loop = QEventLoop()
        timer = QTimer()
        timer.setTimerType(Qt.TimerType.PreciseTimer)
        timer.setInterval(round(FRAME_SECONDS * 1000))
        remaining = list(points[1:])

        def next_move():
            if remaining:
                send(QEvent.Type.MouseMove, remaining.pop(0), Qt.MouseButton.LeftButton)
            else:
                timer.stop()
                QTimer.singleShot(50, loop.quit)  # let the last preview paint

        timer.timeout.connect(next_move)
        start_cpu = time.thread_time()
        timer.start()
        loop.exec()
        cpu_ms = (time.thread_time() - start_cpu) * 1000.0 / (len(points) - 1)
        send(QEvent.Type.MouseButtonRelease, points[-1], Qt.MouseButton.NoButton)
        self.settle(0.05)
        return cpu_ms, list(self.preview.latencies_ms)


# -- the levers ------------------------------------------------------------------------------------------------
def lever_settings(bench: Bench, opengl: bool):
    """name -> function(on: bool) that applies a configuration (on = the lever's non-default setting)."""
    import numpy as np
    from PySide6.QtWidgets import QGraphicsItem, QGraphicsView

    plane = bench.plane
    cache, no_cache = QGraphicsItem.CacheMode.DeviceCoordinateCache, QGraphicsItem.CacheMode.NoCache

    def label_off(on):
        plane.cursor_label.setVisible(not on)

    def overlay_off(on):
        bench.studio.view.show_overlay(not on)

    def antialias(on):
        plane.graphics.setAntialiasing(on)

    def uncached_items(on):
        for item in (plane.grid_item, plane.overlay_item):
            item.setCacheMode(no_cache if on else cache)

    scene = plane.graphics.scene()

    def hover_while_dragging(on):
        import pyqtgraph as pg

        if on:  # pyqtgraph's own method, not the PlaneScene's that skips hover searches during a drag
            scene.sendHoverEvents = pg.GraphicsScene.sendHoverEvents.__get__(scene)
        elif "sendHoverEvents" in vars(scene):
            del scene.sendHoverEvents

    def grey_preview(on):
        from PySide6.QtGui import QImage

        view = bench.preview.image_view
        if on:
            original = view.set_image

            def grey(image):
                original(image)
                if image is not None:
                    view._words = np.ascontiguousarray(image)
                    view._qimage = QImage(view._words.data, image.shape[1], image.shape[0], image.shape[1],
                                          QImage.Format.Format_Grayscale8)

            view.set_image = grey
        else:
            del view.set_image

    def full_updates(on):
        plane.graphics.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate if on else
                                             QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)

    def small_preview(on):
        if on:
            bench.preview.image_view.setFixedSize(160, 160)
        else:
            bench.preview.image_view.setMinimumSize(160, 160)
            bench.preview.image_view.setMaximumSize(16777215, 16777215)

    def no_hover(on):
        scene = plane.graphics.scene()
        if on:
            scene.sigMouseMoved.disconnect(plane._on_hover)
        else:
            scene.sigMouseMoved.connect(plane._on_hover)

    def crosshair_uncached(on):
        plane.crosshair.setCacheMode(no_cache if on else cache)

    def scene_index(on):
        from PySide6.QtWidgets import QGraphicsScene

        plane.graphics.scene().setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex if on else
                                                  QGraphicsScene.ItemIndexMethod.NoIndex)

    levers = {"crosshair not cached": crosshair_uncached, "BSP scene index": scene_index,
              "cursor label off": label_off, "overlay off": overlay_off, "antialiasing on": antialias,
              "grid+overlay not cached": uncached_items,
              "hover events while dragging": hover_while_dragging, "8-bit grey preview image": grey_preview, "full viewport updates": full_updates,
              "small preview (160 px)": small_preview, "no hover readout": no_hover}
    if opengl:
        levers["OpenGL plane"] = lambda on: plane.graphics.useOpenGL(on)
    return levers


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=FRAMES)
    parser.add_argument("--latent-dim", type=int, default=2)
    parser.add_argument("--grid", type=int, default=20)
    parser.add_argument("--data", default="synthetic", choices=("synthetic", "fashion_mnist", "mnist"))
    parser.add_argument("--record", action="store_true", help="train a tiny run with TensorFlow and replay it")
    parser.add_argument("--epochs", type=int, default=2, help="with --record")
    parser.add_argument("--no-opengl", action="store_true", help="skip the OpenGL lever")
    parser.add_argument("--screenshots", metavar="DIR", help="save screenshots of the panels there and stop")
    parser.add_argument("--blas-threads", type=int, help="OPENBLAS_NUM_THREADS for this process (before NumPy loads)")
    parser.add_argument("--only-defaults", action="store_true", help="measure the shipped defaults only")
    parser.add_argument("--compare-blas", action="store_true",
                        help="compare OpenBLAS's default thread count with 1 thread, in child processes "
                             "run alternately (the setting is per process)")
    args = parser.parse_args(argv)
    if args.compare_blas:
        return compare_blas(args)
    if args.blas_threads:
        os.environ["OPENBLAS_NUM_THREADS"] = str(args.blas_threads)

    import numpy as np
    import PySide6
    from PySide6.QtWidgets import QApplication

    from vaestudio.gui.state.explorer import InlineExecutor
    from vaestudio.gui.state.studio import Studio
    from vaestudio.gui.threads import QtExecutor

    app = QApplication.instance() or QApplication(sys.argv[:1])
    if args.data == "synthetic":
        from vaestudio.core.data import synthetic_dataset

        dataset = synthetic_dataset(n_train=2048, n_test=1000, seed=0)
    else:
        from vaestudio.core.data import load_dataset

        dataset = load_dataset(args.data, limit=8192 if args.record else 1000)
    with tempfile.TemporaryDirectory(prefix="vaestudio-plane-") as tmp:
        executor = QtExecutor() if args.record else InlineExecutor()
        studio = Studio(executor)
        if args.record:
            recorded_run(studio, dataset, args.latent_dim, args.grid, Path(tmp) / "run", args.epochs)
        else:
            random_run(studio, dataset, args.latent_dim, args.grid)
        bench = Bench(app, studio, Path(tmp) / "settings.ini")
        bench.wait_for_pictures()
        if args.screenshots:
            return screenshots(bench, Path(args.screenshots))
        levers = {} if args.only_defaults else lever_settings(
            bench, opengl=not args.no_opengl and app.platformName() != "offscreen")
        print(f"CPU: {cpu_description()}")
        print(f"Qt platform: {app.platformName()}, PySide6 {PySide6.__version__}, NumPy {np.__version__}, "
              f"{args.frames} moves at 60 Hz per drag, {args.rounds} rounds, grid {args.grid}x{args.grid}, "
              f"{len(studio.explorer.probe.images)} test points, latent dim {args.latent_dim}")
        configurations = ["defaults"] + list(levers)
        cpu: dict[str, list[float]] = {name: [] for name in configurations}
        latency: dict[str, list[float]] = {name: [] for name in configurations}
        bench.drag(30)  # warm-up
        for _round in range(args.rounds):
            for name in configurations:
                if name in levers:
                    try:
                        levers[name](True)
                    except Exception as exc:  # noqa: BLE001 - e.g. no OpenGL: report and go on
                        print(f"{name}: cannot be measured here ({type(exc).__name__}: {exc})")
                        configurations.remove(name)
                        continue
                bench.settle(0.1)
                per_frame, latencies = bench.drag(args.frames)
                cpu[name].append(per_frame)
                latency[name].extend(latencies)
                if name in levers:
                    levers[name](False)
                bench.settle(0.1)
        base = statistics.median(cpu["defaults"])
        print(f"{'configuration':28s} {'UI ms/frame':>11s} {'ratio':>6s} {'latency p50':>11s} {'p95':>6s} {'max':>6s}")
        for name in configurations:
            if not cpu[name]:
                continue
            values = np.asarray(latency[name]) if latency[name] else np.asarray([np.nan])
            median = statistics.median(cpu[name])
            print(f"{name:28s} {median:11.2f} {median / base:6.2f} {np.percentile(values, 50):11.1f} "
                  f"{np.percentile(values, 95):6.1f} {values.max():6.1f}")
        if isinstance(executor, QtExecutor):
            executor.wait(5000)
        bench.main.close()
    return 0


def compare_blas(args) -> int:
    """Children measure the defaults with OpenBLAS's own thread count and with 1 thread, alternately."""
    import subprocess

    results: dict[str, list[str]] = {"OpenBLAS default threads": [], "OPENBLAS_NUM_THREADS=1": []}
    base = [sys.executable, __file__, "--only-defaults", "--rounds", "1", "--frames", str(args.frames),
            "--latent-dim", str(args.latent_dim), "--grid", str(args.grid), "--data", args.data]
    environment = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    for _round in range(args.rounds):
        for name, extra in (("OpenBLAS default threads", []), ("OPENBLAS_NUM_THREADS=1", ["--blas-threads", "1"])):
            output = subprocess.run(base + extra, capture_output=True, text=True, env=environment).stdout
            line = next((row for row in output.splitlines() if row.startswith("defaults ")), "defaults (failed)")
            results[name].append(line[len("defaults"):].strip())
            print(f"{name:26s} {results[name][-1]}", flush=True)
    print(f"CPU: {cpu_description()}  (columns: UI ms/frame, ratio, latency p50, p95, max)")
    return 0


def screenshots(bench: Bench, folder: Path) -> int:
    """The panels as a user sees them: linear and probit scales, an inspected point, a path, prior samples."""
    import numpy as np

    from vaestudio.gui.state.latent_view import Endpoint

    folder.mkdir(parents=True, exist_ok=True)
    view = bench.studio.view
    means = bench.studio.explorer.pictures.means
    view.move_cursor_on_plane(0.8, 1.9)
    if means is not None:
        view.inspect_test_image(int(np.argmax(np.abs(means[:, 0]))))
    view.pick_endpoint(Endpoint.test_image(0))
    view.pick_endpoint(Endpoint.test_image(1))
    bench.preview.sample_prior()
    bench.settle(1.0)
    bench.main.grab().save(str(folder / "latent-linear.png"))
    view.set_scale("probit")
    view.move_cursor_on_plane(2.5, -2.5)
    bench.settle(1.0)
    bench.main.grab().save(str(folder / "latent-probit.png"))
    print(f"screenshots in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
