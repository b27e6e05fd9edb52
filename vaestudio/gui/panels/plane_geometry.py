"""Where latent points are drawn on the latent plane, and which latent point a place on it stands for.

Qt-free: plot coordinates follow the view (its two shown axes, held coordinates and scale, see
gui/axes.py) and the run's grid size. A 1-d latent space is drawn as a strip along z1; its points are
spread vertically only so that they can be seen.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from vaestudio.gui import axes
from vaestudio.gui.state.latent_view import Z_LIMIT, LatentView

ONE_D_SPREAD = 0.8  # test points of a 1-d space are spread over this fraction of the strip's height
GOLDEN_FRACTION = 0.6180339887  # spreads the points of a 1-d space evenly whatever their number


DEFAULT_GRID_COUNT, DEFAULT_TILE = 20, 28  # before a run is shown


class PlaneGeometry:
    """Latent point <-> plot position for `view`; `config()` is the shown run's TrainConfig (or None)."""

    def __init__(self, view: LatentView, config: Callable[[], Any]):
        self.view = view
        self.config = config

    def grid_count(self) -> int:
        """Tiles a side of the run's grid."""
        config = self.config()
        return config.grid_size if config is not None else DEFAULT_GRID_COUNT

    def grid_layout(self, grid: np.ndarray, per_class: bool) -> tuple[int, int]:
        """(tiles along x, strip rows): a conditional model's row per class (`per_class`) is drawn as a strip of
        rows along the x axis; any other mosaic gives (tiles_per_side, 0)."""
        if not per_class:
            return self.tiles_per_side(grid), 0
        n = self.grid_count()
        return n, grid.shape[0] // max(grid.shape[1] // n, 1)

    def tiles_per_side(self, grid: np.ndarray) -> int:
        """How many tiles a side the mosaic `grid` has (a 1-d space: a 1 x n strip of square tiles)."""
        if self.one_d:
            return max(grid.shape[1] // grid.shape[0], 1)
        n = self.grid_count()
        if grid.shape[0] % n == 0 and grid.shape[1] % n == 0:
            return n
        config = self.config()
        return max(grid.shape[0] // (config.image_size if config is not None else DEFAULT_TILE), 1)

    @property
    def scale(self) -> str:
        return self.view.scale

    @property
    def one_d(self) -> bool:
        return self.view.latent_dim == 1

    def plot_position(self, z) -> tuple[float, float]:
        """Where the full latent point z is drawn on the plane (plot coordinates)."""
        x_axis, y_axis = self.view.axes
        x = float(axes.to_plot(z[x_axis], self.scale))
        y = axes.origin(self.scale) if self.one_d else float(axes.to_plot(z[y_axis], self.scale))
        return x, y

    def latent_point(self, x: float, y: float) -> np.ndarray:
        """The full latent point drawn at plot position (x, y): the shown axes from (x, y), the rest held."""
        z = np.array(self.view.held, dtype=np.float64)
        x_axis, y_axis = self.view.axes
        z[x_axis] = axes.to_latent(x, self.scale)
        if not self.one_d:
            z[y_axis] = axes.to_latent(y, self.scale)
        return np.clip(z, -Z_LIMIT, Z_LIMIT)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, d) latent points -> their plot x and y on the shown axes (1-d: spread around the strip)."""
        points = np.asarray(points, dtype=np.float64)
        x_axis, y_axis = self.view.axes
        x = axes.to_plot(points[:, x_axis], self.scale)
        if self.one_d:
            _bottom, height = axes.strip_height(self.grid_count(), self.scale)
            spread = ((np.arange(len(points)) * GOLDEN_FRACTION) % 1.0 - 0.5) * height * ONE_D_SPREAD
            return x, axes.origin(self.scale) + spread
        return x, axes.to_plot(points[:, y_axis], self.scale)

    def whole_grid_range(self, spacing: str, means: np.ndarray | None) -> tuple[tuple[float, float], ...]:
        """The x and y ranges that show the whole grid and, on the linear scale, most of the test points
        `means` beyond it (None: the grid only)."""
        n = max(self.grid_count(), 2)
        edges = axes.tile_edges(n, self.scale, spacing)
        low, high = float(edges[0]), float(edges[-1])
        if self.one_d:
            bottom, height = axes.strip_height(n, self.scale, spacing)
            return (low, high), (bottom - height, bottom + 2 * height)
        if means is not None and self.scale == axes.LINEAR and len(means):
            x, y = self.project(means)
            low = min(low, float(np.percentile(x, 1)), float(np.percentile(y, 1)))
            high = max(high, float(np.percentile(x, 99)), float(np.percentile(y, 99)))
        return (low, high), (low, high)

    def cursor_text(self, cursor) -> str:
        """The cursor's label: its coordinates on the shown axes, one a line."""
        x_axis, y_axis = self.view.axes
        text = f"z{x_axis + 1} {cursor[x_axis]:+.2f}"
        return text if self.one_d else text + f"\nz{y_axis + 1} {cursor[y_axis]:+.2f}"

    def readout(self, x: float, y: float) -> str:
        """What the bar under the plane says of plot position (x, y) under the mouse."""
        x_axis, y_axis = self.view.axes
        text = f"under the mouse: z{x_axis + 1} = {axes.to_latent(x, self.scale):+.2f}"
        return text if self.one_d else text + f", z{y_axis + 1} = {axes.to_latent(y, self.scale):+.2f}"
