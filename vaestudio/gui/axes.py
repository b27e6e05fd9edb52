"""The latent plane's two scales: where a latent value z is drawn, and how the grid's tiles are laid out.

The grid samples each shown axis at the standard-normal quantiles of evenly spaced probabilities
(core/latent.py), so its tile centres are NOT evenly spaced in z: they crowd near 0 and spread out
towards ±1.645.

- linear (the default): the plane is drawn in z itself. Each tile is centred on the latent value it
  was decoded at and fills the cell between the midpoints to its neighbours, so outer tiles are
  stretched (they stand for a wider stretch of z); test points, the cursor and paths sit at their true z.
- probit: the plane is drawn in u = Φ(z), the standard-normal CDF. The grid's quantiles are then evenly
  spaced (every tile is square) and equal areas hold equal prior mass; the axes are still labelled in z.

Both map z to plot coordinates and back; nothing here changes state.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pyqtgraph as pg

from vaestudio.core.latent import GRID_PROBABILITIES, grid_axis_values
from vaestudio.gui.state.latent_view import Z_LIMIT

LINEAR, PROBIT = "linear", "probit"
SCALES = (LINEAR, PROBIT)
SCALE_EXPLANATION = (
    "Linear: the plane is drawn in z; each grid tile is centred on the latent value it was decoded at, "
    "so the outer tiles are wider (the grid samples z at normal quantiles, which crowd near 0).\n"
    "Probit: the plane is drawn in Φ(z), the prior's cumulative probability; the grid's quantiles are "
    "then evenly spaced, every tile is square and equal areas hold equal prior mass. Axes still read z."
)
MAX_RESAMPLED_PIXELS = 1400  # per side of the linear-scale grid picture (bounds memory for 64-pixel tiles)

_UNIT = NormalDist()
_ERF = np.frompyfunc(math.erf, 1, 1)
_U_EDGE = _UNIT.cdf(-Z_LIMIT)  # the probit plane's smallest u (the cursor's limit)


def check_scale(scale: str) -> str:
    if scale not in SCALES:
        raise ValueError(f"scale {scale!r} is not one of {', '.join(SCALES)}")
    return scale


def to_plot(z, scale: str) -> np.ndarray:
    """Latent values -> plot coordinates (float64, same shape)."""
    z = np.asarray(z, dtype=np.float64)
    if check_scale(scale) == LINEAR:
        return z.copy()
    if z.size == 0:
        return z.copy()
    return 0.5 * (1.0 + np.asarray(_ERF(z / math.sqrt(2.0)), dtype=np.float64))


def to_latent(p: float, scale: str) -> float:
    """One plot coordinate -> its latent value (probit: clipped to the plane's ±Z_LIMIT)."""
    p = float(p)
    if check_scale(scale) == LINEAR:
        return p
    return float(_UNIT.inv_cdf(min(max(p, _U_EDGE), 1.0 - _U_EDGE)))


def plane_limits(scale: str) -> tuple[float, float]:
    """How far the view may pan or zoom out, in plot coordinates: the cursor's whole range, and room for
    a widget much taller or wider than it is square (the plane keeps its aspect)."""
    if check_scale(scale) == LINEAR:
        return -2 * Z_LIMIT, 2 * Z_LIMIT
    return -0.75, 1.75


def cursor_limits(scale: str) -> tuple[float, float]:
    """Where the cursor can go, in plot coordinates (z within ±Z_LIMIT)."""
    if check_scale(scale) == LINEAR:
        return -Z_LIMIT, Z_LIMIT
    return float(to_plot(-Z_LIMIT, PROBIT)), float(to_plot(Z_LIMIT, PROBIT))


def origin(scale: str) -> float:
    """z = 0 in plot coordinates."""
    return 0.0 if check_scale(scale) == LINEAR else 0.5


def tile_edges(n: int, scale: str, spacing: str = "quantile") -> np.ndarray:
    """The n + 1 boundaries (plot coordinates, ascending) of the n grid tiles along one axis.

    probit: the tile centres are evenly spaced, each tile as wide as the spacing. linear with a linear
    grid (the window's): evenly spaced too. linear with the tutorial's quantile grid (a run recorded
    without weights): each tile reaches halfway to its neighbours; the outer tiles reach as far out as in.
    """
    if check_scale(scale) == LINEAR and spacing == "linear":
        centres = grid_axis_values(n, "linear").astype(np.float64)
        step = centres[1] - centres[0]
        return np.linspace(centres[0] - step / 2, centres[-1] + step / 2, n + 1)
    if check_scale(scale) == PROBIT:
        low, high = GRID_PROBABILITIES
        step = (high - low) / (n - 1)
        return np.linspace(low - step / 2, high + step / 2, n + 1)
    centres = grid_axis_values(n).astype(np.float64)
    middles = (centres[1:] + centres[:-1]) / 2
    first = centres[0] - (middles[0] - centres[0])
    last = centres[-1] + (centres[-1] - middles[-1])
    return np.concatenate([[first], middles, [last]])


def strip_height(n: int, scale: str, spacing: str = "quantile") -> tuple[float, float]:
    """(bottom, height) of a 1-d latent space's strip: as tall as its central tile is wide, around z2 = 0."""
    edges = tile_edges(n, scale, spacing)
    height = float(np.min(np.diff(edges)))
    return origin(scale) - height / 2, height


def resample_indices(n: int, tile: int, scale: str, spacing: str = "quantile") -> tuple[np.ndarray, float, float]:
    """Source pixel index of each picture pixel along one axis, and the picture's (start, size) in plot units.

    probit: the mosaic as it is. linear: the narrowest tile keeps its pixels and wider tiles repeat
    theirs, so every tile fills its cell between `tile_edges`.
    """
    edges = tile_edges(n, scale, spacing)
    start, size = float(edges[0]), float(edges[-1] - edges[0])
    if scale == PROBIT or spacing == "linear":  # evenly spaced tiles: the mosaic as it is
        return np.arange(n * tile), start, size
    pixel = max(float(np.min(np.diff(edges))) / tile, size / MAX_RESAMPLED_PIXELS)
    count = int(math.ceil(size / pixel))
    centres = start + (np.arange(count) + 0.5) * (size / count)
    cell = np.clip(np.searchsorted(edges, centres, side="right") - 1, 0, n - 1)
    within = (centres - edges[cell]) / (edges[cell + 1] - edges[cell])
    source = cell * tile + np.clip((within * tile).astype(np.int64), 0, tile - 1)
    return source, start, size


class ScaleAxis(pg.AxisItem):
    """An axis of the plane, labelled in z whatever the scale: ticks at round z on the probit scale."""

    MAJOR = (-2.0, -1.0, 0.0, 1.0, 2.0)
    MINOR = (-3.0, -1.5, -0.5, 0.5, 1.5, 3.0)  # unlabelled: too close to their neighbours on this scale

    def __init__(self, orientation: str, **kwargs):
        super().__init__(orientation, **kwargs)
        self.scale_name = LINEAR

    def set_scale(self, scale: str) -> None:
        self.scale_name = check_scale(scale)
        self.picture = None  # pyqtgraph's cached drawing of the ticks
        self.update()

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 (pyqtgraph API)
        if self.scale_name == LINEAR:
            return super().tickValues(minVal, maxVal, size)
        lo, hi = min(minVal, maxVal), max(minVal, maxVal)

        def inside(values):
            return [float(u) for u in to_plot(values, PROBIT) if lo <= u <= hi]

        return [(1.0, inside(self.MAJOR)), (0.5, inside(self.MINOR))]

    def tickStrings(self, values, scale, spacing):  # noqa: N802
        if self.scale_name == LINEAR:
            return super().tickStrings(values, scale, spacing)
        strings = []
        for u in values:
            z = to_latent(u, PROBIT)
            strings.append(f"{round(z, 2):g}" if spacing >= 1.0 else "")
        return strings
