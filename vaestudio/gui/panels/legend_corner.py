"""Keeping a plot's lower-right corner clear for its legend: the y range is chosen so that every point under
the legend's width lies above the legend's top (curves ending low in a short run are lifted clear of it)."""

from __future__ import annotations

import numpy as np

PAD = 0.05  # of the data's height, above and below


def clearing_y_range(xs: np.ndarray, ys: np.ndarray, x_from: float, clear: float) -> tuple[float, float] | None:
    """(low, high) of a y range showing every point, where the points of x ≥ x_from lie in the upper
    1 − `clear` of the height (`clear`: the legend's height as a fraction of the plot's); None without data."""
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    finite = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[finite], ys[finite]
    if ys.size == 0:
        return None
    bottom, top = float(ys.min()), float(ys.max())
    span = max(top - bottom, 1e-6)
    low, high = bottom - PAD * span, top + PAD * span
    under = ys[xs >= x_from]
    clear = min(max(clear, 0.0), 0.9)
    if under.size:
        # (lowest under the legend - low) / (high - low) >= clear  <=>  low <= (lowest - clear * high) / (1 - clear)
        low = min(low, (float(under.min()) - clear * high) / (1.0 - clear))
    return low, high


def keep_clear(view, curves, legend) -> None:
    """Set `view`'s y range so that `curves` (PlotDataItems it shows) pass above `legend`, anchored in its
    lower right."""
    data = [curve.getData() for curve in curves if curve.isVisible()]
    data = [(x, y) for x, y in data if x is not None and len(x)]
    width, height = view.width(), view.height()
    if not data or width <= 0 or height <= 0:
        return
    xs, ys = np.concatenate([x for x, _ in data]), np.concatenate([y for _, y in data])
    box = legend.mapRectToItem(view, legend.boundingRect())
    x_low, x_high = float(np.nanmin(xs)), float(np.nanmax(xs))  # the x range auto-ranging will show
    x_from = x_low + (x_high - x_low) * max(box.left() - 4, 0) / width
    found = clearing_y_range(xs, ys, x_from, (height - box.top() + 4) / height)
    if found is not None:
        view.setYRange(*found, padding=0)
