"""The panels' layout at the sizes the window gives them: nothing overlaps, texts are whole and readable,
pictures use the room they have, and the same things have the same colours everywhere.

Each test shows one panel in a plain window sized as the shell's default layout sizes its dock (the
window opens at 1400 x 900), and checks what a user sees: where the widgets are, the text they show,
and the painted pixels.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from collections import Counter

from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, QSettings, Qt
from PySide6.QtGui import QColor, QFontMetrics, QImage, QMouseEvent
from PySide6.QtWidgets import QApplication, QDockWidget, QLabel, QMainWindow, QVBoxLayout, QWidget

from random_weights import random_weights
from vaestudio.core.architecture import Architecture
from vaestudio.core.config import TrainConfig
from vaestudio.core.events import Snapshot
from vaestudio.core.numpy_vae import NumpyVAE
from vaestudio.gui import axes
from vaestudio.gui.commands import Commands
from vaestudio.gui.panels.interpolation import InterpolationPanel
from vaestudio.gui.panels.kl import KlPanel
from vaestudio.gui.panels.latent_plane import LatentPlanePanel
from vaestudio.gui.panels.own_images import OwnImagesPanel
from vaestudio.gui.panels.timeline import TimelinePanel
from vaestudio.gui.state.explorer import InlineExecutor, Probe
from vaestudio.gui.state.latent_view import Endpoint
from vaestudio.gui.state.run_history import RunHistory
from vaestudio.gui.state.studio import Studio

GRID = 4


# -- a tiny run, and a dock to show a panel in -----------------------------------------------------------
@pytest.fixture(scope="module")
def data():
    from vaestudio.core.data import synthetic_dataset

    return synthetic_dataset(n_train=16, n_test=40, seed=5)


@pytest.fixture
def studio():
    return Studio(InlineExecutor())


@pytest.fixture
def commands(studio, tmp_path):
    return Commands(studio, QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


def live_run(studio: Studio, data, latent_dim: int = 2, snapshots: int = 1) -> RunHistory:
    """A live run of `snapshots` random models (a different one each) and its test images."""
    config = TrainConfig.from_preset("custom", latent_dim=latent_dim, grid_size=GRID)
    history = RunHistory(name="tiny", config=config, live=True)
    studio.add_run(history)
    studio.set_probe(history, Probe(np.asarray(data.test_images), np.asarray(data.test_labels).astype(int),
                                    tuple(data.class_names)))
    for index in range(snapshots):
        model = random_weights(Architecture(latent_dim=latent_dim), seed=10 + index, scale=0.4)
        grid = NumpyVAE(model).grid(GRID, (0, 1) if latent_dim > 1 else (0, 0))
        history.feed(Snapshot(index, index * 10, f"epoch {index + 1}, step {index * 10}", grid, model, frame=-1))
    return history


@pytest.fixture
def docked(qtbot):
    """dock(panel, width, height): `panel` in the only dock of a main window (kept open for the test) whose
    dock is `width` x `height` (the dock takes the whole height, as a dock in a column of docks takes its
    share of the window's). Returns the main window."""
    windows = []

    def dock(panel: QWidget, width: int, height: int) -> QMainWindow:
        main = QMainWindow()
        main.setCentralWidget(QWidget())
        dock_widget = QDockWidget(getattr(panel, "title", ""))
        dock_widget.setWidget(panel)
        main.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock_widget)
        qtbot.addWidget(main)
        windows.append(main)
        main.resize(width + 200, height)
        main.show()
        qtbot.waitExposed(main)
        main.resizeDocks([dock_widget], [width], Qt.Orientation.Horizontal)
        QApplication.processEvents()
        return main

    return dock


def rect_in(widget: QWidget, ancestor: QWidget) -> QRect:
    """Where `widget` is, in `ancestor`'s coordinates."""
    return QRect(widget.mapTo(ancestor, widget.rect().topLeft()), widget.size())


def luminance(colour: QColor) -> float:
    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(colour.red()) + 0.7152 * linear(colour.green()) + 0.0722 * linear(colour.blue())


