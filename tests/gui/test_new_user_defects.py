"""Issue 17's defects seen by a new user, driven through the real window as a user would."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def plain_model(tmp_path_factory, recorded_run):
    """A `.keras` model of the recorded 2-d run with no side-car settings (a model file handed to a user)."""
    from vaestudio.core.store.run_folder import RunFolder
    from vaestudio.core.tf.model import model_from_weights
    from vaestudio.core.tf.model_file import save_model

    path, _config = recorded_run
    store = RunFolder(path).snapshots
    model_path = tmp_path_factory.mktemp("models") / "plain.keras"
    save_model(model_from_weights(store.load_weights(store.records()[-1])), model_path)
    assert not model_path.with_suffix(".json").exists()
    return model_path


def test_an_opened_model_shows_test_points_kl_reconstructions_and_log_likelihood(qtbot, window, plain_model):
    window.commands.answers["models"] = plain_model
    window.open_model_action.trigger()
    qtbot.waitUntil(lambda: window.studio.active is not None and window.studio.active.title() == "plain.keras"
                    or window.last_error is not None, timeout=60_000)
    assert window.last_error is None, window.last_error
    explorer = window.studio.explorer
    # the test images of the data the model was trained on (as `vaestudio inspect`): points, KL, reconstructions
    qtbot.waitUntil(lambda: explorer.pictures.means is not None and explorer.pictures.reconstructions is not None,
                    timeout=30_000)
    assert len(explorer.pictures.means) == len(explorer.probe.images) > 0
    kl = window.panel("kl")
    qtbot.waitUntil(lambda: kl.kl is not None, timeout=10_000)
    assert "active" in kl.summary.text()
    assert "not loaded" not in window.status_text()
    elbo = window.panel("elbo")
    elbo.refresh()
    assert "Waiting" not in elbo.readout.text() and "no training curves" in elbo.readout.text()
    note = window.controls.shown_note  # the Run dock: a new run's settings, the model file's shape
    assert note.isVisible() and "Settings for a new run" in note.text() and "plain.keras" in note.text()
    quality = window.panel("quality")
    quality.images.setValue(16)
    quality.samples.setValue(4)
    quality.estimate_button.click()
    qtbot.waitUntil(lambda: "log p(x) ≈" in quality.result.text(), timeout=60_000)


CLOSE_MID_TRAINING = """
import os, sys, time
os.environ['QT_QPA_PLATFORM'] = 'offscreen'
os.environ['VAESTUDIO_SETTINGS_ORG'] = 'vaestudio-tests'
os.environ['VAESTUDIO_RUNS_DIR'] = {runs!r}
from PySide6.QtCore import QSettings, QTimer
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, {settings!r})
import vaestudio.gui.main_window as main_window
from vaestudio.core.data import synthetic_dataset

data = synthetic_dataset(n_train=512, n_test=64, seed=0)


class Window(main_window.MainWindow):
    def build(self):  # the bare first window is filled by gui.app.run
        super().build()
        self.dataset_provider = lambda config: data
        self.config_overrides = dict(grid_size=6, metrics_every=1, snapshot_every=2)
        QTimer.singleShot(0, self.start)

    def start(self):
        self.controls.fields['epochs'].setText('500')
        self.controls.start_button.click()
        self.poll = QTimer(self)
        self.poll.timeout.connect(self.close_when_training)
        self.poll.start(20)

    def close_when_training(self):
        live = self.studio.live
        if live is not None and live.last_metrics is not None and live.last_metrics.step >= 12:
            self.poll.stop()
            print('CLOSING', time.time(), live.folder, flush=True)
            self.close()


