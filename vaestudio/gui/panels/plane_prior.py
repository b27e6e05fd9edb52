"""The latent plane's view of the model's prior (issue 19): an optional overlay of the prior's density
p(z) on the plane (`NumpyVAE.prior_log_density` on a lattice of the plane's points, the off-plane coordinates
held; N(0, I), or a VampPrior's mixture), and for a VampPrior a button showing its pseudo-inputs, the images
whose posteriors make up the prior. Both live on the plane's bar; the overlay is drawn above the grid."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QCheckBox, QDialog, QLabel, QToolButton, QVBoxLayout, QWidget

from vaestudio.gui import axes
from vaestudio.gui.widgets import subscribe

LATTICE = 64  # density points a side
DENSITY_COLOR = (230, 90, 0)
MAX_ALPHA = 170  # the densest point's opacity (of 255): the grid stays readable under it
PSEUDO_PER_ROW = 10


def density_lattice(geometry, spacing: str, n: int = LATTICE) -> tuple[np.ndarray, QRectF]:
    """The latent points (n*n, d) of an n x n lattice over the plane's whole grid (row 0 at the bottom),
    and the plot rectangle it covers."""
    (x0, x1), (y0, y1) = geometry.whole_grid_range(spacing, None)
    xs = (np.arange(n) + 0.5) / n * (x1 - x0) + x0
    ys = (np.arange(n) + 0.5) / n * (y1 - y0) + y0
    scale, (x_axis, y_axis) = geometry.scale, geometry.view.axes
    points = np.repeat(np.asarray(geometry.view.held, np.float64)[None], n * n, axis=0)
    points[:, x_axis] = np.tile([axes.to_latent(x, scale) for x in xs], n)
    points[:, y_axis] = np.repeat([axes.to_latent(y, scale) for y in ys], n)
    return points.astype(np.float32), QRectF(x0, y0, x1 - x0, y1 - y0)


def density_rgba(log_density: np.ndarray, n: int) -> np.ndarray:
    """uint8 (n, n, 4): the density as the overlay's colour, its opacity proportional to p(z) / max p(z)."""
    relative = np.exp(np.asarray(log_density, np.float64) - np.max(log_density)).reshape(n, n)
    picture = np.zeros((n, n, 4), np.uint8)
    picture[..., :3] = DENSITY_COLOR
    picture[..., 3] = np.rint(relative * MAX_ALPHA).astype(np.uint8)
    return picture


def pseudo_input_sheet(images: np.ndarray, per_row: int = PSEUDO_PER_ROW) -> np.ndarray:
    """uint8 picture of pseudo-inputs (K, H, W, C) in [0, 1], `per_row` a row (1-pixel gaps)."""
    images = np.clip(np.asarray(images, np.float64), 0.0, 1.0)
    count, height, width, channels = images.shape
    rows, columns = -(-count // per_row), min(count, per_row)
    sheet = np.full((rows * (height + 1) - 1, columns * (width + 1) - 1, channels), 0.5)
    for k, image in enumerate(images):
        top, left = (k // per_row) * (height + 1), (k % per_row) * (width + 1)
        sheet[top:top + height, left:left + width] = image
    sheet = np.rint(sheet * 255.0).astype(np.uint8)
    return sheet[..., 0] if channels == 1 else sheet


class PriorView:
    """The "Prior density" check box and the "Pseudo-inputs" button of the plane, and the overlay item."""

    def __init__(self, studio, geometry, plot: pg.PlotItem, owner: QWidget):
        self.studio, self.geometry, self.explorer = studio, geometry, studio.explorer
        self.item = pg.ImageItem(axisOrder="row-major")
        self.item.setZValue(-0.5)  # above the grid (plane_items.GridImage: -1), under the marks (0)
        self.item.hide()
        plot.addItem(self.item)
        self.box = QCheckBox("Prior density")
        self.box.setToolTip("Shade the plane by the prior's density p(z) (the other coordinates held): N(0, I), "
                            "or a VampPrior's mixture of posteriors at its pseudo-inputs")
        self.box.toggled.connect(lambda _on: self.redraw())
        self.pseudo_button = QToolButton(text="Pseudo-inputs…")
        self.pseudo_button.setToolTip("The VampPrior's pseudo-inputs: the learned images whose posteriors "
                                      "make up the prior")
        self.pseudo_button.clicked.connect(self.show_pseudo_inputs)
        self.dialog: QDialog | None = None
        self._owner = owner
        self.widgets = (self.box, self.pseudo_button)
        subscribe(owner, [(self.explorer.grid_changed, self.redraw), (self.explorer.moment_loaded, self.redraw)])
        self.redraw()

    def redraw(self, *_args) -> None:
        """Draw the density for the moment and the view shown (or hide it)."""
        vae = self.explorer.pictures.vae
        self.box.setVisible(vae is not None)
        self.pseudo_button.setVisible(vae is not None and vae.pseudo_inputs() is not None)
        if vae is None or not self.box.isChecked() or self.geometry.one_d \
                or vae.architecture.latent_dim != self.geometry.view.latent_dim:
            self.item.hide()
            return
        points, rect = density_lattice(self.geometry, self.explorer.pictures.grid_spacing)
        self.density = vae.prior_log_density(points)
        self.item.setImage(density_rgba(self.density, LATTICE), autoLevels=False)
        self.item.setRect(rect)
        self.item.show()

    def show_pseudo_inputs(self) -> None:
        """A window with the VampPrior's pseudo-inputs at the moment shown."""
        vae = self.explorer.pictures.vae
        images = vae.pseudo_inputs() if vae is not None else None
        if images is None:
            return
        from vaestudio.gui.panels.cursor_preview import PixelImage

        if self.dialog is None:
            self.dialog = QDialog(self._owner)
            self.dialog.setWindowTitle("VampPrior pseudo-inputs")
            self.dialog_image = PixelImage(minimum=240)
            self.dialog_text = QLabel(wordWrap=True)
            layout = QVBoxLayout(self.dialog)
            layout.addWidget(self.dialog_image, 1)
            layout.addWidget(self.dialog_text)
        self.pseudo_sheet = pseudo_input_sheet(images)
        self.dialog_image.set_image(self.pseudo_sheet)
        info = self.explorer.pictures.info
        self.dialog_text.setText(f"{len(images)} pseudo-inputs" + (f" at {info.label}" if info else "")
                                 + ": the prior is the mean of the encoder's posteriors at these images.")
        self.dialog.show()
