"""The importance-weighted estimate of the test log-likelihood log p(x) (Burda et al. 2016), in NumPy.

For each image, k samples z_j ~ q(z|x) give log p(x) >= log (1/k) sum_j p(x|z_j) p(z_j) / q(z_j|x),
a bound that equals the ELBO at k = 1 and tightens as k grows. Work goes in calls of at most `max_decodes`
decoder evaluations (images x up to k samples each); `progress` is told after each call and `cancelled`
is asked before each, so a cancellation takes effect within one call (well under a second or two).

It decodes with the NumPy VAE's decoder (core/numpy_layers.py), the one the window draws with: each
call's points go through in cache-sized blocks on the decoder's threads, and each block's log p(x|z) is
summed with the logits still in the decoder's phase-plane order (the image is put in that order once),
so the logits never return to natural order. log p(z) is the model's prior, N(0, I) or a VampPrior
(zoo/numpy_prior.py, its components encoded once). core/tf/iwae.py is the TensorFlow reference.

The noise is NumPy's: image i of the inputs uses `iwae_noise(seed, i, k, latent_dim)`, the same whatever
the batch size, so an estimate can be reproduced (and checked) exactly.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from vaestudio.core.errors import Cancelled, DataError
from vaestudio.core.numpy_layers import check_inputs, run_all
from vaestudio.core.numpy_vae import NumpyVAE
from vaestudio.core.weights import VaeWeights
from vaestudio.core.zoo import numpy_prior

DEFAULT_SAMPLES = 1000
# Decoder evaluations per call for the 28x28 model: ~0.4 s on two idle Zen 4 cores, so progress and
# cancellation are prompt; fewer for larger images.
MAX_DECODES = 4096
_PIXELS_28 = 28 * 28
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_TINY = np.float32(1e-30)  # |logit| floor of the continuous Bernoulli's normaliser (its limit at 0 is finite)


@dataclass(frozen=True)
class IwaeResult:
    """Mean IWAE bound over the images (nats per image) and its standard error."""

    mean: float
    standard_error: float  # std of the per-image values (ddof=1) / sqrt(count); NaN for one image
    count: int  # images
    samples: int  # k
    seconds: float
    per_image: np.ndarray = field(repr=False)  # float64 (count,)
    # The same samples give the ELBO too: the mean of the k log-weights, E_q[log p(x, z) - log q(z|x)].
    elbo: float = float("nan")
    elbo_standard_error: float = float("nan")


def iwae_noise(seed: int, image_index: int, k: int, latent_dim: int) -> np.ndarray:
    """The standard-normal noise (k, latent_dim) float32 that image `image_index` gets: the first k'
    rows are the same for any k >= k', so estimates for growing k share their samples."""
    return np.random.default_rng([seed, image_index]).standard_normal((k, latent_dim), dtype=np.float32)