main_window.MainWindow = Window
from vaestudio.gui.app import run
run([])
"""


def test_the_window_fits_a_1280x720_screen_and_showing_docks_never_grows_it_past(qtbot, window):
    from PySide6.QtCore import QRect
    from PySide6.QtWidgets import QApplication

    from vaestudio.gui.window_settings import fit_to_screen, fitting_size
    from window_helpers import train

    screen = window.screen().availableGeometry()  # a fresh profile opens at a size that fits the screen
    assert window.height() <= fitting_size(screen).height() and window.frameGeometry().top() >= screen.top()
    small = QRect(0, 0, 1280, 720)  # the new user's screen
    window.resize(1400, 900)  # as a profile saved on a larger screen
    fit_to_screen(window, small)
    assert small.contains(window.frameGeometry()), window.frameGeometry()
    train(qtbot, window, epochs=1, batch_size=32, learning_rate=0.003)
    qtbot.waitUntil(lambda: window.studio.explorer.pictures.reconstructions is not None, timeout=10_000)
    for key in ("reconstructions", "interpolation"):
        window.docks[key].show()
        window.docks[key].raise_()
        QApplication.processEvents()
        assert small.contains(window.frameGeometry()), (key, window.frameGeometry())
        assert window.minimumSizeHint().height() <= small.height() - 48, key
    strip = window.panel("reconstructions").strip
    strip.canvas.repaint()
    captions = [line for tile in strip.tiles for row in tile.captions for line in row.splitlines()]
    shown = [line for tile in strip._elided for row in tile for line in row]
    assert captions and shown == captions  # class names and ELBO values are never cut ("−10…")


def test_the_menus_record_morph_and_the_preview_button_are_one_recording(qtbot, window, tmp_path):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QKeySequence
    from window_helpers import train

    train(qtbot, window, epochs=1, batch_size=32, learning_rate=0.003)
    qtbot.waitUntil(lambda: window.studio.explorer.vae is not None, timeout=10_000)
    preview, action, view = window.panel("cursor_preview"), window.record_action, window.studio.view
    assert action.shortcut() == QKeySequence("Ctrl+R")
    dialogs = []
    asked = window.commands.ask_save_path

    def counted(*args, **kwargs):
        dialogs.append(args)
        return asked(*args, **kwargs)

    window.commands.ask_save_path = counted
    action.trigger()  # Ctrl+R: the preview's button shows it
    assert preview.record_button.isChecked() and preview.record_button.text().startswith("Stop recording")
    view.move_cursor_on_plane(0.5, 0.5)
    view.move_cursor_on_plane(-0.5, 0.2)
    assert preview.record_button.text() == f"Stop recording ({len(window.recorder.frames)} frames)"
    target = tmp_path / "morph.gif"
    window.commands.answers["exports"] = str(target)
    qtbot.mouseClick(preview.record_button, Qt.MouseButton.LeftButton)  # stopped from the other control
    assert not window.recorder.recording and not action.isChecked() and not preview.record_button.isChecked()
    assert target.is_file() and len(dialogs) == 1  # one save dialog, now and later
    process_events()
    assert len(dialogs) == 1
    qtbot.mouseClick(preview.record_button, Qt.MouseButton.LeftButton)  # the button starts it: the menu shows it
    assert action.isChecked() and window.recorder.recording
    window.commands.answers["exports"] = None
    action.trigger()
    assert not preview.record_button.isChecked() and preview.record_button.text() == "Record morph"
    assert len(dialogs) == 2


def process_events() -> None:  # let any queued dialog show up
    from PySide6.QtWidgets import QApplication

    for _ in range(5):
        QApplication.processEvents()


def test_a_cpu_split_chosen_after_start_up_says_restart_at_once_and_start_still_trains(qtbot, window):
    from vaestudio.gui.devices_menu import restart_command
    from vaestudio.gui.state.studio import READY
    from window_helpers import train

    window.load_tensorflow()
    qtbot.waitUntil(lambda: window.studio.tf_status == READY, timeout=60_000)
    menu = window.devices_menu
    two = [action for action in window.devices_group.actions() if action.data() == "2"]
    assert two and menu.in_force == 1
    two[0].trigger()  # Settings → Train on → 2 × CPU
    assert "takes effect after a restart" in window.status_text() and "Restart now" in window.status_text()
    qtbot.waitUntil(lambda: menu.restart_action is not None, timeout=2_000)
    assert "applies on restart" in [a for a in window.devices_group.actions() if a.data() == "2"][0].text()
    assert menu.restart_action in menu.actions() and "Restart now" in menu.restart_action.text()
    train(qtbot, window, epochs=1, batch_size=32, learning_rate=0.003)  # on the devices in force: no "failed"
    assert window.studio.active.started_event.replicas == 1 and "failed" not in window.status_text()
    launched = []
    menu.launch = launched.append
    menu.restart_action.trigger()
    assert not window.isVisible() and launched == [restart_command()]


def test_after_continue_the_fields_show_the_live_applied_rate_and_the_endpoints_are_kept(qtbot, window):
    import pytest

    from vaestudio.gui.state.latent_view import Endpoint
    from window_helpers import set_fields, wait_idle

    set_fields(window, epochs=50, batch_size=32, learning_rate=0.002)
    window.controls.start_button.click()
    qtbot.waitUntil(lambda: window.studio.live is not None and window.studio.live.last_metrics is not None,
                    timeout=60_000)
    controls, history = window.controls, window.studio.live
    controls.fields["learning_rate"].setText("0.001")
    controls.apply_button.click()
    qtbot.waitUntil(lambda: history.last_metrics.learning_rate == pytest.approx(0.001), timeout=20_000)
    view = window.studio.view
    view.set_endpoint("a", Endpoint.point((0.5, -0.5)))
    view.set_endpoint("b", Endpoint.test_image(3))
    controls.stop_button.click()
    wait_idle(qtbot, window)
    controls.fields["learning_rate"].setText("0.002")  # the field as a new run would start
    window.commands.answers["continue_or_new"] = "Continue that run"
    controls.start_button.click()
    qtbot.waitUntil(lambda: window.studio.live is not None and window.studio.live.last_metrics is not None
                    and window.studio.live.last_metrics.step > history.last_metrics.step, timeout=60_000)
    live = window.studio.live
    assert live.last_metrics.learning_rate == pytest.approx(0.001)  # what it trains at...
    assert controls.fields["learning_rate"].value() == pytest.approx(0.001)  # ...is what the field shows
    assert view.endpoint_a == Endpoint.point((0.5, -0.5)) and view.endpoint_b == Endpoint.test_image(3)
    controls.stop_button.click()
    wait_idle(qtbot, window)


def test_the_after_stop_message_is_whole_in_a_1280_pixel_window(qtbot, window):
    from window_helpers import set_fields, wait_idle

    window.resize(1264, 672)
    set_fields(window, epochs=500, batch_size=32)
    window.controls.start_button.click()
    qtbot.waitUntil(lambda: window.studio.live is not None and window.studio.live.last_metrics is not None,
                    timeout=60_000)
    window.controls.stop_button.click()
    wait_idle(qtbot, window, 10_000)
    qtbot.wait(50)
    label = window.message_label
    assert label.text() == window.status_text() and label.text().endswith("continue it, or start a new run")
    assert label.toolTip() == window.status_text()
    assert window.status.open_folder_button.isVisible()  # where the run is: one click away
    assert label.geometry().right() < window.status.open_folder_button.geometry().left()


def test_the_elbo_legend_never_covers_the_curves_of_a_short_run_with_split_on(qtbot, window):
    from PySide6.QtCore import QPointF
    from window_helpers import train

    window.resize(1264, 672)
    train(qtbot, window, epochs=2, batch_size=32, learning_rate=0.003)
    elbo = window.elbo
    window.docks["elbo"].raise_()
    qtbot.waitUntil(lambda: elbo.plot.isVisible(), timeout=5_000)
    elbo.split_check.setChecked(True)
    elbo.refresh()
    qtbot.wait(50)
    legend = elbo.legend.sceneBoundingRect()
    vb = elbo.plot.getPlotItem().vb
    for view, curve in [(vb, elbo.train_curve), (vb, elbo.test_curve), (vb, elbo.ll_curve),
                        (elbo.kl_view, elbo.kl_curve)]:
        xs, ys = curve.getData()
        assert len(xs) > 0
        for x, y in zip(xs, ys):
            point = view.mapViewToScene(QPointF(float(x), float(y)))
            assert not legend.contains(point), (curve.name(), x, y)


def test_the_timeline_label_reads_whole_with_no_run(qtbot, window):
    window.resize(1264, 672)
    qtbot.wait(50)
    assert window.timeline.label.text() == "No run shown" == window.timeline.moment_text()


def test_encode_image_raises_its_tab_and_draws_a_large_outlined_marker(qtbot, window, recorded_run, tmp_path):
    import numpy as np
    from PIL import Image


    own_dock = window.docks["own_images"]
    assert own_dock.visibleRegion().isEmpty()  # the right-hand tabs open on the latent dimensions
    window.opening.open_run(recorded_run[0])
    qtbot.waitUntil(lambda: window.studio.explorer.vae is not None, timeout=30_000)
    picture = np.zeros((28, 28), np.uint8)
    picture[8:20, 10:18] = 255
    image = tmp_path / "mine.png"
    Image.fromarray(picture).save(image)
    window.commands.answers["images"] = image
    window.encode_action.trigger()
    qtbot.waitUntil(lambda: window.studio.explorer.pictures.own is not None
                    and len(window.studio.explorer.pictures.own) == 1, timeout=10_000)
    assert not own_dock.visibleRegion().isEmpty()  # its tab was raised
    marker = window.panel("latent_plane").own_item
    assert marker.isVisible() and marker.opts["size"] >= 20
    pen = marker.opts["pen"]
    assert pen.widthF() >= 2 and pen.color().lightness() < 60  # a dark outline around the green star


def test_the_run_dock_says_its_fields_are_a_new_runs_while_an_opened_run_is_shown(qtbot, window, recorded_run):
    from window_helpers import train

    path, config = recorded_run
    note = window.controls.shown_note
    assert not note.isVisible()
    window.opening.open_run(path)
    qtbot.waitUntil(lambda: note.isVisible(), timeout=10_000)
    text = note.text()
    assert "Settings for a new run" in text and path.name in text
    assert f"batch {config.batch_size}" in text and f"{config.epochs} epochs" in text
    train(qtbot, window, epochs=1, batch_size=32, learning_rate=0.003)  # the run trained here: its own fields
    assert not note.isVisible()


@pytest.fixture(scope="module", autouse=True)
def closed_mid_training(request, tmp_path_factory):
    """CLOSE_MID_TRAINING in a fresh process, started before this module's other tests (if its test runs), and a
    thread that waits for it: (its stdout, stderr, exit code, and the time it ended)."""
    import subprocess
    import sys
    import threading
    import time
    from pathlib import Path

    wanted = any(item.module is request.module and item.originalname == CLOSED_TEST for item in request.session.items)
    if not wanted:
        yield None
        return
    base = tmp_path_factory.mktemp("closed-mid-training")
    code = CLOSE_MID_TRAINING.format(runs=str(base / "runs"), settings=str(base / "settings"))
    repo = Path(__file__).resolve().parents[2]
    child = subprocess.Popen([sys.executable, "-c", code], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, text=True)
    ended = {}

    def wait() -> None:
        out, err = child.communicate()
        ended.update(stdout=out, stderr=err, returncode=child.returncode, at=time.time())

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    yield waiter, ended
    if child.poll() is None:
        child.kill()
    waiter.join()


CLOSED_TEST = "test_closing_while_training_ends_the_process_at_once_with_the_runs_files_of_one_step"


def test_closing_while_training_ends_the_process_at_once_with_the_runs_files_of_one_step(closed_mid_training):
    """The real start-up path (gui.app.run) on a tiny run, its window closed mid-training; the exit is
    timed from the close (a generous bound: what is measured is reported, not asserted)."""
    import json
    from pathlib import Path

    from vaestudio.core.store.checkpoint import load_checkpoint
    from vaestudio.core.store.metrics_log import MetricsLog

    waiter, ended = closed_mid_training
    waiter.join(timeout=600)
    assert ended, "the app was still running after 10 minutes"
    line = ended["stdout"].splitlines()[0] if ended["stdout"] else ""
    assert line.startswith("CLOSING"), ended["stderr"][-3000:]
    assert ended["returncode"] == 0, ended["stderr"][-3000:]
    seconds = ended["at"] - float(line.split()[1])  # from the close (the app's clock) to its end (this one's)
    assert seconds < 5, f"the process lived {seconds:.2f} s after its window closed"
    folder = Path(line.split()[2])
    facts = json.loads((folder / "run.json").read_text())
    checkpoint = load_checkpoint(folder / "checkpoint.npz")
    last_row = [r for r in MetricsLog(folder / "metrics.csv").rows() if r["kind"] == "step"][-1]
    assert facts["ended"] == "stopped" and facts["saved_step"] == checkpoint.step == last_row["step"] >= 12
    for name in ("model.keras", "grid_final.png", "training.gif"):
        assert (folder / name).stat().st_size > 0, name
    assert not list(folder.glob(".*.part*"))  # nothing half-written


def test_the_dock_tabs_are_whole_in_a_1280x720_window_and_name_their_panels_in_full(qtbot, window):
    """The right-hand tabs share about 346 px at 1280x720 (Qt elided them to "Your i…", "Drawin…"): each tab's
    text is whole; a shortened one ("Draw", "Dimensions") names its panel in full in its tooltip and in the
    View menu."""
    from PySide6.QtWidgets import QApplication, QTabBar

    from vaestudio.gui.docks import size_docks

    window.resize(1280, 720)
    size_docks(window, window.docks, window.controls.sizeHint().width() + 24)  # the start proportions
    QApplication.processEvents()
    full_names = {"Your images", "Drawing pad", "Latent dimensions", "Traversals"}

    def right_hand_bar() -> QTabBar | None:
        for bar in window.findChildren(QTabBar):
            if bar.parent() is window and bar.isVisible() and bar.count() == 4:
                return bar
        return None

    qtbot.waitUntil(lambda: right_hand_bar() is not None
                    and {right_hand_bar().tabToolTip(i) for i in range(4)} == full_names)
    bar = right_hand_bar()
    assert bar.geometry().left() > window.width() * 0.6  # the right-hand column's tabs
    texts = [bar.tabText(i) for i in range(bar.count())]
    assert texts == ["Your images", "Draw", "Dimensions", "Traversals"]
    for index, text in enumerate(texts):  # as wide as its whole text needs: not elided
        assert bar.tabRect(index).width() >= bar.tabSizeHint(index).width(), (text, bar.tabRect(index))
        assert bar.tabRect(index).right() <= bar.width()
    view_menu = {action.text() for action in window.view_menu.actions()}
    assert full_names <= view_menu and not {"Draw", "Dimensions"} & view_menu
