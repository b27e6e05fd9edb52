"""The training objectives beside the tutorial's ELBO, per image, in nats (higher is better).

- free bits (Kingma et al. 2016): the KL of each latent dimension enters the objective as
  max(lambda, batch mean of its analytic KL), so a dimension whose KL is under lambda nats is not pushed
  further down. Only which dimensions are above lambda needs the whole batch (on several devices, the KL
  sums of an encoder pass, reduced across them); the gradient is then a sum over images, as on one device.
- IWAE (Burda et al. 2016): log (1/K) sum_k w_k with log w_k = log p(x|z_k) - beta_t (log q(z_k|x) - log p(z_k)),
  K reparameterised samples per image (beta_t = 1 gives the K-sample bound on log p(x)).
- beta-TCVAE (Chen et al. 2018): the single-sample KL log q(z|x) - log p(z) split into index-code mutual
  information, total correlation and dimension-wise KL, with q(z) and its marginals estimated over the
  minibatch by minibatch-weighted sampling: log q(z_i) ~ logsumexp_j log q(z_i|x_j) - log(N M). The three
  sum exactly to the KL estimate; the objective is log p(x|z) - beta_t' (MI + beta TC + dim-KL), where
  beta_t' is the schedule's factor (warm-up, cycles) and beta weighs the total correlation.

All take the model's (mean, logvar) and logits in float32, and return per-image tensors.
"""

from __future__ import annotations

import math

import tensorflow as tf

from vaestudio.core.tf.objective import (conditioned, likelihood_of, log_likelihood_of, prior_log_prob,
                                          split_condition)

HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
# Added to the log-density of a padded image (weight 0) so that it never counts in a minibatch estimate.
_ABSENT = -1e9


