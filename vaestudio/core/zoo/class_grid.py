"""A conditional model's grid for every class: one row per class, the columns along one latent axis."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from vaestudio.core.latent import grid_axis_values, held_coordinates, mosaic


def class_rows_points(n: int, latent_dim: int, axis: int, held: Sequence[float] | None = None,
                      spacing: str = "quantile") -> np.ndarray:
    """float32 (n, latent_dim): n points along `axis` (the grid's values, `spacing` as in
    latent.grid_axis_values), every other coordinate from `held`."""
    points = np.repeat(held_coordinates(latent_dim, held)[None], n, axis=0).astype(np.float32)
    points[:, axis] = grid_axis_values(n, spacing)
    return points


def class_rows(vae, n: int, axis: int = 0, held: Sequence[float] | None = None,
               spacing: str = "quantile") -> np.ndarray:
    """uint8 mosaic of `vae.architecture.classes` rows of n tiles: row c is class c decoded at the n points
    of `class_rows_points` (the top row is class 0)."""
    classes = vae.architecture.classes
    if not classes:
        raise ValueError("this model takes no class: there is no row per class to decode")
    points = class_rows_points(n, vae.architecture.latent_dim, axis, held, spacing)
    rows = [mosaic(vae.decode_uint8(points, label), n) for label in range(classes)]
    return np.concatenate(rows, axis=0)
