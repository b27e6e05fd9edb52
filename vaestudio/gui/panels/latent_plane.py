"""The latent plane: the grid of the moment at its true latent coordinates, the cursor, the test-set
overlay, the interpolation path and the user's own images, with zoom, pan and a linear or probit scale.

The panel shows `studio.explorer.pictures` for `studio.view` and sends every user action back through
the view (`move_cursor_on_plane`, `set_axes`, `set_held`, `pick_endpoint`, ...); it follows the view's
events, so whatever else moves the cursor or changes the axes is shown here too. Each visual is one
item of plane_items.py. Per cursor move it only moves the cross-hair and rewrites its label.

Mouse: click or drag (left button) moves the cursor; Shift+drag draws an interpolation from A to B;
right or middle drag (or Ctrl+drag) pans; the wheel zooms. Keys: arrows nudge the cursor (Shift: five
times further), Escape closes the inspected test image.
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFrame, QGraphicsItem, QGraphicsScene, QGridLayout, QHBoxLayout,
                               QLabel, QPushButton, QScrollArea, QSizePolicy, QSlider, QToolButton, QVBoxLayout,
                               QWidget)

from vaestudio.gui import axes
from vaestudio.gui.commands import Commands
from vaestudio.gui.panels import plane_items as items
from vaestudio.gui.state.latent_view import Z_LIMIT, Endpoint
from vaestudio.gui.state.studio import Studio
from vaestudio.gui.widgets import subscribe

HELD_STEPS = 100  # held-coordinate slider steps per unit of z
HELD_RANGE = 3.0  # sliders reach ±3 (99.7% of the prior)
NUDGE_FRACTION = 1 / 50  # an arrow key moves the cursor this fraction of the visible width (Shift: 5x)
MIN_PICK_DRAG = 0.02  # a Shift+drag shorter than this fraction of the view picks nothing
ONE_D_SPREAD = 0.8  # test points of a 1-d space are spread over this fraction of the strip's height


class LatentPlanePanel(QWidget):
    """The latent plane of the moment shown (see the module docstring for the mouse and keys)."""

    title = "Latent plane"

    def __init__(self, studio: Studio, commands: Commands, parent: QWidget | None = None):
        super().__init__(parent)
        self.studio, self.commands = studio, commands
        self.view, self.explorer = studio.view, studio.explorer
        self._drawn: dict[str, object] = {}  # what each item last drew from (identity), to skip redraws
        self._held_rows: dict[int, tuple[QSlider, QLabel]] = {}
        self._framed: tuple | None = None  # (run, scale, grid size, 1-d) the view range was last reset for
        self._build()
        self._connect()
        self._on_latent_dim()
        self._on_scale(self.view.scale)
        self._on_pictures(self.explorer.pictures)
        self._on_probe(self.explorer.probe)

    # == building ===========================================================================================
    def _build(self) -> None:
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.graphics.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
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
        self.graphics.addItem(self.plot, row=0, col=0)
        for axis in (self.x_axis_item, self.y_axis_item):
            axis.enableAutoSIPrefix(False)  # probit ticks sit in (0, 1) but read z: no "(x0.1)"
        # The class legend wraps with the panel's width (a Qt label, not an item of the plane's scene).
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)

        self.grid_item = items.GridImage()
        self.overlay_item = items.OverlayPoints()
        self.inspected_item = items.InspectedRing()
        self.ellipses_item = items.PosteriorEllipses()
        self.own_item = items.OwnMarkers()
        self.path_item = items.PathLine()
        self.frames_item = items.PathFrames()
        self.drag_item = items.PathLine(dashed=True)
        self.endpoint_items = {"a": items.EndpointMarker("A"), "b": items.EndpointMarker("B")}
        self.crosshair = items.CrossHair()
        self.cursor_label = items.CursorLabel()
        for item in (self.grid_item, self.overlay_item, self.inspected_item, self.ellipses_item, self.own_item,
                     self.path_item, self.frames_item, self.drag_item, *self.endpoint_items.values(),
                     self.crosshair):
            self.plot.addItem(item)
        self.cursor_label.setParentItem(self.crosshair)  # moves with it: one item to move per frame
        for item in self.endpoint_items.values():
            item.hide()
        # Per drag frame only the cross-hair and its label move (measured in benchmarks/plane_frame_cost.py):
        # the cross-hair is drawn once and blitted; a scene this small is searched faster without a BSP
        # index, which would be rebuilt for every move.
        self.crosshair.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.grid_item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.overlay_item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        scene = self.graphics.scene()
        scene.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        # pyqtgraph looks for items under the mouse on every move to send hover events; during a drag
        # nothing here needs them, and the search was a third of a drag frame's work.
        send_hover_events = scene.sendHoverEvents

        def hover_unless_dragging(event, exitOnly=False):  # noqa: N803 (pyqtgraph's name)
            if not scene.dragButtons:
                send_hover_events(event, exitOnly)

        scene.sendHoverEvents = hover_unless_dragging

        # -- the bar above the plane
        self.scale_box = QComboBox()
        self.scale_box.addItem("Linear scale", axes.LINEAR)
        self.scale_box.addItem("Probit scale", axes.PROBIT)
        self.scale_box.setToolTip(axes.SCALE_EXPLANATION)
        self.scale_help = QLabel("(?)")
        self.scale_help.setToolTip(axes.SCALE_EXPLANATION)
        self.x_box, self.y_box = QComboBox(), QComboBox()
        self.x_box.setToolTip("Latent dimension shown horizontally (listed by KL, most informative first)")
        self.y_box.setToolTip("Latent dimension shown vertically (listed by KL, most informative first)")
        self.axes_label = QLabel("Axes:")
        self.overlay_box = QCheckBox("Test images")
        self.overlay_box.setToolTip("Overlay the encoder means of the fixed test images, coloured by class; "
                                    "click one to see it")
        self.reset_button = QToolButton()
        self.reset_button.setText("Reset view")
        self.reset_button.setToolTip("Zoom and pan back to the whole grid (wheel zooms, right-drag pans)")
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        for widget in (self.scale_box, self.scale_help, self.axes_label, self.x_box, self.y_box):
            bar.addWidget(widget)
        bar.addStretch(1)
        bar.addWidget(self.overlay_box)
        bar.addWidget(self.reset_button)

        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color: #8a5a00;")

        # -- held coordinates (latent dim > 2)
        self.held_box = QWidget()
        self.held_layout = QGridLayout(self.held_box)
        self.held_layout.setContentsMargins(2, 2, 2, 2)
        self.held_title = QLabel("<b>Held</b>")
        self.held_title.setToolTip("The other latent coordinates, held at these values for the grid and the "
                                   "cursor (listed by KL, most informative first)")
        self.held_zero = QToolButton()
        self.held_zero.setText("All to 0")
        self.held_scroll = QScrollArea()
        self.held_scroll.setWidgetResizable(True)
        self.held_scroll.setWidget(self.held_box)
        self.held_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.held_panel = QWidget()
        held_outer = QVBoxLayout(self.held_panel)
        held_outer.setContentsMargins(0, 0, 0, 0)
        held_head = QHBoxLayout()
        held_head.addWidget(self.held_title)
        held_head.addStretch(1)
        held_head.addWidget(self.held_zero)
        held_outer.addLayout(held_head)
        held_outer.addWidget(self.held_scroll, 1)
        self.held_panel.setMinimumWidth(170)
        self.held_panel.setMaximumWidth(240)

        # -- the inspected test image
        self.inspect_bar = QFrame()
        self.inspect_bar.setFrameShape(QFrame.Shape.StyledPanel)
        self.inspect_image = QLabel()
        self.inspect_image.setFixedSize(84, 84)
        self.inspect_text = QLabel()
        self.inspect_text.setWordWrap(True)
        self.inspect_endpoint = QPushButton("Endpoint")
        self.inspect_endpoint.setToolTip("Use this image as an end of the interpolation (A, then B)")
        self.inspect_reconstruct = QPushButton("Reconstruct")
        self.inspect_reconstruct.setToolTip("Add this image to the reconstruction strip")
        self.inspect_cursor = QPushButton("Cursor here")
        self.inspect_cursor.setToolTip("Move the cursor to this image's encoding")
        self.inspect_close = QToolButton()
        self.inspect_close.setText("✕")
        self.inspect_close.setToolTip("Close (Esc)")
        inspect_buttons = QHBoxLayout()
        for button in (self.inspect_endpoint, self.inspect_reconstruct, self.inspect_cursor):
            inspect_buttons.addWidget(button)
        inspect_buttons.addStretch(1)
        inspect_head = QHBoxLayout()
        inspect_head.addWidget(self.inspect_text, 1)
        inspect_head.addWidget(self.inspect_close, 0, Qt.AlignmentFlag.AlignTop)
        inspect_right = QVBoxLayout()
        inspect_right.addLayout(inspect_head, 1)
        inspect_right.addLayout(inspect_buttons)
        inspect = QHBoxLayout(self.inspect_bar)
        inspect.setContentsMargins(4, 4, 4, 4)
        inspect.addWidget(self.inspect_image)
        inspect.addLayout(inspect_right, 1)
        self.inspect_bar.hide()

        # -- the bar below: z under the mouse, the moment
        self.hover_label = QLabel(" ")
        self.hover_label.setMinimumWidth(220)
        self.hover_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.moment_label = QLabel()  # both in the palette's text colour (a light grey was hard to read)
        bottom = QHBoxLayout()
        bottom.setContentsMargins(0, 0, 0, 0)
        bottom.addWidget(self.hover_label, 1)
        bottom.addWidget(self.moment_label)

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
            (events.cursor, self._on_cursor), (events.axes, self._on_axes), (events.held, self._on_held),
            (events.scale, self._on_scale), (events.overlay_visible, self._on_overlay_visible),
            (events.latent_dim, self._on_latent_dim), (events.dimension_order, self._on_dimension_order),
            (events.inspected_test_image, self._on_inspected), (events.endpoint_a, self._on_endpoints),
            (events.endpoint_b, self._on_endpoints),
            *[(self.explorer.event_of(part), self._on_pictures)
              for part in ("moment", "grid", "encodings", "own", "interpolation")],
            (self.studio.probe_changed, self._on_probe), (self.studio.active_changed, self._on_active),
        ])

        self.viewbox.cursor_dragged.connect(self._move_cursor_to)
        self.viewbox.clicked.connect(self._move_cursor_to)
        self.viewbox.pick_dragged.connect(self._on_pick_drag)
        self.viewbox.sigRangeChanged.connect(lambda *_: self._place_cursor_label())
        self.overlay_item.sigClicked.connect(self._on_point_clicked)
        self.graphics.scene().sigMouseMoved.connect(self._on_hover)
        self.graphics.installEventFilter(self)
        self.scale_box.currentIndexChanged.connect(
            lambda _i: self.view.set_scale(self.scale_box.currentData()))
        self.x_box.activated.connect(lambda _i: self._on_axis_chosen(self.x_box, 0))
        self.y_box.activated.connect(lambda _i: self._on_axis_chosen(self.y_box, 1))
        self.overlay_box.toggled.connect(self.view.show_overlay)
        self.reset_button.clicked.connect(self.reset_range)
        self.held_zero.clicked.connect(self._zero_held)
        self.inspect_endpoint.clicked.connect(self._inspected_as_endpoint)
        self.inspect_reconstruct.clicked.connect(self._inspected_to_reconstructions)
        self.inspect_cursor.clicked.connect(self._cursor_to_inspected)
        self.inspect_close.clicked.connect(lambda: self.view.inspect_test_image(None))

    # == coordinates ==========================================================================================
    @property
    def scale(self) -> str:
        return self.view.scale

    @property
    def one_d(self) -> bool:
        return self.view.latent_dim == 1

    def plot_position(self, z) -> tuple[float, float]:
        """Where the full latent point z is drawn on the plane (plot coordinates)."""
        x_axis, y_axis = self.view.axes
        x = float(axes.to_plot(z[x_axis], self.scale))
        y = axes.origin(self.scale) if self.one_d else float(axes.to_plot(z[y_axis], self.scale))
        return x, y

    def latent_point(self, x: float, y: float) -> np.ndarray:
        """The full latent point drawn at plot position (x, y): the shown axes from (x, y), the rest held."""
        z = np.array(self.view.held, dtype=np.float64)
        x_axis, y_axis = self.view.axes
        z[x_axis] = axes.to_latent(x, self.scale)
        if not self.one_d:
            z[y_axis] = axes.to_latent(y, self.scale)
        return np.clip(z, -Z_LIMIT, Z_LIMIT)

    def _project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, d) latent points -> their plot x and y on the shown axes (1-d: spread around the strip)."""
        points = np.asarray(points, dtype=np.float64)
        x_axis, y_axis = self.view.axes
        x = axes.to_plot(points[:, x_axis], self.scale)
        if self.one_d:
            bottom, height = axes.strip_height(self._grid_count(), self.scale)
            spread = ((np.arange(len(points)) * 0.6180339887) % 1.0 - 0.5) * height * ONE_D_SPREAD
            return x, axes.origin(self.scale) + spread
        return x, axes.to_plot(points[:, y_axis], self.scale)

    def _grid_count(self) -> int:
        history = self.studio.active
        return history.config.grid_size if history is not None and history.config is not None else 20

    # == the cursor ==========================================================================================
    def _move_cursor_to(self, x: float, y: float) -> None:
        """A click or a drag on the plane: the cursor goes there (through the view)."""
        self.view.move_cursor_on_plane(axes.to_latent(x, self.scale), axes.to_latent(y, self.scale))

    def _on_cursor(self, cursor) -> None:
        x, y = self.plot_position(cursor)
        self.crosshair.setPos(x, y)
        x_axis, y_axis = self.view.axes
        text = f"z{x_axis + 1} {cursor[x_axis]:+.2f}"
        if not self.one_d:
            text += f"\nz{y_axis + 1} {cursor[y_axis]:+.2f}"
        self.cursor_label.set_text(text)
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
        x, y = self.plot_position(self.view.cursor)
        low, high = axes.cursor_limits(self.scale)
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
        x_axis, y_axis = self.view.axes
        text = f"under the mouse: z{x_axis + 1} = {axes.to_latent(point.x(), self.scale):+.2f}"
        if not self.one_d:
            text += f", z{y_axis + 1} = {axes.to_latent(point.y(), self.scale):+.2f}"
        self.hover_label.setText(text)

    # == the view's state ======================================================================================
    def _on_latent_dim(self, *_args) -> None:
        many = self.view.latent_dim > 2
        for widget in (self.axes_label, self.x_box, self.y_box):
            widget.setVisible(many)
        self.held_panel.setVisible(many)
        self._fill_axis_boxes()
        self._rebuild_held_rows()
        self._redraw_all()

    def _on_axes(self, *_args) -> None:
        self._fill_axis_boxes()
        self._rebuild_held_rows()
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
        for item in (self.overlay_item, self.inspected_item):
            item.show_points(visible)
        self.legend.setVisible(visible and bool(self.legend.text()))

    def _on_dimension_order(self, *_args) -> None:
        self._fill_axis_boxes()
        self._rebuild_held_rows()

    def _on_active(self, history) -> None:
        self._drawn.clear()
        self._on_axes()
        self._update_notice()

    def _redraw_all(self) -> None:
        """Axes or scale changed: every item is drawn again from the current pictures."""
        self._drawn.clear()
        x_axis, y_axis = self.view.axes
        self.plot.setLabel("bottom", f"z{x_axis + 1}")
        self.plot.setLabel("left", "(no second latent axis)" if self.one_d else f"z{y_axis + 1}")
        self.y_axis_item.setStyle(showValues=not self.one_d)
        self._on_pictures(self.explorer.pictures)
        self._on_cursor(self.view.cursor)
        self._on_inspected(self.view.inspected_test_image)

    # -- axis selectors and held sliders --------------------------------------------------------------------
    def _kl(self) -> np.ndarray | None:
        kl = self.explorer.pictures.kl_per_dimension
        return kl if kl is not None and len(kl) == self.view.latent_dim else None

    def _dimension_text(self, dimension: int) -> str:
        kl = self._kl()
        return f"z{dimension + 1}" + (f"  ({kl[dimension]:.2f} nats)" if kl is not None else "")

    def _fill_axis_boxes(self) -> None:
        order = self.view.dimension_order if len(self.view.dimension_order) == self.view.latent_dim \
            else tuple(range(self.view.latent_dim))
        for box, chosen in ((self.x_box, self.view.axes[0]), (self.y_box, self.view.axes[1])):
            box.blockSignals(True)
            if [box.itemData(i) for i in range(box.count())] != list(order):
                box.clear()
                for dimension in order:
                    box.addItem(self._dimension_text(dimension), dimension)
            else:
                for i, dimension in enumerate(order):
                    box.setItemText(i, self._dimension_text(dimension))
            box.setCurrentIndex(box.findData(chosen))
            box.blockSignals(False)

    def _on_axis_chosen(self, box: QComboBox, which: int) -> None:
        chosen = box.currentData()
        if chosen is None:
            return
        axes_now = list(self.view.axes)
        other = axes_now[1 - which]
        if chosen == other:  # choosing the other axis swaps the two
            axes_now[1 - which] = axes_now[which]
        axes_now[which] = chosen
        self.view.set_axes(*axes_now)

    def _rebuild_held_rows(self) -> None:
        wanted = [d for d in self.view.dimension_order if d not in self.view.axes] \
            if self.view.latent_dim > 2 and len(self.view.dimension_order) == self.view.latent_dim else []
        if list(self._held_rows) == wanted:
            self._on_held()
            return
        while self.held_layout.count():
            widget = self.held_layout.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self._held_rows = {}
        for row, dimension in enumerate(wanted):
            name = QLabel(f"z{dimension + 1}")
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(int(-HELD_RANGE * HELD_STEPS), int(HELD_RANGE * HELD_STEPS))
            slider.setToolTip(f"Hold z{dimension + 1} at this value (double-click the value to reset it to 0)")
            value = QLabel()
            value.setMinimumWidth(40)
            slider.valueChanged.connect(lambda v, d=dimension: self.view.set_held(d, v / HELD_STEPS))
            self.held_layout.addWidget(name, row, 0)
            self.held_layout.addWidget(slider, row, 1)
            self.held_layout.addWidget(value, row, 2)
            self._held_rows[dimension] = (slider, value)
        self.held_layout.setRowStretch(len(wanted), 1)
        self._on_held()

    def _on_held(self, *_args) -> None:
        for dimension, (slider, value) in self._held_rows.items():
            held = self.view.held[dimension] if dimension < len(self.view.held) else 0.0
            slider.blockSignals(True)
            slider.setValue(int(round(held * HELD_STEPS)))
            slider.blockSignals(False)
            value.setText(f"{held:+.2f}")

    def _zero_held(self) -> None:
        for dimension in list(self._held_rows):
            if self.view.held[dimension] != 0.0:
                self.view.set_held(dimension, 0.0)

    def held_slider(self, dimension: int) -> QSlider | None:
        """The slider holding `dimension` (None when it is on the plane or the space has <= 2 dimensions)."""
        row = self._held_rows.get(dimension)
        return row[0] if row is not None else None

    # == the pictures ===========================================================================================
    def _on_pictures(self, pictures) -> None:
        self._draw_grid(pictures)
        self._draw_overlay(pictures)
        self._draw_own(pictures)
        self._draw_interpolation(pictures)
        if pictures.kl_per_dimension is not None and self._drawn.get("kl") is not pictures.kl_per_dimension:
            self._drawn["kl"] = pictures.kl_per_dimension
            self._follow_kl(pictures.kl_per_dimension)
        self.moment_label.setText(pictures.info.label if pictures.info is not None else "")
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
        n = self._tiles_per_side(grid)
        self.grid_item.show_grid(grid, n, self.scale, self.one_d, pictures.grid_spacing)
        self._drawn["grid"] = grid
        framing = (id(self.studio.active), self.scale, n, self.one_d)
        if framing != self._framed:  # a new run, scale or grid size: show the whole grid
            self._framed = framing
            self.reset_range()

    def _tiles_per_side(self, grid: np.ndarray) -> int:
        if self.one_d:  # a 1 x n strip of square tiles
            return max(grid.shape[1] // grid.shape[0], 1)
        n = self._grid_count()
        if grid.shape[0] % n == 0 and grid.shape[1] % n == 0:
            return n
        history = self.studio.active
        tile = history.config.image_size if history is not None and history.config is not None else 28
        return max(grid.shape[0] // tile, 1)

    def _draw_overlay(self, pictures) -> None:
        probe = self.explorer.probe
        means = pictures.means
        if pictures.info is None or pictures.vae is None or probe is None:
            if self._drawn.get("means") is not None:
                self.overlay_item.setData([], [])
                self._drawn["means"] = None
            return
        if means is None or self._drawn.get("means") is means or len(means) != len(probe.labels):
            return  # keep the last points until the new moment's encodings come (no flicker while scrubbing)
        x, y = self._project(means)
        self.overlay_item.set_points(x, y, probe.labels)
        self._drawn["means"] = means
        self._on_inspected(self.view.inspected_test_image)

    def _draw_own(self, pictures) -> None:
        own = pictures.own if pictures.vae is not None else None
        if self._drawn.get("own", ()) is own:
            return
        self._drawn["own"] = own
        if not own:
            self.own_item.setData([], [])
            self.ellipses_item.set_ellipses(np.zeros((0, 2)), np.zeros((0, 2)), self.scale)
            return
        means = np.stack([encoding.mean for encoding in own]).astype(np.float64)
        sigmas = np.exp(0.5 * np.stack([encoding.logvar for encoding in own]).astype(np.float64))
        x, y = self._project(means)
        names = [image.name for image in self.view.own_images]
        self.own_item.setData(x=x, y=y, data=[names[i] if i < len(names) else f"own image {i + 1}"
                                              for i in range(len(own))])
        x_axis, y_axis = self.view.axes
        if self.one_d:
            self.ellipses_item.set_ellipses(np.zeros((0, 2)), np.zeros((0, 2)), self.scale)
        else:
            self.ellipses_item.set_ellipses(means[:, [x_axis, y_axis]], sigmas[:, [x_axis, y_axis]], self.scale)

    def _draw_interpolation(self, pictures) -> None:
        interpolation = pictures.interpolation if pictures.vae is not None else None
        key = (interpolation, self.view.endpoint_a, self.view.endpoint_b)
        drawn = self._drawn.get("interpolation")
        if drawn is not None and all(new is old for new, old in zip(key, drawn)):
            return
        self._drawn["interpolation"] = key
        ends = {"a": self._endpoint_z(self.view.endpoint_a), "b": self._endpoint_z(self.view.endpoint_b)}
        if interpolation is not None:
            x, y = self._project(interpolation.path)
            self.path_item.set_path(x, y)
            self.frames_item.setData(x=x, y=y)
            if ends["a"] is None:
                ends["a"] = interpolation.path[0]
            if ends["b"] is None:
                ends["b"] = interpolation.path[-1]
        else:
            self.path_item.set_path(None, None)
            self.frames_item.setData([], [])
        for which, item in self.endpoint_items.items():
            z = ends[which]
            if z is None:
                item.hide()
            else:
                item.setPos(*self.plot_position(z))
                item.show()

    def _endpoint_z(self, endpoint: Endpoint | None) -> np.ndarray | None:
        """Where an endpoint is now, from what is already computed (test and own images: their means)."""
        if endpoint is None:
            return None
        pictures = self.explorer.pictures
        if endpoint.kind == "point":
            return np.asarray(endpoint.z, np.float64) if len(endpoint.z) == self.view.latent_dim else None
        if endpoint.kind == "test" and pictures.means is not None and 0 <= endpoint.index < len(pictures.means):
            return pictures.means[endpoint.index]
        if endpoint.kind == "own" and pictures.own and 0 <= endpoint.index < len(pictures.own):
            return pictures.own[endpoint.index].mean
        return None

    def _on_endpoints(self, *_args) -> None:
        self._draw_interpolation(self.explorer.pictures)

    def _follow_kl(self, kl: np.ndarray) -> None:
        """Keep the view's dimension order (most KL first) in step with the moment shown."""
        if len(kl) != self.view.latent_dim:
            return
        order = tuple(int(i) for i in np.argsort(-np.asarray(kl), kind="stable"))
        if order != tuple(self.view.dimension_order):
            self.view.set_dimension_order(order)  # refills the selectors through the event
        else:
            self._fill_axis_boxes()

    # -- the test-set overlay --------------------------------------------------------------------------------
    def _on_probe(self, probe) -> None:
        entries = []
        if probe is not None:
            for label in sorted({int(label) for label in probe.labels}):
                name = probe.class_names[label] if 0 <= label < len(probe.class_names) else str(label)
                red, green, blue = items.class_color(label)
                entries.append(f'<span style="color: rgb({red},{green},{blue});">●</span>&nbsp;{html.escape(name)}')
        self.legend.setText(" &nbsp; ".join(entries))
        self.overlay_box.setEnabled(probe is not None)
        self.overlay_box.setToolTip(
            "Overlay the encoder means of the fixed test images, coloured by class; click one to see it"
            if probe is not None else "No test images are loaded for this run (they come with its dataset)")
        self._drawn.pop("means", None)
        self._on_overlay_visible(self.view.overlay_visible)
        self._on_pictures(self.explorer.pictures)

    def _on_point_clicked(self, _item, points, _event) -> None:
        if len(points):
            self.view.inspect_test_image(int(points[0].data()))

    def _on_inspected(self, index) -> None:
        probe = self.explorer.probe
        means = self.explorer.pictures.means
        if index is None or probe is None or not 0 <= index < len(probe.images):
            self.inspect_bar.hide()
            self.inspected_item.place(None, None)
            return
        self.inspect_image.setPixmap(image_pixmap(probe.images[index], 84))
        text = f"<b>Test image {index}</b> · {probe.class_name(index)}"
        if means is not None and index < len(means):
            z = means[index]
            text += "<br>encoded at z = (" + ", ".join(f"{v:+.2f}" for v in z[:6]) + (", …)" if len(z) > 6 else ")")
            x, y = self._project(means)  # all of them: a 1-d space spreads points by their index
            self.inspected_item.place(float(x[index]), float(y[index]))
        self.inspect_text.setText(text)
        self.inspect_cursor.setEnabled(means is not None)
        self.inspect_bar.show()

    def _inspected_as_endpoint(self) -> None:
        index = self.view.inspected_test_image
        probe = self.explorer.probe
        if index is not None and probe is not None:
            which = self.view.pick_endpoint(Endpoint.test_image(index, f"test image {index} ({probe.class_name(index)})"))
            self.studio.say(f"Interpolation endpoint {which.upper()}: test image {index}", 4000)

    def _inspected_to_reconstructions(self) -> None:
        if self.view.inspected_test_image is not None:
            self.view.add_reconstruction(self.view.inspected_test_image)

    def _cursor_to_inspected(self) -> None:
        index, means = self.view.inspected_test_image, self.explorer.pictures.means
        if index is not None and means is not None and index < len(means):
            self.view.move_cursor(means[index])

    # -- Shift+drag: two point endpoints ------------------------------------------------------------------------
    def _on_pick_drag(self, x0: float, y0: float, x1: float, y1: float, finished: bool) -> None:
        if not finished:
            self.drag_item.set_path(np.array([x0, x1]), np.array([y0, y1]))
            return
        self.drag_item.set_path(None, None)
        (vx0, vx1), _ = self.viewbox.viewRange()
        if np.hypot(x1 - x0, y1 - y0) < MIN_PICK_DRAG * (vx1 - vx0):
            return
        a, b = self.latent_point(x0, y0), self.latent_point(x1, y1)
        self.view.set_endpoint("a", Endpoint.point(a))
        self.view.set_endpoint("b", Endpoint.point(b))
        self.studio.say("Interpolation from A to B: the path you dragged", 4000)

    # == view range and notices ===================================================================================
    def reset_range(self) -> None:
        """Show the whole grid (and, on the linear scale, most test points beyond it)."""
        n = self._grid_count()
        spacing = self.explorer.pictures.grid_spacing
        edges = axes.tile_edges(max(n, 2), self.scale, spacing)
        low, high = float(edges[0]), float(edges[-1])
        if self.one_d:
            bottom, height = axes.strip_height(max(n, 2), self.scale, spacing)
            self.viewbox.setRange(xRange=(low, high), yRange=(bottom - height, bottom + 2 * height), padding=0.02)
        else:
            means = self.explorer.pictures.means
            if means is not None and self.scale == axes.LINEAR and len(means) and self.view.overlay_visible:
                x, y = self._project(means)
                low = min(low, float(np.percentile(x, 1)), float(np.percentile(y, 1)))
                high = max(high, float(np.percentile(x, 99)), float(np.percentile(y, 99)))
            self.viewbox.setRange(xRange=(low, high), yRange=(low, high), padding=0.02)

    def _update_notice(self) -> None:
        pictures = self.explorer.pictures
        if self.studio.active is None:
            text = "No run yet: press Start to train, or open a run folder or a saved model."
        elif pictures.info is None:
            text = "Waiting for the first snapshot of this run…"
        elif pictures.vae is None:
            text = ((pictures.note or "This moment has no model weights.") + " The grid is the recorded "
                    "picture of z1 × z2; the cursor preview, the test-set overlay and other axes need weights.")
        elif self.one_d:
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


def image_pixmap(image: np.ndarray, size: int) -> QPixmap:
    """A uint8 grey (H, W) or colour (H, W, 3) image as a pixmap `size` pixels wide, pixels kept sharp."""
    image = np.ascontiguousarray(image)
    height, width = image.shape[:2]
    if image.ndim == 3:
        qimage = QImage(image.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    else:
        qimage = QImage(image.data, width, height, width, QImage.Format.Format_Grayscale8)
    return QPixmap.fromImage(qimage.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.FastTransformation))
