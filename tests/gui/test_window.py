"""The main window driven through its widgets: panels, training, cursor, exports, shutdown."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

from vaestudio.core.config import PRESETS
from vaestudio.core.decoding import IMAGE_SIZE, grid_axis_values
from vaestudio.gui import run_controls as rc


def set_fields(window, **values) -> None:
    """Type values into the run controls, as a user would (via setText)."""
    for name, value in values.items():
        window.controls.fields[name].setText(str(value))


def train(qtbot, window, timeout_ms: int = 60_000, **values) -> None:
    """Start a run with the given field values and wait until it has ended."""
    set_fields(window, **values)
    assert window.controls.start_button.isEnabled(), window.controls.errors()
    window.controls.start_button.click()
    qtbot.waitUntil(lambda: bool(window.session.started is not None or window.last_error), timeout=timeout_ms)
    qtbot.waitUntil(lambda: not window.is_training(), timeout=timeout_ms)
    assert window.last_error is None, window.last_error


def test_window_shows_before_tensorflow_loads():
    code = ("import os, sys; os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
            "from vaestudio.gui.app import create_application\n"
            "from vaestudio.gui.main_window import MainWindow\n"
            "app = create_application(); w = MainWindow(); w.show(); app.processEvents()\n"
            "print(w.isVisible(), w.device_label.text(), 'tensorflow' in sys.modules, flush=True)\n"
            "while not (w.device_ready or w.last_error): app.processEvents()\n"
            "print('tensorflow_probability' in sys.modules, 'vaestudio.core.tf.trainer' in sys.modules, flush=True)\n"
            "os._exit(0)")
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120,
                         cwd=repo)
    first, second = out.stdout.strip().splitlines()[-2:]
    # The loader thread may have started importing, but the window was up first and says so.
    visible, *label, _ = first.split()
    assert visible == "True" and " ".join(label).startswith("Loading TensorFlow")
    # Once the device shows, what training needs is imported too: pressing Start imports nothing
    # (an import mid-run froze the window for a quarter of a second).
    assert second.split() == ["True", "True"]


def test_window_has_all_panels_menus_and_shows_the_device(qtbot, window):
    assert window.controls_dock.isVisible()
    for panel in (window.controls, window.plane, window.preview, window.elbo):
        assert panel.isVisible()
    shortcuts = {a.text().replace("&", ""): a.shortcut() for a in
                 (window.open_action, window.save_action, window.export_animation_action, window.quit_action,
                  window.pause_action)}
    assert shortcuts["Open model…"] == QKeySequence("Ctrl+O")
    assert shortcuts["Save model…"] == QKeySequence("Ctrl+S")
    assert shortcuts["Export training animation…"] == QKeySequence("Ctrl+E")
    assert shortcuts["Quit"] == QKeySequence("Ctrl+Q")
    assert shortcuts["Pause / Resume"] == QKeySequence("Space")
    assert window.elbo.plot.getPlotItem().getAxis("left").labelText == "ELBO (nats)"
    assert window.plane.plot.getAxis("bottom").labelText == "z1"
    qtbot.waitUntil(lambda: window.device_ready, timeout=120_000)
    assert window.device_label.text().startswith("Device: ")
    assert ("CPU" in window.device_label.text()) or ("GPU" in window.device_label.text())
    assert "TensorFlow" in window.about_text() and "pyqtgraph" in window.about_text()
    # The taskbar and window manager show the app's own icon, and group windows under its .desktop entry.
    from PySide6.QtWidgets import QApplication

    assert not window.windowIcon().isNull() and 48 in [s.width() for s in window.windowIcon().availableSizes()]
    assert QApplication.desktopFileName() == "vaestudio"


def test_bad_values_are_refused_with_the_reason_and_start_disabled(qtbot, window):
    controls = window.controls
    lr = controls.fields["learning_rate"]
    lr.clear()
    qtbot.keyClicks(lr, "0")
    assert not controls.start_button.isEnabled()
    assert controls.message.isVisible() and "Learning rate" in controls.message.text()
    lr.clear()
    qtbot.keyClicks(lr, "0.001")
    assert controls.start_button.isEnabled() and not controls.message.isVisible()

    latent = controls.fields["latent_dim"]
    latent.clear()
    qtbot.keyClicks(latent, "99")
    assert "between 1 and 64" in controls.message.text()
    assert not controls.start_button.isEnabled()
    latent.clear()
    qtbot.keyClicks(latent, "2x")  # letters never get in
    assert latent.text() == "2" and controls.start_button.isEnabled()


def test_choosing_a_preset_fills_the_fields_and_editing_switches_to_custom(qtbot, window):
    controls = window.controls
    for preset in ("fast", "tutorial"):
        controls.preset_combo.setCurrentText(preset)
        for name in ("latent_dim", "epochs", "batch_size"):
            assert int(controls.fields[name].text()) == PRESETS[preset][name]
        assert float(controls.fields["learning_rate"].text()) == pytest.approx(PRESETS[preset]["learning_rate"])
        assert controls.config().steps_per_call == PRESETS[preset]["steps_per_call"]
    qtbot.keyClicks(controls.fields["epochs"], "5")
    assert controls.preset == "custom"
    assert controls.config().epochs == PRESETS["tutorial"]["epochs"] * 10 + 5


def test_training_streams_snapshots_into_the_grid_and_curves(qtbot, window):
    shown = []
    window.plane.gridShown.connect(lambda: shown.append(window.plane.image_item.image.copy()))
    train(qtbot, window, epochs=2, batch_size=32, learning_rate=0.003)
    session = window.session
    # before training, batches 1 and 3 of epoch 1, and after each epoch
    assert len(session.frame_labels) == 5 and len(shown) == 5
    assert not np.array_equal(shown[0], shown[-1])
    assert shown[-1].shape == (6 * IMAGE_SIZE, 6 * IMAGE_SIZE)
    assert len(session.train_elbo.x) == 8 and len(session.test_elbo.x) == 2
    x, y = window.elbo.test_curve.getData()
    assert list(x) == session.test_elbo.x
    assert window.controls.run_bar.value() == window.controls.run_bar.maximum()
    assert window.controls.state == rc.IDLE and window.model is not None
    assert "completed" in window.statusBar().currentMessage()

    elbo = window.elbo
    assert elbo.ll_curve.scene() is None
    elbo.split_check.setChecked(True)
    assert len(elbo.ll_curve.getData()[0]) == 8 and len(elbo.kl_curve.getData()[1]) == 8
    assert elbo.kl_view.isVisible()
    assert "train KL (right axis)" in [label.text for _, label in elbo.legend.items]

    plane = window.plane
    plane.overlay_check.setChecked(True)
    snapshot = session.latest_snapshot
    shown_points = sum(len(item.data) for item in plane.scatter_items if item.scene() is not None)
    assert shown_points == len(snapshot.latent_labels)
    assert [label.text for _, label in plane.legend.items] == list(tiny_data_names(window))
    plane.overlay_check.setChecked(False)
    assert all(item.scene() is None for item in plane.scatter_items) and not plane.legend.isVisible()


def tiny_data_names(window):
    return window.dataset_provider(window.config).class_names


def test_the_preview_shows_the_tile_under_the_cursor(qtbot, window):
    train(qtbot, window, epochs=1, batch_size=32, learning_rate=0.003)
    plane, preview = window.plane, window.preview
    values = grid_axis_values(6)
    images = []
    for i, j in ((0, 5), (5, 0), (2, 3)):  # grid index i along z2, j along z1; corners catch misplacement
        with qtbot.waitSignal(preview.previewUpdated, timeout=2000):
            plane.set_cursor_z(values[j], values[i])
        images.append(preview.image.copy())
        row = 5 - i  # the mosaic reads like the plane: highest z2 on top
        tile = plane.mosaic[row * IMAGE_SIZE:(row + 1) * IMAGE_SIZE, j * IMAGE_SIZE:(j + 1) * IMAGE_SIZE]
        assert np.abs(preview.image.astype(int) - tile).max() <= 2
        # and that tile is the one drawn under the cursor on screen
        pos = plane.image_item.mapFromScene(plane.cursor.scenePos())
        row, col = int(pos.y()) // IMAGE_SIZE, int(pos.x()) // IMAGE_SIZE
        drawn = plane.image_item.image[row * IMAGE_SIZE:(row + 1) * IMAGE_SIZE, col * IMAGE_SIZE:(col + 1) * IMAGE_SIZE]
        assert np.array_equal(drawn[::-1], tile)
    assert not np.array_equal(images[0], images[1])
    assert len(preview.latencies_ms) >= 2


def test_exported_animation_has_one_frame_per_snapshot(qtbot, window, tmp_path, monkeypatch):
    train(qtbot, window, epochs=1, batch_size=32, learning_rate=0.003)
    path = tmp_path / "training.gif"
    assert window.export_animation(path, frame_seconds=0.05)
    frames = iio.imread(path, index=None)
    assert len(frames) == len(window.session.frame_labels) == 4
    assert window.export_png(tmp_path / "grid.png")
    assert iio.imread(tmp_path / "grid.png").shape[:2] == window.plane.mosaic.shape
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert not window.export_animation(blocker / "x.gif")
    assert "x.gif" in window.last_error
    assert window.isVisible()
    # A read-only folder (simulated: tests may run as root) keeps the earlier export intact.
    before = path.read_bytes()

    def read_only(src, dst):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(dst))

    monkeypatch.setattr(os, "replace", read_only)
    assert not window.export_animation(path, frame_seconds=0.5)
    assert not window.export_png(tmp_path / "grid.png")
    monkeypatch.undo()
    assert "grid.png" in window.last_error and "Read-only" in window.last_error
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["a-file", "grid.png", "training.gif"]


def test_recorded_morph_exports_as_gif(qtbot, window, tmp_path):
    train(qtbot, window, epochs=1, batch_size=32, learning_rate=0.003)
    window.record_action.setChecked(True)
    for z in np.linspace(-1.5, 1.5, 6):
        with qtbot.waitSignal(window.preview.previewUpdated, timeout=2000):
            window.plane.set_cursor_z(z, -z)
    window.record_action.setChecked(False)
    assert window.export_morph_action.isEnabled()
    recorded = len(window.preview.recorded)
    assert recorded >= 6
    assert window.export_morph(tmp_path / "morph.gif", scale=2)
    frames = iio.imread(tmp_path / "morph.gif", index=None)
    assert len(frames) == recorded and frames.shape[1:3] == (56, 56)


def test_stop_ends_the_run_and_its_thread(qtbot, window):
    set_fields(window, epochs=500, batch_size=32)
    window.controls.start_button.click()
    qtbot.waitUntil(lambda: window.session.last_metrics is not None, timeout=60_000)
    thread = window.training.thread
    window.controls.stop_button.click()
    qtbot.waitUntil(lambda: not window.is_training(), timeout=5_000)
    assert not thread.isRunning()
    assert "stopped" in window.statusBar().currentMessage()
    assert window.controls.start_button.isEnabled()


def test_space_pauses_and_resumes_training(qtbot, window):
    set_fields(window, epochs=500, batch_size=32)
    window.controls.start_button.click()
    qtbot.waitUntil(lambda: window.session.last_metrics is not None, timeout=60_000)
    window.activateWindow()
    window.plane.view.setFocus()
    qtbot.keyClick(window.plane.view, Qt.Key.Key_Space)
    assert window.controls.state == rc.PAUSED and window.training.worker.is_paused
    assert window.controls.pause_button.text() == "Resume"
    qtbot.wait(300)
    step = window.session.last_metrics.step
    qtbot.wait(300)
    assert window.session.last_metrics.step == step
    qtbot.keyClick(window.plane.view, Qt.Key.Key_Space)
    assert window.controls.state == rc.TRAINING
    qtbot.waitUntil(lambda: window.session.last_metrics.step > step, timeout=10_000)
    window.controls.stop_button.click()
    qtbot.waitUntil(lambda: not window.is_training(), timeout=5_000)


def test_space_in_a_text_field_does_not_toggle_pause(qtbot, window):
    toggles = []
    window.pause_action.triggered.connect(lambda: toggles.append(1))
    window.activateWindow()
    field = window.controls.fields["seed"]
    field.setFocus()
    qtbot.keyClick(field, Qt.Key.Key_Space)
    assert toggles == []
    window.plane.view.setFocus()
    qtbot.keyClick(window.plane.view, Qt.Key.Key_Space)
    assert toggles == [1]


def test_closing_mid_training_stops_and_joins_the_thread(qtbot, window):
    set_fields(window, epochs=500, batch_size=32)
    window.controls.start_button.click()
    qtbot.waitUntil(lambda: window.session.last_metrics is not None, timeout=60_000)
    thread = window.training.thread
    assert thread.isRunning()
    window.close()
    assert not thread.isRunning()
    assert window.training is None


def test_other_latent_axes_are_decoded_from_the_snapshot_weights(qtbot, window):
    train(qtbot, window, epochs=1, batch_size=32, learning_rate=0.003, latent_dim=3)
    plane = window.plane
    assert plane.x_combo.isVisible() and plane.x_combo.count() == 3
    trainer_grid = plane.mosaic
    with qtbot.waitSignal(plane.gridShown, timeout=5000):
        plane.y_combo.setCurrentIndex(2)
    assert plane.axes == (0, 2) and plane.plot.getAxis("left").labelText == "z3"
    assert not np.array_equal(plane.mosaic, trainer_grid)
    assert np.abs(plane.decoder.decode_grid(6, (0, 1)).astype(int) - trainer_grid).max() <= 2
    with qtbot.waitSignal(window.preview.previewUpdated, timeout=2000):
        plane.set_cursor_z(0.5, -0.7)
    z = plane.cursor_z()
    assert z[1] == 0.0 and z[0] == pytest.approx(0.5, abs=1e-3) and z[2] == pytest.approx(-0.7, abs=1e-3)


def test_saved_model_reopens_with_its_latent_plane(qtbot, window, tmp_path):
    train(qtbot, window, epochs=1, batch_size=32, learning_rate=0.003)
    trained_grid = window.plane.mosaic.copy()
    path = tmp_path / "models" / "vae.keras"
    assert window.save_model(path)
    qtbot.waitUntil(lambda: f"Saved {path}" in window.statusBar().currentMessage() or window.last_error is not None,
                    timeout=30_000)
    assert window.last_error is None
    assert path.is_file() and path.with_suffix(".json").is_file()
    window.open_model(path)
    qtbot.waitUntil(lambda: window.plane.status.text().startswith("vae.keras"), timeout=30_000)
    qtbot.waitUntil(lambda: window.plane.mosaic is not None, timeout=10_000)
    assert np.abs(window.plane.mosaic.astype(int) - trained_grid).max() <= 2
    assert window.session.frame_labels == []

    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"not a model")
    window.open_model(bad)
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=30_000)
    assert "broken.keras" in window.last_error
    assert window.plane.status.text().startswith("vae.keras")  # the open model is still shown


def test_settings_are_remembered(qtbot, tiny_data):
    from vaestudio.gui.main_window import MainWindow

    first = MainWindow()
    qtbot.addWidget(first)
    first.controls.preset_combo.setCurrentText("fast")
    qtbot.keyClicks(first.controls.fields["epochs"], "7")  # appends a digit -> custom
    first.cpu_only_action.setChecked(True)
    first.plane.overlay_check.setChecked(True)
    first.close()
    second = MainWindow()
    qtbot.addWidget(second)
    assert second.controls.preset == "custom"
    assert second.controls.fields["epochs"].text() == f"{PRESETS['fast']['epochs']}7"
    assert second.controls.fields["batch_size"].text() == str(PRESETS["fast"]["batch_size"])
    assert second.cpu_only_action.isChecked() and second.plane.overlay_check.isChecked()
    second.close()