def contrast(a: QColor, b: QColor) -> float:
    """The WCAG contrast ratio of two colours (1 to 21; body text wants at least 4.5)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_contrast(label: QLabel) -> float:
    """The contrast of a label's painted text with its background: its darkest (or, on a dark background,
    lightest) pixel against the background colour."""
    picture: QImage = label.grab().toImage()
    background = label.palette().color(label.backgroundRole())
    pixels = [picture.pixelColor(x, y) for x in range(picture.width()) for y in range(picture.height())]
    return max(contrast(pixel, background) for pixel in pixels)


def main_colour(picture: QImage, centre: QPoint, radius: int) -> tuple[int, int, int]:
    """The most common clearly coloured (not grey) pixel within `radius` of `centre`."""
    found = Counter()
    for x in range(centre.x() - radius, centre.x() + radius + 1):
        for y in range(centre.y() - radius, centre.y() + radius + 1):
            if (x - centre.x()) ** 2 + (y - centre.y()) ** 2 <= radius ** 2:
                c = picture.pixelColor(x, y)
                if max(c.red(), c.green(), c.blue()) - min(c.red(), c.green(), c.blue()) > 60:
                    found[(c.red(), c.green(), c.blue())] += 1
    assert found, "no colour there"
    return found.most_common(1)[0][0]


# -- latent dimensions -------------------------------------------------------------------------------------
@pytest.mark.parametrize("width, height", [(400, 262), (240, 190)])  # the default window's dock; a small one
def test_the_latent_dimensions_text_never_covers_the_bar_chart_in_a_short_dock(docked, studio, commands, data,
                                                                                width, height):
    live_run(studio, data, latent_dim=2)
    panel = KlPanel(studio, commands)
    docked(panel, width, height)
    assert panel.height() <= height - 12 and panel.kl is not None
    plot = rect_in(panel.plot_widget, panel)
    for text in (panel.summary, panel.note):
        if text.isVisible():
            assert not rect_in(text, panel).intersects(plot), f"{text.text()!r} covers the chart"
    assert plot.height() >= 80  # bars, their values and the z1, z2 labels under them
    assert panel.rect().contains(plot) and panel.rect().contains(rect_in(panel.note, panel))
    # What the one line under the chart leaves out is in its tooltip.
    assert "Burda" in panel.note.toolTip() and "0.01" in panel.note.toolTip()


def test_the_latent_dimensions_hint_is_readable(docked, studio, commands, data):
    live_run(studio, data, latent_dim=2)
    panel = KlPanel(studio, commands)
    docked(panel, 400, 300)
    assert panel.note.isVisible() and panel.note.text()
    assert text_contrast(panel.note) >= 4.5


# -- timeline ------------------------------------------------------------------------------------------------
def recorded_labels(epochs: int = 10, per_epoch: int = 1875) -> list[tuple[int, int, str]]:
    """(epoch, step, label) of the snapshots of a finished 10-epoch run, as the trainer names them: before
    training, every 250 steps of epoch 1, then one per epoch."""
    moments = [(0, 0, "before training")]
    moments += [(1, step, f"epoch 1, batch {step}") for step in range(250, per_epoch, 250)]
    moments += [(epoch, epoch * per_epoch, f"epoch {epoch}") for epoch in range(1, epochs + 1)]
    return moments


def test_the_timeline_names_the_whole_moment_and_keeps_a_usable_slider(qtbot, studio, commands):
    history = RunHistory(name="run", config=TrainConfig.from_preset("custom", grid_size=GRID))
    for frame, (epoch, step, label) in enumerate(recorded_labels()):
        history.feed(Snapshot(epoch, step, label, np.zeros((8, 8), np.uint8), None, frame=frame))
    studio.add_run(history)
    panel = TimelinePanel(studio, commands)
    qtbot.addWidget(panel)
    panel.resize(550, panel.sizeHint().height())  # its width under the plane in the default window
    panel.show()
    qtbot.waitExposed(panel)
    count = len(history.snapshots)
    history.select(count - 1)
    assert panel.moment_text() == f"epoch 10 · step 18750 · {count}/{count}"
    assert panel.label.text() == panel.moment_text()  # whole, not "epoch 10 · s…8750 · 18/18"
    slider = panel.slider.geometry()
    assert slider.width() >= 150
    assert panel.rect().contains(panel.label.geometry())
    # Scrubbing to the longest name shows it whole too, and the slider stays where it was under the mouse.
    history.select(5)
    assert panel.label.text() == panel.moment_text() == f"epoch 1, batch 1250 · step 1250 · 6/{count}"
    assert panel.slider.geometry() == slider


# -- the latent plane --------------------------------------------------------------------------------------
class PlaneAndStrip:
    """The latent plane with the interpolation panel docked under it."""

    def __init__(self, qtbot, studio: Studio, commands: Commands):
        self.studio = studio
        self.main = QMainWindow()
        self.plane = LatentPlanePanel(studio, commands)
        self.interpolation = InterpolationPanel(studio, commands)
        self.main.setCentralWidget(self.plane)
        dock = QDockWidget(self.interpolation.title)
        dock.setWidget(self.interpolation)
        self.main.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        qtbot.addWidget(self.main)
        self.main.resize(1000, 800)
        self.main.show()
        qtbot.waitExposed(self.main)
        QApplication.processEvents()

    def pixel_of(self, z_x: float, z_y: float) -> QPoint:
        """The plane's viewport pixel showing latent (z_x, z_y)."""
        scale = self.studio.view.scale
        scene = self.plane.viewbox.mapViewToScene(QPointF(float(axes.to_plot(z_x, scale)),
                                                          float(axes.to_plot(z_y, scale))))
        return self.plane.graphics.mapFromScene(scene)