def iwae_log_likelihood(model: NumpyVAE | VaeWeights, inputs: np.ndarray, k: int = DEFAULT_SAMPLES,
                        batch_size: int | None = None, seed: int = 0,
                        progress: Callable[[int, int], None] | None = None,
                        cancelled: Callable[[], bool] | None = None,
                        max_decodes: int | None = None, labels: np.ndarray | None = None) -> IwaeResult:
    """IWAE estimate of log p(x) with k samples per image, for model inputs float32 (N, H, W, C).

    batch_size: images per call (default: as many as `max_decodes` allows). progress(done, total) counts
    calls. cancelled() returning True raises Cancelled before the next call. labels: the images' classes,
    which a conditional model needs (log p(x | y) then); ignored for other models.
    """
    vae = model if isinstance(model, NumpyVAE) else NumpyVAE(model)
    architecture = vae.architecture
    try:
        x_all = check_inputs(inputs, architecture)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    if len(x_all) == 0:
        raise DataError("no images to estimate log p(x) on")
    if architecture.classes and labels is None:
        raise DataError("a conditional model's log p(x) needs the images' labels")
    labels = np.asarray(labels) if architecture.classes else None
    k = positive(k, "k")
    if max_decodes is None:
        budget = decode_budget(architecture, MAX_DECODES)
    else:
        budget = positive(max_decodes, "max_decodes")
    samples_per_call = min(k, budget)
    if batch_size is None:
        images_per_call = max(1, budget // samples_per_call)
    else:
        images_per_call = positive(batch_size, "batch_size")
    sample_chunks = math.ceil(k / samples_per_call)
    image_batches = math.ceil(len(x_all) / images_per_call)
    total = image_batches * sample_chunks
    started = time.perf_counter()
    try:
        mean, logvar = vae.encode(x_all, labels)
    except ValueError as exc:  # labels that do not fit
        raise DataError(str(exc)) from None
    log_weights = _LogWeights(vae)
    per_image = np.empty(len(x_all))
    elbo_per_image = np.empty(len(x_all))
    done = 0
    d = architecture.latent_dim
    for batch in range(image_batches):
        first = batch * images_per_call
        x = x_all[first:first + images_per_call]
        noise = np.stack([iwae_noise(seed, first + i, k, d) for i in range(len(x))])  # (B, k, d)
        posterior = mean[first:first + len(x)], logvar[first:first + len(x)]
        targets = log_weights.targets(x)
        batch_labels = None if labels is None else labels[first:first + len(x)]
        values = np.empty((len(x), k))
        for chunk in range(sample_chunks):
            if cancelled is not None and cancelled():
                raise Cancelled(f"IWAE estimate cancelled after {done} of {total} batches")
            lo, hi = chunk * samples_per_call, min((chunk + 1) * samples_per_call, k)
            values[:, lo:hi] = log_weights(posterior, noise[:, lo:hi], targets, batch_labels)
            done += 1
            if progress is not None:
                progress(done, total)
        elbo_per_image[first:first + len(x)] = values.mean(axis=1)
        peak = values.max(axis=1, keepdims=True)
        per_image[first:first + len(x)] = (peak[:, 0] + np.log(np.exp(values - peak).sum(axis=1)) - math.log(k))
    count = len(per_image)
    return IwaeResult(float(per_image.mean()), standard_error(per_image), count, k, time.perf_counter() - started,
                      per_image, float(elbo_per_image.mean()), standard_error(elbo_per_image))


class _LogWeights:
    """log p(x|z) + log p(z) - log q(z|x) of a batch of images' samples, float64 (B, S)."""

    def __init__(self, vae: NumpyVAE):
        self.decoder = vae.decoder
        self.likelihood = vae.architecture.likelihood
        self.prior = numpy_prior.components(vae)  # None for N(0, I); a VampPrior's, encoded once

    def targets(self, images: np.ndarray) -> np.ndarray:
        """The images in the decoder's storage order, minus 1/2: float32 (P, B) (see `_log_likelihood`)."""
        centred = self.decoder.storage_order(images)
        centred -= np.float32(0.5)
        return centred

    def __call__(self, posterior: tuple[np.ndarray, np.ndarray], eps: np.ndarray, targets: np.ndarray,
                 labels: np.ndarray | None) -> np.ndarray:
        mean, logvar = posterior
        count, samples, d = eps.shape
        z = (mean[:, None] + eps * np.exp(0.5 * logvar)[:, None]).reshape(-1, d)  # float32 (B * S, d)
        log_q = (-0.5 * eps.astype(np.float64) ** 2 - _HALF_LOG_2PI).sum(axis=2) - 0.5 * logvar.astype(
            np.float64).sum(axis=1)[:, None]
        log_p_z = numpy_prior.log_density_of(self.prior, z).reshape(count, samples)
        rows = None if labels is None else np.repeat(labels, samples)
        inputs = self.decoder.inputs(z, rows)
        image_of_row = np.repeat(np.arange(count), samples)
        block = self.decoder.block_size
        log_p_x = np.empty(len(z))

        def decode(index: int) -> None:
            part = slice(index * block, min((index + 1) * block, len(z)))
            images = image_of_row[part]
            target = (targets[:, images[0]:images[0] + 1] if images[0] == images[-1]
                      else np.take(targets, images, axis=1))
            log_p_x[part] = _log_likelihood(self.likelihood, target, self.decoder.block_logits(inputs[part]))

        run_all(decode, -(-len(z) // block))
        return log_p_x.reshape(count, samples) + log_p_z - log_q


def _log_likelihood(likelihood: str, centred: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """log p(x | logits) summed over the pixels (axis 0) of float32 (P, N) logits, which it overwrites;
    `centred` is x - 1/2, (P, N) or (P, 1). float64 (N,).

    Bernoulli: x l - softplus(l) = l (x - 1/2) - |l|/2 - log(1 + e^-|l|). Continuous Bernoulli: the same
    plus its log-normaliser log(l / tanh(l/2)), together l (x - 1/2) - |l|/2 + log(|l| / (1 - e^-|l|))."""
    magnitude = np.abs(logits)
    if likelihood == "bernoulli":
        rest = np.negative(magnitude)
        np.exp(rest, out=rest)
        np.log1p(rest, out=rest)  # log(1 + e^-|l|)
    elif likelihood == "continuous_bernoulli":
        np.maximum(magnitude, _TINY, out=magnitude)
        rest = np.negative(magnitude)
        np.expm1(rest, out=rest)
        np.divide(magnitude, rest, out=rest)  # -|l| / (1 - e^-|l|)
        np.negative(rest, out=rest)
        np.log(rest, out=rest)
        np.negative(rest, out=rest)  # minus the log-normaliser's remainder
    else:
        raise ValueError(f"unknown likelihood {likelihood!r}")
    magnitude *= np.float32(0.5)
    magnitude += rest
    logits *= centred
    logits -= magnitude
    return logits.sum(axis=0, dtype=np.float64)


def standard_error(values: np.ndarray) -> float:
    """std (ddof=1) / sqrt(count) of per-image values; NaN for one value."""
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else float("nan")


def decode_budget(architecture, decodes_28: int) -> int:
    """Decodes per call: `decodes_28` for 28x28 images, fewer for larger ones (work grows with pixels)."""
    pixels = architecture.image_size ** 2
    return max(1, decodes_28 * _PIXELS_28 // pixels)


def positive(value, name: str) -> int:
    """`value` as an int of at least 1; ValueError naming it otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
    return int(value)
