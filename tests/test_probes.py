"""Probes: each against a direct formula, on small synthetic images (no TensorFlow except where marked)."""

import math

import numpy as np
import pytest

from vaestudio.core import latent, probes
from vaestudio.core.architecture import Architecture
from vaestudio.core.errors import DataError
from vaestudio.core.numpy_vae import NumpyVAE
from random_weights import random_weights


@pytest.fixture(scope="module")
def vae():
    return NumpyVAE(random_weights(Architecture(3), seed=11))


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return (rng.random((6, 28, 28)) * 255).astype(np.uint8)


def test_model_inputs_binarize_for_bernoulli_and_scale_for_continuous(images):
    binary = probes.model_inputs(images, Architecture(2))
    assert binary.shape == (6, 28, 28, 1) and binary.dtype == np.float32
    np.testing.assert_array_equal(binary[..., 0], (images > 127).astype(np.float32))
    grey = probes.model_inputs(images, Architecture(2, likelihood="continuous_bernoulli"))
    np.testing.assert_allclose(grey[..., 0], images / 255.0, atol=1e-7)
    floats = np.random.default_rng(1).random((2, 64, 64, 3)).astype(np.float32)
    np.testing.assert_array_equal(probes.model_inputs(floats, Architecture(2, 64, 3)), floats)


@pytest.mark.parametrize("bad, match", [
    (np.zeros((2, 28, 27), np.uint8), r"images of shape \(2, 28, 27\) do not fit a model of 28x28 grey"),
    (np.zeros((0, 28, 28), np.uint8), "N >= 1"),
    (np.full((1, 28, 28, 1), 2.0, np.float32), r"finite values in \[0, 1\]"),
    (np.full((1, 28, 28, 1), np.nan, np.float32), "finite"),
    (np.zeros((1, 28, 28), np.int64), "type int64"),
])
def test_model_inputs_name_what_does_not_fit(bad, match):
    with pytest.raises(DataError, match=match):
        probes.model_inputs(bad, Architecture(2))


def test_encode_gives_the_posterior_of_the_prepared_images(vae, images):
    posterior = probes.encode(vae, images)
    mean, logvar = vae.encode((images > 127).astype(np.float32)[..., None])
    np.testing.assert_array_equal(posterior.mean, mean)
    np.testing.assert_array_equal(posterior.logvar, logvar)
    again = probes.encode(vae.weights, images)  # weights work as well as a NumpyVAE
    np.testing.assert_array_equal(again.mean, mean)


def test_reconstruct_against_the_elbo_written_out(vae, images):
    result = probes.reconstruct(vae, images, samples=5, seed=3)
    x = (images > 127).astype(np.float64)
    mean, logvar = vae.encode(x[..., None].astype(np.float32))
    eps = np.random.default_rng(3).standard_normal((5, *mean.shape), dtype=np.float32)
    for i in range(len(images)):
        kl = sum(0.5 * (mean[i, d] ** 2 + math.exp(logvar[i, d]) - 1 - logvar[i, d]) for d in range(3))
        terms = []
        for s in range(5):
            z = mean[i] + eps[s, i] * np.exp(0.5 * logvar[i])
            p = 1 / (1 + np.exp(-vae.decode_logits(z[None])[0, ..., 0].astype(np.float64)))
            terms.append(np.sum(x[i] * np.log(p) + (1 - x[i]) * np.log(1 - p)))
        assert result.kl[i] == pytest.approx(kl, rel=1e-5)
        assert result.log_likelihood[i] == pytest.approx(np.mean(terms), rel=1e-4)
        assert result.elbo[i] == pytest.approx(np.mean(terms) - kl, rel=1e-4)
    np.testing.assert_array_equal(result.images, vae.decode_uint8(mean))
    assert result.images.shape == (6, 28, 28) and result.samples == 5 and result.seed == 3
    same = probes.reconstruct(vae, images, samples=5, seed=3)
    np.testing.assert_array_equal(same.elbo, result.elbo)
    other = probes.reconstruct(vae, images, samples=5, seed=4)
    assert not np.array_equal(other.log_likelihood, result.log_likelihood)
    np.testing.assert_array_equal(other.kl, result.kl)  # exact, not sampled


def test_reconstructions_of_many_images_are_done_in_batches(vae, monkeypatch):
    rng = np.random.default_rng(5)
    many = (rng.random((40, 28, 28)) * 255).astype(np.uint8)
    whole = probes.reconstruct(vae, many, samples=4, seed=1)
    monkeypatch.setattr(probes, "_DECODES_PER_CALL", 9)  # two images per call
    split = probes.reconstruct(vae, many, samples=4, seed=1)
    np.testing.assert_allclose(split.elbo, whole.elbo, rtol=1e-6)  # float32 sums in another order


def test_interpolate_decodes_the_latent_path(vae):
    z_a, z_b = np.array([1.0, 0.0, -1.0]), np.array([-1.0, 2.0, 0.5])
    for method in ("linear", "spherical"):
        result = probes.interpolate(vae, z_a, z_b, 6, method)
        np.testing.assert_array_equal(result.path, latent.interpolate(z_a, z_b, 6, method))
        np.testing.assert_array_equal(result.frames, vae.decode_uint8(result.path))
    with pytest.raises(ValueError, match="3-d latent space"):
        probes.interpolate(vae, [0.0, 1.0], [1.0, 0.0], 3)


def test_kl_per_dimension_is_the_mean_analytic_kl():
    rng = np.random.default_rng(2)
    mean = rng.normal(size=(50, 4)).astype(np.float32)
    logvar = rng.normal(size=(50, 4)).astype(np.float32)
    expected = [np.mean([0.5 * (mean[i, d] ** 2 + math.exp(logvar[i, d]) - 1 - logvar[i, d]) for i in range(50)])
                for d in range(4)]
    np.testing.assert_allclose(probes.kl_per_dimension(mean, logvar), expected, rtol=1e-6)
    assert probes.kl_per_dimension(np.zeros((3, 2)), np.zeros((3, 2))).tolist() == [0.0, 0.0]  # q = prior


