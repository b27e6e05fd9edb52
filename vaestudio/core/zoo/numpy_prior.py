"""The prior of a NumPy VAE (core/numpy_vae.py): N(0, I), or a VampPrior (Tomczak & Welling 2018), the
mixture (1/K) sum_k N(z; mean_k, var_k) of the encoder's posteriors at the model's K pseudo-inputs.
The explorer's densities and prior samples use it, as training's TensorFlow (CVAE.prior_log_prob) does, and
so do the diagnosis's KL terms (`monte_carlo_kl`: a mixture has no closed-form KL)."""

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


# Latent points per block of `monte_carlo_kl` x components: bounds its (points, K) float64 matrix to ~8 MB.
_KL_BLOCK = 1 << 20


def monte_carlo_kl(mixture: tuple[np.ndarray, np.ndarray] | None, mean: np.ndarray, logvar: np.ndarray,
                   rng: np.random.Generator, samples: int) -> np.ndarray:
    """KL(q(z|x) || p(z)) float64 (N,) of posteriors (mean, logvar) (N, d), estimated as the average over
    `samples` draws z = mean + std * eps of log q(z|x) - log p(z), p the prior of `components`' result.
    eps: float64 standard normals from `rng`, drawn image by image in order (`samples` rows each), so
    calls on consecutive chunks of images with one generator give the numbers of one call on them all."""
    mean = np.asarray(mean, dtype=np.float64)
    logvar = np.asarray(logvar, dtype=np.float64)
    count, d = mean.shape
    per_block = max(1, _KL_BLOCK // (samples * (1 if mixture is None else len(mixture[0]))))
    kl = np.empty(count)
    for start in range(0, count, per_block):
        stop = min(start + per_block, count)
        eps = rng.standard_normal((stop - start, samples, d))
        z = mean[start:stop, None] + eps * np.exp(0.5 * logvar[start:stop, None])
        log_q = (-0.5 * eps ** 2 - HALF_LOG_2PI).sum(axis=2) - 0.5 * logvar[start:stop].sum(axis=1)[:, None]
        log_p = log_density_of(mixture, z.reshape(-1, d)).reshape(stop - start, samples)
        kl[start:stop] = (log_q - log_p).mean(axis=1)
    return kl


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
