"""Decode latent points into images: the n x n grid of the tutorial and single points for the cursor.

`decode_grid` runs the Keras decoder in one batched call. `LatentDecoder` is a NumPy copy of the decoder
built from snapshot weights: the window's cursor uses it, so it never touches the model being trained,
never waits on TensorFlow's thread pool and works before TensorFlow has loaded.
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Sequence

import numpy as np

IMAGE_SIZE = 28


def grid_axis_values(n: int) -> np.ndarray:
    """Standard-normal quantiles of linspace(0.05, 0.95, n): the latent value of each grid row/column."""
    unit = NormalDist()
    return np.array([unit.inv_cdf(p) for p in np.linspace(0.05, 0.95, n)], dtype=np.float32)


def grid_latents(n: int, latent_dim: int, axes: tuple[int, int] = (0, 1),
                 held: Sequence[float] | None = None, values: np.ndarray | None = None) -> np.ndarray:
    """(n*n, latent_dim) points; row-major with z[axes[1]] varying by row and z[axes[0]] by column.

    Coordinates other than the two axes are taken from `held` (default 0).
    """
    if latent_dim < 1:
        raise ValueError(f"latent_dim must be at least 1, got {latent_dim}")
    x_axis, y_axis = axes
    if not (0 <= x_axis < latent_dim and 0 <= y_axis < latent_dim) or (x_axis == y_axis and latent_dim > 1):
        raise ValueError(f"axes {axes} do not name two different coordinates of a {latent_dim}-d latent space")
    values = grid_axis_values(n) if values is None else np.asarray(values, dtype=np.float32)
    base = np.zeros(latent_dim, np.float32) if held is None else np.asarray(held, dtype=np.float32).copy()
    points = np.repeat(base[None, :], n * n, axis=0)
    rows, cols = np.meshgrid(values, values, indexing="ij")
    points[:, x_axis] = cols.ravel()
    if latent_dim > 1:
        points[:, y_axis] = rows.ravel()
    return points


def to_mosaic(images: np.ndarray, n: int) -> np.ndarray:
    """(n*n, 28, 28[, 1]) probabilities in [0, 1], in `grid_latents` order -> uint8 (n*28, n*28).

    The mosaic reads like the latent plane: z1 grows to the right and z2 upwards, so tile (i, j) of
    the grid (i counting z2, j counting z1) lands at tile row n-1-i, column j. (The tutorial's
    figure draws z2 growing downwards.)
    """
    tiles = np.asarray(images, dtype=np.float32).reshape(n, n, IMAGE_SIZE, IMAGE_SIZE)[::-1]
    mosaic = tiles.transpose(0, 2, 1, 3).reshape(n * IMAGE_SIZE, n * IMAGE_SIZE)
    return to_uint8(mosaic)


def to_uint8(probabilities: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.asarray(probabilities) * 255.0), 0, 255).astype(np.uint8)


def decode_grid(model, n: int, axes: tuple[int, int] = (0, 1), held: Sequence[float] | None = None) -> np.ndarray:
    """The tutorial's grid from a Keras CVAE in one batched decoder call, as a uint8 mosaic."""
    import tensorflow as tf
    import tensorflow_probability as tfp

    quantiles = tfp.distributions.Normal(0.0, 1.0).quantile(np.linspace(0.05, 0.95, n).astype(np.float32))
    points = grid_latents(n, model.latent_dim, axes, held, values=quantiles.numpy())
    probabilities = tf.sigmoid(tf.cast(model.decoder(points, training=False), tf.float32)).numpy()
    return to_mosaic(probabilities, n)


class LatentDecoder:
    """A NumPy re-implementation of the decoder, loaded from `model.decoder.get_weights()`."""

    def __init__(self, latent_dim: int, weights: Sequence[np.ndarray] | None = None):
        self.latent_dim = int(latent_dim)
        self._weights: list[np.ndarray] | None = None
        if weights is not None:
            self.set_weights(weights)

    @property
    def ready(self) -> bool:
        return self._weights is not None

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Take a copy of the decoder's weights: dense (W, b), then three transposed convs (K, b)."""
        arrays = [np.array(w, dtype=np.float32) for w in weights]
        expected = [(self.latent_dim, 7 * 7 * 32), (7 * 7 * 32,), (3, 3, 64, 32), (64,),
                    (3, 3, 32, 64), (32,), (3, 3, 1, 32), (1,)]
        shapes = [a.shape for a in arrays]
        if shapes != expected:
            raise ValueError(f"decoder weights of shapes {shapes} do not fit a {self.latent_dim}-d decoder")
        self._weights = arrays

    def logits(self, z: np.ndarray) -> np.ndarray:
        """(B, latent_dim) -> (B, 28, 28) logits."""
        if self._weights is None:
            raise RuntimeError("LatentDecoder has no weights yet")
        dense_w, dense_b, k1, b1, k2, b2, k3, b3 = self._weights
        z = np.asarray(z, dtype=np.float32).reshape(-1, self.latent_dim)
        h = np.maximum(z @ dense_w + dense_b, 0.0).reshape(-1, 7, 7, 32)
        h = np.maximum(_conv_transpose_same(h, k1, 2) + b1, 0.0)
        h = np.maximum(_conv_transpose_same(h, k2, 2) + b2, 0.0)
        return (_conv_transpose_same(h, k3, 1) + b3)[..., 0]

    def decode_points(self, z: np.ndarray) -> np.ndarray:
        """(B, latent_dim) -> uint8 (B, 28, 28) images."""
        return to_uint8(_sigmoid(self.logits(z)))

    def decode_point(self, z: Sequence[float]) -> np.ndarray:
        """One latent point -> uint8 (28, 28) image."""
        return self.decode_points(np.asarray(z, dtype=np.float32)[None, :])[0]

    def decode_grid(self, n: int, axes: tuple[int, int] = (0, 1), held: Sequence[float] | None = None) -> np.ndarray:
        points = grid_latents(n, self.latent_dim, axes, held)
        return to_mosaic(_sigmoid(self.logits(points)), n)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic


def _conv_transpose_same(x: np.ndarray, kernel: np.ndarray, stride: int) -> np.ndarray:
    """Keras Conv2DTranspose(padding='same') without bias: (B, H, W, Cin) -> (B, H*s, W*s, Cout).

    It is the adjoint of a 'same' convolution: input pixel i, kernel tap a lands on output pixel
    i*stride + a - pad, where pad is the leading padding that convolution would use.
    """
    batch, height, width, _ = x.shape
    size_k = kernel.shape[0]
    out_h, out_w = height * stride, width * stride
    pad = max((height - 1) * stride + size_k - out_h, 0) // 2
    span_h, span_w = (height - 1) * stride + size_k, (width - 1) * stride + size_k
    out = np.zeros((batch, span_h, span_w, kernel.shape[2]), dtype=np.float32)
    for a in range(size_k):
        for b in range(size_k):
            contribution = x @ kernel[a, b].T  # (B, H, W, Cout)
            out[:, a:a + (height - 1) * stride + 1:stride, b:b + (width - 1) * stride + 1:stride] += contribution
    return out[:, pad:pad + out_h, pad:pad + out_w]
