"""The model zoo's loss-side mathematics (issue 19) against a direct NumPy computation on a tiny model:
the IWAE bound, the free-bits KL, the cyclical schedule, the beta-TCVAE decomposition of the KL."""

from __future__ import annotations

import math

import numpy as np
import pytest

from random_weights import random_weights
from vaestudio.core.architecture import Architecture
from vaestudio.core.config import TrainConfig
from vaestudio.core.errors import ConfigError
from vaestudio.core.numpy_vae import NumpyVAE

LATENT = 3


@pytest.fixture(scope="module")
def tiny():
    """A random 28x28 model (Keras and NumPy), 6 binarized images, and its NumPy mirror."""
    from vaestudio.core.tf.model import model_from_weights

    weights = random_weights(Architecture(latent_dim=LATENT), seed=5)
    images = (np.random.default_rng(1).random((6, 28, 28, 1)) > 0.6).astype(np.float32)
    return model_from_weights(weights), NumpyVAE(weights), images


def _log_normal(z, mean, logvar):
    return -0.5 * ((z - mean) ** 2 / np.exp(logvar) + logvar + math.log(2 * math.pi))


def _bernoulli_log_likelihood(x, logits):
    logits = logits.astype(np.float64)
    return (x * logits - np.logaddexp(0.0, logits)).reshape(len(x), -1).sum(axis=1)


def _numpy_log_weights(vae, x, eps):
    """log p(x|z) + log p(z) - log q(z|x) for noise eps (N, K, d), (N, K)."""
    mean, logvar = (a.astype(np.float64) for a in vae.encode(x))
    z = mean[:, None] + eps * np.exp(0.5 * logvar)[:, None]
    out = np.empty(eps.shape[:2])
    for k in range(eps.shape[1]):
        logits = vae.decode_logits(z[:, k].astype(np.float32))
        log_q = _log_normal(z[:, k], mean, logvar).sum(axis=1)
        log_p = _log_normal(z[:, k], 0.0, 0.0).sum(axis=1)
        out[:, k] = _bernoulli_log_likelihood(x, logits) + log_p - log_q
    return out


def test_iwae_objective_is_the_logmeanexp_of_the_log_weights(tiny):
    import tensorflow as tf

    from vaestudio.core.tf.variants import iwae_terms

    model, vae, x = tiny
    eps = np.random.default_rng(2).standard_normal((len(x), 4, LATENT)).astype(np.float32)
    terms = {k: v.numpy() for k, v in iwae_terms(model, tf.constant(x), tf.constant(eps)).items()}
    log_w = _numpy_log_weights(vae, x, eps)
    peak = log_w.max(axis=1)
    expected = peak + np.log(np.exp(log_w - peak[:, None]).mean(axis=1))
    np.testing.assert_allclose(terms["objective"], expected, rtol=1e-5, atol=1e-2)
    # the plotted ELBO stays the single-sample bound (averaged over the K samples), below the K-sample one
    np.testing.assert_allclose(terms["elbo"], log_w.mean(axis=1), rtol=1e-5, atol=1e-2)
    assert np.all(terms["objective"] >= terms["elbo"] - 1e-3)
    # one sample: the IWAE bound is the ELBO
    one = iwae_terms(model, tf.constant(x), tf.constant(eps[:, :1]))
    np.testing.assert_allclose(one["objective"].numpy(), one["elbo"].numpy(), rtol=1e-6)


