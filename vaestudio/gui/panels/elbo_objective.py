"""The ELBO plot's curves of a run trained on another objective than the ELBO (issue 19): the objective
itself (IWAE's k-sample bound, beta-TCVAE's weighted sum, or the beta-weighted ELBO), smoothed like the
train ELBO and drawn beside it whenever the run recorded one; and, in the Split view, beta-TCVAE's KL terms
(index-code mutual information, total correlation, dimension-wise KL) on the KL axis. Curves appear in the
legend only while the active run has them."""

from __future__ import annotations

from typing import Callable

import pyqtgraph as pg
from PySide6.QtCore import Qt

OBJECTIVE_COLOR = (23, 190, 207)
TERM_STYLES = {"mi": ((148, 103, 189), Qt.PenStyle.DashLine, "train index-code MI (right axis)"),
               "tc": ((227, 119, 194), Qt.PenStyle.DotLine, "train total correlation (right axis)"),
               "dim_kl": ((140, 86, 75), Qt.PenStyle.DashDotLine, "train dimension-wise KL (right axis)")}


class ObjectiveCurves:
    """The objective on the ELBO's axis and the objective's terms on the KL axis of `plot_item`/`kl_view`."""

    def __init__(self, plot_item: pg.PlotItem, kl_view: pg.ViewBox, legend: pg.LegendItem):
        self.plot_item, self.kl_view, self.legend = plot_item, kl_view, legend
        self.objective = pg.PlotDataItem(pen=pg.mkPen(OBJECTIVE_COLOR, width=1.5, style=Qt.PenStyle.DashLine))
        self.terms = {name: pg.PlotDataItem(pen=pg.mkPen(color, width=1.5, style=style))
                      for name, (color, style, _label) in TERM_STYLES.items()}
        self._shown: set[str] = set()

    def refresh(self, history, points: Callable, split: bool) -> None:
        """Show the curves `history` has (`points(history, name)` -> x, y); the terms only when `split`."""
        curves = history.curves if history is not None else {}
        self._show("objective", "train_objective" in curves, self.objective, self.plot_item,
                   f"train {_objective_name(history)} (EMA)")
        if "train_objective" in curves:
            self.objective.setData(*points(history, "train_objective"))
        for name, curve in self.terms.items():
            wanted = split and f"train_{name}" in curves
            self._show(name, wanted, curve, self.kl_view, TERM_STYLES[name][2])
            if wanted:
                curve.setData(*points(history, f"train_{name}"))

    def shown_curves(self) -> list[pg.PlotDataItem]:
        """The curves drawn on the ELBO's axis (for keeping the legend's corner clear)."""
        return [self.objective] if "objective" in self._shown else []

    def shown_term_curves(self) -> list[pg.PlotDataItem]:
        return [curve for name, curve in self.terms.items() if name in self._shown]

    def _show(self, key: str, wanted: bool, curve: pg.PlotDataItem, parent, label: str) -> None:
        if wanted and key not in self._shown:
            parent.addItem(curve)
            self.legend.addItem(curve, label)
            self._shown.add(key)
        elif not wanted and key in self._shown:
            parent.removeItem(curve)
            self.legend.removeItem(curve)
            self._shown.discard(key)


def _objective_name(history) -> str:
    """What the run's objective is called in the legend."""
    objective = getattr(getattr(history, "config", None), "objective", "elbo")
    return {"iwae": "IWAE objective", "tcvae": "β-TCVAE objective"}.get(objective, "objective (β-weighted)")
