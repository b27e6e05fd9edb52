"""The image panels driven as a user drives them: reconstructions, interpolation, own images, the drawing
pad and the quality estimate. Each test clicks, drops files or draws with the mouse, and checks what the
user sees: painted pixels, captions, labels, enabled buttons, files written.

The run is made of a few snapshots with random weights (no training, no TensorFlow) so the panels are
fast to test; only the quality estimate loads TensorFlow.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from random_weights import random_weights  # noqa: E402

from vaestudio.core import probes  # noqa: E402
from vaestudio.core.config import TrainConfig  # noqa: E402
from vaestudio.core.events import EpochEnd, Snapshot, Started  # noqa: E402
from vaestudio.core.numpy_vae import NumpyVAE  # noqa: E402
from vaestudio.gui.commands import Commands  # noqa: E402
from vaestudio.gui.panels.drawing_pad import MIN_UPDATE_MS, DrawingPadPanel  # noqa: E402
from vaestudio.gui.panels.interpolation import InterpolationPanel  # noqa: E402
from vaestudio.gui.panels.own_images import OwnImagesPanel  # noqa: E402
from vaestudio.gui.panels.quality import QualityPanel  # noqa: E402
from vaestudio.gui.panels.reconstructions import ReconstructionsPanel  # noqa: E402
from vaestudio.gui.state.explorer import InlineExecutor, Probe  # noqa: E402
from vaestudio.gui.state.latent_view import Endpoint  # noqa: E402
from vaestudio.gui.state.run_history import RunHistory  # noqa: E402
from vaestudio.gui.state.studio import Studio  # noqa: E402

SNAPSHOT_STEPS = (0, 4, 8)


# -- fixtures -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def probe():
    from vaestudio.core.data import synthetic_dataset

    return Probe.from_dataset(synthetic_dataset(n_train=16, n_test=40, seed=5))


def make_history(latent_dim: int = 2, **shape) -> RunHistory:
    """A run of three snapshots (steps 0, 4, 8), each with its own random weights, and two epoch ends."""
    config = TrainConfig.from_preset("custom", epochs=2, latent_dim=latent_dim, grid_size=4, **shape)
    history = RunHistory(name="tiny", config=config)
    history.feed(Started(2, 4, 1, "CPU"))
    architecture = config.architecture
    for n, step in enumerate(SNAPSHOT_STEPS):
        label = "before training" if step == 0 else f"epoch {step // 4}, batch 4"
        history.feed(Snapshot(step // 4, step, label, np.zeros((112, 112), np.uint8),
                              random_weights(architecture, seed=10 + n), frame=n))
        if step:
            history.feed(EpochEnd(step // 4, step, -200.0 - step, -190.0, 10.0, 1.0))
    return history


@pytest.fixture
def studio(probe):
    studio = Studio(InlineExecutor())
    history = make_history()
    studio.add_run(history)
    studio.set_probe(history, probe)
    return studio


@pytest.fixture
def commands(studio, tmp_path):
    return Commands(studio, QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


class Deferred:
    """An executor that runs tasks only when told (as a busy thread pool would, later)."""

    def __init__(self):
        self.tasks = []

    def submit(self, fn, on_done, on_error=None, key=None):
        self.tasks.append((fn, on_done))

    def run_one(self):
        fn, on_done = self.tasks.pop(0)
        on_done(fn())

    def run_all(self):
        while self.tasks:
            self.run_one()


def shown(qtbot, panel, width=900, height=420):
    qtbot.addWidget(panel)
    panel.resize(width, height)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def painted(strip, column: int, row: int = 0) -> np.ndarray:
    """The picture a user sees in one cell of a strip, read back from the screen at the image's resolution
    (28 x 28: the centre of each magnified pixel)."""
    picture = strip.canvas.grab().toImage()
    rect = strip.tile_rect(column, row)
    size = 28
    values = np.zeros((size, size), np.uint8)
    for i in range(size):
        for j in range(size):
            x = rect.left() + int((j + 0.5) * rect.width() / size)
            y = rect.top() + int((i + 0.5) * rect.height() / size)
            values[i, j] = QColor(picture.pixel(x, y)).red()
    return values


def caption_darkest(strip, column: int, row: int) -> int:
    """The darkest grey in the caption under a cell (text in the palette's dark text colour is near 0)."""
    picture = strip.canvas.grab().toImage()
    rect = strip.tile_rect(column, row)
    line = strip._line
    return min(QColor(picture.pixel(x, y)).red() for x in range(rect.left(), rect.right())
               for y in range(rect.bottom() + 2, rect.bottom() + line))


def click_tile(strip, column: int, row: int = 0, button=Qt.MouseButton.LeftButton) -> None:
    strip.ensureVisible(strip.tile_rect(column, row).center().x(), 0)
    QTest.mouseClick(strip.canvas, button, pos=strip.tile_rect(column, row).center())


def drop_files(widget, paths) -> bool:
    """Drag files over `widget` and drop them there, as a file manager does; True when the drop was taken."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
    return bool(event.isAccepted())


# -- reconstructions ------------------------------------------------------------------------------------------
def test_reconstructions_show_one_image_per_class_above_its_reconstruction_with_its_elbo(qtbot, studio, commands,
                                                                                         probe):
    panel = shown(qtbot, ReconstructionsPanel(studio, commands))
    fixed = probe.first_of_each_class()
    assert panel.indices == fixed and len(panel.strip.tiles) == 10
    vae = NumpyVAE(studio.active.weights_at(studio.active.current))
    expected = probes.reconstruct(vae, probe.images[list(fixed)])
    for column in (0, 6):
        tile = panel.strip.tiles[column]
        assert tile.captions[0] == probe.class_name(fixed[column])
        assert tile.captions[1] == f"{expected.elbo[column]:.1f}".replace("-", "−")
        np.testing.assert_array_equal(painted(panel.strip, column, 0), probe.images[fixed[column]])
        np.testing.assert_array_equal(painted(panel.strip, column, 1), expected.images[column])
    assert "reconstructions" in panel.header.text() and "mean" in panel.header.text()


def test_reconstructions_follow_the_timeline(qtbot, studio, commands, probe):
    panel = shown(qtbot, ReconstructionsPanel(studio, commands))
    latest = painted(panel.strip, 2, 1)
    studio.active.select(0)
    assert "before training" in panel.header.text()
    earlier = probes.reconstruct(NumpyVAE(studio.active.weights_at(studio.active.snapshots[0])),
                                 probe.images[list(probe.first_of_each_class())])
    now = painted(panel.strip, 2, 1)
    np.testing.assert_array_equal(now, earlier.images[2])
    assert not np.array_equal(now, latest)


def test_while_a_new_moment_is_reconstructed_the_old_pictures_stay_greyed(qtbot, probe, tmp_path):
    executor = Deferred()
    studio = Studio(executor)
    history = make_history()
    studio.add_run(history)
    studio.set_probe(history, probe)
    executor.run_all()
    panel = shown(qtbot, ReconstructionsPanel(studio, Commands(studio, QSettings(str(tmp_path / "s.ini"),
                                                                                  QSettings.Format.IniFormat))))
    latest = painted(panel.strip, 3, 1)
    history.select(0)
    executor.run_one()  # the snapshot's weights are loaded; its reconstructions are not computed yet
    assert panel.strip.dimmed and "reconstructing" in panel.header.text()
    assert panel.strip.tiles[3].images[1] is not None  # the old reconstruction, not a blank
    executor.run_all()
    assert not panel.strip.dimmed and "before training" in panel.header.text()
    assert not np.array_equal(painted(panel.strip, 3, 1), latest)


def test_clicking_two_reconstructions_picks_the_interpolation_endpoints(qtbot, studio, commands, probe):
    panel = shown(qtbot, ReconstructionsPanel(studio, commands))
    messages = []
    studio.message.connect(lambda text, _ms: messages.append(text))
    click_tile(panel.strip, 1, 1)
    click_tile(panel.strip, 4, 0)
    fixed = probe.first_of_each_class()
    assert studio.view.endpoint_a == Endpoint("test", fixed[1], (), studio.view.endpoint_a.label)
    assert studio.view.endpoint_b.index == fixed[4]
    assert panel.strip.tiles[1].badge == "A" and panel.strip.tiles[4].badge == "B"
    assert all(caption_darkest(panel.strip, column, 1) < 90 for column in (0, 2, 5))  # readable after a badge
    assert messages[-1].startswith("Interpolation endpoint B: test image")
    assert studio.explorer.pictures.interpolation is not None


def test_an_inspected_test_image_can_be_added_to_the_strip_and_removed_again(qtbot, studio, commands, probe):
    panel = shown(qtbot, ReconstructionsPanel(studio, commands))
    assert not panel.add_button.isEnabled()
    extra = next(i for i in range(len(probe.images)) if i not in probe.first_of_each_class())
    studio.view.inspected_test_image = extra  # what clicking a point of the plane's overlay does
    assert panel.add_button.isEnabled() and f"test image {extra}" in panel.add_button.text()
    qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    assert panel.indices[-1] == extra and len(panel.strip.tiles) == 11
    assert panel.strip.tiles[-1].captions[1] != "…"  # reconstructed at once (inline executor)
    assert not panel.add_button.isEnabled()
    fixed_menu = [a.text() for a in panel.context_menu(0).actions()]
    assert "Remove from the strip" not in fixed_menu
    menu = panel.context_menu(10)
    remove = next(a for a in menu.actions() if a.text() == "Remove from the strip")
    remove.trigger()
    assert extra not in panel.indices and len(panel.strip.tiles) == 10
    with pytest.raises(ValueError):  # a fixed image (or one never added) cannot be removed
        studio.view.remove_reconstruction(probe.first_of_each_class()[0])


def test_reconstructions_say_what_is_missing(qtbot, commands):
    studio = Studio(InlineExecutor())
    panel = shown(qtbot, ReconstructionsPanel(studio, Commands(studio, commands.settings)))
    assert not panel.strip.tiles and "No run yet" in panel.strip.placeholder
    history = make_history()
    studio.add_run(history)
    assert "not loaded" in panel.strip.placeholder


# -- interpolation ------------------------------------------------------------------------------------------
def test_without_endpoints_the_interpolation_panel_says_how_to_choose_them(qtbot, studio, commands):
    panel = shown(qtbot, InterpolationPanel(studio, commands))
    assert not panel.strip.tiles
    for way in ("overlay", "reconstructions", "own images", "shift-drag"):
        assert way in panel.strip.placeholder
    assert not panel.gif_button.isEnabled() and not panel.png_button.isEnabled()
    assert "not chosen" in panel.names["a"].text()


def test_interpolation_shows_its_endpoints_and_the_decoded_frames(qtbot, studio, commands, probe):
    panel = shown(qtbot, InterpolationPanel(studio, commands))
    view = studio.view
    view.pick_endpoint(Endpoint.test_image(3))
    assert "Choose endpoint B" in panel.strip.placeholder
    view.pick_endpoint(Endpoint.point((1.5, -0.5)))
    assert f"test image 3 ({probe.class_name(3)})" in panel.names["a"].text()
    assert "(+1.50, -0.50)" in panel.names["b"].text()
    assert not panel.thumbs["a"].pixmap().isNull() and not panel.thumbs["b"].pixmap().isNull()
    assert len(panel.strip.tiles) == 10
    frames = studio.explorer.pictures.interpolation.frames
    np.testing.assert_array_equal(painted(panel.strip, 5), frames[5])
    np.testing.assert_array_equal(painted(panel.strip, 9)[14:], frames[9][14:])  # below its "B" badge
    assert panel.strip.tiles[0].badge == "A" and panel.strip.tiles[9].badge == "B"

    panel.frame_count.setValue(5)
    assert view.interpolation_frames == 5 and len(panel.strip.tiles) == 5
    linear = studio.explorer.pictures.interpolation.path
    panel.method.setCurrentText("spherical")
    assert view.interpolation_method == "spherical"
    assert not np.allclose(studio.explorer.pictures.interpolation.path[2], linear[2])

    qtbot.mouseClick(panel.swap_button, Qt.MouseButton.LeftButton)
    assert view.endpoint_a.kind == "point" and "test image 3" in panel.names["b"].text()
    click_tile(panel.strip, 2)
    np.testing.assert_allclose(view.cursor, studio.explorer.pictures.interpolation.path[2], atol=1e-6)
    qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    assert view.endpoint_a is None and view.endpoint_b is None and not panel.strip.tiles


def test_interpolation_exports_a_ping_pong_gif_and_a_png_strip(qtbot, studio, commands, tmp_path):
    panel = shown(qtbot, InterpolationPanel(studio, commands))
    studio.view.pick_endpoint(Endpoint.test_image(0))
    studio.view.pick_endpoint(Endpoint.test_image(7))
    panel.frame_count.setValue(6)
    panel.scale.setValue(2)
    panel.frame_seconds.setValue(0.25)
    frames = studio.explorer.pictures.interpolation.frames

    commands.answers["exports"] = tmp_path / "morph.gif"
    assert panel.gif_button.isEnabled()
    qtbot.mouseClick(panel.gif_button, Qt.MouseButton.LeftButton)
    with Image.open(tmp_path / "morph.gif") as gif:
        assert gif.n_frames == 10  # 6 frames there and 4 back
        assert gif.size == (56, 56) and gif.info["duration"] == 250
        gif.seek(7)  # on the way back: frame 3
        np.testing.assert_array_equal(np.asarray(gif.convert("L"))[::2, ::2], frames[3])

    panel.playback.setCurrentText("one way")
    commands.answers["exports"] = tmp_path / "once.gif"
    qtbot.mouseClick(panel.gif_button, Qt.MouseButton.LeftButton)
    with Image.open(tmp_path / "once.gif") as gif:
        assert gif.n_frames == 6

    commands.answers["exports"] = tmp_path / "strip.png"
    qtbot.mouseClick(panel.png_button, Qt.MouseButton.LeftButton)
    picture = np.asarray(Image.open(tmp_path / "strip.png"))
    assert picture.shape == (56, 6 * 56)
    np.testing.assert_array_equal(picture[::2, 5 * 56::2], frames[5])

    commands.answers["exports"] = None  # the user cancels the dialog
    assert panel.export_png() is False


def test_an_export_that_cannot_be_written_is_reported_in_one_line(qtbot, studio, commands, tmp_path):
    panel = shown(qtbot, InterpolationPanel(studio, commands))
    studio.view.pick_endpoint(Endpoint.test_image(0))
    studio.view.pick_endpoint(Endpoint.test_image(7))
    errors = []
    studio.error.connect(lambda title, text: errors.append((title, text)))
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where a folder would have to be")
    commands.answers["exports"] = blocker / "morph.gif"
    assert panel.export_gif() is False
    assert len(errors) == 1 and "morph.gif" in errors[0][1] and "\n" not in errors[0][1]


def test_with_more_than_two_dimensions_the_path_runs_in_the_full_space(qtbot, probe, tmp_path):
    studio = Studio(InlineExecutor())
    history = make_history(latent_dim=4)
    studio.add_run(history)
    studio.set_probe(history, probe)
    commands = Commands(studio, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    panel = shown(qtbot, InterpolationPanel(studio, commands))
    studio.view.pick_endpoint(Endpoint.test_image(1))
    studio.view.pick_endpoint(Endpoint.point((1.0, 0.0, -2.0, 0.5)))
    path = studio.explorer.pictures.interpolation.path
    assert path.shape == (10, 4) and np.allclose(path[-1], (1.0, 0.0, -2.0, 0.5))
    assert "all 4 latent dimensions" in panel.note.text()


# -- own images ---------------------------------------------------------------------------------------------
def photo(path: Path) -> Path:
    """A colour 'photo': a dark bar on a light background, larger than the model's images."""
    picture = np.full((120, 90, 3), (240, 236, 225), np.uint8)
    picture[25:95, 35:55] = (30, 30, 90)
    Image.fromarray(picture).save(path)
    return path


def test_dropping_an_image_file_shows_what_the_model_sees_and_its_reconstruction(qtbot, studio, commands, tmp_path):
    panel = shown(qtbot, OwnImagesPanel(studio, commands))
    assert "Drop image files here" in panel.strip.placeholder
    assert drop_files(panel, [photo(tmp_path / "bar.png")])
    (image,) = studio.view.own_images
    assert image.name == "bar.png"
    seen = painted(panel.strip, 0, 0)
    assert seen[14, 14] == 255 and seen[2, 2] == 0  # light background inverted: a white bar on black
    np.testing.assert_array_equal(seen, image.preview)
    (encoding,) = studio.explorer.pictures.own
    np.testing.assert_array_equal(painted(panel.strip, 0, 1), encoding.reconstruction)
    sigma = np.exp(0.5 * encoding.logvar)
    assert panel.strip.tiles[0].captions[1].splitlines()[0] == f"z1 {encoding.mean[0]:+.2f}±{sigma[0]:.2f}"
    assert panel.selected == 0 and panel.remove_button.isEnabled() and panel.cursor_button.isEnabled()
    qtbot.mouseClick(panel.cursor_button, Qt.MouseButton.LeftButton)
    np.testing.assert_allclose(studio.view.cursor, encoding.mean, atol=1e-6)


def test_a_file_that_is_not_an_image_is_one_line_and_the_panel_keeps_working(qtbot, studio, commands, tmp_path):
    panel = shown(qtbot, OwnImagesPanel(studio, commands))
    bad = tmp_path / "notes.png"
    bad.write_bytes(b"not an image at all")
    drop_files(panel, [bad, photo(tmp_path / "good.png")])
    assert panel.error.isVisible()
    assert "notes.png" in panel.error.text() and len(panel.error.text().splitlines()) == 1
    assert [image.name for image in studio.view.own_images] == ["good.png"]
    commands.answers["images"] = photo(tmp_path / "second.jpg")
    qtbot.mouseClick(panel.encode_button, Qt.MouseButton.LeftButton)  # File → Encode image… does the same
    assert [image.name for image in studio.view.own_images] == ["good.png", "second.jpg"]
    assert not panel.error.isVisible() and len(panel.strip.tiles) == 2


def test_hostile_file_names_show_on_one_line_and_broken_files_are_named(qtbot, studio, commands, tmp_path):
    import os

    panel = shown(qtbot, OwnImagesPanel(studio, commands))
    undecodable = photo(Path(os.fsdecode(bytes(tmp_path) + b"/\xff\xfe-photo.png")))
    newline = photo(tmp_path / "two\nlines.png")
    folder = tmp_path / "folder.png"
    folder.mkdir()
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(photo(tmp_path / "whole.png").read_bytes()[:300])
    panel.encode_files([undecodable, newline, folder, empty, truncated])
    names = [tile.captions[0] for tile in panel.strip.tiles]
    assert names == ["\\xff\\xfe-photo.png", "two\\nlines.png"]  # escaped, each on its one caption line
    shown_errors = panel.error.text().splitlines()
    assert len(shown_errors) == 3
    for line, name in zip(shown_errors, ("folder.png", "empty.jpg", "truncated.png")):
        assert name in line
    interpolation = shown(qtbot, InterpolationPanel(studio, commands))
    studio.view.pick_endpoint(Endpoint.own_image(1))
    assert "two\\nlines.png" in interpolation.names["a"].text()


def test_own_images_become_endpoints_and_can_be_removed(qtbot, studio, commands, tmp_path):
    panel = shown(qtbot, OwnImagesPanel(studio, commands))
    panel.encode_files([photo(tmp_path / "one.png"), photo(tmp_path / "two.png")])
    click_tile(panel.strip, 0)
    qtbot.mouseClick(panel.endpoint_button, Qt.MouseButton.LeftButton)
    click_tile(panel.strip, 1)
    qtbot.mouseClick(panel.endpoint_button, Qt.MouseButton.LeftButton)
    assert (studio.view.endpoint_a.kind, studio.view.endpoint_a.index) == ("own", 0)
    assert (studio.view.endpoint_b.kind, studio.view.endpoint_b.index) == ("own", 1)
    assert [tile.badge for tile in panel.strip.tiles] == ["A", "B"]
    assert studio.explorer.pictures.interpolation is not None
    click_tile(panel.strip, 0)
    qtbot.mouseClick(panel.remove_button, Qt.MouseButton.LeftButton)
    assert [image.name for image in studio.view.own_images] == ["two.png"]
    assert studio.view.endpoint_a is None and studio.view.endpoint_b.index == 0
    assert [tile.badge for tile in panel.strip.tiles] == ["B"]


def test_drops_of_things_that_are_not_files_are_refused(qtbot, studio, commands):
    panel = shown(qtbot, OwnImagesPanel(studio, commands))
    mime = QMimeData()
    mime.setText("just text")
    enter = QDragEnterEvent(QPoint(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(panel, enter)
    assert not enter.isAccepted()
    event = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(panel, event)
    assert not studio.view.own_images and not panel.error.isVisible()


def test_a_colour_model_shows_colour_pictures_and_images_follow_the_model_shown(qtbot, studio, commands, probe,
                                                                               tmp_path):
    panel = shown(qtbot, OwnImagesPanel(studio, commands))
    panel.encode_files([photo(tmp_path / "bar.png")])
    assert studio.view.own_images[0].inputs.shape == (28, 28, 1)
    rng = np.random.default_rng(0)
    colour = Probe(rng.integers(0, 256, (12, 64, 64, 3), dtype=np.uint8), np.arange(12) % 3, ("r", "g", "b"))
    history = make_history(image_size=64, channels=3, likelihood="continuous_bernoulli")
    studio.add_run(history)
    studio.set_probe(history, colour)
    (image,) = studio.view.own_images  # prepared again, from its file, for the 64 x 64 colour model
    assert image.name == "bar.png" and image.inputs.shape == (64, 64, 3) and image.preview.shape == (64, 64, 3)
    (encoding,) = studio.explorer.pictures.own
    assert encoding.reconstruction.shape == (64, 64, 3)
    recon = shown(qtbot, ReconstructionsPanel(studio, commands))
    assert len(recon.strip.tiles) == 3
    picture = recon.strip.canvas.grab().toImage()
    rect = recon.strip.tile_rect(1, 0)
    assert rect.width() >= 64  # every pixel of the test image shows
    x = rect.left() + int(10.5 * rect.width() / 64)
    y = rect.top() + int(32.5 * rect.height() / 64)
    shown_colour = QColor(picture.pixel(x, y))
    assert (shown_colour.red(), shown_colour.green(), shown_colour.blue()) == tuple(colour.images[1][32, 10])
    studio.activate(studio.runs[0])  # back to the grey model: the image follows again
    assert studio.view.own_images[0].inputs.shape == (28, 28, 1)


# -- drawing pad ------------------------------------------------------------------------------------------
def stroke(canvas, points, button=Qt.MouseButton.LeftButton, wait=None) -> None:
    """Press at the first point, move through the others with the button held, release at the last."""
    def send(kind, point, pressed, changed):
        event = QMouseEvent(kind, QPointF(point), canvas.mapToGlobal(QPointF(point)), changed, pressed,
                            Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(canvas, event)

    send(QMouseEvent.Type.MouseButtonPress, points[0], button, button)
    for point in points[1:]:
        send(QMouseEvent.Type.MouseMove, point, button, Qt.MouseButton.NoButton)
        if wait is not None:
            wait()
    send(QMouseEvent.Type.MouseButtonRelease, points[-1], Qt.MouseButton.NoButton, button)


def cell_centre(canvas, x: float, y: float) -> QPointF:
    square = canvas.square()
    return QPointF(square.left() + (x + 0.5) * square.width() / 28, square.top() + (y + 0.5) * square.height() / 28)


def test_drawing_on_the_pad_encodes_the_drawing_as_it_is_drawn(qtbot, studio, commands):
    panel = shown(qtbot, DrawingPadPanel(studio, commands), 700, 400)
    canvas = panel.canvas
    assert "Draw on the left" in panel.result.placeholder
    points = [cell_centre(canvas, 14, y) for y in np.linspace(4, 23, 60)]
    stroke(canvas, points)  # a quick stroke: 60 mouse moves
    ink = canvas.image()
    assert ink[4:24, 14].min() == 255 and ink[14, 3] == 0 and ink[14, 25] == 0  # a vertical line, nothing else
    qtbot.waitUntil(lambda: panel.updates == 1, timeout=2000)  # one encode for the whole burst
    qtbot.wait(MIN_UPDATE_MS + 20)
    assert panel.updates == 1 and len(panel.latencies_ms) == 1
    (drawing,) = studio.view.own_images
    assert drawing.name == "drawing"
    np.testing.assert_array_equal(drawing.preview, np.where(ink > 127, 255, 0))  # binarized, every stroke in
    (encoding,) = studio.explorer.pictures.own
    np.testing.assert_array_equal(painted(panel.result, 1), encoding.reconstruction)
    assert "Posterior: z1 =" in panel.posterior.text()

    # A slow stroke is encoded while it is drawn, not only at its end.
    before = encoding.mean
    stroke(canvas, [cell_centre(canvas, 14, y) for y in range(4, 24, 4)], button=Qt.MouseButton.RightButton,
           wait=lambda: qtbot.wait(MIN_UPDATE_MS + 25))
    assert panel.updates >= 1 + 4
    qtbot.waitUntil(lambda: not panel._timer.isActive(), timeout=1000)
    assert canvas.image()[4:21, 14].max() < 128  # erased
    assert len(studio.view.own_images) == 1  # the same own image, replaced
    assert not np.array_equal(studio.explorer.pictures.own[0].mean, before)


def test_the_brush_size_keep_and_clear(qtbot, studio, commands):
    panel = shown(qtbot, DrawingPadPanel(studio, commands), 700, 400)
    canvas = panel.canvas
    panel.brush.setValue(1)
    stroke(canvas, [cell_centre(canvas, 10, 10)])
    panel.push()
    thin = int((canvas.image() > 127).sum())
    qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    assert not canvas.image().any() and not studio.view.own_images[0].preview.any()
    panel.brush.setValue(5)
    stroke(canvas, [cell_centre(canvas, 10, 10)])
    assert int((canvas.image() > 127).sum()) > 4 * thin
    panel.push()
    studio.view.pick_endpoint(Endpoint.own_image(0))
    qtbot.mouseClick(panel.keep_button, Qt.MouseButton.LeftButton)
    assert [image.name for image in studio.view.own_images] == ["drawing 1"]
    assert studio.view.endpoint_a.index == 0  # the endpoint stays on the kept drawing
    assert not canvas.image().any()
    stroke(canvas, [cell_centre(canvas, 5, 5), cell_centre(canvas, 20, 5)])
    panel.push()
    assert [image.name for image in studio.view.own_images] == ["drawing 1", "drawing"]


def test_the_pad_can_be_drawn_on_by_program_and_times_its_updates(qtbot, studio, commands):
    panel = shown(qtbot, DrawingPadPanel(studio, commands), 700, 400)
    panel.canvas.draw_line((4.0, 14.0), (24.0, 14.0))
    qtbot.waitUntil(lambda: panel.updates == 1, timeout=2000)
    assert panel.canvas.image()[14, 4:24].min() == 255
    assert len(panel.latencies_ms) == 1 and panel.latencies_ms[0] > 0


def test_removing_the_drawing_elsewhere_starts_a_new_one_on_the_next_stroke(qtbot, studio, commands):
    panel = shown(qtbot, DrawingPadPanel(studio, commands), 700, 400)
    stroke(panel.canvas, [cell_centre(panel.canvas, 8, 8), cell_centre(panel.canvas, 8, 20)])
    panel.push()
    studio.view.remove_own_image(0)  # e.g. Remove in the own-images panel
    assert not panel.keep_button.isEnabled() and not panel.result.tiles
    stroke(panel.canvas, [cell_centre(panel.canvas, 20, 8)])
    panel.push()
    assert [image.name for image in studio.view.own_images] == ["drawing"]


# -- quality ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tensorflow():
    return pytest.importorskip("tensorflow")


def test_the_estimate_waits_for_tensorflow_then_shows_log_px_beside_the_test_elbo(qtbot, studio, commands, probe,
                                                                                   tensorflow):
    from vaestudio.core.iwae import iwae_log_likelihood

    panel = shown(qtbot, QualityPanel(studio, commands), 800, 300)
    assert "not estimated yet" in panel.result.text()
    assert "−208.00" in panel.elbo.text() and "end of epoch 2" in panel.elbo.text()
    assert not panel.progress.isVisible()
    panel.samples.setValue(3)
    panel.images.setValue(12)
    qtbot.mouseClick(panel.estimate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Waiting for TensorFlow" in panel.status.text(), timeout=3000)
    assert panel.running and panel.cancel_button.isEnabled()
    studio.set_device(None, tensorflow.__version__)  # the shell's loader is done
    qtbot.waitUntil(lambda: not panel.running, timeout=60000)
    history = studio.active
    weights = history.weights_at(history.current)
    expected = iwae_log_likelihood(weights, probes.model_inputs(probe.images[:12], weights.architecture), k=3)
    text = panel.result.text()
    assert f"log p(x) ≈ {expected.mean:.2f}".replace("-", "−") in text
    assert f"± {expected.standard_error:.2f} nats" in text and "k = 3, N = 12" in text
    assert not panel.progress.isVisible() and not panel.cancel_button.isEnabled()
    # Another moment has no estimate; coming back shows the one made for it.
    history.select(0)
    assert "not estimated yet" in panel.result.text() and "none yet" in panel.elbo.text()
    history.select(2)
    assert f"{expected.mean:.2f}".replace("-", "−") in panel.result.text()


def test_the_estimate_can_be_cancelled_and_moving_to_another_snapshot_cancels_it(qtbot, studio, commands,
                                                                                tensorflow):
    studio.set_device(None, tensorflow.__version__)
    panel = shown(qtbot, QualityPanel(studio, commands), 800, 300)
    panel.samples.setValue(5000)
    panel.images.setValue(40)
    assert panel.start()
    qtbot.waitUntil(lambda: panel.progress.maximum() > 1, timeout=60000)  # the first batches report
    job = panel.job
    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    assert panel.status.text() == "Cancelled." and not panel.running
    assert job.stopped.wait(30)  # the work itself has ended, not only been forgotten
    assert "not estimated yet" in panel.result.text()

    assert panel.start()
    job = panel.job
    studio.active.select(1)  # the user scrubs back
    assert not panel.running and "moved to another snapshot" in panel.status.text()
    assert job.stopped.wait(30)
    qtbot.wait(50)
    assert "not estimated yet" in panel.result.text()


def test_a_snapshot_without_weights_cannot_be_estimated(qtbot, commands):
    studio = Studio(InlineExecutor())
    history = RunHistory(config=TrainConfig())
    history.feed(Snapshot(0, 0, "before training", np.zeros((28, 28), np.uint8), None, frame=0))
    studio.add_run(history)
    panel = shown(qtbot, QualityPanel(studio, Commands(studio, commands.settings)), 800, 300)
    assert not panel.estimate_button.isEnabled()
    assert panel.start() is False and "without model weights" in panel.status.text()


def test_interpolation_frames_of_a_superseded_request_are_greyed_until_the_new_ones_arrive(qtbot, probe, tmp_path):
    executor = Deferred()
    studio = Studio(executor)
    history = make_history()
    studio.add_run(history)
    studio.set_probe(history, probe)
    executor.run_all()
    commands = Commands(studio, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    panel = shown(qtbot, InterpolationPanel(studio, commands))
    studio.view.pick_endpoint(Endpoint.test_image(0))
    studio.view.pick_endpoint(Endpoint.test_image(5))
    assert "Decoding the path" in panel.strip.placeholder
    executor.run_all()
    assert len(panel.strip.tiles) == 10 and not panel.strip.dimmed and panel.gif_button.isEnabled()
    studio.view.set_endpoint("b", Endpoint.point((2.0, 2.0)))
    assert panel.strip.dimmed and not panel.gif_button.isEnabled()  # the old morph, greyed: not exportable
    executor.run_all()
    assert not panel.strip.dimmed and panel.gif_button.isEnabled()
    np.testing.assert_allclose(panel.path[-1], (2.0, 2.0))
