"""`vaestudio --self-test`: open the real window, train briefly, drag the cursor, export a GIF.

The run is recorded into a temporary run folder, which is checked for its checkpoint, model and animation.

Works headless (QT_QPA_PLATFORM=offscreen). Uses real Fashion-MNIST (512 images) when it is
installed, else the synthetic dataset. Settings go to a temporary folder, not the user's.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from pathlib import Path

TRAIN_IMAGES = 512
DRAG_POSITIONS = 60
MOVE_SECONDS = 1 / 60
EPOCHS = 4  # 16 steps each on 512 images


class SelfTestFailure(Exception):
    pass


def cpu_summary() -> str:
    """The CPU's model, core count and the flags that matter to TensorFlow here (AVX-512, bfloat16, AMX)."""
    import platform

    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name") and ":" in line:
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and ":" in line:
                    flags = set(line.split(":", 1)[1].split())
                if flags and model:
                    break
    except OSError:
        pass
    wanted = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile")
    shown = [flag for flag in wanted if flag in flags] or ["no AVX-512/AMX flags read"]
    return f"{model}, {os.cpu_count()} CPUs, flags: {' '.join(shown)}"


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
        return synthetic_dataset()


def run(screenshot: str | None = None) -> int:
    """Run the self-test; prints one line and returns 0 (ok) or 1 (failed)."""
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
    from PySide6.QtCore import QTimer

    from vaestudio.gui.app import create_application
    from vaestudio.gui.main_window import MainWindow

    app = create_application()
    window = MainWindow()
    try:
        window.show()
        wait_until(lambda: window.device_ready or window.last_error, 180, "TensorFlow to load")
        if not window.device_ready:
            raise SelfTestFailure(f"TensorFlow did not load: {window.last_error}")
        dataset = _pick_dataset()
        window.dataset_provider = lambda config: dataset
        window.config_overrides = dict(metrics_every=4, snapshot_every=4)
        controls = window.controls
        controls.apply_preset("tutorial")
        for name, text in (("epochs", str(EPOCHS)), ("learning_rate", "0.001"), ("batch_size", "32"), ("latent_dim", "2")):
            controls.fields[name].setText(text)
        if not controls.start_button.isEnabled():
            raise SelfTestFailure(f"Start is disabled: {controls.errors()}")

        # Measure the longest gap between ticks of a 10 ms timer while training runs.
        ticks = {"last": None, "max_gap": 0.0}

        def tick():
            now = time.perf_counter()
            if ticks["last"] is not None:
                ticks["max_gap"] = max(ticks["max_gap"], now - ticks["last"])
            ticks["last"] = now

        timer = QTimer()
        timer.setInterval(10)
        timer.timeout.connect(tick)
        controls.start_button.click()
        # Drag once TensorFlow has traced its functions (after the first epoch), while training goes on.
        wait_until(lambda: window.session.test_elbo.x or window.last_error or not window.is_training(),
                    300, "the first epoch")
        if window.last_error:
            raise SelfTestFailure(window.last_error)
        timer.start()

        preview = window.preview
        preview.latencies_ms.clear()
        # A drag as a 60 Hz mouse makes it: one move per frame, along a spiral through the plane.
        moved = 0.0
        for index in range(DRAG_POSITIONS):
            angle = 2 * math.pi * index / DRAG_POSITIONS
            wait_until(lambda: time.perf_counter() - moved >= MOVE_SECONDS, 1, "the next frame")
            moved = time.perf_counter()
            before = preview.decode_count
            window.plane.set_cursor_z(1.6 * math.cos(angle) * index / DRAG_POSITIONS,
                                      1.6 * math.sin(angle) * index / DRAG_POSITIONS)
            wait_until(lambda: preview.decode_count > before, 5, "the preview to update")
        if len(preview.latencies_ms) < DRAG_POSITIONS // 2:
            raise SelfTestFailure(f"only {len(preview.latencies_ms)} drag latencies were recorded")
        p95 = preview.latency_percentile(95)

        wait_until(lambda: not window.is_training(), 600, "training to finish")
        timer.stop()
        if window.last_error:
            raise SelfTestFailure(window.last_error)
        session = window.session
        steps = session.last_metrics.step if session.last_metrics else 0
        snapshots = len(session.frame_labels)
        if steps < 1 or snapshots < 2:
            raise SelfTestFailure(f"training produced {steps} steps and {snapshots} snapshots")

        folder = window.run_folder
        recorded = ("config.json", "metrics.csv", "checkpoint.npz", "model.keras", "training.gif")
        missing = [name for name in recorded if folder is None or not (folder / name).is_file()]
        if missing:
            raise SelfTestFailure(f"the run folder {folder} lacks {', '.join(missing)}")

        gif = tmp / "training.gif"
        if not window.export_animation(gif, frame_seconds=0.1):
            raise SelfTestFailure(f"GIF export failed: {window.last_error}")
        import imageio.v3 as iio

        frames = iio.imread(gif, index=None)
        if len(frames) != snapshots:
            raise SelfTestFailure(f"the GIF has {len(frames)} frames, expected {snapshots}")

        if screenshot:
            window.plane.overlay_check.setChecked(True)
            app.processEvents()
            if not window.grab().save(str(screenshot)):
                raise SelfTestFailure(f"cannot save the screenshot to {screenshot}")
        stall = ticks["max_gap"] * 1000.0
        print(f"self-test details: longest UI-thread stall {stall:.0f} ms while dragging and training, "
              f"{len(preview.latencies_ms)} drag samples, data: {dataset.source}", file=sys.stderr)
        return (f"self-test ok: {steps} steps, {snapshots} snapshots, drag p95 {p95:.1f} ms, "
                f"gif {len(frames)} frames, run folder recorded")
    finally:
        window.close()
        app.processEvents()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(sys.argv[1] if len(sys.argv) > 1 else None))
