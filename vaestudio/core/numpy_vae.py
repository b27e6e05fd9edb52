"""The VAE in NumPy, built from a snapshot's weights: encode images, decode latent points, draw the grid.

It never touches TensorFlow or the model in training, so the window can explore any snapshot while a
run trains, before TensorFlow has loaded, and from several threads at once (instances are immutable).
The layers, and how they are fast (matrix products on phase planes, blocks on two threads, a
single-threaded OpenBLAS whatever the import order), are in core/numpy_layers.py; the importance-weighted
log p(x) estimate that decodes with them is in core/iwae.py.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from vaestudio.core.architecture import Architecture
from vaestudio.core.latent import grid_points, mosaic, to_uint8
from vaestudio.core.numpy_layers import (  # noqa: F401  (check_*, single_threaded_blas: for callers)
    NumpyDecoder, NumpyEncoder, check_inputs, check_latents, single_threaded_blas)
from vaestudio.core.weights import VaeWeights
from vaestudio.core.zoo import numpy_prior
from vaestudio.core.zoo.labels import DEFAULT_CLASS, one_hot, with_label_channels  # noqa: F401  (for callers)


class NumpyVAE:
    """Encoder and decoder of one snapshot in NumPy. Immutable; safe to share between threads."""

    __slots__ = ("_weights", "_encoder", "_decoder")

    def __init__(self, weights: VaeWeights):
        if not isinstance(weights, VaeWeights):
            raise TypeError(f"NumpyVAE needs VaeWeights, got {type(weights).__name__}")
        object.__setattr__(self, "_weights", weights)
        object.__setattr__(self, "_encoder", NumpyEncoder(weights.architecture, weights.encoder))
        object.__setattr__(self, "_decoder", NumpyDecoder(weights.architecture, weights.decoder))

    def __setattr__(self, name, value):
        raise AttributeError("NumpyVAE is immutable")

    @property
    def architecture(self) -> Architecture:
        return self._weights.architecture

    @property
    def weights(self) -> VaeWeights:
        return self._weights

    @property
    def decoder(self) -> NumpyDecoder:
        return self._decoder

    def encode(self, inputs: np.ndarray, labels=None) -> tuple[np.ndarray, np.ndarray]:
        """Model inputs float32 (N, H, W, C) in [0, 1] -> (mean, log-variance), each float32 (N, latent_dim).
        `labels`: of a conditional model, the images' classes (None: DEFAULT_CLASS); ignored otherwise."""
        return self._encoder(inputs, labels)

    def decode_logits(self, z: np.ndarray, labels=None) -> np.ndarray:
        """(N, latent_dim) -> float32 logits (N, H, W, C); `labels` as in `encode`."""
        return self._decoder.logits(z, labels)

    def decode(self, z: np.ndarray, labels=None) -> np.ndarray:
        """(N, latent_dim) -> display values float32 (N, H, W, C) in [0, 1]: the Bernoulli's probability
        (sigmoid of the logits) or the continuous Bernoulli's mean. `labels` as in `encode`."""
        return display_values(self.decode_logits(z, labels), self.architecture.likelihood)

    def pseudo_inputs(self) -> np.ndarray | None:
        """A VampPrior's pseudo-inputs, float32 (K, H, W, C) in [0, 1]; None for the standard normal prior."""
        logits = self._decoder.pseudo_input_logits
        return None if logits is None else sigmoid(logits).astype(np.float32)

    def prior_log_density(self, z: np.ndarray) -> np.ndarray:
        """log p(z) (N,) of latent points (N, d) under the model's prior (zoo.numpy_prior)."""
        return numpy_prior.log_density(self, check_latents(z, self.architecture.latent_dim))

    def sample_prior(self, count: int, seed: int = 0) -> np.ndarray:
        """`count` latent points float32 (count, d) drawn from the model's prior (reproducible by seed)."""
        return numpy_prior.sample(self, count, seed)

    def decode_uint8(self, z: np.ndarray, labels=None) -> np.ndarray:
        """(N, latent_dim) -> uint8 images (N, H, W) for grey models, (N, H, W, 3) for colour."""
        images = to_uint8(self.decode(z, labels))
        return images[..., 0] if images.shape[-1] == 1 else images

    def grid(self, n: int, axes: tuple[int, int] = (0, 1), held: Sequence[float] | None = None,
             spacing: str = "quantile", label: int | None = None) -> np.ndarray:
        """The n x n grid (a 1 x n strip for a 1-d latent space) as one uint8 picture, see latent.mosaic;
        `spacing` as in latent.grid_axis_values; `label`: a conditional model's class (None: DEFAULT_CLASS)."""
        points = grid_points(n, self.architecture.latent_dim, axes, held, spacing)
        return mosaic(self.decode_uint8(points, label), n)


# -- display values ---------------------------------------------------------------------------------------
def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function without overflow, float32."""
    x = np.asarray(x, dtype=np.float32)
    out = np.multiply(x, np.float32(0.5))
    np.tanh(out, out=out)
    out += np.float32(1.0)
    out *= np.float32(0.5)
    return out


def continuous_bernoulli_mean(logits: np.ndarray) -> np.ndarray:
    """Mean of the continuous Bernoulli with natural parameter eta (the logit): 1/(1 - exp(-eta)) - 1/eta,
    and its series 1/2 + eta/12 - eta^3/720 near eta = 0 where the two terms cancel. float32 in [0, 1]."""
    eta = np.asarray(logits, dtype=np.float64)
    small = np.abs(eta) < 1e-2
    safe = np.where(small, 1.0, eta)
    with np.errstate(over="ignore", divide="ignore"):
        mean = -1.0 / np.expm1(-safe) - 1.0 / safe
    series = 0.5 + eta / 12.0 - eta ** 3 / 720.0
    return np.clip(np.where(small, series, mean), 0.0, 1.0).astype(np.float32)


def display_values(logits: np.ndarray, likelihood: str) -> np.ndarray:
    """What a pixel shows for these logits: probability (Bernoulli) or mean (continuous Bernoulli)."""
    if likelihood == "continuous_bernoulli":
        return continuous_bernoulli_mean(logits)
    return sigmoid(logits)
