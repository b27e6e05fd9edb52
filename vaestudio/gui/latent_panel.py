"""The latent plane: the live decoded grid, a draggable cursor, and the class-coloured overlay.

Drawn in u = Φ(z) (see probit.py) so each tile is centred on its latent value; the axes read z.
The grid comes from the trainer's snapshot for axes (z1, z2); for other axes of a larger latent
space, or for an opened model, it is decoded from the snapshot's decoder weights on a background
thread. The cursor's preview uses this panel's own LatentDecoder, never the model being trained.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from vaestudio.core.decoding import IMAGE_SIZE, LatentDecoder
from vaestudio.core.events import Snapshot
from vaestudio.gui.probit import U_MAX, U_MIN, ProbitAxis, grid_extent, to_u, to_z
from vaestudio.gui.worker import TaskRunner

CLASS_COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
                (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]

CURSOR_LABEL_OPTIONS = {"color": (150, 20, 20), "offset": (14, -8), "fill": (255, 255, 255, 215),
                        "anchor": (0, 1)}


def display_image(mosaic: np.ndarray) -> np.ndarray:
    """Core mosaic (top row = highest z2) -> rows bottom-up, as a y-up plot draws them."""
    return np.ascontiguousarray(mosaic[::-1])


class LatentPlane(QWidget):
    """Shows grids and emits `cursorMoved(z)` with the full latent vector under the cursor."""

    cursorMoved = Signal(object)  # np.ndarray (latent_dim,)
    weightsChanged = Signal()
    gridShown = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.latent_dim = 2
        self.grid_size = 20
        self.decoder = LatentDecoder(2)
        self.class_names: tuple[str, ...] = ()
        self.mosaic: np.ndarray | None = None  # what the plane shows, in core orientation
        self.grid_count = 0  # grids shown so far
        self._snapshot: Snapshot | None = None
        self._weights: list[np.ndarray] | None = None  # what self.decoder was loaded with
        self._decodes = TaskRunner(self, latest_only=True)
        self._moving_guard = False
        self.x_combo, self.y_combo = QComboBox(), QComboBox()

        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground("w")
        self.plot = self.view.addPlot(row=0, col=0, axisItems={"bottom": ProbitAxis("bottom"),
                                                               "left": ProbitAxis("left")})
        self.plot.setAspectLocked(True)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setLabel("bottom", "z1")
        self.plot.setLabel("left", "z2")
        self.plot.setXRange(0, 1, padding=0.01)
        self.plot.setYRange(0, 1, padding=0.01)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.image_item.setLevels((0, 255))
        self.plot.addItem(self.image_item)
        self.scatter_items: list[pg.ScatterPlotItem] = []
        self.legend = pg.LegendItem(colCount=5, labelTextColor="k", labelTextSize="8pt",
                                    verSpacing=-6, horSpacing=12)
        self.view.addItem(self.legend, row=1, col=0)
        self.legend.hide()
        self.cursor = pg.TargetItem(pos=(0.5, 0.5), size=16, pen=pg.mkPen((255, 60, 60), width=2),
                                    brush=(255, 60, 60, 60), hoverPen=pg.mkPen((255, 200, 0), width=2),
                                    label=self._cursor_label, labelOpts=CURSOR_LABEL_OPTIONS)
        self.cursor.setZValue(10)
        self.plot.addItem(self.cursor)
        self.cursor.sigPositionChanged.connect(self._on_cursor_moved)

        self.overlay_check = QCheckBox("Overlay test images' latent means")
        self.overlay_check.setToolTip("Encoder means of a fixed set of test images, coloured by class")
        self.overlay_check.toggled.connect(self._update_overlay)
        self.x_combo.setToolTip("Latent coordinate shown horizontally")
        self.y_combo.setToolTip("Latent coordinate shown vertically")
        self.axes_label = QLabel("axes")
        self.held_label = QLabel("other coordinates held at 0")
        self.held_label.setStyleSheet("color: palette(mid);")
        self.x_combo.currentIndexChanged.connect(lambda _i: self._on_axis_chosen(self.x_combo))
        self.y_combo.currentIndexChanged.connect(lambda _i: self._on_axis_chosen(self.y_combo))
        self.title = QLabel("<b>Latent plane</b>")
        self.status = QLabel("No model yet: press Start or open a saved model")
        self.status.setStyleSheet("color: palette(mid);")
        top = QHBoxLayout()
        top.addWidget(self.title)
        top.addStretch(1)
        top.addWidget(self.axes_label)
        top.addWidget(self.x_combo)
        top.addWidget(self.y_combo)
        top.addWidget(self.held_label)
        bottom = QHBoxLayout()
        bottom.addWidget(self.overlay_check)
        bottom.addStretch(1)
        bottom.addWidget(self.status)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addLayout(bottom)
        self.reset(2, 20, ())

    # -- set-up ------------------------------------------------------------------------------------
    def reset(self, latent_dim: int, grid_size: int, class_names: tuple[str, ...] = ()) -> None:
        """Forget the previous model: new latent size, grid size and class names."""
        self.latent_dim, self.grid_size = int(latent_dim), int(grid_size)
        self.decoder = LatentDecoder(self.latent_dim)
        self._snapshot = None
        self._weights = None
        self.mosaic = None
        self.image_item.clear()
        self.set_class_names(class_names)
        for combo in (self.x_combo, self.y_combo):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([f"z{i + 1}" for i in range(self.latent_dim)])
            combo.blockSignals(False)
        self.x_combo.setCurrentIndex(0)
        self.y_combo.setCurrentIndex(min(1, self.latent_dim - 1))
        many = self.latent_dim > 2
        for widget in (self.x_combo, self.y_combo, self.axes_label, self.held_label):
            widget.setVisible(many)
        self._update_axis_labels()
        self._update_overlay()
        self.weightsChanged.emit()

    def set_class_names(self, names: tuple[str, ...]) -> None:
        self.class_names = tuple(names)
        for item in self.scatter_items:
            self.plot.removeItem(item)
        self.legend.clear()
        self.scatter_items = []
        for index, name in enumerate(self.class_names):
            color = CLASS_COLORS[index % len(CLASS_COLORS)]
            item = pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(*color, 190), name=name)
            item.setZValue(5)
            self.scatter_items.append(item)
            self.legend.addItem(item, name)
        self._update_overlay()

    @property
    def axes(self) -> tuple[int, int]:
        return max(self.x_combo.currentIndex(), 0), max(self.y_combo.currentIndex(), 0)

    def set_axes(self, x_axis: int, y_axis: int) -> None:
        self.x_combo.setCurrentIndex(x_axis)
        self.y_combo.setCurrentIndex(y_axis)

    # -- new weights -----------------------------------------------------------------------------
    def show_snapshot(self, snapshot: Snapshot) -> None:
        """A training snapshot: new decoder weights, grid and overlay."""
        self._snapshot = snapshot
        if snapshot.weights is not None:
            self.decoder.set_weights(snapshot.weights.decoder)
            self._weights = list(snapshot.weights.decoder)
            self.weightsChanged.emit()
        self.status.setText(snapshot.label)
        if self.axes == (0, 1) or self.latent_dim < 2:
            self._show_mosaic(snapshot.mosaic)
        else:
            self._decode_grid_in_background()
        self._update_overlay()

    def show_weights(self, weights: list[np.ndarray], label: str) -> None:
        """Decoder weights without a snapshot (an opened model): decode the grid in the background."""
        self._snapshot = None
        self.decoder.set_weights(weights)
        self._weights = list(weights)
        self.status.setText(label)
        self.weightsChanged.emit()
        self._decode_grid_in_background()
        self._update_overlay()

    def _decode_grid_in_background(self) -> None:
        if self._weights is None:
            return
        decoder = LatentDecoder(self.latent_dim, self._weights)  # a private copy for the thread
        n, axes = self.grid_size, self.axes
        if self.latent_dim < 2:
            axes = (0, 0)
        self._decodes.submit(lambda: decoder.decode_grid(n, axes), self._show_mosaic,
                             lambda message: self.status.setText(f"cannot decode the grid: {message}"))

    def _show_mosaic(self, mosaic: np.ndarray) -> None:
        self.mosaic = mosaic
        n = mosaic.shape[0] // IMAGE_SIZE
        self.image_item.setImage(display_image(mosaic), autoLevels=False, levels=(0, 255))
        start, size = grid_extent(n)
        self.image_item.setRect(QRectF(start, start, size, size))
        self.grid_count += 1
        self.gridShown.emit()

    def wait_for_decodes(self, timeout_ms: int = 5000) -> bool:
        return self._decodes.wait(timeout_ms)

    # -- axes and overlay --------------------------------------------------------------------------
    def _on_axis_chosen(self, combo: QComboBox) -> None:
        other = self.y_combo if combo is self.x_combo else self.x_combo
        if self.latent_dim >= 2 and combo.currentIndex() == other.currentIndex():
            # Choosing the other selector's axis swaps the two.
            other.blockSignals(True)
            other.setCurrentIndex(next(i for i in range(self.latent_dim) if i != combo.currentIndex()))
            other.blockSignals(False)
        self._update_axis_labels()
        if self._snapshot is not None and self.axes == (0, 1):
            self._show_mosaic(self._snapshot.mosaic)
        else:
            self._decode_grid_in_background()
        self._update_overlay()
        self._emit_cursor()

    def _update_axis_labels(self) -> None:
        x_axis, y_axis = self.axes
        self.plot.setLabel("bottom", f"z{x_axis + 1}")
        self.plot.setLabel("left", f"z{y_axis + 1}" if self.latent_dim > 1 else "(no second latent axis)")
        self.cursor.setLabel(self._cursor_label, CURSOR_LABEL_OPTIONS)

    def overlay_visible(self) -> bool:
        return self.overlay_check.isChecked()

    def _update_overlay(self, *_args) -> None:
        show = self.overlay_visible() and bool(self.scatter_items)
        snapshot = self._snapshot
        means = None if snapshot is None else snapshot.latent_means
        labels = None if snapshot is None else snapshot.latent_labels
        for index, item in enumerate(self.scatter_items):
            if show and item.scene() is None:
                self.plot.addItem(item)
            elif not show and item.scene() is not None:
                self.plot.removeItem(item)
            if show:
                if means is None or labels is None or self.latent_dim < 2:
                    item.setData([], [])
                    continue
                chosen = means[np.asarray(labels) == index]
                x_axis, y_axis = self.axes
                item.setData(to_u(chosen[:, x_axis]), to_u(chosen[:, y_axis]))
        self.legend.setVisible(show)

    # -- cursor ------------------------------------------------------------------------------------
    def _cursor_label(self, u: float, v: float) -> str:
        x_axis, y_axis = self.axes
        text = f"z{x_axis + 1} = {to_z(u):+.2f}"
        if self.latent_dim > 1:
            text += f"\nz{y_axis + 1} = {to_z(v):+.2f}"
        return text

    def cursor_z(self) -> np.ndarray:
        """The full latent vector under the cursor (other coordinates held at 0)."""
        pos = self.cursor.pos()
        z = np.zeros(self.latent_dim, np.float32)
        x_axis, y_axis = self.axes
        z[x_axis] = to_z(pos.x())
        if self.latent_dim > 1:
            z[y_axis] = to_z(pos.y())
        return z

    def set_cursor_z(self, z1: float, z2: float) -> None:
        """Move the cursor to latent values (of the two shown axes)."""
        u, v = to_u([z1, z2])
        self.cursor.setPos(float(u), float(v))

    def _on_cursor_moved(self, _item=None) -> None:
        if self._moving_guard:
            return
        pos = self.cursor.pos()
        u, v = min(max(pos.x(), U_MIN), U_MAX), min(max(pos.y(), U_MIN), U_MAX)
        if (u, v) != (pos.x(), pos.y()):
            self._moving_guard = True
            self.cursor.setPos(u, v)
            self._moving_guard = False
        self._emit_cursor()

    def _emit_cursor(self) -> None:
        self.cursorMoved.emit(self.cursor_z())
