"""The latent space as pictures: the one grid definition, grid points, interpolation paths, mosaics.

The grid is the tutorial's: along each shown axis, the standard-normal quantiles of
`linspace(*GRID_PROBABILITIES, n)`. Points are listed row-major with the second shown axis varying by
row and the first by column; `mosaic` lays their images out the way the latent plane reads (z1 grows to
the right, z2 upwards, so the top tile row holds the highest z2). A 1-d latent space has no second axis:
its grid is a strip of n points, and its mosaic a 1 x n row. Nothing here needs TensorFlow.
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Sequence

import numpy as np

GRID_PROBABILITIES = (0.05, 0.95)
INTERPOLATIONS = ("linear", "spherical")
SPACINGS = ("quantile", "linear")
_PARALLEL = 1e-6  # |sin(angle)| below this counts as (anti)parallel


def grid_axis_values(n: int, spacing: str = "quantile") -> np.ndarray:
    """The latent value of each of the n grid rows/columns, float32 (n,), ascending.

    "quantile" (the tutorial's): standard-normal quantiles of linspace(0.05, 0.95, n), evenly spaced in
    probability. "linear": n evenly spaced values over the same range, so on a linear axis every tile has
    the same width and sits exactly on its latent value.
    """
    n = _count(n, "grid size", minimum=2)
    unit = NormalDist()
    low, high = GRID_PROBABILITIES
    if spacing == "linear":
        return np.linspace(unit.inv_cdf(low), unit.inv_cdf(high), n).astype(np.float32)
    if spacing != "quantile":
        raise ValueError(f"grid spacing {spacing!r} is not one of {', '.join(SPACINGS)}")
    return np.array([unit.inv_cdf(float(p)) for p in np.linspace(low, high, n)], dtype=np.float32)


def grid_points(n: int, latent_dim: int, axes: tuple[int, int] = (0, 1),
                held: Sequence[float] | None = None, spacing: str = "quantile") -> np.ndarray:
    """float32 latent points of the grid: (n*n, latent_dim), or (n, latent_dim) for a 1-d latent space.

    Point r*n + c has z[axes[1]] = values[r] and z[axes[0]] = values[c]; every other coordinate comes
    from `held` (default 0). For latent_dim 1 the second axis is ignored and point c has z = values[c].
    """
    latent_dim = _count(latent_dim, "latent_dim")
    values = grid_axis_values(n, spacing)
    base = held_coordinates(latent_dim, held)
    if latent_dim == 1:
        if axes[0] != 0:
            raise ValueError(f"axis {axes[0]} does not exist in a 1-d latent space")
        points = np.repeat(base[None, :], len(values), axis=0)
        points[:, 0] = values
        return points
    x_axis, y_axis = (int(a) for a in axes)
    if not (0 <= x_axis < latent_dim and 0 <= y_axis < latent_dim) or x_axis == y_axis:
        raise ValueError(f"axes {tuple(axes)} do not name two different coordinates of a {latent_dim}-d latent space")
    points = np.repeat(base[None, :], len(values) ** 2, axis=0)
    rows, cols = np.meshgrid(values, values, indexing="ij")
    points[:, x_axis] = cols.ravel()
    points[:, y_axis] = rows.ravel()
    return points


def held_coordinates(latent_dim: int, held: Sequence[float] | None) -> np.ndarray:
    """`held` as a finite float32 (latent_dim,) vector; zeros when None."""
    if held is None:
        return np.zeros(latent_dim, np.float32)
    base = np.asarray(held, dtype=np.float32).reshape(-1).copy()
    if base.shape != (latent_dim,):
        raise ValueError(f"held coordinates of length {base.size} do not fit a {latent_dim}-d latent space")
    if not np.isfinite(base).all():
        raise ValueError("held coordinates must be finite")
    return base


def to_uint8(values: np.ndarray) -> np.ndarray:
    """Display values in [0, 1] -> uint8 0..255 (rounded, clipped); uint8 input is returned as is."""
    values = np.asarray(values)
    if values.dtype == np.uint8:
        return values
    scaled = np.multiply(values, np.float32(255.0), dtype=np.float32)
    np.rint(scaled, out=scaled)
    np.clip(scaled, 0, 255, out=scaled)
    return scaled.astype(np.uint8)


def mosaic(images: np.ndarray, n: int) -> np.ndarray:
    """Images of the grid, in `grid_points` order -> one uint8 picture that reads like the latent plane.

    `images` are (N, H, W), (N, H, W, 1) or (N, H, W, 3), display values in [0, 1] or uint8. N = n*n
    gives an n x n mosaic whose top tile row is the highest z2 (the last grid row); N = n (the strip of
    a 1-d latent space) gives a 1 x n row. The result is (rows*H, n*W) for grey, (rows*H, n*W, 3) for colour.
    """
    n = _count(n, "grid size")
    tiles = _tiles(images)
    if len(tiles) == n * n:
        rows = n
    elif len(tiles) == n:
        rows = 1
    else:
        raise ValueError(f"{len(tiles)} images make neither an {n} x {n} grid nor a strip of {n}")
    count, height, width, channels = tiles.shape
    grid = tiles.reshape(rows, n, height, width, channels)[::-1]  # highest z2 on top
    picture = grid.transpose(0, 2, 1, 3, 4).reshape(rows * height, n * width, channels)
    return to_uint8(picture[..., 0] if channels == 1 else picture)


def strip(images: np.ndarray) -> np.ndarray:
    """A row of images left to right (e.g. an interpolation's frames) as one uint8 picture."""
    tiles = _tiles(images)
    count, height, width, channels = tiles.shape
    picture = tiles.transpose(1, 0, 2, 3).reshape(height, count * width, channels)
    return to_uint8(picture[..., 0] if channels == 1 else picture)


def interpolate(z_a: Sequence[float], z_b: Sequence[float], n: int, method: str = "linear") -> np.ndarray:
    """n float32 latent points from z_a to z_b (both included), evenly spaced in t.

    linear: (1 - t) z_a + t z_b.
    spherical: the direction turns along the great circle through both at constant angular speed while
    the norm changes linearly from |z_a| to |z_b| (for endpoints of equal norm this is the usual slerp;
    the path keeps away from the low-density origin). It degrades gracefully: a zero endpoint or
    parallel endpoints give the straight line (which is then the same path); antiparallel endpoints
    turn through a fixed perpendicular direction (there is no unique great circle), except in a 1-d
    latent space, which has none and so goes straight through 0.
    """
    a = np.asarray(z_a, dtype=np.float64).reshape(-1)
    b = np.asarray(z_b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"endpoints of different sizes ({a.size} and {b.size})")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("interpolation endpoints must be finite")
    if method not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}, got {method!r}")
    n = _count(n, "number of interpolation points")
    t = np.linspace(0.0, 1.0, n)[:, None] if n > 1 else np.zeros((1, 1))
    linear = (1.0 - t) * a + t * b
    if method == "linear":
        return linear.astype(np.float32)
    norm_a, norm_b = np.linalg.norm(a), np.linalg.norm(b)
    if norm_a == 0.0 or norm_b == 0.0:
        return linear.astype(np.float32)
    u, w = a / norm_a, b / norm_b
    cosine = float(np.clip(u @ w, -1.0, 1.0))
    v = w - cosine * u
    sine = float(np.linalg.norm(v))
    if sine < _PARALLEL:
        if cosine > 0 or a.size == 1:
            return linear.astype(np.float32)
        v = _perpendicular(u)
        angle = np.pi
    else:
        v /= sine
        angle = float(np.arctan2(sine, cosine))
    radius = (1.0 - t) * norm_a + t * norm_b
    path = radius * (np.cos(t * angle) * u + np.sin(t * angle) * v)
    path[0], path[-1] = a, b  # exact endpoints
    return path.astype(np.float32)


def _perpendicular(u: np.ndarray) -> np.ndarray:
    """A unit vector perpendicular to unit vector u, the same for the same u."""
    axis = np.zeros_like(u)
    axis[int(np.argmin(np.abs(u)))] = 1.0
    v = axis - (axis @ u) * u
    return v / np.linalg.norm(v)


def _tiles(images: np.ndarray) -> np.ndarray:
    """(N, H, W[, C]) -> (N, H, W, C) with C 1 or 3."""
    tiles = np.asarray(images)
    if tiles.ndim == 3:
        tiles = tiles[..., None]
    if tiles.ndim != 4 or tiles.shape[-1] not in (1, 3) or min(tiles.shape) == 0:
        raise ValueError(f"expected images of shape (N, H, W), (N, H, W, 1) or (N, H, W, 3), got {tiles.shape}")
    return tiles


def _count(value: int, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be a whole number of at least {minimum}, got {value!r}")
    return int(value)
