"""The tutorial's single-sample Monte Carlo ELBO, written with tensorflow-probability distributions."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


def elbo_parts(model, x: tf.Tensor, eps: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Per-image (elbo, log_likelihood, kl) in nats for images `x` and standard-normal noise `eps`.

    z = mean + eps * std is the reparameterised sample; log_likelihood = log p(x|z) under independent
    Bernoulli pixels; kl = log q(z|x) - log p(z), the single-sample estimate of KL(q || N(0, I)).
    elbo = log_likelihood - kl.
    """
    mean, logvar = model.encode(x)
    mean = tf.cast(mean, tf.float32)
    std = tf.exp(0.5 * tf.cast(logvar, tf.float32))
    z = mean + eps * std
    logits = tf.cast(model.decode(z), tf.float32)
    likelihood = tfd.Independent(tfd.Bernoulli(logits=logits, dtype=tf.float32), reinterpreted_batch_ndims=3)
    posterior = tfd.MultivariateNormalDiag(loc=mean, scale_diag=std)
    prior = tfd.MultivariateNormalDiag(loc=tf.zeros_like(mean), scale_diag=tf.ones_like(std))
    log_likelihood = likelihood.log_prob(x)
    kl = posterior.log_prob(z) - prior.log_prob(z)
    return log_likelihood - kl, log_likelihood, kl