def test_free_bits_kl_is_the_sum_of_max_lambda_and_batch_mean_kl(tiny):
    import tensorflow as tf

    from vaestudio.core.tf.variants import free_bits_kl

    model, vae, x = tiny
    mean, logvar = (a.astype(np.float64) for a in vae.encode(x))
    kl_dims = 0.5 * (mean ** 2 + np.exp(logvar) - 1.0 - logvar)
    batch_mean = kl_dims.mean(axis=0)
    free_bits = float(np.median(batch_mean))  # some dimensions above it, some below
    expected = np.maximum(free_bits, batch_mean).sum()
    kl = tf.constant(kl_dims, tf.float32)
    weight = tf.ones([len(x)])
    with tf.GradientTape() as tape:
        tape.watch(kl)
        batch_kl, kl_sum = free_bits_kl(kl, weight, free_bits, len(x))
    np.testing.assert_allclose(batch_kl.numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(kl_sum.numpy(), expected * len(x), rtol=1e-5)
    # the gradient: 1/N for the images' KL of the dimensions above lambda, 0 for the others
    above = (batch_mean > free_bits).astype(np.float64)
    np.testing.assert_allclose(tape.gradient(batch_kl, kl).numpy(), np.tile(above / len(x), (len(x), 1)), rtol=1e-6)
    # split over two devices (the KL sums all-reduced), the shares add up to the whole batch's value
    total = tf.reduce_sum(kl, axis=0)
    shares = [free_bits_kl(kl[part], weight[part], free_bits, len(x), total)[0].numpy()
              for part in (slice(0, 2), slice(2, None))]
    np.testing.assert_allclose(sum(shares), expected, rtol=1e-5)


def _numpy_tc_terms(vae, x, eps, dataset_size):
    mean, logvar = (a.astype(np.float64) for a in vae.encode(x))
    z = mean + eps * np.exp(0.5 * logvar)
    pair = _log_normal(z[:, None, :], mean[None], logvar[None])  # (i, j, d)
    log_nm = math.log(dataset_size * len(x))

    def logsumexp(a, axis):
        peak = a.max(axis=axis, keepdims=True)
        return (peak + np.log(np.exp(a - peak).sum(axis=axis, keepdims=True))).squeeze(axis)

    log_qz = logsumexp(pair.sum(axis=2), 1) - log_nm
    log_marginals = (logsumexp(pair, 1) - log_nm).sum(axis=1)
    log_qzx = _log_normal(z, mean, logvar).sum(axis=1)
    log_pz = _log_normal(z, 0.0, 0.0).sum(axis=1)
    return {"mi": log_qzx - log_qz, "tc": log_qz - log_marginals, "dim_kl": log_marginals - log_pz,
            "kl": log_qzx - log_pz}


def test_tcvae_terms_match_numpy_and_sum_to_the_minibatch_kl(tiny):
    import tensorflow as tf

    from vaestudio.core.tf.variants import tcvae_objective, tcvae_terms

    model, vae, x = tiny
    eps = np.random.default_rng(3).standard_normal((len(x), LATENT)).astype(np.float32)
    terms = {k: v.numpy() for k, v in tcvae_terms(model, tf.constant(x), tf.constant(eps), 1000).items()}
    expected = _numpy_tc_terms(vae, x, eps, 1000)
    for name in ("mi", "tc", "dim_kl", "kl"):
        np.testing.assert_allclose(terms[name], expected[name], rtol=1e-4, atol=1e-3, err_msg=name)
    np.testing.assert_allclose(terms["mi"] + terms["tc"] + terms["dim_kl"], terms["kl"], rtol=1e-5, atol=1e-3)
    # beta 1 without a schedule: the objective is the ELBO; beta 4 weighs only the total correlation
    np.testing.assert_allclose(tcvae_objective(terms, 1.0), terms["elbo"], rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(tcvae_objective(terms, 4.0), terms["elbo"] - 3.0 * terms["tc"], rtol=1e-5, atol=1e-3)
    # a padded image (weight 0) on a device is not part of the others' minibatch
    padded = tf.concat([tf.constant(x), tf.zeros([1, 28, 28, 1])], 0)
    padded_eps = tf.concat([tf.constant(eps), tf.zeros([1, LATENT])], 0)
    weight = tf.constant([1.0] * len(x) + [0.0])
    with_padding = tcvae_terms(model, padded, padded_eps, 1000, weight)
    np.testing.assert_allclose(with_padding["tc"].numpy()[:-1], expected["tc"], rtol=1e-4, atol=1e-3)


def test_cyclical_schedule_ramps_over_the_first_half_of_each_cycle():
    from vaestudio.core.tf.steps import Schedule

    config = TrainConfig.from_preset("custom", epochs=2, kl_schedule="cyclical", cycles=2)
    schedule = Schedule.of(config, steps_per_epoch=8)  # 16 steps, 2 cycles of 8: beta rises over 4 steps
    factors = [schedule.beta_factor(step) for step in range(16)]
    assert factors == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0] * 2
    linear = Schedule.of(TrainConfig.from_preset("custom", kl_warmup_steps=4), steps_per_epoch=8)
    assert [linear.beta_factor(step) for step in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert Schedule.of(TrainConfig(), 8).beta_factor(0) == 1.0  # today's constant


@pytest.mark.parametrize("values, named", [
    (dict(free_bits=-1.0), "free_bits"), (dict(free_bits=float("nan")), "free_bits"),
    (dict(objective="iwae", samples=1), "samples"), (dict(samples=4), "samples"),
    (dict(objective="iwae", samples=100_000), "samples"), (dict(objective="vae"), "objective"),
    (dict(kl_schedule="cosine"), "kl_schedule"), (dict(kl_schedule="cyclical", cycles=0), "cycles"),
    (dict(kl_schedule="cyclical", kl_warmup_steps=10), "kl_warmup_steps"),
    (dict(objective="tcvae", free_bits=1.0), "free_bits"),
])
def test_absurd_variant_settings_are_refused_by_name(values, named):
    with pytest.raises(ConfigError) as error:
        TrainConfig.from_preset("custom", **values)
    assert named in str(error.value) and "\n" not in str(error.value)


def test_configs_without_the_variant_fields_mean_todays_model(tmp_path):
    import json

    values = TrainConfig().to_dict()
    for name in ("objective", "samples", "free_bits", "kl_schedule", "cycles"):
        values.pop(name)
    (tmp_path / "config.json").write_text(json.dumps(values))
    config = TrainConfig.load(tmp_path / "config.json")
    assert (config.objective, config.samples, config.free_bits, config.kl_schedule) == ("elbo", 1, 0.0, "linear")
    assert TrainConfig.from_preset("custom", objective="iwae").samples == 5
