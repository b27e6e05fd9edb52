"""The shell's panels and controllers driven as a user would, on a recorded run (no training): opening a run
read-only, the timeline, the ELBO plot, the runs panel, the status bar, encoding an image; and closing the
app with SIGTERM while it trains."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

REPO = Path(__file__).resolve().parents[2]


def open_recorded(qtbot, window, folder):
    window.commands.answers["runs"] = folder
    window.open_run_action.trigger()
    history = window.studio.active
    assert history is not None and history.folder == folder, window.last_error
    qtbot.waitUntil(lambda: not window.opening.is_replaying(history), timeout=30_000)
    return history


def test_a_run_opens_read_only_and_the_timeline_scrubs_through_it(qtbot, window, recorded_run):
    path, _config = recorded_run
    history = open_recorded(qtbot, window, path)
    assert len(history.snapshots) == 5 and len(history.curves["test_elbo"]) == 2
    assert "(finished)" in window.windowTitle() and "Opened" in window.status_text()
    timeline, explorer = window.timeline, window.studio.explorer
    assert timeline.slider.maximum() == 4 and timeline.slider.value() == 4 and history.following
    assert not timeline.live_button.isEnabled()
    timeline.slider.setValue(0)  # drag to the start of training
    assert history.current.label == "before training" and not history.following
    qtbot.waitUntil(lambda: explorer.pictures.info is not None and explorer.pictures.info.index == 0, timeout=10_000)
    assert timeline.moment_text().startswith("before training · step 0 · 1/5")
    assert window.elbo.moment_line.value() == 0 and window.elbo.moment_line.isVisible()
    assert timeline.live_button.isEnabled()
    timeline.slider.setFocus()
    QTest.keyClick(timeline.slider, Qt.Key.Key_Right)
    assert history.current.index == 1
    window.forward_action.trigger()  # Alt+Right anywhere
    assert history.current.index == 2
    window.back_action.trigger()
    assert history.current.index == 1
    timeline.live_button.click()
    assert history.following and history.current.index == 4 and timeline.live_button.isChecked()
    timeline.slider.setValue(2)
    timeline.slider.setValue(4)  # reaching the end follows again
    assert history.following


def test_clicking_the_elbo_plot_shows_the_snapshot_at_that_step(qtbot, window, recorded_run):
    path, _config = recorded_run
    history = open_recorded(qtbot, window, path)
    window.docks["elbo"].raise_()
    elbo = window.elbo
    elbo.refresh()
    qtbot.waitUntil(lambda: elbo.plot.isVisible(), timeout=5000)
    qtbot.wait(200)  # the view takes its range from the curves when it is next painted
    target = history.snapshots[2]  # epoch 1, batch 3 (step 3)
    vb = elbo.plot.getPlotItem().vb
    y = sum(vb.viewRange()[1]) / 2
    scene = vb.mapViewToScene(pg_point(elbo.x_of(history, [target.step + 0.4])[0], y))  # x: images seen
    widget_pos = elbo.plot.mapFromScene(scene)
    QTest.mouseClick(elbo.plot.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(int(widget_pos.x()),
                                                                                   int(widget_pos.y())))
    qtbot.waitUntil(lambda: history.current.index == target.index, timeout=3000)
    assert "shown: epoch 1, batch 3" in elbo.readout.text()


def pg_point(x, y):
    from PySide6.QtCore import QPointF

    return QPointF(float(x), float(y))


def test_compared_runs_are_overlaid_with_a_legend_clear_of_the_early_curve(qtbot, window, recorded_run, tmp_path):
    path, _config = recorded_run
    other = tmp_path / "run-b"
    shutil.copytree(path, other)
    open_recorded(qtbot, window, path)
    open_recorded(qtbot, window, other)
    runs = window.runs_panel
    assert runs.open_list.count() == 2
    first = runs.open_list.item(0)
    assert first.text().startswith("run-a")
    first.setCheckState(Qt.CheckState.Checked)  # overlay run-a's curves on run-b's
    assert [h.folder for h in window.studio.compared] == [path]
    elbo = window.elbo
    labels = [label.text for _, label in elbo.legend.items]
    assert "run-a: train" in labels and "run-a: test" in labels
    train_curve, _ = elbo.compared_curves[id(window.studio.compared[0])]
    assert len(train_curve.getData()[0]) == 8
    window.docks["elbo"].raise_()
    qtbot.waitUntil(lambda: elbo.plot.isVisible(), timeout=5000)
    vb = elbo.plot.getPlotItem().vb
    legend, box = elbo.legend.sceneBoundingRect(), vb.sceneBoundingRect()
    # In the lower right, where an ELBO curve (rising from far below, then flattening high up) is not.
    assert legend.right() <= box.right() + 1 and legend.bottom() <= box.bottom() + 1
    assert legend.center().x() > box.center().x() and legend.center().y() > box.center().y()
    assert vb.viewRange()[0][0] >= 0  # no negative steps
    first.setCheckState(Qt.CheckState.Unchecked)
    assert window.studio.compared == [] and not elbo.compared_curves


def test_the_runs_panel_selects_closes_and_remembers_runs(qtbot, make_window, recorded_run, tmp_path):
    path, _config = recorded_run
    window = make_window()
    other = tmp_path / "run-b"
    shutil.copytree(path, other)
    a, b = open_recorded(qtbot, window, path), open_recorded(qtbot, window, other)
    runs = window.runs_panel
    assert window.studio.active is b
    runs.open_list.setCurrentRow(0)
    assert window.studio.active is a and "run-a" in window.windowTitle()
    assert "completed" in runs.open_list.item(0).text() and "2/2 epochs" in runs.open_list.item(0).text()
    runs.close_selected()
    assert window.studio.runs == [b] and window.studio.active is b
    assert [runs.recent_list.item(i).text() for i in range(runs.recent_list.count())] == ["run-a"]
    window.close()
    again = make_window()  # recent runs are remembered
    assert [p.name for p in again.opening.recent()][:2] == ["run-b", "run-a"]
    item = again.runs_panel.recent_list.item(0)
    name = item.text()
    again.runs_panel.recent_list.itemActivated.emit(item)
    qtbot.waitUntil(lambda: again.studio.active is not None and not again.opening.is_replaying(), timeout=30_000)
    assert again.studio.active.folder.name == name
    again.close()


def test_a_folder_another_process_writes_is_marked_and_followed(qtbot, window, recorded_run, tmp_path):
    from vaestudio.core.store.lock import RunLock
    from vaestudio.core.store.metrics_log import MetricsLog

    path, _config = recorded_run
    folder = tmp_path / "being-written"
    shutil.copytree(path, folder)
    lock = RunLock(folder).acquire()  # another writer (this process, through its own lock file handle)
    try:
        window.opening._follow_timer.setInterval(100)
        history = open_recorded(qtbot, window, folder)
        text = window.runs_panel.open_list.item(0).text()
        assert f"being written by PID {os.getpid()}" in text
        assert "another vaestudio process" in window.status_text()
        MetricsLog(folder / "metrics.csv").append_step(3, 9, -150.0, -140.0, 10.0, 100.0)
        qtbot.waitUntil(lambda: len(history.curves["train_elbo"]) == 9, timeout=5000)
        assert history.last_metrics.step == 9
    finally:
        lock.release()
    qtbot.waitUntil(lambda: id(history) not in window.opening.writers, timeout=5000)
    window.runs_panel._refresh_texts()
    assert "being written" not in window.runs_panel.open_list.item(0).text()


def test_a_run_whose_test_images_cannot_be_loaded_still_shows_its_grids(qtbot, window, recorded_run):
    from vaestudio.core.errors import DataError

    def missing(_config):
        raise DataError("fashion_mnist: the dataset files were not found")

    window.dataset_provider = missing
    path, _config = recorded_run
    open_recorded(qtbot, window, path)
    qtbot.waitUntil(lambda: "test images of this run could not be loaded" in window.status_text(), timeout=10_000)
    qtbot.waitUntil(lambda: window.studio.explorer.pictures.grid is not None, timeout=10_000)


def test_the_status_bar_elides_long_messages_and_never_clips_its_labels(qtbot, window):
    window.resize(640, 480)
    qtbot.wait(50)
    long = "Training completed: 10 epochs. The run is in " + "/very/long/folder" * 20
    window.show_message(long)
    qtbot.wait(50)
    label = window.message_label
    assert label.toolTip() == long and label.text() != long and "…" in label.text()
    run_label = window.run_label
    assert run_label.text() == "No run yet"
    assert run_label.width() >= run_label.fontMetrics().horizontalAdvance("No run yet")
    assert label.geometry().right() < run_label.geometry().left()
    assert run_label.geometry().right() < window.device_label.geometry().left()
    window.resize(1400, 900)


def test_encode_image_hands_the_image_to_the_explorer(qtbot, window, recorded_run, tmp_path):
    path, _config = recorded_run
    open_recorded(qtbot, window, path)
    picture = np.full((90, 60), 255, np.uint8)  # a dark stroke on white, any size
    picture[20:70, 25:35] = 0
    image = tmp_path / "my drawing.png"
    Image.fromarray(picture).save(image)
    window.commands.answers["images"] = image
    window.encode_action.trigger()
    qtbot.waitUntil(lambda: len(window.studio.view.own_images) == 1, timeout=10_000)
    (own,) = window.studio.view.own_images
    assert own.name == "my drawing.png" and own.preview.shape == (28, 28) and own.inputs.shape == (28, 28, 1)
    assert own.preview[0, 0] == 0 and own.preview.max() == 255  # the light background was inverted
    assert "inverted" in window.status_text()
    qtbot.waitUntil(lambda: window.studio.explorer.pictures.own is not None
                    and len(window.studio.explorer.pictures.own) == 1, timeout=10_000)
    bad = tmp_path / "not-an-image.png"
    bad.write_bytes(b"nothing")
    window.commands.answers["images"] = bad
    window.encode_action.trigger()
    qtbot.waitUntil(lambda: window.last_error is not None and "not-an-image.png" in window.last_error, timeout=10_000)
    assert len(window.studio.view.own_images) == 1


def test_image_files_dropped_on_the_window_are_encoded(qtbot, window, recorded_run, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    path, _config = recorded_run
    open_recorded(qtbot, window, path)
    files = []
    for name in ("a.png", "b.png"):
        picture = np.zeros((28, 28), np.uint8)
        picture[5:20, 8:12] = 255
        Image.fromarray(picture).save(tmp_path / name)
        files.append(tmp_path / name)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(f)) for f in files])
    drop = QDropEvent(QPointF(200, 200), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                      Qt.KeyboardModifier.NoModifier)
    window.dropEvent(drop)
    qtbot.waitUntil(lambda: [o.name for o in window.studio.view.own_images] == ["a.png", "b.png"], timeout=10_000)


SIGNALLED_APP = """
import os, sys, time
os.environ['QT_QPA_PLATFORM'] = 'offscreen'
os.environ['VAESTUDIO_SETTINGS_ORG'] = 'vaestudio-tests'
os.environ['VAESTUDIO_RUNS_DIR'] = {runs!r}
from PySide6.QtCore import QSettings, QTimer
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, {settings!r})
from vaestudio.core.data import synthetic_dataset
from vaestudio.gui import app as app_module
from vaestudio.gui.main_window import MainWindow
app = app_module.create_application()
window = MainWindow(); window.exit_fast = True
data = synthetic_dataset(n_train=512, n_test=32, seed=0)
window.dataset_provider = lambda config: data
window.config_overrides = dict(grid_size=6, metrics_every=1, snapshot_every=2)
window.controls.fields['epochs'].setText('500'); window.controls.fields['batch_size'].setText('32')
closer = app_module.SignalCloser(window)
window.show()
window.controls.start()
def report():
    live = window.studio.live
    if live is not None and live.last_metrics is not None and live.last_metrics.step >= 3:
        print('training', live.folder, flush=True)
    else:
        QTimer.singleShot(50, report)
