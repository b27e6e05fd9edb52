"""The ELBO plot: smoothed train ELBO over steps, test ELBO per epoch, and the optional LL/KL split."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from vaestudio.gui.session import RunSession

TRAIN_COLOR = (31, 119, 180)
TEST_COLOR = (214, 39, 40)
LL_COLOR = (44, 160, 44)
KL_COLOR = (148, 103, 189)


class ElboPanel(QWidget):
    """Reads curves from a RunSession; call `refresh()` after feeding it."""

    def __init__(self, session: RunSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.plot = pg.PlotWidget(background="w")
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "step")
        item.setLabel("left", "ELBO (nats)")
        item.showGrid(x=True, y=True, alpha=0.25)
        item.setTitle("Evidence lower bound (higher is better)", size="10pt")
        self.legend = item.addLegend(offset=(10, 10), labelTextColor="k", brush=(255, 255, 255, 200))
        self.train_curve = item.plot(name="train ELBO (EMA)", pen=pg.mkPen(TRAIN_COLOR, width=2))
        self.test_curve = item.plot(name="test ELBO (per epoch)", pen=pg.mkPen(TEST_COLOR, width=2),
                                    symbol="o", symbolSize=8, symbolBrush=TEST_COLOR, symbolPen="w")
        self.ll_curve = pg.PlotDataItem(name="train log-likelihood", pen=pg.mkPen(LL_COLOR, width=1.5,
                                                                                   style=pg.QtCore.Qt.PenStyle.DashLine))
        self.kl_curve = pg.PlotDataItem(pen=pg.mkPen(KL_COLOR, width=1.5))
        # KL is a few nats against an ELBO of -100s: it gets its own axis on the right.
        self.kl_view = pg.ViewBox()
        self.kl_view.setMouseEnabled(x=False, y=True)
        item.scene().addItem(self.kl_view)
        right = item.getAxis("right")
        right.linkToView(self.kl_view)
        right.setLabel("KL (nats)", color=KL_COLOR)
        self.kl_view.setXLink(item)
        self.kl_view.addItem(self.kl_curve)
        item.vb.sigResized.connect(self._sync_kl_view)
        self.kl_view.hide()
        # The first steps' ELBO (about -500) would flatten the rest: follow the later part instead,
        # until the user zooms or pans; the plot's "A" button or a new run goes back to following.
        self._follow = True
        item.vb.sigRangeChangedManually.connect(self._stop_following)
        item.autoBtn.clicked.connect(self.reset_view)

        self.split_check = QCheckBox("Show reconstruction / KL split")
        self.split_check.setToolTip("ELBO = log-likelihood of the reconstruction − KL(q(z|x) ‖ p(z))")
        self.split_check.toggled.connect(self.set_split_visible)
        self.readout = QLabel("No run yet")
        self.readout.setStyleSheet("color: palette(mid);")
        bar = QHBoxLayout()
        bar.addWidget(self.split_check)
        bar.addStretch(1)
        bar.addWidget(self.readout)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 1)
        layout.addLayout(bar)

    def _sync_kl_view(self) -> None:
        item = self.plot.getPlotItem()
        self.kl_view.setGeometry(item.vb.sceneBoundingRect())
        self.kl_view.linkedViewChanged(item.vb, self.kl_view.XAxis)

    def _stop_following(self, *_args) -> None:
        self._follow = False

    def _follow_y_range(self) -> None:
        s = self.session
        values = list(s.train_elbo.y[len(s.train_elbo.y) // 10:]) + list(s.test_elbo.y)
        if self.split_visible():
            values += s.train_log_likelihood.y[len(s.train_log_likelihood.y) // 10:]
        if len(values) < 10:
            self.plot.getPlotItem().enableAutoRange(y=True)
            return
        low, high = min(values), max(values)
        margin = max((high - low) * 0.08, 1.0)
        self.plot.getPlotItem().setYRange(low - margin, high + margin, padding=0)
        self.plot.getPlotItem().enableAutoRange(x=True)

    def reset_view(self) -> None:
        """Follow the curves again (after the user zoomed)."""
        self._follow = True
        self.refresh()

    def set_split_visible(self, visible: bool) -> None:
        item = self.plot.getPlotItem()
        if visible and self.ll_curve.scene() is None:
            item.addItem(self.ll_curve)
            self.legend.addItem(self.kl_curve, "train KL (right axis)")
        elif not visible and self.ll_curve.scene() is not None:
            item.removeItem(self.ll_curve)
            self.legend.removeItem(self.kl_curve)
        item.showAxis("right", visible)
        self.kl_view.setVisible(visible)
        self._sync_kl_view()
        self.refresh()

    def split_visible(self) -> bool:
        return self.split_check.isChecked()

    def refresh(self) -> None:
        s = self.session
        self.train_curve.setData(*s.train_elbo.arrays())
        self.test_curve.setData(*s.test_elbo.arrays())
        if self.split_visible():
            self.ll_curve.setData(*s.train_log_likelihood.arrays())
            self.kl_curve.setData(*s.train_kl.arrays())
        if not s.train_elbo.y:
            self._follow = True
        if self._follow:
            self._follow_y_range()
        parts = []
        if s.last_metrics is not None:
            parts.append(f"step {s.last_metrics.step}: train {s.train_elbo.y[-1]:.1f}")
        if s.last_epoch_end is not None:
            parts.append(f"test {s.last_epoch_end.test_elbo:.1f} (epoch {s.last_epoch_end.epoch})")
        self.readout.setText(" · ".join(parts) if parts else "No run yet")