def test_the_endpoints_on_the_plane_have_the_colours_of_their_badges_on_the_strip(qtbot, studio, commands, data):
    live_run(studio, data, latent_dim=2)
    studio.view.show_overlay(False)  # only the grid (grey) under the marks
    win = PlaneAndStrip(qtbot, studio, commands)
    ends = {"A": (-1.0, -0.5), "B": (1.0, 0.8)}
    studio.view.set_endpoint("a", Endpoint.point(ends["A"]))
    studio.view.set_endpoint("b", Endpoint.point(ends["B"]))
    QApplication.processEvents()
    plane = win.plane.graphics.viewport().grab().toImage()
    strip = win.interpolation.strip
    assert [strip.tiles[i].badge for i in (0, -1)] == ["A", "B"]
    painted = strip.canvas.grab().toImage()
    seen = {}
    for letter, column in (("A", 0), ("B", len(strip.tiles) - 1)):
        corner = strip.tile_rect(column).topLeft()
        badge = main_colour(painted, corner + QPoint(9, 9), 7)
        marker = main_colour(plane, win.pixel_of(*ends[letter]), 8)
        assert marker == badge, f"{letter}: {marker} on the plane, {badge} on the strip"
        seen[letter] = marker
    assert seen["A"] != seen["B"]


def test_the_readout_under_the_plane_is_readable(qtbot, studio, commands, data):
    live_run(studio, data, latent_dim=2)
    win = PlaneAndStrip(qtbot, studio, commands)
    viewport = win.plane.graphics.viewport()
    pos = QPointF(win.pixel_of(0.5, -1.0))
    QApplication.sendEvent(viewport, QMouseEvent(QEvent.Type.MouseMove, pos, viewport.mapToGlobal(pos),
                                                 Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                                                 Qt.KeyboardModifier.NoModifier))
    assert "under the mouse: z1 = +0.5" in win.plane.hover_label.text()
    assert text_contrast(win.plane.hover_label) >= 4.5


def test_the_moment_is_named_once_under_the_plane_by_the_timeline(qtbot, studio, commands, data):
    """The plane and the timeline as the window's central area shows them: the moment's name appears once."""
    history = live_run(studio, data, snapshots=3)
    central = QWidget()
    layout = QVBoxLayout(central)
    plane, timeline = LatentPlanePanel(studio, commands), TimelinePanel(studio, commands)
    layout.addWidget(plane, 1)
    layout.addWidget(timeline)
    qtbot.addWidget(central)
    central.resize(900, 700)
    central.show()
    qtbot.waitExposed(central)
    for index in (1, 2):
        history.select(index)
        QApplication.processEvents()
        label = history.snapshots[index].label
        showing = [w.text() for w in central.findChildren(QLabel) if w.isVisible() and label in w.text()]
        assert showing == [timeline.moment_text()], showing



