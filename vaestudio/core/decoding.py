"""Compatibility layer for the current window until the explorer rebuild: thin wrappers over latent.py
(the grid) and numpy_vae.py (the NumPy decoder). New code should use those modules directly.

`LatentDecoder` is the window's cursor and grid decoder for the tutorial's 28x28 grey model, built from
`model.decoder.get_weights()`; `decode_grid` decodes the grid with a Keras model (TensorFlow is imported
only when it is called).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from vaestudio.core.architecture import Architecture
from vaestudio.core.latent import grid_axis_values, grid_points, mosaic, to_uint8
from vaestudio.core.numpy_vae import NumpyDecoder, sigmoid

__all__ = ["IMAGE_SIZE", "LatentDecoder", "decode_grid", "grid_axis_values"]

IMAGE_SIZE = 28


class LatentDecoder:
    """The NumPy decoder of a `latent_dim`-d tutorial model; `set_weights` swaps in new decoder weights."""

    def __init__(self, latent_dim: int, weights: Sequence[np.ndarray] | None = None):
        self.latent_dim = int(latent_dim)
        self._architecture = Architecture(latent_dim=self.latent_dim)
        self._decoder: NumpyDecoder | None = None
        if weights is not None:
            self.set_weights(weights)

    @property
    def ready(self) -> bool:
        return self._decoder is not None

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Use these decoder weights (dense, then the transposed convolutions); ValueError if they do not fit."""
        self._decoder = NumpyDecoder(self._architecture, weights)

    def logits(self, z: np.ndarray) -> np.ndarray:
        """(B, latent_dim) -> (B, 28, 28) logits."""
        if self._decoder is None:
            raise RuntimeError("LatentDecoder has no weights yet")
        return self._decoder.logits(z)[..., 0]

    def decode_points(self, z: np.ndarray) -> np.ndarray:
        """(B, latent_dim) -> uint8 (B, 28, 28) images."""
        return to_uint8(sigmoid(self.logits(z)))

    def decode_point(self, z: Sequence[float]) -> np.ndarray:
        """One latent point -> uint8 (28, 28) image."""
        return self.decode_points(np.asarray(z, dtype=np.float32)[None, :])[0]

    def decode_grid(self, n: int, axes: tuple[int, int] = (0, 1), held: Sequence[float] | None = None) -> np.ndarray:
        """The uint8 n x n mosaic (latent.mosaic). A 1-d model's strip is repeated on every row, because the
        current window draws every grid as a square."""
        if self.latent_dim == 1:
            row = self.decode_points(grid_points(n, 1, (0, 0), held))
            return mosaic(np.tile(row, (n, 1, 1)), n)
        return mosaic(self.decode_points(grid_points(n, self.latent_dim, axes, held)), n)


def decode_grid(model, n: int, axes: tuple[int, int] = (0, 1), held: Sequence[float] | None = None) -> np.ndarray:
    """The grid from a Keras CVAE in one batched decoder call, as a uint8 mosaic (see tf.model.decode_grid)."""
    from vaestudio.core.tf.model import decode_grid as keras_decode_grid

    return keras_decode_grid(model, n, axes, held)
