"""`vaestudio --self-test`: open the real window, train briefly, and do what a user does while it trains —
drag the cursor, scrub the timeline, interpolate, encode an image, draw — timing each; then check the run
folder, export its animation, and branch it at epoch 2 (the child's count continues, its run.json names it).

Targets (the README's): drag p95 <= 16 ms (cursor move -> the preview repainted), scrub p95 <= 50 ms (one
timeline step -> every picture of that moment computed and the visible panels repainted), and no UI-thread
stall over 50 ms while training. A missed target prints FAILED and why; exit status 1.

Works headless (QT_QPA_PLATFORM=offscreen) and under a real X server. Uses real Fashion-MNIST (512 images)
when it is installed, else the synthetic dataset. Settings and runs go to a temporary folder.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vaestudio.core.machine import cpu_summary

TRAIN_IMAGES = 512
DRAG_POSITIONS = 60
SCRUB_STEPS = 12
STROKES = 8
MOVE_SECONDS = 1 / 60
EPOCHS = 6  # 16 steps each on 512 images, a snapshot every 4 steps
DRAG_P95_MS, SCRUB_P95_MS, STALL_MS = 16.0, 50.0, 50.0


class SelfTestFailure(Exception):
    pass


def wait_until(condition, timeout_s: float, what: str, poll_ms: int = 1) -> None:
    """Run the event loop (timers fire on time) until `condition()` holds; TimeoutError after timeout_s.

    `condition` is checked every `poll_ms`; measurements that must not pay for the polling use a longer one.
    """
    from PySide6.QtCore import QEventLoop, QTimer

    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        loop = QEventLoop()
        QTimer.singleShot(poll_ms, loop.quit)
        loop.exec()


def _pick_dataset():
    from vaestudio.core.data import load_dataset, synthetic_dataset
    from vaestudio.core.errors import DataError

    try:
        return load_dataset("fashion_mnist", limit=TRAIN_IMAGES)
    except DataError:
        return synthetic_dataset(n_train=TRAIN_IMAGES, n_test=200)


def percentile(values, q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else math.nan


@dataclass
class Timings:
    """What the self-test measured, in milliseconds."""

    drag: list[float] = field(default_factory=list)
    scrub: list[float] = field(default_factory=list)
    draw: list[float] = field(default_factory=list)
    interpolate: float = math.nan
    encode: float = math.nan
    longest_stall: float = 0.0
    stalls_over_target: int = 0

    def lines(self) -> list[str]:
        return [f"drag: {len(self.drag)} moves, p50 {percentile(self.drag, 50):.1f} ms, "
                f"p95 {percentile(self.drag, 95):.1f} ms (target <= {DRAG_P95_MS:.0f})",
                f"scrub: {len(self.scrub)} steps, p50 {percentile(self.scrub, 50):.1f} ms, "
                f"p95 {percentile(self.scrub, 95):.1f} ms (target <= {SCRUB_P95_MS:.0f})",
                f"interpolate: {self.interpolate:.1f} ms; encode an image: {self.encode:.1f} ms; "
                f"draw: {len(self.draw)} strokes, p95 {percentile(self.draw, 95):.1f} ms",
                f"longest UI-thread stall while training: {self.longest_stall:.0f} ms "
                f"({self.stalls_over_target} over {STALL_MS:.0f} ms; target: none)"]

    def misses(self) -> list[str]:
        missed = []
        if not self.drag or percentile(self.drag, 95) > DRAG_P95_MS:
            missed.append(f"drag p95 {percentile(self.drag, 95):.1f} ms > {DRAG_P95_MS:.0f} ms")
        if not self.scrub or percentile(self.scrub, 95) > SCRUB_P95_MS:
            missed.append(f"scrub p95 {percentile(self.scrub, 95):.1f} ms > {SCRUB_P95_MS:.0f} ms")
        if self.longest_stall > STALL_MS:
            missed.append(f"a UI-thread stall of {self.longest_stall:.0f} ms > {STALL_MS:.0f} ms")
        return missed


class PaintClock:
    """Remembers when widgets inside `root` were last painted (what the user sees change)."""

    def __init__(self, root):
        from PySide6.QtCore import QEvent, QObject

        clock = self

        class _Filter(QObject):
            def eventFilter(self, obj, event):  # noqa: N802
                if event.type() == QEvent.Type.Paint and clock._inside(obj):
                    clock.last = time.perf_counter()
                return False

        self.root = root
        self.last = 0.0
        self._filter = _Filter()

    def _inside(self, obj) -> bool:
        from PySide6.QtWidgets import QWidget

        # isAncestorOf walks the parents in C++: this filter sees every paint event of the window
        return obj is self.root or (isinstance(obj, QWidget) and self.root.isAncestorOf(obj))

    def _widgets(self) -> list:
        from PySide6.QtWidgets import QWidget

        return [self.root, *self.root.findChildren(QWidget)]

    def install(self, _app=None) -> None:
        """Watch the root and the widgets inside it (not the whole application: a Python filter on every
        event of the window cost the UI thread ~10 % of its time while training)."""
        for widget in self._widgets():
            widget.installEventFilter(self._filter)

    def remove(self, _app=None) -> None:
        for widget in self._widgets():
            widget.removeEventFilter(self._filter)


class StallWatch:
    """The longest gap between ticks of a 10 ms UI-thread timer."""

    def __init__(self):
        from PySide6.QtCore import QTimer

        self.last: float | None = None
        self.gaps: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.last is not None:
            self.gaps.append((now - self.last) * 1000.0)
        self.last = now

    def start(self) -> None:
        self.last = None
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()


def run(screenshot: str | None = None) -> int:
    """Run the self-test; prints its timings and one verdict line; returns 0 (ok) or 1 (failed)."""
    from PySide6.QtCore import QSettings

    from vaestudio.gui.run_paths import RUNS_DIR_VARIABLE

    previous_runs_dir = os.environ.get(RUNS_DIR_VARIABLE)
    with tempfile.TemporaryDirectory(prefix="vaestudio-selftest-") as tmp:
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(Path(tmp) / "settings"))
        os.environ[RUNS_DIR_VARIABLE] = str(Path(tmp) / "runs")  # the test run is not one of the user's
        try:
            line = _run(Path(tmp), screenshot)
        except (SelfTestFailure, TimeoutError) as exc:
            print(f"self-test FAILED: {exc}")
            return 1
        except Exception as exc:  # report, never a traceback-only exit
            import traceback

            traceback.print_exc()
            print(f"self-test FAILED: {type(exc).__name__}: {exc}")
            return 1
        finally:
            if previous_runs_dir is None:
                os.environ.pop(RUNS_DIR_VARIABLE, None)
            else:
                os.environ[RUNS_DIR_VARIABLE] = previous_runs_dir
    print(line)
    return 0


def _run(tmp: Path, screenshot: str | None) -> str:
    from vaestudio.gui.app import create_application
    from vaestudio.gui.collector import settle_memory
    from vaestudio.gui.main_window import MainWindow
    from vaestudio.gui.selftest_checks import branch_check, compare_check

    app = create_application()
    window = MainWindow()
    window.resize(1400, 900)
    try:
        window.show()
        settle_memory(window)  # as the app does once its window is built
        wait_until(lambda: window.device_ready or window.last_error, 180, "TensorFlow to load")
        if not window.device_ready:
            raise SelfTestFailure(f"TensorFlow did not load: {window.last_error}")
        dataset = _pick_dataset()
        window.dataset_provider = lambda config: dataset
        window.config_overrides = dict(metrics_every=4, snapshot_every=4, snapshot_every_later=4)
        controls = window.controls
        controls.apply_preset("tutorial")
        for name, text in (("epochs", str(EPOCHS)), ("learning_rate", "0.001"), ("batch_size", "32"),
                           ("latent_dim", "2")):
            controls.fields[name].setText(text)
        if not controls.start_button.isEnabled():
            raise SelfTestFailure(f"Start is disabled: {controls.errors()}")
        timings, watch = Timings(), StallWatch()
        controls.start_button.click()
        studio = window.studio
        # Interact once TensorFlow has traced its functions (after the first epoch), while training goes on.
        wait_until(lambda: (studio.live is not None and studio.live.epoch_ends) or window.last_error
                   or not studio.is_training, 300, "the first epoch")
        if window.last_error:
            raise SelfTestFailure(window.last_error)
        if not studio.is_training:
            raise SelfTestFailure("training ended before the first epoch was reported")
        watch.start()
        _drag(app, window, timings)
        _scrub(window, timings)
        _interpolate(window, timings)
        _encode_and_draw(window, timings, tmp)
        if studio.live is not None:
            studio.live.follow()
        wait_until(lambda: not studio.is_training, 600, "training to finish", poll_ms=10)
        watch.stop()
        timings.longest_stall = max(watch.gaps, default=0.0)
        timings.stalls_over_target = sum(gap > STALL_MS for gap in watch.gaps)
        if window.last_error:
            raise SelfTestFailure(window.last_error)
        history = studio.active
        steps = history.last_metrics.step if history is not None and history.last_metrics else 0
        snapshots = len(history.snapshots) if history is not None else 0
        if steps < 1 or snapshots < 2:
            raise SelfTestFailure(f"training produced {steps} steps and {snapshots} snapshots")
        folder = history.folder
        recorded = ("config.json", "metrics.csv", "checkpoint.npz", "model.keras", "training.gif")
        missing = [name for name in recorded if folder is None or not (folder / name).is_file()]
        if missing:
            raise SelfTestFailure(f"the run folder {folder} lacks {', '.join(missing)}")
        gif = tmp / "training.gif"
        if not window.export_animation(gif, frame_seconds=0.1, levels=16):
            raise SelfTestFailure(f"GIF export failed: {window.last_error}")
        import imageio.v3 as iio

        frames = iio.imread(gif, index=None)
        if len(frames) != snapshots:
            raise SelfTestFailure(f"the GIF has {len(frames)} frames, expected {snapshots}")
        compared = compare_check(window, folder, tmp, SelfTestFailure, wait_until)
        if screenshot:
            app.processEvents()
            if not window.grab().save(str(screenshot)):
                raise SelfTestFailure(f"cannot save the screenshot to {screenshot}")
        branched = branch_check(window, tmp, SelfTestFailure, wait_until)
        platform_name = app.platformName()
        print(f"self-test: checks passed: window, training, drag, scrub, interpolation, own image, drawing, run "
              f"folder, GIF of {len(frames)} frames, {compared}, {branched}")
        for line in timings.lines():
            print(f"self-test: {line}")
        print(f"self-test: {steps} steps, {snapshots} snapshots, data: {dataset.source}, Qt platform "
              f"{platform_name}, {cpu_summary()}")
        missed = timings.misses()
        if missed:
            raise SelfTestFailure("; ".join(missed))
        return (f"self-test ok: drag p95 {percentile(timings.drag, 95):.1f} ms, scrub p95 "
                f"{percentile(timings.scrub, 95):.1f} ms, longest stall {timings.longest_stall:.0f} ms, "
                f"gif {len(frames)} frames, run folder recorded")
    finally:
        window.close()
        app.processEvents()


def _drag(app, window, timings: Timings) -> None:
    """A drag as a 60 Hz mouse makes it, along a spiral: cursor move -> the preview repainted."""
    preview = window.panel("cursor_preview")
    if preview is None:
        raise SelfTestFailure("the window has no cursor preview")
    clock = PaintClock(preview)
    clock.install(app)
    view = window.studio.view
    try:
        wait_until(lambda: window.studio.explorer.vae is not None, 30, "the model of the moment")
        moved = 0.0
        for index in range(DRAG_POSITIONS):
            angle = 2 * math.pi * index / DRAG_POSITIONS
            radius = 1.6 * index / DRAG_POSITIONS
            wait_until(lambda: time.perf_counter() - moved >= MOVE_SECONDS, 1, "the next frame")
            moved = time.perf_counter()
            view.move_cursor_on_plane(radius * math.cos(angle), radius * math.sin(angle))
            try:
                wait_until(lambda: clock.last >= moved, 2, "the preview to repaint")
            except TimeoutError:
                continue
            timings.drag.append((clock.last - moved) * 1000.0)
    finally:
        clock.remove(app)
    if len(timings.drag) < DRAG_POSITIONS // 2:
        raise SelfTestFailure(f"the preview repainted for only {len(timings.drag)} of {DRAG_POSITIONS} moves")


def moment_settled(window, index: int) -> bool:
    """The window shows moment `index` with every picture of it: nothing left to compute but the cursor's
    Compare previews (a drag's) and, while its run trains, the paced test-image scans (gui/state/pacing.py:
    their panels show the last scan, labelled, meanwhile)."""
    from vaestudio.gui.state.diagnosis import SCAN_KEYS

    pictures = window.studio.explorer.pictures
    if pictures.info is None or pictures.info.index != index:
        return False
    ignoring = ("compare-preview",) + (SCAN_KEYS if window.diagnosis.paced() else ())
    return not window.executor.busy(ignoring)


def _scrub(window, timings: Timings) -> None:
    """Steps back through the live run's snapshots: one step -> every picture of that moment computed and
    the panels repainted, while training goes on."""
    from PySide6.QtWidgets import QApplication

    history = window.studio.active
    if history is None or len(history.snapshots) < 2:
        raise SelfTestFailure("no snapshots to scrub through")
    history.select(len(history.snapshots) - 1)
    for _ in range(SCRUB_STEPS):
        if history.current is None or history.current.index == 0:
            break
        target = history.current.index - 1
        started = time.perf_counter()
        window.timeline.step(-1)
        wait_until(lambda: moment_settled(window, target), 5, "the scrubbed moment")
        QApplication.processEvents()  # the repaints
        timings.scrub.append((time.perf_counter() - started) * 1000.0)


def _interpolate(window, timings: Timings) -> None:
    from vaestudio.gui.state.latent_view import Endpoint

    view, explorer = window.studio.view, window.studio.explorer
    wait_until(lambda: explorer.probe is not None, 30, "the test images")
    started = time.perf_counter()
    view.set_endpoint("a", Endpoint.test_image(0))
    view.set_endpoint("b", Endpoint.test_image(1))
    wait_until(lambda: explorer.pictures.interpolation is not None, 10, "the interpolation")
    timings.interpolate = (time.perf_counter() - started) * 1000.0


def _encode_and_draw(window, timings: Timings, tmp: Path) -> None:
    """File → Encode image… on a picture file, then a drawing encoded stroke by stroke (as the pad does)."""
    from PIL import Image

    from vaestudio.gui.state.latent_view import OwnImage

    view, explorer = window.studio.view, window.studio.explorer
    picture = np.full((80, 60), 250, np.uint8)
    picture[15:65, 22:38] = 10
    path = tmp / "own image.png"
    Image.fromarray(picture).save(path)

    def own_count() -> int:
        return len(explorer.pictures.own) if explorer.pictures.own is not None else -1

    started = time.perf_counter()
    wanted = len(view.own_images) + 1
    if not window.encode_image(path):
        raise SelfTestFailure(f"Encode image failed: {window.last_error}")
    wait_until(lambda: len(view.own_images) == wanted and own_count() == wanted, 10, "the image's encoding")
    timings.encode = (time.perf_counter() - started) * 1000.0
    canvas = np.zeros((28, 28, 1), np.float32)
    index = view.add_own_image(OwnImage("drawing", canvas.copy(), np.zeros((28, 28), np.uint8), "drawing"))
    wait_until(lambda: own_count() == len(view.own_images), 10, "the drawing's encoding")
    for stroke in range(STROKES):
        canvas[4 + 2 * stroke: 6 + 2 * stroke, 6:22] = 1.0
        before = explorer.pictures.own[index] if explorer.pictures.own else None
        started = time.perf_counter()
        view.replace_own_image(index, OwnImage("drawing", canvas.copy(), (canvas[..., 0] * 255).astype(np.uint8),
                                               "drawing"))
        wait_until(lambda: explorer.pictures.own is not None and len(explorer.pictures.own) > index
                   and explorer.pictures.own[index] is not before, 5, "the stroke's encoding")
        timings.draw.append((time.perf_counter() - started) * 1000.0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(sys.argv[1] if len(sys.argv) > 1 else None))
