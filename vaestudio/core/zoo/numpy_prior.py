"""The prior of a NumPy VAE (core/numpy_vae.py): N(0, I), or a VampPrior (Tomczak & Welling 2018), the
mixture (1/K) sum_k N(z; mean_k, var_k) of the encoder's posteriors at the model's K pseudo-inputs.
The explorer's densities and prior samples use it, as training's TensorFlow (CVAE.prior_log_prob) does."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from vaestudio.core.numpy_vae import NumpyVAE

HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def components(vae: "NumpyVAE") -> tuple[np.ndarray, np.ndarray] | None:
    """The VampPrior's components, (means, log-variances) each float64 (K, d); None for N(0, I)."""
    images = vae.pseudo_inputs()
    if images is None:
        return None
    means, logvars = vae.encode(images)
    return means.astype(np.float64), logvars.astype(np.float64)


def log_density(vae: "NumpyVAE", z: np.ndarray) -> np.ndarray:
    """log p(z) float64 (N,) of checked latent points (N, d)."""
    return log_density_of(components(vae), z)


def log_density_of(mixture: tuple[np.ndarray, np.ndarray] | None, z: np.ndarray) -> np.ndarray:
    """log p(z) float64 (N,) for `components`' result (computed once for many calls, as the IWAE does).
    Each component's squared distance is expanded into matrix products, (N, d) x (d, K), not (N, K, d)."""
    z = np.asarray(z, dtype=np.float64)
    if mixture is None:
        return (-0.5 * z ** 2 - HALF_LOG_2PI).sum(axis=1)
    means, logvars = mixture
    precisions = np.exp(-logvars)
    squared = (z * z) @ precisions.T - 2.0 * z @ (means * precisions).T + (means * means * precisions).sum(axis=1)
    per_component = -0.5 * (squared + logvars.sum(axis=1)) - z.shape[1] * HALF_LOG_2PI  # (N, K)
    peak = per_component.max(axis=1, keepdims=True)
    return peak[:, 0] + np.log(np.exp(per_component - peak).mean(axis=1))


def sample(vae: "NumpyVAE", count: int, seed: int = 0) -> np.ndarray:
    """`count` points float32 (count, d) from the prior; for N(0, I) the generator's first draws, as
    `default_rng(seed).standard_normal((count, d), dtype=float32)` gives them."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((count, vae.architecture.latent_dim), dtype=np.float32)
    mixture = components(vae)
    if mixture is None:
        return noise
    means, logvars = mixture
    chosen = rng.integers(0, len(means), count)
    return (means[chosen] + noise * np.exp(0.5 * logvars[chosen])).astype(np.float32)
