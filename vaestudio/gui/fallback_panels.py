"""Stand-ins for the latent plane and the cursor preview, used only while `panels/latent_plane.py` and
`panels/cursor_preview.py` do not exist (they are built separately): the grid of the moment with a
draggable cursor, and the image under the cursor. Both follow the panel contract and the state, so the
window, the self-test and the benchmark work the same with either.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from vaestudio.core.latent import grid_axis_values
from vaestudio.gui.commands import Commands
from vaestudio.gui.state.studio import Studio

_UNIT = NormalDist()
U_LOW, U_HIGH = 0.001, 0.999


def _u(z: float) -> float:
    return _UNIT.cdf(float(z))


def _z(u: float) -> float:
    return _UNIT.inv_cdf(min(max(float(u), U_LOW), U_HIGH))


class FallbackPlanePanel(QWidget):
    """The grid of the moment shown, drawn in u = Φ(z) so each tile sits over its latent value; the cursor
    moves the view's cursor."""

    title = "Latent plane"

    def __init__(self, studio: Studio, commands: Commands, parent: QWidget | None = None):
        super().__init__(parent)
        self.studio = studio
        self.view = studio.view
        self.widget = pg.GraphicsLayoutWidget()
        self.widget.setBackground("w")
        self.plot = self.widget.addPlot()
        self.plot.setAspectLocked(True)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setXRange(0, 1, padding=0.01)
        self.plot.setYRange(0, 1, padding=0.01)
        self.plot.setLabel("bottom", "Φ(z1)")
        self.plot.setLabel("left", "Φ(z2)")
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image_item)
        self.cursor = pg.TargetItem(pos=(0.5, 0.5), size=16, pen=pg.mkPen((255, 60, 60), width=2))
        self.cursor.setZValue(10)
        self.plot.addItem(self.cursor)
        self.status = QLabel("No model yet: press Start or open a run")
        self.status.setStyleSheet("color: palette(mid);")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.widget, 1)
        layout.addWidget(self.status)
        self._moving = False
        self.cursor.sigPositionChanged.connect(self._on_dragged)
        studio.explorer.pictures_changed.connect(self._on_pictures)
        self.view.events.cursor.connect(self._on_cursor)

    def _on_pictures(self, pictures) -> None:
        grid = pictures.grid
        if grid is None:
            if pictures.info is None:
                self.image_item.clear()
                self.status.setText("No model yet: press Start or open a run")
            return
        config = self.studio.active.config if self.studio.active is not None else None
        size = pictures.vae.architecture.image_size if pictures.vae is not None else (config.image_size if config else 28)
        n = grid.shape[1] // size
        values = grid_axis_values(max(n, 2))
        low, high = _u(values[0]), _u(values[-1])
        step = (high - low) / (len(values) - 1)
        self.image_item.setImage(np.ascontiguousarray(grid[::-1]), autoLevels=False, levels=(0, 255))
        self.image_item.setRect(QRectF(low - step / 2, low - step / 2, high - low + step, high - low + step))
        label = pictures.info.label if pictures.info is not None else ""
        self.status.setText(label + (f" — {pictures.note}" if pictures.note else ""))

    def _on_dragged(self, _item=None) -> None:
        if self._moving:
            return
        pos = self.cursor.pos()
        self.view.move_cursor_on_plane(_z(pos.x()), _z(pos.y()))

    def _on_cursor(self, cursor) -> None:
        x_axis, y_axis = self.view.axes
        self._moving = True
        try:
            self.cursor.setPos(_u(cursor[x_axis]), _u(cursor[y_axis] if len(cursor) > 1 else 0.0))
        finally:
            self._moving = False


class FallbackPreviewPanel(QWidget):
    """The image under the cursor, decoded with the NumPy VAE of the moment shown."""

    title = "Cursor preview"

    def __init__(self, studio: Studio, commands: Commands, parent: QWidget | None = None):
        super().__init__(parent)
        self.studio = studio
        self.widget = pg.GraphicsLayoutWidget()
        self.widget.setBackground("#202020")
        self.widget.setMinimumSize(160, 160)
        box = self.widget.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        box.addItem(self.image_item)
        self.caption = QLabel("Drag the cross on the latent plane")
        self.caption.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.widget, 1)
        layout.addWidget(self.caption)
        self.image: np.ndarray | None = None
        studio.view.events.cursor.connect(self._redraw)
        studio.explorer.pictures_changed.connect(self._redraw)

    def _redraw(self, *_args) -> None:
        vae = self.studio.explorer.vae
        if vae is None:
            return
        z = self.studio.view.cursor_array
        if z.size != vae.architecture.latent_dim:
            return
        self.image = vae.decode_uint8(z[None])[0]
        self.image_item.setImage(self.image, autoLevels=False, levels=(0, 255))
        self.caption.setText("z = (" + ", ".join(f"{v:+.2f}" for v in z[:6]) + (", …)" if z.size > 6 else ")"))