def gaussian_log_density(z: tf.Tensor, mean: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
    """Elementwise log N(z; mean, exp(logvar)) (no sum)."""
    return -0.5 * (tf.square(z - mean) * tf.exp(-logvar) + logvar) - HALF_LOG_2PI


def _encode(model, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    mean, logvar = model.encode(x)
    return tf.cast(mean, tf.float32), tf.cast(logvar, tf.float32)


def iwae_terms(model, x: tf.Tensor, eps: tf.Tensor, beta: tf.Tensor | float = 1.0) -> dict[str, tf.Tensor]:
    """Per-image IWAE objective for noise `eps` (N, K, d), and the single-sample ELBO terms averaged over
    the K samples (elbo, log_likelihood, kl: what the ELBO curve shows)."""
    mean, logvar = _encode(model, x)
    samples = tf.shape(eps)[1]
    z = mean[:, None, :] + eps * tf.exp(0.5 * logvar)[:, None, :]  # (N, K, d)
    images, condition = split_condition(model, x)
    decoder_input = conditioned(z, condition)
    logits = tf.cast(model.decode(tf.reshape(decoder_input, [-1, decoder_input.shape[-1]])), tf.float32)
    logits = tf.reshape(logits, tf.concat([tf.shape(z)[:2], tf.shape(logits)[1:]], 0))
    targets = tf.broadcast_to(tf.cast(images, tf.float32)[:, None], tf.shape(logits))
    log_likelihood = log_likelihood_of(likelihood_of(model), targets, logits)  # (N, K)
    log_q = tf.reduce_sum(gaussian_log_density(z, mean[:, None, :], logvar[:, None, :]), axis=-1)
    log_p = prior_log_prob(model, z)
    kl = log_q - log_p
    log_weights = log_likelihood - beta * kl
    objective = tf.reduce_logsumexp(log_weights, axis=1) - tf.math.log(tf.cast(samples, tf.float32))
    return {"objective": objective, "elbo": tf.reduce_mean(log_likelihood - kl, axis=1),
            "log_likelihood": tf.reduce_mean(log_likelihood, axis=1), "kl": tf.reduce_mean(kl, axis=1)}


def tcvae_terms(model, x: tf.Tensor, eps: tf.Tensor, dataset_size: int | tf.Tensor,
                weight: tf.Tensor | None = None) -> dict[str, tf.Tensor]:
    """Per-image ELBO terms and the KL's decomposition (mi, tc, dim_kl: they sum to kl) for noise `eps`
    (N, d), the minibatch being the images of `x` whose `weight` is not 0 (all without weights)."""
    mean, logvar = _encode(model, x)
    z = mean + eps * tf.exp(0.5 * logvar)
    images, condition = split_condition(model, x)
    logits = tf.cast(model.decode(conditioned(z, condition)), tf.float32)
    log_likelihood = log_likelihood_of(likelihood_of(model), images, logits)
    # log q(z_i,d | x_j) for every pair (i, j): (N, N, d)
    pairwise = gaussian_log_density(z[:, None, :], mean[None, :, :], logvar[None, :, :])
    if weight is None:
        weight = tf.ones([tf.shape(x)[0]], tf.float32)
    present = weight > 0
    pairwise += tf.where(present, 0.0, _ABSENT)[None, :, None]
    batch = tf.maximum(tf.reduce_sum(tf.cast(present, tf.float32)), 1.0)
    log_nm = tf.math.log(tf.cast(dataset_size, tf.float32) * batch)
    log_q_z = tf.reduce_logsumexp(tf.reduce_sum(pairwise, axis=2), axis=1) - log_nm
    log_q_marginals = tf.reduce_sum(tf.reduce_logsumexp(pairwise, axis=1) - log_nm, axis=1)
    log_q_z_x = tf.reduce_sum(gaussian_log_density(z, mean, logvar), axis=1)
    log_p_z = tf.reduce_sum(-0.5 * tf.square(z) - HALF_LOG_2PI, axis=1)
    kl = log_q_z_x - log_p_z
    return {"elbo": log_likelihood - kl, "log_likelihood": log_likelihood, "kl": kl,
            "mi": log_q_z_x - log_q_z, "tc": log_q_z - log_q_marginals, "dim_kl": log_q_marginals - log_p_z}


def tcvae_objective(terms: dict[str, tf.Tensor], beta: tf.Tensor | float,
                    schedule_factor: tf.Tensor | float = 1.0) -> tf.Tensor:
    """Per-image beta-TCVAE objective: log p(x|z) - factor * (MI + beta * TC + dim-KL)."""
    return terms["log_likelihood"] - schedule_factor * (terms["mi"] + beta * terms["tc"] + terms["dim_kl"])


def free_bits_kl(kl_per_dimension: tf.Tensor, weight: tf.Tensor, free_bits: float, global_count: tf.Tensor,
                 global_sums: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
    """(this share's part of sum_d max(lambda, batch-mean KL_d), the same times the batch's image count).

    kl_per_dimension: analytic KL per image and dimension (n, d) of this device's images, `weight` 1 for an
    image and 0 for padding; global_count: images in the whole batch; global_sums: the KL per dimension
    summed over the whole batch (None: these images are the batch). Summed over devices, the first value
    is the free-bits KL of the batch, and its gradient that of the global batch: which dimensions are above
    lambda is the batch's, the rest is a sum over images.
    """
    kl_per_dimension = kl_per_dimension * weight[:, None]
    sums = tf.reduce_sum(kl_per_dimension, axis=0)  # (d,)
    global_sums = tf.stop_gradient(sums if global_sums is None else global_sums)
    count = tf.cast(global_count, tf.float32)
    above = tf.cast(global_sums / count > free_bits, tf.float32)
    share = tf.reduce_sum(weight) / count  # of the batch's images on this device
    batch_kl = tf.reduce_sum(above * sums / count + (1.0 - above) * free_bits * share)
    return batch_kl, batch_kl * count


def start_pseudo_inputs(model, train_images, seed: int) -> None:
    """A fresh VampPrior model's pseudo-inputs set to K training images (zoo/vamp.py says why); nothing for
    a model without one (a resumed or branched model keeps the pseudo-inputs it learned)."""
    from vaestudio.core.zoo.vamp import initial_pseudo_input_logits

    if model.architecture.vamp:
        logits = initial_pseudo_input_logits(train_images, model.architecture, seed)
        model.decoder.get_layer("pseudo_inputs").logits.assign(logits)


# The pseudo-inputs go through the encoder this many at a time: on a 2-core Zen 4, the encoder's forward
# and backward pass over 500 pseudo-inputs took 53 ms in chunks of 100 against 128 ms in one batch of 500
# (probably its activations, ~15 MB, overflowing the caches); 50 and 250 were 58 and 68 ms (load 15).
PSEUDO_INPUT_CHUNK = 100


def vamp_components(model) -> tuple[tf.Tensor, tf.Tensor]:
    """A VampPrior's components, (means, log-variances) float32 (K, d): the encoder's posteriors at the K
    pseudo-inputs, encoded PSEUDO_INPUT_CHUNK at a time (the same values as in one batch)."""
    images = model.pseudo_inputs()
    count = model.architecture.pseudo_inputs
    parts = [_encode(model, images[start:start + PSEUDO_INPUT_CHUNK]) for start in range(0, count, PSEUDO_INPUT_CHUNK)]
    if len(parts) == 1:
        return parts[0]
    return tf.concat([mean for mean, _ in parts], 0), tf.concat([logvar for _, logvar in parts], 0)
