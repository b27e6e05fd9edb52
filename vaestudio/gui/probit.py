"""The latent plane's coordinate system.

The tutorial's grid samples z at standard-normal quantiles of evenly spaced probabilities, so its
tiles are evenly spaced in u = Φ(z), not in z. The plane is therefore drawn in u (a probit scale):
every tile sits exactly over its latent value, and the axes are labelled in z.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pyqtgraph as pg

_UNIT = NormalDist()
U_MIN, U_MAX = 0.005, 0.995  # the cursor's range: |z| <= 2.58


def to_u(z) -> np.ndarray:
    """Φ(z), elementwise."""
    z = np.asarray(z, dtype=np.float64)
    return 0.5 * (1.0 + np.vectorize(math.erf, otypes=[float])(z / math.sqrt(2.0))) if z.size else z


def to_z(u: float) -> float:
    """Φ⁻¹(u) for one value, clipped to the cursor's range."""
    return float(_UNIT.inv_cdf(min(max(float(u), U_MIN), U_MAX)))


def grid_extent(n: int) -> tuple[float, float]:
    """(start, size) in u of an n-tile axis whose tile centres are linspace(0.05, 0.95, n)."""
    step = 0.9 / (n - 1) if n > 1 else 0.9
    return 0.05 - step / 2, 0.9 + step


class ProbitAxis(pg.AxisItem):
    """An axis drawn in u = Φ(z) with ticks and labels at round values of z."""

    MAJOR = (-2.0, -1.0, 0.0, 1.0, 2.0)
    MINOR = (-1.5, -0.5, 0.5, 1.5)  # ±1.5 unlabelled: too close to ±2 on this scale

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 (pyqtgraph API)
        lo, hi = min(minVal, maxVal), max(minVal, maxVal)

        def inside(values):
            return [float(u) for u in to_u(values) if lo <= u <= hi]

        return [(1.0, inside(self.MAJOR)), (0.5, inside(self.MINOR))]

    def tickStrings(self, values, scale, spacing):  # noqa: N802
        strings = []
        for u in values:
            z = _UNIT.inv_cdf(min(max(u, 1e-9), 1 - 1e-9))
            strings.append(f"{round(z, 2):g}" if spacing >= 1.0 or abs(z) < 1.0 else "")
        return strings
