"""The ELBO the model is trained on, in plain TensorFlow ops.

The tutorial's single-sample Monte Carlo ELBO: z = mean + eps * std, log p(x|z) under the architecture's
likelihood (independent Bernoulli pixels for binarized images, the tutorial's; or the continuous
Bernoulli for grey levels), and the single-sample KL estimate log q(z|x) - log p(z), p the model's prior
(N(0, I), or a VampPrior). The analytic per-dimension KL(q(z|x) || N(0, I)) is given beside it for reports
(with a VampPrior too: it then measures how far each dimension is from the standard normal).

The densities are written out (Gaussian log densities, sigmoid cross-entropy, the continuous Bernoulli's
normaliser) rather than taken from tensorflow-probability: the same values, but importing it cost seconds
and its distribution objects made tracing the training step slower (issue 22).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import tensorflow as tf

LOG_2PI = math.log(2.0 * math.pi)
# |logit| under which the continuous Bernoulli's log normaliser is its series (float32: the direct formula's
# two logarithms cancel near 0)
_SERIES_BELOW = 1e-2


class ElboTerms(NamedTuple):
    """Per-image terms in nats: elbo = log_likelihood - kl; kl_per_dimension is analytic, (N, d)."""

    elbo: tf.Tensor
    log_likelihood: tf.Tensor
    kl: tf.Tensor
    kl_per_dimension: tf.Tensor


def elbo_parts(model, x: tf.Tensor, eps: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Per-image (elbo, log_likelihood, kl) in nats for images `x` and standard-normal noise `eps`.

    z = mean + eps * std is the reparameterised sample; log_likelihood = log p(x|z) under the model's
    likelihood; kl = log q(z|x) - log p(z), the single-sample estimate of KL(q || N(0, I)).
    elbo = log_likelihood - kl.
    """
    terms = elbo_terms(model, x, eps)
    return terms.elbo, terms.log_likelihood, terms.kl


def elbo_terms(model, x: tf.Tensor, eps: tf.Tensor) -> ElboTerms:
    """`elbo_parts` and the analytic KL per latent dimension, from one encoder and one decoder call."""
    mean, logvar = model.encode(x)
    mean = tf.cast(mean, tf.float32)
    logvar = tf.cast(logvar, tf.float32)
    std = tf.exp(0.5 * logvar)
    z = mean + eps * std
    targets, condition = split_condition(model, x)
    logits = tf.cast(model.decode(conditioned(z, condition)), tf.float32)
    log_likelihood = log_likelihood_of(likelihood_of(model), targets, logits)
    kl = diagonal_normal_log_prob(z, mean, logvar) - prior_log_prob(model, z)
    return ElboTerms(log_likelihood - kl, log_likelihood, kl, kl_per_dimension(mean, logvar))


def split_condition(model, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor | None]:
    """(the images, the one-hot labels (N, classes)) of a conditional model's inputs, whose label follows
    the image's channels (constant over the image); (x, None) for other models."""
    architecture = getattr(model, "architecture", None)
    if architecture is None or not architecture.classes:
        return x, None
    channels = architecture.channels
    return x[..., :channels], tf.cast(x[:, 0, 0, channels:], tf.float32)


def conditioned(z: tf.Tensor, condition: tf.Tensor | None) -> tf.Tensor:
    """The decoder's input: z (N, d) or (N, K, d) with the one-hot label (N, classes) after it (z alone
    when `condition` is None)."""
    if condition is None:
        return z
    condition = tf.cast(condition, z.dtype)
    if len(z.shape) == 3:
        condition = tf.broadcast_to(condition[:, None, :], tf.concat([tf.shape(z)[:2], tf.shape(condition)[1:]], 0))
    return tf.concat([z, condition], axis=-1)


def prior_log_prob(model, z: tf.Tensor) -> tf.Tensor:
    """log p(z) over the last axis: the model's prior (a VampPrior), or the standard normal's."""
    architecture = getattr(model, "architecture", None)
    if architecture is not None and architecture.vamp:
        return model.prior_log_prob(z)
    return tf.reduce_sum(-0.5 * (tf.square(z) + LOG_2PI), axis=-1)


def diagonal_normal_log_prob(z: tf.Tensor, mean: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
    """log N(z; mean, diag(exp(logvar))) over the last axis."""
    return tf.reduce_sum(-0.5 * (tf.square(z - mean) * tf.exp(-logvar) + logvar + LOG_2PI), axis=-1)


def kl_per_dimension(mean: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
    """Analytic KL(N(mean, exp(logvar)) || N(0, 1)) per image and latent dimension, (N, d)."""
    mean = tf.cast(mean, tf.float32)
    logvar = tf.cast(logvar, tf.float32)
    return 0.5 * (tf.square(mean) + tf.exp(logvar) - 1.0 - logvar)


def log_likelihood_of(likelihood: str, x: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """log p(x | logits) summed over each image's pixels and channels (the last three axes)."""
    x = tf.cast(x, tf.float32)
    logits = tf.cast(logits, tf.float32)
    if likelihood not in ("bernoulli", "continuous_bernoulli"):
        raise ValueError(f"unknown likelihood {likelihood!r}")
    values = -tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits)  # x * eta - log(1 + e^eta)
    if likelihood == "continuous_bernoulli":
        values += continuous_bernoulli_log_normalizer(logits)
    return tf.reduce_sum(values, axis=[-3, -2, -1])


def continuous_bernoulli_log_normalizer(logits: tf.Tensor) -> tf.Tensor:
    """log C(eta) = log(eta / tanh(eta / 2)) elementwise (Loaiza-Ganem & Cunningham 2019), as
    probes.continuous_bernoulli_log_normalizer: log|eta| + log(1 + e^-|eta|) - log(1 - e^-|eta|) away
    from 0, the series log 2 + eta^2 / 12 - 7 eta^4 / 1440 near it (no NaN in either branch's gradient)."""
    magnitude = tf.abs(logits)
    small = magnitude < _SERIES_BELOW
    safe = tf.where(small, tf.ones_like(magnitude), magnitude)
    direct = tf.math.log(safe) + tf.math.log1p(tf.exp(-safe)) - tf.math.log(-tf.math.expm1(-safe))
    square = tf.square(logits)
    series = math.log(2.0) + square / 12.0 - 7.0 * tf.square(square) / 1440.0
    return tf.where(small, series, direct)


def likelihood_of(model) -> str:
    """The model's likelihood ("bernoulli" for models that do not say, like the tutorial's)."""
    architecture = getattr(model, "architecture", None)
    return architecture.likelihood if architecture is not None else "bernoulli"
