"""The latent plane, the cursor preview and the latent-dimensions panel, driven as a user drives them.

Each test builds a Studio on a tiny run (random weights fed as live snapshots, or a tiny recorded run
replayed from its folder), shows the panels in a plain window, and uses the mouse and the keyboard.
What is checked is what a user sees: pixels, images, texts, files written, and where the cursor went.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication, QDockWidget, QMainWindow

from random_weights import random_weights
from vaestudio.core.architecture import Architecture
from vaestudio.core.config import TrainConfig
from vaestudio.core.events import Snapshot
from vaestudio.core.latent import grid_axis_values
from vaestudio.core.numpy_vae import NumpyVAE
from vaestudio.gui import axes
from vaestudio.gui.commands import Commands
from vaestudio.gui.panels.cursor_preview import CursorPreviewPanel, frames_text
from vaestudio.gui.panels.kl import KlPanel
from vaestudio.gui.panels.latent_plane import LatentPlanePanel
from vaestudio.gui.state.explorer import InlineExecutor, Probe
from vaestudio.gui.state.latent_view import Endpoint, OwnImage
from vaestudio.gui.state.run_history import RunHistory
from vaestudio.gui.state.studio import Studio

GRID = 6


# -- a tiny run and the panels ----------------------------------------------------------------------------
def live_run(studio: Studio, data, latent_dim: int = 2, snapshots: int = 1, weights: bool = True) -> RunHistory:
    """A run fed live snapshots of random weights (a different model each), and its test images."""
    config = TrainConfig.from_preset("custom", latent_dim=latent_dim, grid_size=GRID)
    history = RunHistory(name="tiny", config=config, live=True)
    studio.add_run(history)
    studio.set_probe(history, small_probe(data))
    for index in range(snapshots):
        model = random_weights(Architecture(latent_dim=latent_dim), seed=10 + index, scale=0.4)
        grid = NumpyVAE(model).grid(GRID, (0, 1) if latent_dim > 1 else (0, 0))
        history.feed(Snapshot(index, index * 10, f"epoch {index + 1}, step {index * 10}", grid,
                              model if weights else None, frame=-1))
    return history


def small_probe(data, classes: int = 4) -> Probe:
    """The test images of a few classes (the explorer reconstructs one per class at every moment)."""
    keep = np.asarray(data.test_labels) < classes
    return Probe(np.asarray(data.test_images)[keep], np.asarray(data.test_labels)[keep].astype(int),
                 tuple(data.class_names))


class Window:
    """The three panels in a plain main window, as the shell will dock them."""

    def __init__(self, qtbot, studio: Studio, settings_path):
        self.studio = studio
        self.commands = Commands(studio, QSettings(str(settings_path), QSettings.Format.IniFormat))
        self.main = QMainWindow()
        self.plane = LatentPlanePanel(studio, self.commands)
        self.preview = CursorPreviewPanel(studio, self.commands)
        self.kl = KlPanel(studio, self.commands)
        self.main.setCentralWidget(self.plane)
        for panel in (self.preview, self.kl):
            dock = QDockWidget(panel.title)
            dock.setWidget(panel)
            self.main.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        qtbot.addWidget(self.main)
        self.main.resize(1100, 760)
        self.main.show()
        qtbot.waitExposed(self.main)
        QApplication.processEvents()

    # -- where things are on screen
    def pixel_of(self, z_x: float, z_y: float) -> QPoint:
        """The plane's viewport pixel showing latent (z_x, z_y) on the shown axes."""
        scale = self.studio.view.scale
        scene = self.plane.viewbox.mapViewToScene(QPointF(float(axes.to_plot(z_x, scale)),
                                                          float(axes.to_plot(z_y, scale))))
        return self.plane.graphics.mapFromScene(scene)

    def plot_pixel(self, x: float, y: float) -> QPoint:
        return self.plane.graphics.mapFromScene(self.plane.viewbox.mapViewToScene(QPointF(x, y)))

    @property
    def viewport(self):
        return self.plane.graphics.viewport()


