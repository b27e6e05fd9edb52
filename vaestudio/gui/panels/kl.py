"""The latent dimensions panel: how much each dimension carries (its KL from the prior, in nats) and how
many are active, for the moment shown; clicking a bar puts that dimension on the plane's x axis.

Values come from `explorer.pictures` (the encoder of the moment over the fixed test images); the panel
redraws only when they change, so scrubbing the timeline updates it and training events do not.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from vaestudio.core.probes import ACTIVE_THRESHOLD
from vaestudio.gui.commands import Commands
from vaestudio.gui.state.studio import Studio
from vaestudio.gui.widgets import ElidedLabel, RefreshWhenShown, SteadyLabel, cache_axes, subscribe

ACTIVE_BRUSH = (31, 119, 180)
INACTIVE_BRUSH = (190, 190, 190)
X_AXIS_PEN = (220, 30, 30)
Y_AXIS_PEN = (60, 60, 60)
MAX_VALUE_LABELS = 16  # above this many dimensions the values are in the bars' tooltip only
EXPLANATION = (f"KL(q(z|x) ‖ N(0, 1)) of each latent dimension, averaged over the test images, in nats. "
               f"A dimension is active when its encoder mean varies across the test images by more than "
               f"{ACTIVE_THRESHOLD:g} (variance; Burda et al. 2016): inactive ones (grey) carry no "
               f"information. Click a bar to show that dimension horizontally on the plane.")
HINT = "grey: inactive · click a bar: put it on the plane's x axis"
PLOT_MIN_HEIGHT = 90  # the bars, their values and the z1, z2 … labels under them


class _DimensionAxis(pg.AxisItem):
    """Bottom axis: z1, z2, ... at the bars (thinned out when there are many)."""

    def __init__(self):
        super().__init__("bottom")
        self.count = 0

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 (pyqtgraph API)
        if self.count == 0:
            return []
        every = max(1, int(np.ceil(self.count / max(size / 28, 1))))
        return [(1.0, [float(i) for i in range(0, self.count, every) if minVal <= i <= maxVal])]

    def tickStrings(self, values, scale, spacing):  # noqa: N802
        return [f"z{int(round(v)) + 1}" for v in values]


class KlPanel(QWidget):
    """Per-dimension KL bars and the active-unit count of the moment shown."""

    title = "Latent dimensions"

    def __init__(self, studio: Studio, commands: Commands, parent: QWidget | None = None):
        super().__init__(parent)
        self.studio, self.commands = studio, commands
        self.view, self.explorer = studio.view, studio.explorer
        self.kl: np.ndarray | None = None  # the values shown
        self.active: np.ndarray | None = None  # bool per dimension
        self._value_items: list[pg.TextItem] = []
        self._y_top: float | None = None  # the y range's top while the bars fit it
        self.summary = SteadyLabel()
        self.summary.setToolTip(EXPLANATION)
        # One line under the chart (a wrapped paragraph there grew over the bars in a short dock); the whole
        # explanation is its tooltip. Written in the palette's text colour: a light grey was hard to read.
        self.note = ElidedLabel(HINT, Qt.TextElideMode.ElideRight)
        self.note.set_full_text(HINT, EXPLANATION)
        small = self.note.font()
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.9))
        self.note.setFont(small)
        self.axis = _DimensionAxis()
        self.plot_widget = pg.PlotWidget(axisItems={"bottom": self.axis}, background="w")
        self.plot = self.plot_widget.getPlotItem()
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setLabel("left", "KL (nats)")
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.showGrid(y=True, alpha=0.25)
        cache_axes(self.plot)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7)
        self.plot.addItem(self.bars)
        self.plot_widget.setMinimumHeight(PLOT_MIN_HEIGHT)
        self.plot_widget.setToolTip("Click a bar to show that dimension horizontally on the plane")
        self.plot_widget.scene().sigMouseClicked.connect(self._on_click)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.summary)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.note)
        self.refresher = RefreshWhenShown(lambda: self._on_pictures(self.explorer.pictures))
        subscribe(self, [(self.explorer.moment_loaded, self.refresher.request),
                         (self.explorer.encodings_changed, self.refresher.request),
                         (self.view.events.axes, self._on_axes),
                         (self.studio.active_changed, self.refresher.request)])
        self._on_pictures(self.explorer.pictures)

    # -- showing --------------------------------------------------------------------------------------------
    def _on_pictures(self, pictures) -> None:
        kl = pictures.kl_per_dimension
        if kl is not None and pictures.vae is not None:
            if kl is not self.kl:
                variances = pictures.active_variances
                active = (np.asarray(variances) > ACTIVE_THRESHOLD if variances is not None
                          else np.ones(len(kl), bool))
                self._show(np.asarray(kl, dtype=np.float64), active, pictures.active_count)
            return
        if pictures.info is not None and pictures.vae is not None and self.kl is not None \
                and len(self.kl) == self.view.latent_dim:
            return  # a new moment: keep its predecessor's bars until its encodings come
        self._show(None, None, None)
        self.summary.setText(self._empty_text(pictures))

    def _empty_text(self, pictures) -> str:
        if self.studio.active is None:
            return "No model yet: press Start, or open a run or a model."
        if pictures.info is None:
            return "Waiting for the first snapshot…"
        if pictures.vae is None:
            return (pictures.note or "This moment has no model weights") + ": the KL per dimension needs them."
        if self.explorer.probe is None:
            return "No test images are loaded for this run: the KL per dimension is measured on them."
        return "Encoding the test images…"

    def _show(self, kl: np.ndarray | None, active: np.ndarray | None, active_count: int | None) -> None:
        self.kl, self.active = kl, active
        for item in self._value_items:
            self.plot.removeItem(item)
        self._value_items = []
        self.note.setVisible(kl is not None)  # "click a bar" only where there are bars
        if kl is None:
            self.axis.count = 0
            self.bars.setOpts(x=[], height=[], brushes=None, pens=None)
            return
        d = len(kl)
        self.axis.count = d
        finite = np.isfinite(kl)  # a diverged moment: its non-finite bars are drawn at 0 and labelled
        heights = np.where(finite, kl, 0.0)
        self.bars.setOpts(x=np.arange(d), height=heights, width=0.7,
                          brushes=[pg.mkBrush(*(ACTIVE_BRUSH if a else INACTIVE_BRUSH)) for a in active])
        self._outline_axes()
        top = float(max(heights.max(), 1e-3))
        if d <= MAX_VALUE_LABELS:
            for index, (value, height) in enumerate(zip(kl, heights)):
                label = pg.TextItem(f"{value:.2f}", color=(40, 40, 40), anchor=(0.5, 1.0))
                label.setPos(index, height)
                self.plot.addItem(label)
                self._value_items.append(label)
        self.plot.setXRange(-0.6, d - 0.4, padding=0)
        self._fit_height(top * 1.18)
        count = int(active_count) if active_count is not None else int(np.count_nonzero(active))
        self.summary.setText(f"<b>{count} of {d} dimension{'s' if d != 1 else ''} active</b> · total KL "
                             f"{kl.sum():.2f} nats"
                             + ("" if finite.all() else " · not finite: this moment's model diverged"))
        self.plot_widget.setToolTip("\n".join(f"z{i + 1}: {v:.3f} nats{'' if a else ' (inactive)'}"
                                              for i, (v, a) in enumerate(zip(kl, active)))
                                    + "\nClick a bar to show that dimension horizontally on the plane")

    def _fit_height(self, needed: float) -> None:
        """Keep the y range while the bars (with their labels) fit it and fill more than half of it: stepping
        through moments then moves the bars, not the axis (drawing the axis again took most of a repaint)."""
        top = self._y_top
        if top is None or needed > top or needed < top / 2:
            top = nice_ceiling(needed)
            self._y_top = top
            self.plot.setYRange(0, top, padding=0)

    def _on_axes(self, *_args) -> None:
        if self.kl is not None:
            self._outline_axes()

    def _outline_axes(self) -> None:
        x_axis, y_axis = self.view.axes
        pens = []
        for index in range(len(self.kl)):
            if index == x_axis:
                pens.append(pg.mkPen(X_AXIS_PEN, width=3))
            elif index == y_axis and self.view.latent_dim > 1:
                pens.append(pg.mkPen(Y_AXIS_PEN, width=2, style=Qt.PenStyle.DashLine))
            else:
                pens.append(pg.mkPen(None))
        self.bars.setOpts(pens=pens)

    def value_texts(self) -> list[str]:
        """The numbers written above the bars."""
        return [item.textItem.toPlainText() for item in self._value_items]

    # -- choosing an axis -------------------------------------------------------------------------------------
    def _on_click(self, event) -> None:
        if self.kl is None or event.button() != Qt.MouseButton.LeftButton:
            return
        point = self.plot.vb.mapSceneToView(event.scenePos())
        index = int(round(point.x()))
        if 0 <= index < len(self.kl) and abs(point.x() - index) <= 0.4 and point.y() >= 0:
            self.select_dimension(index)

    def select_dimension(self, dimension: int) -> None:
        """Show `dimension` horizontally on the plane (swapping the axes when it is shown vertically)."""
        x_axis, y_axis = self.view.axes
        if self.view.latent_dim < 2 or dimension == x_axis:
            return
        self.view.set_axes(dimension, x_axis if dimension == y_axis else y_axis)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 (times a power of ten) not below `value` (> 0)."""
    exponent = math.floor(math.log10(value))
    for mantissa in (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0):
        if mantissa * 10.0 ** exponent >= value * (1 - 1e-12):
            return mantissa * 10.0 ** exponent
    return 10.0 ** (exponent + 1)
