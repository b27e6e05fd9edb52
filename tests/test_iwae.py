"""The IWAE estimate of log p(x): the same numbers as a direct NumPy computation, a bound that tightens
with k, batching that changes nothing, and cancellation within one batch."""

import math

import numpy as np
import pytest

from vaestudio.core.architecture import Architecture
from vaestudio.core.errors import Cancelled, DataError, VaeStudioError
from vaestudio.core.numpy_vae import NumpyVAE
from vaestudio.core.weights import VaeWeights
from vaestudio.core import probes
from random_weights import random_weights

pytest.importorskip("tensorflow")
from vaestudio.core.tf.iwae import IwaeResult, iwae_log_likelihood, iwae_noise  # noqa: E402


def inputs_for(architecture: Architecture, count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pictures = (rng.random((count, *architecture.image_shape)) * 255).astype(np.uint8)
    return probes.model_inputs(pictures, architecture)


def numpy_iwae(weights, x, k, seed):
    """The IWAE bound written out with the NumPy VAE and the same noise."""
    vae = NumpyVAE(weights)
    mean, logvar = vae.encode(x)
    d = weights.architecture.latent_dim
    values = []
    for i in range(len(x)):
        eps = iwae_noise(seed, i, k, d).astype(np.float64)
        std = np.exp(0.5 * logvar[i].astype(np.float64))
        z = mean[i] + eps * std
        logits = vae.decode_logits(z.astype(np.float32))
        log_px_z = probes.log_likelihood_of(weights.architecture.likelihood, x[i][None], logits)
        log_pz = np.sum(-0.5 * z ** 2 - 0.5 * math.log(2 * math.pi), axis=1)
        log_qz = np.sum(-0.5 * eps ** 2 - np.log(std) - 0.5 * math.log(2 * math.pi), axis=1)
        w = log_px_z + log_pz - log_qz
        values.append(np.logaddexp.reduce(w) - math.log(k))
    return np.array(values)


@pytest.mark.parametrize("likelihood", ["bernoulli", "continuous_bernoulli"])
def test_iwae_matches_a_direct_numpy_computation(likelihood):
    arch = Architecture(2, likelihood=likelihood)
    weights = random_weights(arch, seed=1)
    x = inputs_for(arch, 3)
    # 3 images in batches of 2, 7 samples in calls of at most 4 decodes: every loop is exercised
    result = iwae_log_likelihood(weights, x, k=7, batch_size=2, seed=5, max_decodes=4)
    expected = numpy_iwae(weights, x, 7, seed=5)
    np.testing.assert_allclose(result.per_image, expected, rtol=2e-5)
    assert isinstance(result, IwaeResult) and (result.count, result.samples) == (3, 7)
    assert result.mean == pytest.approx(expected.mean(), rel=2e-5)
    assert result.standard_error == pytest.approx(np.std(result.per_image, ddof=1) / math.sqrt(3))
    assert result.seconds > 0


def test_batching_changes_nothing():
    arch = Architecture(3)
    weights = random_weights(arch, seed=2)
    x = inputs_for(arch, 5)
    one = iwae_log_likelihood(weights, x, k=6, batch_size=1, seed=0)
    many = iwae_log_likelihood(weights, x, k=6, batch_size=5, seed=0, max_decodes=3)
    np.testing.assert_allclose(one.per_image, many.per_image, rtol=1e-6)


def test_the_bound_tightens_with_k_and_lies_above_the_elbo():
    arch = Architecture(2)
    weights = random_weights(arch, seed=3)
    x = inputs_for(arch, 12, seed=1)
    results = [iwae_log_likelihood(weights, x, k=k, seed=0) for k in (1, 5, 50)]
    means = [result.mean for result in results]
    assert means[0] < means[1] < means[2], means
    elbo = probes.reconstruct(weights, x, samples=64, seed=0).elbo.mean()  # analytic KL, 64-sample likelihood
    assert means[2] > means[1] > elbo


def test_one_sample_is_an_estimate_of_the_elbo():
    arch = Architecture(2)
    weights = random_weights(arch, seed=3)
    dense_w, dense_b = weights.encoder[-2].copy(), weights.encoder[-1].copy()
    dense_w[:, 2:] *= 0.01  # a narrow posterior (std ~ 0.007): one sample is nearly the expectation
    dense_b[2:] = -10.0
    narrow = VaeWeights(arch, weights.encoder[:-2] + (dense_w, dense_b), weights.decoder)
    x = inputs_for(arch, 12, seed=1)
    one = iwae_log_likelihood(narrow, x, k=1, seed=0)
    elbo = probes.reconstruct(narrow, x, samples=64, seed=0).elbo
    np.testing.assert_allclose(one.per_image, elbo, rtol=0.02)
    assert iwae_log_likelihood(narrow, x, k=20, seed=0).mean >= one.mean - 1e-6


def test_cancellation_stops_within_one_batch():
    arch = Architecture(2)
    weights = random_weights(arch)
    x = inputs_for(arch, 4)
    calls = []
    with pytest.raises(Cancelled, match="after 1 of 4 batches"):
        iwae_log_likelihood(weights, x, k=3, batch_size=1, progress=lambda done, total: calls.append((done, total)),
                            cancelled=lambda: len(calls) >= 1)
    assert calls == [(1, 4)]
    assert not issubclass(Cancelled, VaeStudioError)
    seen = []
    iwae_log_likelihood(weights, x, k=3, batch_size=1, progress=lambda done, total: seen.append(done))
    assert seen == [1, 2, 3, 4]


def test_bad_arguments_are_refused():
    arch = Architecture(2)
    weights = random_weights(arch)
    with pytest.raises(DataError, match="do not fit"):
        iwae_log_likelihood(weights, np.zeros((2, 64, 64, 3), np.float32), k=2)
    with pytest.raises(ValueError, match="k must be"):
        iwae_log_likelihood(weights, inputs_for(arch, 1), k=0)
    single = iwae_log_likelihood(weights, inputs_for(arch, 1), k=2)
    assert single.count == 1 and math.isnan(single.standard_error)