def mouse(widget, kind, pos: QPoint, button=Qt.MouseButton.LeftButton, buttons=None,
          modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    pos = QPointF(pos)
    if buttons is None:
        buttons = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseButtonRelease else button
    if kind == QEvent.Type.MouseMove:
        button = Qt.MouseButton.NoButton
    event = QMouseEvent(kind, pos, widget.mapToGlobal(pos), button, buttons, modifiers)
    QApplication.sendEvent(widget, event)


def click(qtbot, widget, pos: QPoint, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    mouse(widget, QEvent.Type.MouseMove, pos, buttons=Qt.MouseButton.NoButton, modifiers=modifiers)
    mouse(widget, QEvent.Type.MouseButtonPress, pos, modifiers=modifiers)
    mouse(widget, QEvent.Type.MouseButtonRelease, pos, modifiers=modifiers)
    qtbot.wait(5)


def drag(qtbot, widget, start: QPoint, end: QPoint, steps: int = 8, button=Qt.MouseButton.LeftButton,
         modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    """A mouse drag as a hand makes it: press, moves ~60 times a second, release."""
    mouse(widget, QEvent.Type.MouseMove, start, buttons=Qt.MouseButton.NoButton, modifiers=modifiers)
    mouse(widget, QEvent.Type.MouseButtonPress, start, button=button, modifiers=modifiers)
    for step in range(1, steps + 1):
        qtbot.wait(16)  # pyqtgraph drops moves closer than 10 ms apart
        t = step / steps
        pos = QPoint(round(start.x() + (end.x() - start.x()) * t), round(start.y() + (end.y() - start.y()) * t))
        mouse(widget, QEvent.Type.MouseMove, pos, buttons=button, modifiers=modifiers)
    mouse(widget, QEvent.Type.MouseButtonRelease, end, button=button, modifiers=modifiers)
    qtbot.wait(5)


def grab_grey(window: Window, pixel: QPoint) -> int:
    image = window.plane.graphics.grab().toImage()
    ratio = image.devicePixelRatio()
    return QColor_grey(image.pixelColor(round(pixel.x() * ratio), round(pixel.y() * ratio)))


def QColor_grey(color) -> int:  # noqa: N802
    assert color.red() == color.green() == color.blue(), f"not grey: {color.name()}"
    return color.red()


@pytest.fixture(scope="module")
def data():
    from vaestudio.core.data import synthetic_dataset

    return synthetic_dataset(n_train=64, n_test=60, seed=4)


@pytest.fixture
def studio():
    return Studio(InlineExecutor())


@pytest.fixture
def window(qtbot, studio, tmp_path):
    return lambda: Window(qtbot, studio, tmp_path / "settings.ini")


# -- the cursor and the preview -------------------------------------------------------------------------
def test_dragging_the_cursor_shows_the_decoders_image_of_where_it_went(qtbot, studio, data, window):
    live_run(studio, data)
    win = window()
    start, end = win.pixel_of(0.0, 0.0), win.pixel_of(1.1, -0.7)
    before = win.preview.image.copy()
    drag(qtbot, win.viewport, start, end)
    cursor = np.asarray(studio.view.cursor)
    assert cursor == pytest.approx([1.1, -0.7], abs=0.05)  # within a pixel or two
    qtbot.waitUntil(lambda: win.preview.image is not None and win.preview._z is None, timeout=2000)
    expected = studio.explorer.vae.decode_uint8(np.asarray(studio.view.cursor, np.float32)[None])[0]
    np.testing.assert_array_equal(win.preview.image, expected)
    assert not np.array_equal(win.preview.image, before)
    assert win.preview.caption.text() == f"z = ({cursor[0]:+.2f}, {cursor[1]:+.2f})"
    assert len(win.preview.latencies_ms) >= 1 and win.preview.latency_percentile(95) < 1000
    # The cross-hair is drawn where the cursor is.
    assert win.plane.crosshair.pos().x() == pytest.approx(cursor[0]) and \
        win.plane.crosshair.pos().y() == pytest.approx(cursor[1])


def test_the_cursor_goes_beyond_the_grid_and_follows_other_inputs(qtbot, studio, data, window):
    live_run(studio, data)
    win = window()
    win.plane.viewbox.setRange(xRange=(-4, 4), yRange=(-4, 4), padding=0)
    QApplication.processEvents()
    drag(qtbot, win.viewport, win.pixel_of(0, 0), win.pixel_of(3.2, 3.0))
    assert studio.view.cursor == pytest.approx((3.2, 3.0), abs=0.05)  # not stuck at |z| = 2.58
    studio.view.move_cursor((-0.5, 0.25))  # e.g. an encoded image
    assert (win.plane.crosshair.pos().x(), win.plane.crosshair.pos().y()) == pytest.approx((-0.5, 0.25))
    assert "z1 -0.50" in win.plane.cursor_label.text() and "z2 +0.25" in win.plane.cursor_label.text()


def test_clicking_moves_the_cursor_arrow_keys_nudge_it_and_hover_reads_z(qtbot, studio, data, window):
    live_run(studio, data)
    win = window()
    studio.view.show_overlay(False)  # a click on a test point inspects it instead
    click(qtbot, win.viewport, win.pixel_of(-0.8, 0.6))
    assert studio.view.cursor == pytest.approx((-0.8, 0.6), abs=0.03)
    (x0, x1), _ = win.plane.viewbox.viewRange()
    step = (x1 - x0) / 50
    win.plane.graphics.setFocus()
    before = studio.view.cursor
    qtbot.keyClick(win.plane.graphics, Qt.Key.Key_Right)
    assert studio.view.cursor[0] == pytest.approx(before[0] + step) and studio.view.cursor[1] == before[1]
    qtbot.keyClick(win.plane.graphics, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert studio.view.cursor[1] == pytest.approx(before[1] - 5 * step)
    mouse(win.viewport, QEvent.Type.MouseMove, win.pixel_of(0.5, -1.0), buttons=Qt.MouseButton.NoButton)
    text = win.plane.hover_label.text()
    assert "z1 = +0.5" in text and "z2 = -1.0" in text or "z2 = -0.9" in text, text


def test_the_cursor_label_is_never_cut_off_at_the_edges(qtbot, studio, data, window):
    live_run(studio, data)
    win = window()
    (x0, x1), (y0, y1) = win.plane.viewbox.viewRange()
    graphics = win.plane.graphics
    inside = graphics.mapFromScene(win.plane.viewbox.sceneBoundingRect()).boundingRect()
    label = win.plane.cursor_label
    for x, y in ((x1 - 0.01, y1 - 0.01), (x0 + 0.01, y0 + 0.01), (x1 - 0.01, y0 + 0.01), (0.0, 0.0)):
        studio.view.move_cursor_on_plane(x, y)
        QApplication.processEvents()
        # The label keeps its size in pixels: its box is offset from its anchor (the cursor) in pixels.
        drawn = label.boundingRect().translated(QPointF(graphics.mapFromScene(label.scenePos())))
        assert inside.contains(drawn.toRect()), (x, y, drawn, inside)
        assert graphics.mapFromScene(label.scenePos()) == graphics.mapFromScene(win.plane.crosshair.scenePos())


def test_recording_a_morph_offers_the_gif_when_it_stops(qtbot, studio, data, window, tmp_path):
    import imageio.v3 as iio

    live_run(studio, data)
    win = window()
    preview = win.preview
    qtbot.mouseClick(preview.record_button, Qt.MouseButton.LeftButton)
    assert preview.record_button.text() == "Stop recording (1 frame)"
    drag(qtbot, win.viewport, win.pixel_of(0, 0), win.pixel_of(1.0, 1.0), steps=6)
    qtbot.waitUntil(lambda: len(preview.recorded) >= 3, timeout=2000)
    count = len(preview.recorded)
    assert preview.record_button.text() == f"Stop recording ({count} frames)"
    target = tmp_path / "morph.gif"
    win.commands.answers["exports"] = str(target)
    qtbot.mouseClick(preview.record_button, Qt.MouseButton.LeftButton)  # stop: the save is offered at once
    frames = iio.imread(target, index=None)
    assert len(frames) == count and frames.shape[1:3] == (28 * 4, 28 * 4)
    assert preview.record_button.text() == "Record morph" and preview.save_button.isEnabled()
    assert frames_text(1) == "1 frame" and frames_text(2) == "2 frames"


def test_a_cancelled_morph_save_can_be_saved_later(qtbot, studio, data, window, tmp_path):
    live_run(studio, data)
    win = window()
    preview = win.preview
    preview.set_recording(True)
    studio.view.move_cursor_on_plane(0.5, 0.5)
    qtbot.waitUntil(lambda: len(preview.recorded) == 2, timeout=2000)
    win.commands.answers["exports"] = None  # the user cancels the dialog
    preview.set_recording(False)
    assert preview.save_button.isEnabled()
    target = tmp_path / "later.gif"
    win.commands.answers["exports"] = str(target)
    qtbot.mouseClick(preview.save_button, Qt.MouseButton.LeftButton)
    assert target.is_file()


def test_samples_from_the_prior_fill_the_strip_and_a_click_moves_the_cursor(qtbot, studio, data, window):
    from vaestudio.core.probes import sample_prior

    live_run(studio, data)
    win = window()
    preview = win.preview
    assert not preview.prior_strip.isVisible()
    qtbot.mouseClick(preview.prior_button, Qt.MouseButton.LeftButton)
    expected = sample_prior(studio.explorer.vae, len(preview.prior_images), seed=0)
    assert preview.prior_strip.isVisible()
    for thumb, image in zip(preview.prior_images, expected.images):
        np.testing.assert_array_equal(thumb.image, image)
    qtbot.mouseClick(preview.prior_images[3], Qt.MouseButton.LeftButton)
    assert studio.view.cursor == pytest.approx(tuple(expected.z[3]), abs=1e-6)
    qtbot.waitUntil(lambda: preview._z is None, timeout=1000)
    np.testing.assert_array_equal(preview.image, expected.images[3])
    qtbot.mouseClick(preview.prior_button, Qt.MouseButton.LeftButton)  # a new draw each time
    assert not np.array_equal(preview.prior_images[0].image, expected.images[0])


# -- the grid at its coordinates, zoom and pan ---------------------------------------------------------------
def test_the_grid_sits_at_its_true_coordinates_on_both_scales(qtbot, studio, data, window):
    # A recorded picture whose tiles are flat and all different: tile (row, col) was decoded at
    # z = (values[col], values[row]), and the mosaic's top tile row is the highest z2.
    tile = 28
    levels = (20 + 6 * np.arange(GRID * GRID)).reshape(GRID, GRID)  # levels[row, col]
    mosaic = np.kron(levels[::-1], np.ones((tile, tile))).astype(np.uint8)
    history = RunHistory(name="old", config=TrainConfig.from_preset("custom", grid_size=GRID), live=True)
    studio.add_run(history)
    history.feed(Snapshot(0, 0, "epoch 1", mosaic, None, frame=-1))
    win = window()
    studio.view.move_cursor_on_plane(5.0, 5.0)  # out of the way
    values = grid_axis_values(GRID)
    edges_linear = axes.tile_edges(GRID, "linear")
    for scale in ("linear", "probit"):
        studio.view.set_scale(scale)
        QApplication.processEvents()
        assert win.plane.scale_box.currentData() == scale
        for row, col in ((0, 0), (2, 3), (5, 5), (4, 1), (3, 2)):
            assert grab_grey(win, win.pixel_of(values[col], values[row])) == levels[row, col], (scale, row, col)
        # Just inside the cell of tile (0, 0) on each side of its centre, the same tile shows.
        inner = (values[0] + edges_linear[1]) / 2, (values[0] + edges_linear[0]) / 2
        for z in inner:
            assert grab_grey(win, win.pixel_of(z, values[0])) == levels[0, 0], (scale, z)
    # On the linear scale the tiles are spaced as their z values are: the outer ones are wider.
    assert edges_linear[1] - edges_linear[0] > 1.5 * (edges_linear[3] - edges_linear[2])
    assert (values[:-1] < edges_linear[1:-1]).all() and (edges_linear[1:-1] < values[1:]).all()


def test_the_scale_toggle_explains_itself(qtbot, studio, data, window):
    live_run(studio, data)
    win = window()
    assert "evenly spaced" in win.plane.scale_box.toolTip() and "Linear" in win.plane.scale_box.toolTip()
    win.plane.scale_box.setCurrentIndex(win.plane.scale_box.findData("probit"))
    assert studio.view.scale == "probit"
    labels = win.plane.x_axis_item.tickStrings([float(axes.to_plot(1.0, "probit"))], 1, 1.0)
    assert labels == ["1"]  # the probit axis still reads z


def test_the_wheel_zooms_and_reset_view_brings_the_grid_back(qtbot, studio, data, window):
    live_run(studio, data)
    win = window()
    (x0, x1), _ = win.plane.viewbox.viewRange()
    centre = win.pixel_of(0.5, 0.5)
    wheel = QWheelEvent(QPointF(centre), QPointF(win.viewport.mapToGlobal(centre)), QPoint(0, 0), QPoint(0, 360),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(win.viewport, wheel)
    (z0, z1), _ = win.plane.viewbox.viewRange()
    assert z1 - z0 < 0.6 * (x1 - x0)  # zoomed in
    assert z0 < 0.5 < z1  # around the mouse
    cursor = studio.view.cursor
    drag(qtbot, win.viewport, win.pixel_of(0.5, 0.5), win.pixel_of(0.2, 0.5), button=Qt.MouseButton.RightButton)
    (p0, p1), _ = win.plane.viewbox.viewRange()
    assert p0 == pytest.approx(z0 + 0.3, abs=0.02) and studio.view.cursor == cursor  # panned, cursor stays
    qtbot.mouseClick(win.plane.reset_button, Qt.MouseButton.LeftButton)
    (r0, r1), _ = win.plane.viewbox.viewRange()
    edges = axes.tile_edges(GRID, "linear", studio.explorer.pictures.grid_spacing)
    assert studio.explorer.pictures.grid_spacing == "linear"  # the linear scale shows an evenly spaced grid
    assert r0 <= edges[0] and r1 >= edges[-1]


# -- the test-set overlay -------------------------------------------------------------------------------------
def test_clicking_a_test_point_shows_its_image_and_offers_it(qtbot, studio, data, window):
    live_run(studio, data)
    win = window()
    means = studio.explorer.pictures.means
    probe = studio.explorer.probe
    # The point farthest from its neighbours, so the click lands on it alone.
    distances = np.linalg.norm(means[:, None, :2] - means[None, :, :2], axis=-1) + np.eye(len(means)) * 1e9
    index = int(np.argmax(distances.min(axis=1)))
    x, y = win.plane.overlay_item.getData()
    assert (x[index], y[index]) == pytest.approx((means[index, 0], means[index, 1]))  # drawn where it is
    click(qtbot, win.viewport, win.pixel_of(*means[index, :2]))
    assert studio.view.inspected_test_image == index
    assert win.plane.inspect_bar.isVisible()
    assert f"Test image {index}" in win.plane.inspect_text.text() and probe.class_name(index) in \
        win.plane.inspect_text.text()
    shown = win.plane.inspect_image.pixmap().toImage()
    assert shown.width() == 84 and QColor_grey(shown.pixelColor(1, 1)) == probe.images[index][0, 0]
    qtbot.mouseClick(win.plane.inspect_endpoint, Qt.MouseButton.LeftButton)
    assert studio.view.endpoint_a == Endpoint.test_image(index, studio.view.endpoint_a.label)
    qtbot.mouseClick(win.plane.inspect_reconstruct, Qt.MouseButton.LeftButton)
    assert index in studio.view.reconstruction_extra
    qtbot.keyClick(win.plane.graphics, Qt.Key.Key_Escape)
    assert studio.view.inspected_test_image is None and not win.plane.inspect_bar.isVisible()


def test_points_beyond_the_grid_are_drawn_where_they_are(qtbot, studio, data, window):
    live_run(studio, data)
    win = window()
    means = studio.explorer.pictures.means
    x, _ = win.plane.overlay_item.getData()
    np.testing.assert_allclose(x, means[:, 0])
    studio.view.set_scale("probit")
    x, y = win.plane.overlay_item.getData()
    np.testing.assert_allclose(x, axes.to_plot(means[:, 0], "probit"))
    probe = studio.explorer.probe
    for label in set(probe.labels.tolist()):
        assert probe.class_names[label] in win.plane.legend.text()
    assert win.plane.legend.isVisible()
    qtbot.mouseClick(win.plane.overlay_box, Qt.MouseButton.LeftButton)
    assert not studio.view.overlay_visible and not win.plane.overlay_item.isVisible()
    assert not win.plane.legend.isVisible()


def test_shift_drag_picks_two_point_endpoints_and_the_path_is_drawn(qtbot, studio, data, window):
    live_run(studio, data)
    win = window()
    drag(qtbot, win.viewport, win.pixel_of(-1.0, -0.5), win.pixel_of(1.0, 0.8),
         modifiers=Qt.KeyboardModifier.ShiftModifier)
    a, b = studio.view.endpoint_a, studio.view.endpoint_b
    assert a.kind == b.kind == "point"
    assert a.z == pytest.approx((-1.0, -0.5), abs=0.05) and b.z == pytest.approx((1.0, 0.8), abs=0.05)
    interpolation = studio.explorer.pictures.interpolation
    x, y = win.plane.path_item.getData()
    np.testing.assert_allclose(x, interpolation.path[:, 0], atol=1e-6)
    np.testing.assert_allclose(y, interpolation.path[:, 1], atol=1e-6)
    marker_a = win.plane.endpoint_items["a"]
    assert marker_a.isVisible() and (marker_a.pos().x(), marker_a.pos().y()) == pytest.approx(a.z, abs=1e-6)
    assert studio.view.cursor == (0.0, 0.0)  # Shift+drag does not move the cursor


def test_own_images_are_drawn_with_their_posterior_ellipse(qtbot, studio, data, window):
    live_run(studio, data)
    win = window()
    drawing = np.zeros((28, 28, 1), np.float32)
    drawing[6:22, 12:16] = 1.0
    studio.view.add_own_image(OwnImage("stroke", drawing, (drawing[..., 0] * 255).astype(np.uint8), "drawing"))
    (own,) = studio.explorer.pictures.own
    x, y = win.plane.own_item.getData()
    assert (x[0], y[0]) == pytest.approx(tuple(own.mean[:2]))
    ex, ey = win.plane.ellipses_item.getData()
    sigma = np.exp(0.5 * own.logvar[:2])
    finite = np.isfinite(ex)
    assert ex[finite].max() == pytest.approx(own.mean[0] + sigma[0], rel=1e-3)
    assert ey[finite].min() == pytest.approx(own.mean[1] - sigma[1], rel=1e-3)


# -- more than two dimensions ----------------------------------------------------------------------------------
def test_axis_selectors_list_dimensions_by_kl_and_redraw_the_grid(qtbot, studio, data, window):
    live_run(studio, data, latent_dim=4)
    win = window()
    kl = studio.explorer.pictures.kl_per_dimension
    order = list(np.argsort(-kl, kind="stable"))
    assert list(studio.view.dimension_order) == order
    box = win.plane.x_box
    assert [box.itemData(i) for i in range(box.count())] == order
    assert box.itemText(0) == f"z{order[0] + 1}  ({kl[order[0]]:.2f} nats)"
    grid_before = win.plane.grid_item.image.copy()
    # Choose another dimension for x from the selector with the keyboard.
    target = next(d for d in order if d not in studio.view.axes)
    box.setFocus()
    while box.currentData() != target:
        qtbot.keyClick(box, Qt.Key.Key_Down if box.currentIndex() < order.index(target) else Qt.Key.Key_Up)
    assert studio.view.axes == (target, 1)
    assert studio.explorer.pictures.grid_axes == (target, 1)
    assert not np.array_equal(win.plane.grid_item.image, grid_before)
    assert win.plane.plot.getAxis("bottom").labelText == f"z{target + 1}"
    # Choosing the vertical axis's dimension for x swaps them.
    box.setCurrentIndex(box.findData(1))
    box.activated.emit(box.currentIndex())
    assert studio.view.axes == (1, target)


def test_held_sliders_move_the_other_coordinates_and_redraw_the_grid(qtbot, studio, data, window):
    live_run(studio, data, latent_dim=3)
    win = window()
    assert win.plane.held_panel.isVisible()
    assert win.plane.held_slider(0) is None and win.plane.held_slider(1) is None
    slider = win.plane.held_slider(2)
    grid_before = win.plane.grid_item.image.copy()
    slider.setFocus()
    qtbot.keyClick(slider, Qt.Key.Key_PageUp)  # a page step: +0.10
    assert studio.view.held[2] == pytest.approx(slider.value() / 100) and studio.view.held[2] > 0
    assert studio.view.cursor[2] == studio.view.held[2]
    assert not np.array_equal(win.plane.grid_item.image, grid_before)
    studio.view.set_axes(0, 2)  # z2 is now held: its slider appears, z3's goes
    assert win.plane.held_slider(2) is None and win.plane.held_slider(1) is not None
    qtbot.mouseClick(win.plane.held_zero, Qt.MouseButton.LeftButton)
    assert studio.view.held == (0.0, 0.0, studio.view.held[2])


def test_kl_bars_show_the_moment_and_a_click_puts_a_dimension_on_the_x_axis(qtbot, studio, data, window):
    history = live_run(studio, data, latent_dim=3, snapshots=2)
    win = window()
    panel = win.kl
    kl = studio.explorer.pictures.kl_per_dimension
    np.testing.assert_allclose(panel.bars.opts["height"], kl)
    assert panel.value_texts() == [f"{v:.2f}" for v in kl]
    active = studio.explorer.pictures.active_count
    assert f"{active} of 3 dimensions active" in panel.summary.text()
    assert "0.01" in panel.note.toolTip() and "Burda" in panel.note.toolTip()  # the explanation, on demand
    # Clicking the bar of z3 puts it on the x axis.
    plot = panel.plot
    scene = plot.vb.mapViewToScene(QPointF(2.0, kl[2] / 2))
    click(qtbot, panel.plot_widget.viewport(), panel.plot_widget.mapFromScene(scene))
    assert studio.view.axes == (2, 1)
    # Going back in time shows that moment's values.
    history.select(0)
    earlier = studio.explorer.pictures.kl_per_dimension
    assert not np.allclose(earlier, kl)
    np.testing.assert_allclose(panel.bars.opts["height"], earlier)


def test_a_one_dimensional_space_shows_a_strip_and_says_so(qtbot, studio, data, window):
    live_run(studio, data, latent_dim=1)
    win = window()
    assert "strip" in win.plane.notice.text() and win.plane.notice.isVisible()
    rect = win.plane.grid_item.mapRectToParent(win.plane.grid_item.boundingRect())
    edges = axes.tile_edges(GRID, "linear", studio.explorer.pictures.grid_spacing)
    assert rect.left() == pytest.approx(edges[0]) and rect.height() < rect.width() / 3
    drag(qtbot, win.viewport, win.pixel_of(0, 0), win.plot_pixel(1.2, 0.05))
    assert studio.view.cursor == pytest.approx((1.2,), abs=0.05)
    assert win.plane.crosshair.pos().y() == 0.0
    assert not win.plane.x_box.isVisible() and not win.plane.held_panel.isVisible()


# -- what cannot be shown -------------------------------------------------------------------------------------------
def test_without_a_run_every_panel_says_what_to_do(qtbot, studio, window):
    win = window()
    assert "No run yet" in win.plane.notice.text()
    assert "No model yet" in win.preview.image_view.message and win.preview.image is None
    assert "No model yet" in win.kl.summary.text()
    assert not win.preview.prior_button.isEnabled()


def test_a_run_recorded_without_weights_shows_its_grid_and_says_what_is_missing(qtbot, studio, data, window):
    live_run(studio, data, weights=False)
    win = window()
    assert win.plane.grid_item.image is not None  # the recorded picture
    assert "need weights" in win.plane.notice.text() or "needs weights" in win.plane.notice.text()
    assert win.preview.image is None and "weights" in win.preview.image_view.message
    assert "weights" in win.kl.summary.text() and len(win.kl.bars.opts["height"]) == 0
    assert len(win.plane.overlay_item.getData()[0]) == 0
    assert not win.preview.prior_button.isEnabled()


# -- a recorded run, replayed, with the threaded executor -------------------------------------------------------------
@pytest.fixture(scope="module")
def recorded(tmp_path_factory, data):
    from vaestudio.core.runs import Run

    config = TrainConfig.from_preset("custom", epochs=1, batch_size=32, learning_rate=3e-3, grid_size=GRID,
                                     metrics_every=1, snapshot_every=1, latent_dim=3, seed=1)
    run = Run.new(tmp_path_factory.mktemp("runs") / "run", config, load_dataset=lambda _: data)
    list(run.events())
    return run.path, config


def test_a_recorded_run_explored_with_background_workers(qtbot, recorded, data, tmp_path):
    from vaestudio.core.runs import replay
    from vaestudio.gui.threads import QtExecutor

    path, config = recorded
    executor = QtExecutor()
    studio = Studio(executor)
    history = RunHistory(folder=path, config=config)
    for event in replay(path):
        history.feed(event)
    win = Window(qtbot, studio, tmp_path / "settings.ini")
    studio.add_run(history)
    studio.set_probe(history, small_probe(data))
    qtbot.waitUntil(lambda: studio.explorer.pictures.kl_per_dimension is not None, timeout=10000)
    qtbot.waitUntil(lambda: win.preview.image is not None, timeout=2000)
    qtbot.waitUntil(lambda: win.plane.grid_item.image is not None, timeout=5000)
    assert len(win.plane.overlay_item.getData()[0]) == len(studio.explorer.probe.images)
    np.testing.assert_allclose(win.kl.bars.opts["height"], studio.explorer.pictures.kl_per_dimension)
    drag(qtbot, win.viewport, win.pixel_of(0, 0), win.pixel_of(-0.9, 0.4))
    qtbot.waitUntil(lambda: win.preview._z is None, timeout=2000)
    expected = studio.explorer.vae.decode_uint8(np.asarray(studio.view.cursor, np.float32)[None])[0]
    np.testing.assert_array_equal(win.preview.image, expected)
    # Scrubbing to the first snapshot redraws the grid from that moment's weights.
    grid = studio.explorer.pictures.grid
    history.select(0)
    qtbot.waitUntil(lambda: studio.explorer.pictures.grid is not None and studio.explorer.pictures.grid is not grid,
                    timeout=5000)
    qtbot.waitUntil(lambda: win.plane.grid_item.shown[0] is studio.explorer.pictures.grid, timeout=2000)
    assert studio.explorer.pictures.info.label == history.snapshots[0].label
    executor.wait(5000)


# -- the coordinate helpers and the view's checked setters ------------------------------------------------------------
def test_the_scales_map_latent_values_and_back():
    from statistics import NormalDist

    z = np.array([-6.0, -1.645, 0.0, 0.3, 2.5, 6.0])
    np.testing.assert_allclose(axes.to_plot(z, "linear"), z)
    u = axes.to_plot(z, "probit")
    np.testing.assert_allclose(u, [NormalDist().cdf(v) for v in z], atol=1e-12)
    for value in z:
        assert axes.to_latent(float(axes.to_plot(value, "probit")), "probit") == pytest.approx(value, abs=1e-6)
    assert axes.to_latent(1.5, "probit") == pytest.approx(6.0)  # beyond the plane: clipped, not an error
    with pytest.raises(ValueError):
        axes.to_plot(0.0, "log")
    # Resampling puts every picture pixel in the tile whose cell holds it.
    source, start, size = axes.resample_indices(GRID, 28, "linear")
    edges = axes.tile_edges(GRID, "linear")
    centres = start + (np.arange(len(source)) + 0.5) * size / len(source)
    np.testing.assert_array_equal(source // 28, np.clip(np.searchsorted(edges, centres, side="right") - 1, 0, GRID - 1))
    assert np.all(np.diff(source) >= 0) and source[0] == 0 and source[-1] == GRID * 28 - 1


def test_inspecting_and_the_overlay_switch_are_checked():
    from vaestudio.gui.state.latent_view import LatentView

    view = LatentView()
    seen = []
    view.events.inspected_test_image.connect(seen.append)
    view.inspect_test_image(np.int64(4))
    view.inspect_test_image(None)
    assert seen == [4, None]
    for bad in (-1, True, "3", 2.5):
        with pytest.raises(ValueError):
            view.inspect_test_image(bad)
    view.show_overlay(0)
    assert view.overlay_visible is False