@pytest.mark.parametrize("latent_dim, classes", [(2, 10), (4, 0)])
def test_the_bar_above_the_plane_shows_each_control_whole_at_1280x720(qtbot, studio, commands, data, latent_dim,
                                                                       classes):
    """At 1280x720 the plane is about 494 px wide: its bar (scale, axes, class, prior density, test images,
    reset) wraps onto a second row rather than squeezing a combo to "Linear scal"; wide, it is one row."""
    live_run(studio, data, latent_dim=latent_dim)
    studio.view.set_classes(classes)
    win = PlaneAndStrip(qtbot, studio, commands)
    plane = win.plane
    bar = [plane.scale_box, plane.scale_help, *plane.axis_selectors.widgets, plane.class_box,
           *plane.prior.widgets, plane.overlay_box, plane.reset_button]

    def placed() -> list[QRect]:
        shown = [widget for widget in bar if widget.isVisible()]
        assert plane.scale_box in shown and (plane.class_box in shown) == bool(classes)
        assert (plane.x_box in shown) == (latent_dim > 2)
        for widget in shown:  # whole: no text squeezed
            assert widget.width() >= widget.sizeHint().width(), (widget, widget.width(), widget.sizeHint())
        rects = [rect_in(widget, plane) for widget in shown]
        assert all(plane.rect().contains(rect) for rect in rects), rects
        assert not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1:]), rects
        assert all(rect.bottom() < rect_in(plane.graphics, plane).top() for rect in rects)  # above the plot
        return rects

    win.main.resize(494, 800)
    qtbot.waitUntil(lambda: plane.width() <= 494)
    QApplication.processEvents()
    rows = {rect.center().y() for rect in placed()}
    assert len(rows) >= 2
    reset = rect_in(plane.reset_button, plane)
    assert plane.width() - reset.right() < 12  # still on the right
    assert plane.scale_box.currentText() == "Linear scale"

    win.main.resize(1600, 800)
    qtbot.waitUntil(lambda: plane.width() >= 1000)
    QApplication.processEvents()
    rows = placed()
    assert max(rect.top() for rect in rows) - min(rect.top() for rect in rows) < 12  # one row


# -- your images ------------------------------------------------------------------------------------------
def drawn_file(path, seed: int):
    """A small picture file: a light shape on a dark background."""
    picture = np.zeros((40, 40), np.uint8)
    rng = np.random.default_rng(seed)
    top, left = rng.integers(4, 16, 2)
    picture[top:top + 18, left:left + 14] = 230
    Image.fromarray(picture).save(path)
    return path


def assert_captions_whole(strip, rows) -> None:
    """Every line of the captions of these rows fits the width its column gives it (none is cut with "…")."""
    metrics = QFontMetrics(strip.caption_font)
    for column, tile in enumerate(strip.tiles):
        room = strip.column_rect(column).width() - 2
        for row in rows:
            for line in tile.captions[row].splitlines():
                assert metrics.horizontalAdvance(line) <= room, f"{line!r} is cut to {room} px"


@pytest.mark.parametrize("files", [1, 2, 4])
def test_your_images_show_large_pictures_with_whole_captions_in_the_default_dock(docked, studio, commands, data,
                                                                                  tmp_path, files):
    live_run(studio, data, latent_dim=2)
    panel = OwnImagesPanel(studio, commands)
    docked(panel, 411, 239)  # the dock of the default window
    panel.encode_files([drawn_file(tmp_path / f"my-sneaker-{n}.png", n) for n in range(files)])
    QApplication.processEvents()
    strip = panel.strip
    assert len(strip.tiles) == files and strip.tiles[0].captions[0] == "my-sneaker-0.png"
    encoding = studio.explorer.pictures.own[0]
    sigma = np.exp(0.5 * encoding.logvar)
    assert f"±{sigma[1]:.2f}" in strip.tiles[0].captions[1]  # σ of both axes is in the caption...
    assert_captions_whole(strip, [1])  # ... and shows whole
    if files <= 2:
        assert_captions_whole(strip, [0])  # so do the names (more images: they may be cut, never the numbers)
    assert strip.tile_rect(0, 0).width() >= 64  # pictures, not thumbnails
    assert not strip.horizontalScrollBar().isVisible()  # all of them in view
    # The picture the model sees and its reconstruction do not overlap each other or the captions.
    seen, rebuilt = strip.tile_rect(0, 0), strip.tile_rect(0, 1)
    assert not seen.intersects(rebuilt)
    assert not strip.caption_rect(0, 0).intersects(rebuilt) and not strip.caption_rect(0, 1).intersects(seen)
    # The dock's title says "Your images": the panel does not say it again.
    labels = [label.text() for label in panel.findChildren(QLabel) if label.isVisible()]
    assert not any("Your images" in text for text in labels), labels