QTimer.singleShot(50, report)
app.exec()
print('closed', flush=True)
app_module.leave(0)
"""


@pytest.fixture(scope="module")
def signalled_apps(request, tmp_path_factory):
    """The app training in a fresh process, one for each signal this session sends: all started at once, so that
    their start-ups (Python, Qt, TensorFlow) run side by side. Each: (process, its stderr file)."""
    names = [item.callspec.params["name"] for item in request.session.items if item.module is request.module
             and item.originalname == "test_a_signal_closes_the_app_like_its_close_button"]
    apps = {}
    try:
        for name in names:
            base = tmp_path_factory.mktemp(f"signalled-{name}")
            code = SIGNALLED_APP.format(runs=str(base / "runs"), settings=str(base / "settings"))
            with open(base / "stderr", "wb") as stderr:
                apps[name] = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=stderr,
                                              stdin=subprocess.DEVNULL, text=True, cwd=REPO), base / "stderr"
        yield apps
    finally:
        for child, _ in apps.values():
            if child.poll() is None:
                child.kill()
                child.wait()


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_a_signal_closes_the_app_like_its_close_button(signalled_apps, name):
    """SIGTERM / SIGHUP while training: the checkpoint is saved and the process ends quickly."""
    child, stderr = signalled_apps[name]
    errors = lambda: stderr.read_text(errors="replace")[-3000:]  # noqa: E731
    try:
        line = child.stdout.readline()
        assert line.startswith("training"), line + errors()
        folder = Path(line.split(maxsplit=1)[1].strip())
        sent = time.monotonic()
        child.send_signal(getattr(signal, name))
        child.wait(timeout=30)
        seconds = time.monotonic() - sent
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, errors()
    assert seconds < 20, f"the process took {seconds:.2f} s to end"  # a hang, not a speed check (benchmarks)
    from vaestudio.core.store.checkpoint import load_checkpoint

    assert load_checkpoint(folder / "checkpoint.npz").step >= 3
    assert not list(folder.glob(".*.part*"))


def test_the_studio_compares_only_open_runs_and_forgets_closed_ones():
    from vaestudio.gui.state.explorer import InlineExecutor
    from vaestudio.gui.state.run_history import RunHistory
    from vaestudio.gui.state.studio import Studio

    studio = Studio(InlineExecutor())
    a, b, stray = RunHistory("a", folder="/runs/a"), RunHistory("b", folder="/runs/b"), RunHistory("stray")
    studio.add_run(a)
    studio.add_run(b)
    changes = []
    studio.compared_changed.connect(lambda: changes.append(list(studio.compared)))
    studio.set_compared(a, True)
    studio.set_compared(a, True)  # already compared: no change
    studio.set_compared(stray, True)  # not open: refused
    assert studio.compared == [a] and changes == [[a]]
    studio.close_run(a)
    assert studio.compared == [] and changes[-1] == []
    studio.set_compared(b, True)
    studio.add_run(RunHistory("b again", folder="/runs/b"))  # the same folder opened again replaces b
    assert studio.compared == []
