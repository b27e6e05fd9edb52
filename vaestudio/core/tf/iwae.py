"""The importance-weighted estimate of log p(x) (Burda et al. 2016) in TensorFlow: the reference that
core/iwae.py's NumPy estimate (the one `vaestudio inspect` uses, several times faster) is checked against.

For each image, k samples z_j ~ q(z|x) give log p(x) >= log (1/k) sum_j p(x|z_j) p(z_j) / q(z_j|x),
a bound that equals the ELBO at k = 1 and tightens as k grows. Runs TensorFlow, so call it from a worker
thread or the CLI, never the UI thread. Work goes in calls of at most `max_decodes` decoder evaluations
(batch_size images x up to k samples each), so memory stays bounded whatever k is; `progress` is told
after each call and `cancelled` is asked before each, so a cancellation takes effect within one call.

The noise is NumPy's: image i of the inputs uses `iwae_noise(seed, i, k, latent_dim)`, the same whatever
the batch size, so an estimate can be reproduced (and checked) exactly.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np

from vaestudio.core.errors import Cancelled, DataError
from vaestudio.core.iwae import (DEFAULT_SAMPLES, IwaeResult, decode_budget, iwae_noise, positive,  # noqa: F401
                                 standard_error)
from vaestudio.core.numpy_layers import check_inputs
from vaestudio.core.weights import VaeWeights

# Decoder evaluations per graph call: ~100 MB of activations for the 28x28 model.
MAX_DECODES = 2048


def iwae_log_likelihood(weights: VaeWeights, inputs: np.ndarray, k: int = DEFAULT_SAMPLES,
                        batch_size: int | None = None, seed: int = 0,
                        progress: Callable[[int, int], None] | None = None,
                        cancelled: Callable[[], bool] | None = None,
                        max_decodes: int | None = None, labels: np.ndarray | None = None) -> IwaeResult:
    """IWAE estimate of log p(x) with k samples per image, for model inputs float32 (N, H, W, C).

    batch_size: images per call (default: as many as `max_decodes` allows). progress(done, total) counts
    calls. cancelled() returning True raises Cancelled before the next call. labels: the images' classes,
    which a conditional model needs (log p(x | y) then); ignored for other models.
    """
    import tensorflow as tf

    from vaestudio.core.tf.model import model_from_weights

    architecture = weights.architecture
    try:
        x_all = check_inputs(inputs, architecture)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    if len(x_all) == 0:
        raise DataError("no images to estimate log p(x) on")
    if architecture.classes:  # a conditional model: its inputs carry the label (objective.split_condition)
        from vaestudio.core.zoo.labels import with_label_channels

        if labels is None:
            raise DataError("a conditional model's log p(x) needs the images' labels")
        try:
            x_all = with_label_channels(x_all, np.asarray(labels), architecture.classes)
        except ValueError as exc:
            raise DataError(str(exc)) from None
    k = positive(k, "k")
    budget = positive(max_decodes, "max_decodes") if max_decodes is not None else decode_budget(architecture, MAX_DECODES)
    samples_per_call = min(k, budget)
    images_per_call = positive(batch_size, "batch_size") if batch_size is not None else max(1, budget // samples_per_call)
    sample_chunks = math.ceil(k / samples_per_call)
    image_batches = math.ceil(len(x_all) / images_per_call)
    total = image_batches * sample_chunks
    started = time.perf_counter()
    model = model_from_weights(weights)
    log_weights = _log_weight_function(model, tf)
    per_image = np.empty(len(x_all))
    elbo_per_image = np.empty(len(x_all))
    done = 0
    d = architecture.latent_dim
    for batch in range(image_batches):
        first = batch * images_per_call
        x = x_all[first:first + images_per_call]
        noise = np.stack([iwae_noise(seed, first + i, k, d) for i in range(len(x))])  # (B, k, d)
        values = np.empty((len(x), k))
        for chunk in range(sample_chunks):
            if cancelled is not None and cancelled():
                raise Cancelled(f"IWAE estimate cancelled after {done} of {total} batches")
            lo, hi = chunk * samples_per_call, min((chunk + 1) * samples_per_call, k)
            values[:, lo:hi] = log_weights(tf.constant(x), tf.constant(noise[:, lo:hi])).numpy()
            done += 1
            if progress is not None:
                progress(done, total)
        elbo_per_image[first:first + len(x)] = values.mean(axis=1)
        peak = values.max(axis=1, keepdims=True)
        per_image[first:first + len(x)] = (peak[:, 0] + np.log(np.exp(values - peak).sum(axis=1)) - math.log(k))
    count = len(per_image)
    return IwaeResult(float(per_image.mean()), standard_error(per_image), count, k, time.perf_counter() - started,
                      per_image, float(elbo_per_image.mean()), standard_error(elbo_per_image))


def _log_weight_function(model, tf):
    """A compiled (x (B, H, W, C), eps (B, S, d)) -> log p(x|z) + log p(z) - log q(z|x), float64 (B, S)."""
    from vaestudio.core.tf.objective import conditioned, likelihood_of, log_likelihood_of, split_condition

    likelihood = likelihood_of(model)
    height, width, channels = model.architecture.image_shape
    classes = model.architecture.classes
    d = model.architecture.latent_dim
    half_log_2pi = 0.5 * math.log(2.0 * math.pi)

    @tf.function(input_signature=[tf.TensorSpec([None, height, width, channels + classes], tf.float32),
                                  tf.TensorSpec([None, None, d], tf.float32)])
    def log_weights(x, eps):
        mean, logvar = model.encode(x)
        std = tf.exp(0.5 * logvar)
        z = mean[:, None, :] + eps * std[:, None, :]  # (B, S, d)
        batch, samples = tf.shape(eps)[0], tf.shape(eps)[1]
        images, condition = split_condition(model, x)
        logits = model.decode(tf.reshape(conditioned(z, condition), [-1, d + classes]))
        logits = tf.reshape(logits, [batch, samples, height, width, channels])
        targets = tf.broadcast_to(images[:, None], tf.shape(logits))
        log_px_z = log_likelihood_of(likelihood, targets, logits)
        log_pz = model.prior_log_prob(z)  # the model's prior: the standard normal or a VampPrior
        log_qz_x = tf.reduce_sum(-0.5 * tf.square(eps) - half_log_2pi, axis=-1) - tf.reduce_sum(0.5 * logvar, axis=-1)[:, None]
        return tf.cast(log_px_z + log_pz - log_qz_x, tf.float64)

    return log_weights
