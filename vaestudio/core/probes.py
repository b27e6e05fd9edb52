"""What people look at to judge a VAE, as plain functions of (a snapshot's weights, some images).

Every function takes a `NumpyVAE` (or the `VaeWeights` to build one) and NumPy arrays, needs neither Qt
nor TensorFlow, and returns plain arrays or small frozen records. Images are either model inputs
(float32 (N, H, W, C) in [0, 1]) or uint8 pictures (N, H, W[, C]), which are prepared the way training
prepares them (binarized at 0.5 for the Bernoulli likelihood, grey levels for the continuous one).
Log-likelihoods are in nats per image. The importance-weighted log p(x) is in core/iwae.py (NumPy too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Sequence

import numpy as np

from vaestudio.core import latent
from vaestudio.core.architecture import Architecture
from vaestudio.core.errors import DataError
from vaestudio.core.numpy_vae import NumpyVAE
from vaestudio.core.weights import VaeWeights
from vaestudio.core.zoo import numpy_prior

RECONSTRUCTION_SAMPLES = 16
# Draws of q(z|x) per image for the Monte Carlo KL against a VampPrior (no closed form): no decoding, so
# cheap next to the likelihood term; its standard error is the per-image spread / 4.
KL_SAMPLES = 16
_KL_STREAM = 0x4B4C  # the KL's noise has its own generator, (seed, _KL_STREAM): the likelihood's is untouched
ACTIVE_THRESHOLD = 0.01  # Burda et al. (2016)
_DECODES_PER_CALL = 2048  # bounds the memory of Monte Carlo decodes
_SERIES_BELOW = 1e-3  # |logit| under which the continuous Bernoulli's normaliser uses its series


class Posterior(NamedTuple):
    """q(z|x) of each image: float32 (N, latent_dim) means and log-variances."""

    mean: np.ndarray
    logvar: np.ndarray


@dataclass(frozen=True)
class Reconstructions:
    """Posterior-mean reconstructions and each image's ELBO terms (float64 nats, (N,))."""

    images: np.ndarray = field(repr=False)  # uint8 (N, H, W) grey or (N, H, W, 3) colour
    elbo: np.ndarray = field(repr=False)
    log_likelihood: np.ndarray = field(repr=False)  # Monte Carlo estimate of E_q[log p(x|z)]
    kl: np.ndarray = field(repr=False)  # KL(q(z|x) || p(z)), p the model's prior (PriorKl)
    samples: int = RECONSTRUCTION_SAMPLES
    seed: int = 0


class Interpolation(NamedTuple):
    """A latent path (float32 (n, latent_dim)) and its decoded frames (uint8)."""

    path: np.ndarray
    frames: np.ndarray


class ActiveUnits(NamedTuple):
    """How many latent dimensions are active, and Cov_x(E_q[z_d]) of each (float64 (d,))."""

    count: int
    variances: np.ndarray


class PriorSamples(NamedTuple):
    """Points drawn from N(0, I) (float32 (n, latent_dim)) and their decoded images (uint8)."""

    z: np.ndarray
    images: np.ndarray


# -- the probes ---------------------------------------------------------------------------------------------
def as_vae(model: NumpyVAE | VaeWeights) -> NumpyVAE:
    """A NumpyVAE for `model` (built from weights when needed)."""
    if isinstance(model, NumpyVAE):
        return model
    if isinstance(model, VaeWeights):
        return NumpyVAE(model)
    raise TypeError(f"expected a NumpyVAE or VaeWeights, got {type(model).__name__}")


def encode(model: NumpyVAE | VaeWeights, images: np.ndarray, labels=None) -> Posterior:
    """Means and log-variances of q(z|x) for each image (`labels`: a conditional model's classes)."""
    vae = as_vae(model)
    return Posterior(*vae.encode(model_inputs(images, vae.architecture), labels))


