"""The latent plane: the grid of the moment at its true latent coordinates, the cursor, the test-set
overlay, the interpolation path and the user's own images, with zoom, pan and a linear or probit scale.

The panel shows `studio.explorer.pictures` for `studio.view` and sends every user action back through the
view (`move_cursor_on_plane`, `set_axes`, `set_held`, `pick_endpoint`, ...); it follows the view's events, so
whatever else moves the cursor or changes the axes is shown here too. Each visual is one item of plane_items.py;
the parts live beside this module: plane_canvas.py (the widget and its scene), plane_geometry.py (latent point
<-> plot position), plane_axes.py (axis selectors, held-coordinate sliders), plane_overlay.py (test-set points,
legend, the inspected test image), class_selector.py (a conditional model's class), plane_prior.py (the
prior's density, a VampPrior's pseudo-inputs). Per cursor move it only moves the cross-hair and its label.

Mouse: click or drag (left button) moves the cursor; Shift+drag draws an interpolation from A to B;
right or middle drag (or Ctrl+drag) pans; the wheel zooms. Keys: arrows nudge the cursor (Shift: five
times further), Escape closes the inspected test image.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QGraphicsItem, QHBoxLayout, QLabel, QSizePolicy, QToolButton, \
    QVBoxLayout, QWidget

from vaestudio.gui import axes
from vaestudio.gui.commands import Commands
from vaestudio.gui.panels import plane_items as items
from vaestudio.gui.panels.plane_axes import AxisSelectors, HeldSliders
from vaestudio.gui.panels.plane_canvas import PlaneCanvas
from vaestudio.gui.panels.plane_geometry import PlaneGeometry
from vaestudio.gui.panels.plane_overlay import TestSetOverlay
from vaestudio.gui.panels.class_selector import ClassSelector
from vaestudio.gui.panels.plane_paths import PathAndOwnMarks
from vaestudio.gui.panels.plane_prior import PriorView
from vaestudio.gui.state.latent_view import ALL_CLASSES, Endpoint
from vaestudio.gui.state.studio import Studio
from vaestudio.gui.widgets import cache_axes, subscribe
from vaestudio.gui.wrapping_bar import WrappingBar

NUDGE_FRACTION = 1 / 50  # an arrow key moves the cursor this fraction of the visible width (Shift: 5x)
MIN_PICK_DRAG = 0.02  # a Shift+drag shorter than this fraction of the view picks nothing


class LatentPlanePanel(QWidget):
    """The latent plane of the moment shown (see the module docstring for the mouse and keys)."""

    title = "Latent plane"

    def __init__(self, studio: Studio, commands: Commands, parent: QWidget | None = None):
        super().__init__(parent)
        self.studio, self.commands = studio, commands
        self.view, self.explorer = studio.view, studio.explorer
        self.geometry = PlaneGeometry(self.view, self._config)
        self._drawn: dict[str, object] = {}  # what each item last drew from (identity), to skip redraws
        self._framed: tuple | None = None  # (run, scale, grid size, 1-d) the view range was last reset for
        self._build()
        self._connect()
        self._on_latent_dim()
        self._on_scale(self.view.scale)
        self._on_pictures(self.explorer.pictures)
        self._on_probe(self.explorer.probe)

    # == building ===========================================================================================
    def _build(self) -> None:
        self.graphics = PlaneCanvas()  # white, takes the keyboard focus
        self.graphics.setToolTip("")
        self.viewbox = items.PlaneViewBox()
        self.x_axis_item, self.y_axis_item = axes.ScaleAxis("bottom"), axes.ScaleAxis("left")
        self.plot = pg.PlotItem(viewBox=self.viewbox, axisItems={"bottom": self.x_axis_item,
                                                                 "left": self.y_axis_item})
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        # Fixed axis sizes: with the aspect locked, tick labels that change width would resize the view,
        # change its range and so the labels again (a feedback loop that relays out every frame).
        self.y_axis_item.setWidth(46)
        self.x_axis_item.setHeight(36)
        self.viewbox.setAspectLocked(True)
        cache_axes(self.plot)
        self.graphics.addItem(self.plot, row=0, col=0)
        for axis in (self.x_axis_item, self.y_axis_item):
            axis.enableAutoSIPrefix(False)  # probit ticks sit in (0, 1) but read z: no "(x0.1)"

        self.overlay = TestSetOverlay(self.studio, self.geometry)
        self.overlay_item, self.inspected_item = self.overlay.points, self.overlay.ring
        self.legend = self.overlay.legend
        self.marks = PathAndOwnMarks(self.studio, self.geometry)
        self.ellipses_item, self.own_item = self.marks.ellipses_item, self.marks.own_item
        self.path_item, self.frames_item, self.endpoint_items = (self.marks.path_item, self.marks.frames_item,
                                                                 self.marks.endpoint_items)
        self.grid_item = items.GridImage()
        self.drag_item = items.PathLine(dashed=True)
        self.crosshair = items.CrossHair()
        self.cursor_label = items.CursorLabel()
        for item in (self.grid_item, self.overlay_item, self.inspected_item, self.ellipses_item, self.own_item,
                     self.path_item, self.frames_item, self.drag_item, *self.endpoint_items.values(),
                     self.crosshair):
            self.plot.addItem(item)
        self.cursor_label.setParentItem(self.crosshair)  # moves with it: one item to move per frame
        # Per drag frame only the cross-hair and its label move (measured in benchmarks/plane_frame_cost.py):
        # the cross-hair is drawn once and blitted.
        for item in (self.crosshair, self.grid_item, self.overlay_item):
            item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

        # -- the bar above the plane
        self.scale_box = QComboBox()
        self.scale_box.addItem("Linear scale", axes.LINEAR)
        self.scale_box.addItem("Probit scale", axes.PROBIT)
        self.scale_box.setToolTip(axes.SCALE_EXPLANATION)
        self.scale_help = QLabel("(?)", toolTip=axes.SCALE_EXPLANATION)
        self.axis_selectors = AxisSelectors(self.view, self._kl)
        self.axes_label, self.x_box, self.y_box = self.axis_selectors.widgets
        self.overlay_box = QCheckBox("Test images")
        self.overlay_box.setToolTip("Overlay the encoder means of the fixed test images, coloured by class; "
                                    "click one to see it")
        self.reset_button = QToolButton(text="Reset view")
        self.reset_button.setToolTip("Zoom and pan back to the whole grid (wheel zooms, right-drag pans)")
        self.class_box = ClassSelector.of_probe(self.view, self.studio)  # only for a conditional model
        self.prior = PriorView(self.studio, self.geometry, self.plot, self)  # density overlay, pseudo-inputs
        # Wraps rather than squeezes when narrow (1280x720 with a conditional model, or latent dim > 2).
        bar = WrappingBar((self.scale_box, self.scale_help, *self.axis_selectors.widgets, self.class_box,
                           *self.prior.widgets), (self.overlay_box, self.reset_button))

        self.notice = QLabel(wordWrap=True, styleSheet="color: #8a5a00;")

        # -- held coordinates (latent dim > 2) and the inspected test image
        self.held_panel = HeldSliders(self.view)
        self.held_zero = self.held_panel.zero_button
        bar_of = self.overlay.bar
        self.inspect_bar, self.inspect_image, self.inspect_text = bar_of, bar_of.image, bar_of.text
        self.inspect_endpoint, self.inspect_reconstruct = bar_of.endpoint_button, bar_of.reconstruct_button
        self.inspect_cursor, self.inspect_close = bar_of.cursor_button, bar_of.close_button

        # -- the bar below: z under the mouse (the moment is named once, by the timeline just below)
        self.hover_label = QLabel(" ")  # in the palette's text colour (a light grey was hard to read)
        self.hover_label.setMinimumWidth(220)
        self.hover_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        bottom = QHBoxLayout()
        bottom.setContentsMargins(0, 0, 0, 0)
        bottom.addWidget(self.hover_label, 1)

        middle = QHBoxLayout()
        middle.setContentsMargins(0, 0, 0, 0)
        middle.addWidget(self.graphics, 1)
        middle.addWidget(self.held_panel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(3)
        layout.addLayout(bar)
        layout.addWidget(self.notice)
        layout.addLayout(middle, 1)
        layout.addWidget(self.legend)
        layout.addWidget(self.inspect_bar)
        layout.addLayout(bottom)
        self.setMinimumSize(320, 320)

    def _connect(self) -> None:
        events = self.view.events
        subscribe(self, [
            (events.cursor, self._on_cursor), (events.axes, self._on_axes),
            (events.held, self.held_panel.show_values), (events.scale, self._on_scale),
            (events.overlay_visible, self._on_overlay_visible),
            (events.latent_dim, self._on_latent_dim), (events.dimension_order, self._on_dimension_order),
            (events.inspected_test_image, self.overlay.show_inspected),
            (events.endpoint_a, self.marks.endpoints_changed), (events.endpoint_b, self.marks.endpoints_changed),
            *[(self.explorer.event_of(part), self._on_pictures)
              for part in ("moment", "grid", "encodings", "own", "interpolation")],
            (self.studio.probe_changed, self._on_probe), (self.studio.active_changed, self._on_active),
        ])

        self.viewbox.cursor_dragged.connect(self._move_cursor_to)
        self.viewbox.clicked.connect(self._move_cursor_to)
        self.viewbox.pick_dragged.connect(self._on_pick_drag)
        self.viewbox.sigRangeChanged.connect(lambda *_: self._place_cursor_label())
        self.graphics.scene().sigMouseMoved.connect(self._on_hover)
        self.graphics.installEventFilter(self)
        self.scale_box.currentIndexChanged.connect(
            lambda _i: self.view.set_scale(self.scale_box.currentData()))
        self.overlay_box.toggled.connect(self.view.show_overlay)
        self.reset_button.clicked.connect(self.reset_range)

    # == coordinates ==========================================================================================
    def _config(self):
        history = self.studio.active
        return history.config if history is not None else None

    def _kl(self) -> np.ndarray | None:
        kl = self.explorer.pictures.kl_per_dimension
        return kl if kl is not None and len(kl) == self.view.latent_dim else None

    def held_slider(self, dimension: int):
        """The slider holding `dimension` (None when it is on the plane or the space has <= 2 dimensions)."""
        return self.held_panel.slider(dimension)

    # == the cursor ==========================================================================================
    def _move_cursor_to(self, x: float, y: float) -> None:
        """A click or a drag on the plane: the cursor goes there (through the view)."""
        self.view.move_cursor_on_plane(axes.to_latent(x, self.geometry.scale), axes.to_latent(y, self.geometry.scale))

    def _on_cursor(self, cursor) -> None:
        x, y = self.geometry.plot_position(cursor)
        self.crosshair.setPos(x, y)
        self.cursor_label.set_text(self.geometry.cursor_text(cursor))
        self._place_cursor_label()

    def _place_cursor_label(self) -> None:
        """Put the label on the side of the cursor that has room for it inside the view."""
        (x0, x1), (y0, y1) = self.viewbox.viewRange()
        pos = self.crosshair.pos()
        box = self.cursor_label.boundingRect()
        width, height = max(self.viewbox.width(), 1.0), max(self.viewbox.height(), 1.0)
        room_right = (x1 - pos.x()) / (x1 - x0) * width
        room_above = (y1 - pos.y()) / (y1 - y0) * height
        need_x = box.width() + items.CursorLabel.GAP + 4
        need_y = box.height() + items.CursorLabel.GAP / 2 + 4
        self.cursor_label.set_side(room_right >= need_x, room_above >= need_y)

    def nudge(self, dx: int, dy: int, big: bool = False) -> None:
        """Move the cursor by arrow-key steps (a fraction of the visible width; `big`: five times that)."""
        (x0, x1), _ = self.viewbox.viewRange()
        step = (x1 - x0) * NUDGE_FRACTION * (5 if big else 1)
        x, y = self.geometry.plot_position(self.view.cursor)
        low, high = axes.cursor_limits(self.geometry.scale)
        self._move_cursor_to(min(max(x + dx * step, low), high), min(max(y + dy * step, low), high))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if watched is self.graphics and event.type() == QEvent.Type.KeyPress:
            moves = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0), Qt.Key.Key_Up: (0, 1),
                     Qt.Key.Key_Down: (0, -1)}
            if event.key() in moves and self.explorer.pictures.info is not None:
                self.nudge(*moves[event.key()], big=bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier))
                return True
            if event.key() == Qt.Key.Key_Escape and self.view.inspected_test_image is not None:
                self.view.inspect_test_image(None)
                return True
        return super().eventFilter(watched, event)

    def _on_hover(self, scene_pos) -> None:
        if self.graphics.scene().dragButtons:
            return  # dragging: the cursor's own label says where the mouse is
        if not self.viewbox.sceneBoundingRect().contains(scene_pos):
            self.hover_label.setText(" ")
            return
        point = self.viewbox.mapSceneToView(scene_pos)
        self.hover_label.setText(self.geometry.readout(point.x(), point.y()))

    # == the view's state ======================================================================================
    def _on_latent_dim(self, *_args) -> None:
        many = self.view.latent_dim > 2
        for widget in (*self.axis_selectors.widgets, self.held_panel):
            widget.setVisible(many)
        self._on_dimension_order()
        self._redraw_all()

    def _on_axes(self, *_args) -> None:
        self._on_dimension_order()
        self._redraw_all()

    def _on_scale(self, scale: str) -> None:
        index = self.scale_box.findData(scale)
        if index != self.scale_box.currentIndex():
            self.scale_box.blockSignals(True)
            self.scale_box.setCurrentIndex(index)
            self.scale_box.blockSignals(False)
        self.x_axis_item.set_scale(scale)
        self.y_axis_item.set_scale(scale)
        low, high = axes.plane_limits(scale)
        self.viewbox.setLimits(xMin=low, xMax=high, yMin=low, yMax=high)
        self._redraw_all()
        self.reset_range()

    def _on_overlay_visible(self, visible: bool) -> None:
        if self.overlay_box.isChecked() != visible:
            self.overlay_box.blockSignals(True)
            self.overlay_box.setChecked(visible)
            self.overlay_box.blockSignals(False)
        self.overlay.set_visible(visible)

    def _on_dimension_order(self, *_args) -> None:
        self.axis_selectors.fill()
        self.held_panel.rebuild()

    def _on_probe(self, probe) -> None:
        self.overlay.show_legend(probe)
        self.overlay_box.setEnabled(probe is not None)
        self.overlay_box.setToolTip(
            "Overlay the encoder means of the fixed test images, coloured by class; click one to see it"
            if probe is not None else "No test images are loaded for this run (they come with its dataset)")
        self.overlay.forget()
        self._on_overlay_visible(self.view.overlay_visible)
        self._on_pictures(self.explorer.pictures)

    def _on_active(self, history) -> None:
        self._forget_drawn()
        self._on_axes()
        self._update_notice()

    def _redraw_all(self) -> None:
        """Axes or scale changed: every item is drawn again from the current pictures."""
        self._forget_drawn()
        x_axis, y_axis = self.view.axes
        self.plot.setLabel("bottom", f"z{x_axis + 1}")
        self.plot.setLabel("left", "(no second latent axis)" if self.geometry.one_d else f"z{y_axis + 1}")
        self.y_axis_item.setStyle(showValues=not self.geometry.one_d)
        self._on_pictures(self.explorer.pictures)
        self._on_cursor(self.view.cursor)
        self.overlay.show_inspected(self.view.inspected_test_image)

    def _forget_drawn(self) -> None:
        self._drawn.clear()
        self.overlay.forget()
        self.marks.forget()

    # == the pictures ===========================================================================================
    def _on_pictures(self, pictures) -> None:
        self._draw_grid(pictures)
        self.overlay.draw(pictures)
        self.marks.draw(pictures)
        if pictures.kl_per_dimension is not None and self._drawn.get("kl") is not pictures.kl_per_dimension:
            self._drawn["kl"] = pictures.kl_per_dimension
            self._follow_kl(pictures.kl_per_dimension)
        self._update_notice()

    def _draw_grid(self, pictures) -> None:
        grid = pictures.grid
        if grid is None:
            if pictures.info is None:
                self.grid_item.clear_grid()
                self._drawn.pop("grid", None)
            return  # a new moment's grid is on its way: keep the last one until it comes
        if self._drawn.get("grid") is grid:
            return
        n, rows = self.geometry.grid_layout(grid, pictures.grid_class == ALL_CLASSES)  # rows: one per class
        self.grid_item.show_grid(grid, n, self.geometry.scale, self.geometry.one_d or bool(rows),
                                 pictures.grid_spacing, max(rows, 1))
        self._drawn["grid"] = grid
        framing = (id(self.studio.active), self.geometry.scale, n, self.geometry.one_d)
        if framing != self._framed:  # a new run, scale or grid size: show the whole grid
            self._framed = framing
            self.reset_range()

    def _follow_kl(self, kl: np.ndarray) -> None:
        """Keep the view's dimension order (most KL first) in step with the moment shown."""
        if len(kl) != self.view.latent_dim:
            return
        order = tuple(int(i) for i in np.argsort(-np.asarray(kl), kind="stable"))
        if order != tuple(self.view.dimension_order):
            self.view.set_dimension_order(order)  # refills the selectors through the event
        else:
            self.axis_selectors.fill()

    # -- Shift+drag: two point endpoints ------------------------------------------------------------------------
    def _on_pick_drag(self, x0: float, y0: float, x1: float, y1: float, finished: bool) -> None:
        if not finished:
            self.drag_item.set_path(np.array([x0, x1]), np.array([y0, y1]))
            return
        self.drag_item.set_path(None, None)
        (vx0, vx1), _ = self.viewbox.viewRange()
        if np.hypot(x1 - x0, y1 - y0) < MIN_PICK_DRAG * (vx1 - vx0):
            return
        a, b = self.geometry.latent_point(x0, y0), self.geometry.latent_point(x1, y1)
        self.view.set_endpoint("a", Endpoint.point(a))
        self.view.set_endpoint("b", Endpoint.point(b))
        self.studio.say("Interpolation from A to B: the path you dragged", 4000)

    # == view range and notices ===================================================================================
    def reset_range(self) -> None:
        """Show the whole grid (and, on the linear scale, most test points beyond it)."""
        means = self.explorer.pictures.means if self.view.overlay_visible else None
        x_range, y_range = self.geometry.whole_grid_range(self.explorer.pictures.grid_spacing, means)
        self.viewbox.setRange(xRange=x_range, yRange=y_range, padding=0.02)

    def _update_notice(self) -> None:
        pictures = self.explorer.pictures
        if self.studio.active is None:
            text = "No run yet: press Start to train, or open a run folder or a saved model."
        elif pictures.info is None:
            text = "Waiting for the first snapshot of this run…"
        elif pictures.vae is None:
            text = ((pictures.note or "This moment has no model weights.") + " The grid is the recorded "
                    "picture of z1 × z2; the cursor preview, the test-set overlay and other axes need weights.")
        elif self.geometry.one_d:
            text = ("A 1-d latent space: the grid is a strip along z1. Up and down mean nothing here; the test "
                    "points are spread vertically only so that they can be seen.")
        elif pictures.grid is not None and tuple(pictures.grid_axes) != tuple(self.view.axes):
            text = "Decoding the grid for the new axes…"
        else:
            text = ""
        self.notice.setText(text)
        self.notice.setVisible(bool(text))
        enabled = pictures.vae is not None
        for widget in (self.x_box, self.y_box, self.held_panel):
            widget.setEnabled(enabled)