def test_active_units_count_dimensions_whose_means_vary():
    rng = np.random.default_rng(3)
    means = np.column_stack([rng.normal(0, 1.0, 500), rng.normal(0, 0.05, 500), np.full(500, 2.0),
                             rng.normal(0, 0.2, 500)])
    result = probes.active_units(means)
    expected = [np.mean((means[:, d] - means[:, d].mean()) ** 2) for d in range(4)]
    np.testing.assert_allclose(result.variances, expected)
    assert result.count == 2  # variances ~1 and ~0.04 exceed 0.01; ~0.0025 and 0 do not
    assert probes.active_units(means, threshold=0.001).count == 3
    with pytest.raises(ValueError):
        probes.active_units(np.zeros(5))


def test_sample_prior_decodes_seeded_standard_normal_points(vae):
    result = probes.sample_prior(vae, 7, seed=9)
    np.testing.assert_array_equal(result.z, np.random.default_rng(9).standard_normal((7, 3), dtype=np.float32))
    np.testing.assert_array_equal(result.images, vae.decode_uint8(result.z))
    assert not np.array_equal(probes.sample_prior(vae, 7, seed=10).z, result.z)


def test_bernoulli_log_likelihood_is_the_cross_entropy():
    rng = np.random.default_rng(4)
    logits = rng.normal(0, 3, (3, 28, 28, 1))
    x = (rng.random((3, 28, 28, 1)) > 0.5).astype(np.float64)
    p = 1 / (1 + np.exp(-logits))
    expected = np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=(1, 2, 3))
    np.testing.assert_allclose(probes.bernoulli_log_likelihood(x, logits), expected, rtol=1e-10)
    zero = probes.bernoulli_log_likelihood(x, np.zeros_like(logits))
    np.testing.assert_allclose(zero, -784 * math.log(2), rtol=1e-12)
    assert np.isfinite(probes.bernoulli_log_likelihood(x, np.full_like(logits, 500.0))).all()


def test_continuous_bernoulli_normaliser_is_stable_near_one_half():
    eta = np.array([-30.0, -2.0, -1e-2, -1.0001e-3, -0.9999e-3, -1e-7, 0.0, 1e-7, 0.9999e-3, 1.0001e-3, 0.5, 30.0])
    values = probes.continuous_bernoulli_log_normalizer(eta)
    lam = 1 / (1 + np.exp(-eta))
    far = (np.abs(eta) >= 1e-2) & (np.abs(eta) <= 5)  # where the paper's C(lambda) is accurate in float64
    direct = np.log(2 * np.arctanh(1 - 2 * lam[far]) / (1 - 2 * lam[far]))
    np.testing.assert_allclose(values[far], direct, rtol=1e-9)
    assert values[0] == values[-1] == pytest.approx(math.log(30), rel=1e-14)  # C -> |eta| as lambda -> 0 or 1
    assert values[6] == pytest.approx(math.log(2), abs=1e-15)
    np.testing.assert_array_equal(probes.continuous_bernoulli_log_normalizer(-eta), values)  # even in eta
    # the two forms meet at |eta| = 1e-3 without a jump
    assert abs(values[3] - values[4]) < 1e-9 and values[3] > values[4] > values[5] > values[6]
    assert np.all(np.isfinite(values))


def test_continuous_bernoulli_density_integrates_to_one():
    grid = np.linspace(0.0, 1.0, 20001)
    for eta in (-12.0, -1.0, -1e-5, 0.0, 3e-4, 2.0, 25.0):
        density = np.exp(probes.continuous_bernoulli_log_likelihood(grid[:, None, None, None],
                                                                    np.full((len(grid), 1, 1, 1), eta)))
        assert np.trapezoid(density, grid) == pytest.approx(1.0, abs=2e-4), eta


def test_log_likelihood_picks_the_architectures_likelihood():
    x = np.full((1, 2, 2, 1), 0.25)
    logits = np.full((1, 2, 2, 1), 0.7)
    assert probes.log_likelihood_of("bernoulli", x, logits) == probes.bernoulli_log_likelihood(x, logits)
    assert probes.log_likelihood_of("continuous_bernoulli", x, logits) == \
        probes.continuous_bernoulli_log_likelihood(x, logits)
    with pytest.raises(ValueError, match="gaussian"):
        probes.log_likelihood_of("gaussian", x, logits)


def test_numpy_likelihoods_match_tensorflow_probability():
    tfp = pytest.importorskip("tensorflow_probability")
    tfd = tfp.distributions
    rng = np.random.default_rng(6)
    tf = pytest.importorskip("tensorflow")
    logits = tf.constant(np.concatenate([rng.normal(0, 4, 700), rng.normal(0, 1e-3, 84)]).reshape(1, 28, 28, 1))
    x = rng.random((1, 28, 28, 1))
    expected = tfd.Independent(tfd.ContinuousBernoulli(logits=logits, dtype=tf.float64), 3).log_prob(x).numpy()
    np.testing.assert_allclose(probes.continuous_bernoulli_log_likelihood(x, logits.numpy()), expected, rtol=1e-12)
    binary = (x > 0.5).astype(np.float64)
    expected = tfd.Independent(tfd.Bernoulli(logits=logits, dtype=np.float64), 3).log_prob(binary).numpy()
    np.testing.assert_allclose(probes.bernoulli_log_likelihood(binary, logits.numpy()), expected, rtol=1e-12)