def reconstruct(model: NumpyVAE | VaeWeights, images: np.ndarray, samples: int = RECONSTRUCTION_SAMPLES,
                seed: int = 0, labels=None) -> Reconstructions:
    """Decode each image's posterior mean, and score the image with its ELBO.

    ELBO = E_q[log p(x|z)] - KL(q(z|x) || p(z)), p the model's prior: the KL term is exact (analytic) for
    N(0, I) and a Monte Carlo estimate for a VampPrior (PriorKl); the likelihood term is a Monte Carlo
    average over `samples` draws z = mean + std * eps with eps from a generator seeded by `seed`, so the
    same call gives the same numbers. `labels`: a conditional model's classes.
    """
    vae = as_vae(model)
    x = model_inputs(images, vae.architecture)
    samples = _positive(samples, "samples")
    mean, logvar = vae.encode(x, labels)
    kl = PriorKl(vae, seed)(mean, logvar)
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal((samples, *mean.shape), dtype=np.float32)
    std = np.exp(0.5 * logvar)
    log_likelihood = np.zeros(len(x))
    per_call = max(1, _DECODES_PER_CALL // samples)
    for start in range(0, len(x), per_call):
        stop = min(start + per_call, len(x))
        z = mean[None, start:stop] + eps[:, start:stop] * std[None, start:stop]  # (S, B, d)
        rows = None if labels is None or np.ndim(labels) == 0 else np.tile(np.asarray(labels)[start:stop], samples)
        logits = vae.decode_logits(z.reshape(-1, z.shape[-1]), labels if rows is None else rows)
        logits = logits.reshape(samples, stop - start, *x.shape[1:])
        values = log_likelihood_of(vae.architecture.likelihood, x[None, start:stop], logits)
        log_likelihood[start:stop] = values.mean(axis=0)
    images_out = vae.decode_uint8(mean, labels)
    return Reconstructions(images_out, log_likelihood - kl, log_likelihood, kl, samples, seed)


def interpolate(model: NumpyVAE | VaeWeights, z_a: Sequence[float], z_b: Sequence[float], n: int,
                method: str = "linear", label: int | None = None) -> Interpolation:
    """n points from z_a to z_b (latent.interpolate: linear or spherical) and their decoded frames
    (`label`: a conditional model's class)."""
    vae = as_vae(model)
    path = latent.interpolate(z_a, z_b, n, method)
    if path.shape[1] != vae.architecture.latent_dim:
        raise ValueError(f"endpoints of size {path.shape[1]} do not fit a {vae.architecture.latent_dim}-d latent space")
    return Interpolation(path, vae.decode_uint8(path, label))


def sample_prior(model: NumpyVAE | VaeWeights, n: int, seed: int = 0, label: int | None = None) -> PriorSamples:
    """n points from the model's prior, N(0, I) or a VampPrior (a generator seeded by `seed`; NumpyVAE.
    sample_prior), and their decoded images (`label`: a conditional model's class)."""
    vae = as_vae(model)
    z = vae.sample_prior(_positive(n, "n"), seed)
    return PriorSamples(z, vae.decode_uint8(z, label))


class PriorKl:
    """Each image's KL(q(z|x) || p(z)) against the model's prior, float64 nats (N,), for the posteriors of
    images given in order, all at once or chunk after chunk: N(0, I)'s analytic value (`analytic_kl`
    summed); a VampPrior's Monte Carlo estimate E_q[log q(z|x) - log p(z)] from KL_SAMPLES draws of q per
    image (zoo/numpy_prior.monte_carlo_kl, the components encoded once), its noise from a generator seeded
    by (seed, _KL_STREAM), so the figures repeat and do not depend on the chunking."""

    def __init__(self, vae: NumpyVAE, seed: int = 0, samples: int = KL_SAMPLES):
        self.mixture = numpy_prior.components(vae)
        self.samples = _positive(samples, "samples")
        self.rng = np.random.default_rng([int(seed), _KL_STREAM])

    def __call__(self, mean: np.ndarray, logvar: np.ndarray) -> np.ndarray:
        """The KL of the next images' posteriors, float (B, d) means and log-variances."""
        if self.mixture is None:
            return analytic_kl(mean, logvar).sum(axis=1)
        return numpy_prior.monte_carlo_kl(self.mixture, mean, logvar, self.rng, self.samples)


def analytic_kl(mean: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """KL(N(mean, exp(logvar)) || N(0, 1)) per image and dimension, float64 (N, d). Against N(0, I) whatever
    the model's prior: per dimension, as the Dimensions display and the collapse checks read it (a VampPrior's
    KL has no per-dimension split); an image's KL against the model's prior is PriorKl's."""
    mean = np.asarray(mean, dtype=np.float64)
    logvar = np.asarray(logvar, dtype=np.float64)
    if mean.shape != logvar.shape or mean.ndim != 2:
        raise ValueError(f"means {mean.shape} and log-variances {logvar.shape} must both be (N, d)")
    return 0.5 * (mean ** 2 + np.exp(logvar) - 1.0 - logvar)


def kl_per_dimension(mean: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """KL(q(z|x) || N(0, I)) of each latent dimension, averaged over the images: float64 (d,). N(0, I)'s with
    a VampPrior too (how far each dimension is from the standard normal, as training's metrics report it)."""
    return analytic_kl(mean, logvar).mean(axis=0)


def active_units(means: np.ndarray, threshold: float = ACTIVE_THRESHOLD) -> ActiveUnits:
    """Burda et al. (2016): dimension d is active when Cov_x(E_q[z_d]) > threshold; the covariance is
    the variance of the posterior means over the images (population variance)."""
    means = np.asarray(means, dtype=np.float64)
    if means.ndim != 2 or len(means) == 0:
        raise ValueError(f"expected posterior means of shape (N, d) with N >= 1, got {means.shape}")
    variances = means.var(axis=0)
    return ActiveUnits(int((variances > threshold).sum()), variances)


# -- likelihoods --------------------------------------------------------------------------------------------
def log_likelihood_of(likelihood: str, x: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """log p(x | logits) summed over each image's pixels and channels (the last three axes), float64."""
    if likelihood == "bernoulli":
        return bernoulli_log_likelihood(x, logits)
    if likelihood == "continuous_bernoulli":
        return continuous_bernoulli_log_likelihood(x, logits)
    raise ValueError(f"unknown likelihood {likelihood!r}")


def bernoulli_log_likelihood(x: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """sum of x * eta - log(1 + exp(eta)) over the last three axes: log p(x) for Bernoulli pixels
    with logits eta (x may also be grey levels, as in cross-entropy)."""
    eta = np.asarray(logits, dtype=np.float64)
    values = np.asarray(x, dtype=np.float64) * eta - np.logaddexp(0.0, eta)
    return values.sum(axis=(-3, -2, -1))


def continuous_bernoulli_log_likelihood(x: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """Continuous Bernoulli log-density (Loaiza-Ganem & Cunningham 2019) of x in [0, 1], summed over the
    last three axes: x * eta - log(1 + exp(eta)) + log C(eta)."""
    eta = np.asarray(logits, dtype=np.float64)
    values = np.asarray(x, dtype=np.float64) * eta - np.logaddexp(0.0, eta) + continuous_bernoulli_log_normalizer(eta)
    return values.sum(axis=(-3, -2, -1))


def continuous_bernoulli_log_normalizer(logits: np.ndarray) -> np.ndarray:
    """log C(eta), C = 2 artanh(1 - 2 lambda) / (1 - 2 lambda) with lambda = sigmoid(eta), = eta / tanh(eta / 2).

    Stable everywhere: log|eta| + log(1 + e^-|eta|) - log(1 - e^-|eta|) (with expm1) away from
    eta = 0 (lambda = 0.5), where the two logarithms cancel, and the series
    log 2 + eta^2 / 12 - 7 eta^4 / 1440 within |eta| < 1e-3. float64, elementwise.
    """
    eta = np.asarray(logits, dtype=np.float64)
    magnitude = np.abs(eta)
    small = magnitude < _SERIES_BELOW
    safe = np.where(small, 1.0, magnitude)
    direct = np.log(safe) + np.log1p(np.exp(-safe)) - np.log(-np.expm1(-safe))
    square = eta * eta
    series = np.log(2.0) + square / 12.0 - 7.0 * square * square / 1440.0
    return np.where(small, series, direct)


# -- inputs -------------------------------------------------------------------------------------------------
def model_inputs(images: np.ndarray, architecture: Architecture) -> np.ndarray:
    """Model inputs float32 (N, H, W, C) for `architecture` from uint8 pictures or from inputs already.

    uint8 (N, H, W) or (N, H, W, C) pictures are scaled to [0, 1] and, for the Bernoulli likelihood,
    binarized at 0.5 (x > 127), as training does. Floating-point inputs must already be in [0, 1].
    DataError names the shape or values that do not fit.
    """
    # Until vaestudio.core.data.preprocess(images, architecture) exists, this is its equivalent.
    array = np.asarray(images)
    shape = architecture.image_shape
    if array.ndim == 3 and shape[-1] == 1:
        array = array[..., None]
    if array.ndim != 4 or tuple(array.shape[1:]) != shape or len(array) == 0:
        raise DataError(f"images of shape {tuple(np.shape(images))} do not fit a model of {architecture.describe()} "
                        f"(expected N >= 1 images of {shape[0]}x{shape[1]}x{shape[2]})")
    if array.dtype == np.uint8:
        if architecture.binarized:
            return (array > 127).astype(np.float32)
        return array.astype(np.float32) / np.float32(255.0)
    if not np.issubdtype(array.dtype, np.floating):
        raise DataError(f"images of type {array.dtype}: expected uint8 pictures or float inputs in [0, 1]")
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array).all() or array.min() < 0.0 or array.max() > 1.0:
        raise DataError("model inputs must be finite values in [0, 1]")
    return array


def _positive(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
    return int(value)
