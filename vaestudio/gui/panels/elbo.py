"""The ELBO plot: the active run's smoothed train ELBO and per-epoch test ELBO, optionally split into
log-likelihood and KL, other runs overlaid (the runs panel chooses which), a marker at the moment the
timeline shows, one per live hyper-parameter change and a red one where a posterior-collapse alarm started
(state: Diagnosis). Clicking the plot shows the snapshot at that step. The x axis is the unit compared runs are
aligned by (`studio.comparison.unit`: images seen, step or wall time; gui.state.alignment), chosen in the bar.

Curves grow with every metrics event but are redrawn on a timer (a few times a second), never per event.
The legend sits in the plot's lower right, kept clear: the y ranges are chosen so that the curves pass above
it (legend_corner.py); the view keeps the start of training and never shows negative steps.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from vaestudio.gui.commands import Commands
from vaestudio.gui.panels.elbo_objective import ObjectiveCurves
from vaestudio.gui.panels.legend_corner import keep_clear
from vaestudio.gui.state.alignment import AXIS_LABELS, UNIT_NAMES, UNITS
from vaestudio.gui.state.run_history import RunHistory
from vaestudio.gui.state.studio import Studio
from vaestudio.gui.widgets import SteadyLabel, cache_axes, subscribe

TRAIN_COLOR = (31, 119, 180)
TEST_COLOR = (214, 39, 40)
LL_COLOR = (44, 160, 44)
KL_COLOR = (148, 103, 189)
MOMENT_COLOR = (90, 90, 90)
HYPER_COLOR = (230, 140, 0)
ALARM_COLOR = (200, 30, 30)
COMPARED_COLORS = [(255, 127, 14), (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
REDRAW_MS = 200


class ElboPanel(QWidget):
    """ELBO curves of the active run and of the compared runs."""

    title = "ELBO"

    def __init__(self, studio: Studio, commands: Commands, parent: QWidget | None = None):
        super().__init__(parent)
        self.studio = studio
        self.commands = commands
        self.history: RunHistory | None = None
        self._dirty = True
        self._fit_y = True  # the y ranges keep the legend's corner clear until the user zooms or pans

        self.plot = pg.PlotWidget(background="w")
        item = self.plot.getPlotItem()
        item.setLabel("bottom", AXIS_LABELS[studio.comparison.unit])
        item.setLabel("left", "ELBO (nats)")
        item.showGrid(x=True, y=True, alpha=0.25)
        cache_axes(item)
        item.setMenuEnabled(False)
        item.layout.setContentsMargins(4, 4, 18, 4)  # room for the last tick's label on the right
        item.vb.setLimits(xMin=0)  # no negative steps
        self.legend = pg.LegendItem(offset=(-8, -8), labelTextColor="k", brush=(255, 255, 255, 210),
                                    pen=(200, 200, 200), labelTextSize="8pt", verSpacing=-4)
        self.legend.setParentItem(item.vb)
        self.legend.anchor(itemPos=(1, 1), parentPos=(1, 1), offset=(-8, -8))
        self.train_curve = pg.PlotDataItem(pen=pg.mkPen(TRAIN_COLOR, width=2))
        self.test_curve = pg.PlotDataItem(pen=pg.mkPen(TEST_COLOR, width=2), symbol="o", symbolSize=7,
                                          symbolBrush=TEST_COLOR, symbolPen="w")
        self.ll_curve = pg.PlotDataItem(pen=pg.mkPen(LL_COLOR, width=1.5, style=Qt.PenStyle.DashLine))
        self.kl_curve = pg.PlotDataItem(pen=pg.mkPen(KL_COLOR, width=1.5))
        for curve in (self.train_curve, self.test_curve):
            item.addItem(curve)
        self.legend.addItem(self.train_curve, "train ELBO (EMA)")
        self.legend.addItem(self.test_curve, "test ELBO (per epoch)")
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
        self.objective = ObjectiveCurves(item, self.kl_view, self.legend)  # IWAE, beta-TCVAE (elbo_objective.py)
        self.moment_line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(MOMENT_COLOR, width=1,
                                                                                  style=Qt.PenStyle.DotLine))
        self.moment_line.setZValue(-5)
        item.addItem(self.moment_line, ignoreBounds=True)
        self.moment_line.hide()
        self.hyper_lines: list[pg.InfiniteLine] = []
        self.alarm_line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(ALARM_COLOR, width=2),
                                          label="collapse", labelOpts={"position": 0.08, "color": ALARM_COLOR,
                                                                       "fill": (255, 255, 255, 200),
                                                                       "anchors": [(0, 0.5), (0, 0.5)]})
        item.addItem(self.alarm_line, ignoreBounds=True)
        self.alarm_line.hide()
        self.compared_curves: dict[int, tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}
        self.plot.scene().sigMouseClicked.connect(self._on_click)
        for view in (item.vb, self.kl_view):
            view.sigRangeChangedManually.connect(self._on_zoomed)
        item.vb.sigResized.connect(self._clear_legend_corner)

        self.split_check = QCheckBox("Split: log-likelihood and KL")
        self.split_check.setToolTip("ELBO = log-likelihood of the reconstruction − KL(q(z|x) ‖ p(z))")
        self.split_check.toggled.connect(self.set_split_visible)
        self.align_box = QComboBox()
        for unit in UNITS:
            self.align_box.addItem(f"x: {UNIT_NAMES[unit]}", unit)
        self.align_box.setToolTip("What the x axis counts, and how compared runs are aligned: images seen "
                                  "(runs with other batch sizes line up), optimizer steps, or seconds of training")
        self.align_box.setCurrentIndex(UNITS.index(studio.comparison.unit))
        self.align_box.activated.connect(self._on_unit_chosen)
        self.compare_button = QPushButton("Compare…")
        self.compare_button.setToolTip("The ticked runs side by side at one point of training (View → Compare runs…)")
        self.compare_button.clicked.connect(studio.comparison.request_view)
        self._alarm = None
        self.readout = SteadyLabel("No run yet")
        self.readout.setStyleSheet("color: palette(mid);")
        self.readout.setMinimumWidth(10)
        bar = QHBoxLayout()
        bar.addWidget(self.align_box)
        bar.addWidget(self.split_check)
        bar.addWidget(self.readout, 1)
        bar.addWidget(self.compare_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 1)
        layout.addLayout(bar)

        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._redraw_if_dirty)
        self._timer.start()
        subscribe(self, [
            (studio.active_changed, self._on_active), (studio.compared_changed, self._on_compared),
            (studio.active_metrics_added, self._mark_dirty), (studio.active_epoch_ended, self._mark_dirty),
            (studio.active_finished, self._on_finished), (studio.compared_metrics_added, self._mark_dirty),
            (studio.active_hyper_changed, self._on_hyper), (studio.active_moment_changed, self._on_moment),
            (studio.active_cleared, self._on_cleared), (studio.comparison.unit_changed, self._on_unit),
            (studio.comparison.runs_changed, self._on_compare_runs)])
        if studio.diagnosis is not None:
            subscribe(self, [(studio.diagnosis.alarm_changed, self._on_alarm)])
            self._on_alarm(studio.diagnosis.alarm)
        self._on_active(studio.active)
        self._on_compare_runs()

    # -- following the state ----------------------------------------------------------------------------------
    # -- the x axis -----------------------------------------------------------------------------------------------
    def x_of(self, history: RunHistory, steps) -> np.ndarray:
        """A run's steps where the plot draws them (in the alignment unit)."""
        return self.studio.comparison.convert(history, steps)

    def _on_unit_chosen(self, index: int) -> None:
        try:
            self.studio.comparison.unit = self.align_box.itemData(index)
        except ValueError as exc:
            self.studio.say(str(exc), 8000)
            self.align_box.setCurrentIndex(UNITS.index(self.studio.comparison.unit))

    def _on_unit(self, unit: str) -> None:
        self.align_box.setCurrentIndex(UNITS.index(unit))
        item = self.plot.getPlotItem()
        item.setLabel("bottom", AXIS_LABELS[unit])
        self._rebuild_hyper_lines()
        self._on_alarm(self._alarm)
        self._on_moment(self.history.current if self.history is not None else None)
        self.refresh()
        item.enableAutoRange()

    def _on_compare_runs(self) -> None:
        self.compare_button.setEnabled(len(self.studio.comparison.runs) >= 2)

    def _grey_units(self) -> None:
        """Units the drawn runs cannot be aligned by are greyed, their tooltip says why."""
        unavailable = self.studio.comparison.unavailable()
        model = self.align_box.model()
        for index, unit in enumerate(UNITS):
            entry = model.item(index)
            if entry.isEnabled() != (unit not in unavailable):  # refresh() calls this a few times a second
                entry.setEnabled(unit not in unavailable)
                entry.setToolTip(unavailable.get(unit, ""))

    def _on_active(self, history: RunHistory | None) -> None:
        self.history = history
        self._on_compared()
        self._rebuild_hyper_lines()
        self._on_alarm(self._alarm)
        self._on_moment(history.current if history is not None else None)
        self.refresh()
        self.plot.getPlotItem().enableAutoRange()
        self._fit_y = True
        self._clear_legend_corner()

    def _on_alarm(self, alarm) -> None:
        """Mark (or unmark) where the active run's posterior-collapse alarm started."""
        self._alarm = alarm
        if alarm is None or self.history is None:
            self.alarm_line.hide()
            return
        self.alarm_line.setValue(float(self.x_of(self.history, [alarm.started_step])[0]))
        self.alarm_line.setToolTip(f"Posterior collapse from epoch {alarm.started_epoch} (step {alarm.started_step})")
        self.alarm_line.show()

    def _mark_dirty(self, *_args) -> None:
        self._dirty = True

    def _on_finished(self, *_args) -> None:
        """A run that ends is drawn at once (its last test ELBO should not wait for the redraw timer)."""
        self.refresh()

    def _on_cleared(self) -> None:
        self._rebuild_hyper_lines()
        self.refresh()

    def _on_hyper(self, _event=None) -> None:
        self._rebuild_hyper_lines()

    def _on_moment(self, info) -> None:
        if info is None:
            self.moment_line.hide()
        else:
            self.moment_line.setValue(float(self.x_of(self.history, [info.step])[0]) if self.history else info.step)
            self.moment_line.show()
        self.readout.setText(self.readout_text())

    def _on_compared(self) -> None:
        item = self.plot.getPlotItem()
        wanted = [h for h in self.studio.compared if h is not self.history]
        for key in list(self.compared_curves):
            if key not in {id(h) for h in wanted}:
                for curve in self.compared_curves.pop(key):
                    item.removeItem(curve)
                    self.legend.removeItem(curve)
        for index, history in enumerate(wanted):
            if id(history) in self.compared_curves:
                continue
            color = COMPARED_COLORS[index % len(COMPARED_COLORS)]
            train = pg.PlotDataItem(pen=pg.mkPen(color, width=1.5))
            test = pg.PlotDataItem(pen=pg.mkPen(color, width=1.5, style=Qt.PenStyle.DashLine), symbol="t",
                                   symbolSize=7, symbolBrush=color, symbolPen="w")
            for curve in (train, test):
                curve.setZValue(-1)
                item.addItem(curve)
            self.legend.addItem(train, f"{history.title()}: train")
            self.legend.addItem(test, f"{history.title()}: test")
            self.compared_curves[id(history)] = (train, test)
        self.refresh()

    def _rebuild_hyper_lines(self) -> None:
        item = self.plot.getPlotItem()
        for line in self.hyper_lines:
            item.removeItem(line)
        self.hyper_lines = []
        if self.history is None:
            return
        for change in self.history.hyper_changes:
            line = pg.InfiniteLine(pos=float(self.x_of(self.history, [change.step])[0]), angle=90, movable=False,
                                   pen=pg.mkPen(HYPER_COLOR, width=1.5, style=Qt.PenStyle.DashLine),
                                   label=f"lr {change.learning_rate:g}, β {change.beta:g}",
                                   labelOpts={"position": 0.92, "color": HYPER_COLOR, "fill": (255, 255, 255, 200),
                                              "anchors": [(0, 0.5), (0, 0.5)]})
            line.setToolTip(f"From step {change.step}: learning rate {change.learning_rate:g}, β {change.beta:g}")
            item.addItem(line, ignoreBounds=True)
            self.hyper_lines.append(line)

    # -- drawing -------------------------------------------------------------------------------------------------
    def _redraw_if_dirty(self) -> None:
        if self._dirty and self.isVisible():
            self.refresh()

    def refresh(self) -> None:
        """Redraw every curve from the histories (cheap: a few thousand points)."""
        self._dirty = False
        h = self.history
        empty = ([], [])

        def points(history: RunHistory, name: str):
            steps, values = history.curves[name].arrays()
            return self.x_of(history, steps), values

        self.train_curve.setData(*(points(h, "train_elbo") if h else empty))
        self.test_curve.setData(*(points(h, "test_elbo") if h else empty))
        if self.split_visible():
            self.ll_curve.setData(*(points(h, "train_log_likelihood") if h else empty))
            self.kl_curve.setData(*(points(h, "train_kl") if h else empty))
        self.objective.refresh(h, points, self.split_visible())
        for history in self.studio.compared:
            curves = self.compared_curves.get(id(history))
            if curves is not None:
                curves[0].setData(*points(history, "train_elbo"))
                curves[1].setData(*points(history, "test_elbo"))
        self._grey_units()  # a live run may have recorded its first training seconds since
        self.readout.setText(self.readout_text())
        self._clear_legend_corner()

    def _on_zoomed(self, *_args) -> None:
        self._fit_y = False

    def _clear_legend_corner(self) -> None:
        """Curves pass above the legend (lower right), so the ends of short runs are never covered; in a short
        plot (1280x720, runs compared) the legend takes two columns, half as high."""
        vb = self.plot.getPlotItem().vb
        rows = len(self.legend.items)
        self.legend.setColumnCount(2 if rows > 2 and rows * (self.fontMetrics().height() + 6) > 0.6 * vb.height()
                                   else 1)
        if not self._fit_y:
            return
        curves = [self.train_curve, self.test_curve] + [c for pair in self.compared_curves.values() for c in pair]
        curves += self.objective.shown_curves()
        if self.split_visible():
            curves.append(self.ll_curve)
            keep_clear(self.kl_view, [self.kl_curve, *self.objective.shown_term_curves()], self.legend)
        keep_clear(vb, curves, self.legend)

    def readout_text(self) -> str:
        h = self.history
        if h is None:
            return "No run yet: press Start, or open a run (File → Open run…)"
        parts = []
        if h.last_metrics is not None and h.curves["train_elbo"].y:
            parts.append(f"step {h.last_metrics.step}: train {h.curves['train_elbo'].y[-1]:.1f}")
        if h.epoch_ends:
            last = h.epoch_ends[-1]
            parts.append(f"test {last.test_elbo:.1f} (epoch {last.epoch})")
        if h.current is not None and not h.following:
            parts.append(f"shown: {h.current.label}")
        if not parts and h.folder is None and not h.live:
            return "A model file has no training curves: its pictures, KL and log-likelihood show in the other panels"
        return " · ".join(parts) if parts else "Waiting for the first steps…"

    def set_split_visible(self, visible: bool) -> None:
        item = self.plot.getPlotItem()
        if visible and self.ll_curve.scene() is None:
            item.addItem(self.ll_curve)
            self.legend.addItem(self.ll_curve, "train log-likelihood")
            self.legend.addItem(self.kl_curve, "train KL (right axis)")
        elif not visible and self.ll_curve.scene() is not None:
            item.removeItem(self.ll_curve)
            self.legend.removeItem(self.ll_curve)
            self.legend.removeItem(self.kl_curve)
        item.showAxis("right", visible)
        self.kl_view.setVisible(visible)
        self._sync_kl_view()
        self.refresh()
        if visible:
            self.kl_view.enableAutoRange()
            self._clear_legend_corner()

    def split_visible(self) -> bool:
        return self.split_check.isChecked()

    def _sync_kl_view(self) -> None:
        item = self.plot.getPlotItem()
        self.kl_view.setGeometry(item.vb.sceneBoundingRect())
        self.kl_view.linkedViewChanged(item.vb, self.kl_view.XAxis)

    # -- clicking ------------------------------------------------------------------------------------------------
    def _on_click(self, event) -> None:
        if self.history is None or event.button() != Qt.MouseButton.LeftButton:
            return
        vb = self.plot.getPlotItem().vb
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        self.show_step(self.studio.comparison.step_at(self.history, vb.mapSceneToView(event.scenePos()).x()))

    def show_step(self, step: float) -> None:
        """Show the last snapshot taken at or before `step` (what clicking the plot does)."""
        if self.history is None:
            return
        index = self.history.index_at_step(step)
        if index is not None:
            self.history.select(index)