def test_your_images_stand_above_their_reconstructions_in_a_tall_narrow_dock(docked, studio, commands, data,
                                                                               tmp_path):
    live_run(studio, data, latent_dim=2)
    panel = OwnImagesPanel(studio, commands)
    main = docked(panel, 220, 600)
    panel.encode_files([drawn_file(tmp_path / "shirt.png", 3)])
    QApplication.processEvents()
    strip = panel.strip
    seen, rebuilt = strip.tile_rect(0, 0), strip.tile_rect(0, 1)
    assert rebuilt.top() > seen.bottom() and rebuilt.left() == seen.left()  # one above the other
    assert seen.width() >= 100
    assert_captions_whole(strip, [0, 1])
    main.resize(main.width(), 300)  # a short dock: side by side
    QApplication.processEvents()
    seen, rebuilt = strip.tile_rect(0, 0), strip.tile_rect(0, 1)
    assert rebuilt.left() > seen.right() and rebuilt.top() == seen.top()


# -- interpolation -----------------------------------------------------------------------------------------
def assert_nothing_overlaps(panel: QWidget) -> None:
    """The panel's visible labels, buttons and boxes lie inside it and apart from each other and the strip."""
    from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QScrollArea

    kinds = (QLabel, QAbstractButton, QAbstractSpinBox, QComboBox, QScrollArea)
    widgets = [w for w in panel.findChildren(QWidget) if isinstance(w, kinds) and w.isVisible()
               and w.parentWidget() is panel]
    rects = [(w, rect_in(w, panel)) for w in widgets]
    for w, rect in rects:
        assert panel.rect().contains(rect), f"{type(w).__name__} {rect} sticks out of {panel.rect()}"
    for i, (a, ra) in enumerate(rects):
        for b, rb in rects[i + 1:]:
            assert not ra.intersects(rb), f"{type(a).__name__} {ra} overlaps {type(b).__name__} {rb}"


def test_interpolation_frames_grow_to_use_the_width_of_the_default_dock(docked, studio, commands, data):
    live_run(studio, data, latent_dim=2)
    panel = InterpolationPanel(studio, commands)
    docked(panel, 966, 262)  # the bottom docks of the default window
    studio.view.set_endpoint("a", Endpoint.test_image(0))
    studio.view.set_endpoint("b", Endpoint.test_image(7))
    QApplication.processEvents()
    strip = panel.strip
    assert len(strip.tiles) == 10 and not strip.horizontalScrollBar().isVisible()
    first, last = strip.tile_rect(0), strip.tile_rect(9)
    assert first.width() == first.height()  # square pixels
    assert first.width() >= 80, f"frames of {first.width()} px"
    used = last.right() - first.left()
    assert used >= 0.85 * strip.viewport().width(), f"{used} of {strip.viewport().width()} px used"
    assert_nothing_overlaps(panel)


def test_interpolation_frames_stop_growing_at_a_sensible_size(docked, studio, commands, data):
    live_run(studio, data, latent_dim=2)
    panel = InterpolationPanel(studio, commands)
    docked(panel, 1200, 700)
    studio.view.set_endpoint("a", Endpoint.test_image(0))
    studio.view.set_endpoint("b", Endpoint.test_image(7))
    panel.frame_count.setValue(3)
    QApplication.processEvents()
    side = panel.strip.tile_rect(0).width()
    assert 112 <= side <= 200 and panel.strip.tile_rect(0).height() == side


def test_interpolation_in_a_narrow_dock_stacks_its_controls(docked, studio, commands, data):
    live_run(studio, data, latent_dim=2)
    panel = InterpolationPanel(studio, commands)
    docked(panel, 420, 520)  # a side dock
    studio.view.set_endpoint("a", Endpoint.test_image(0))
    studio.view.set_endpoint("b", Endpoint.test_image(7))
    QApplication.processEvents()
    assert panel.width() <= 430  # its one-row layout does not make the dock wider
    assert_nothing_overlaps(panel)
    assert panel.strip.tile_rect(0).width() >= 44
