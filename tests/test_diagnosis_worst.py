"""Worst reconstructions: the list is truly the lowest per-image ELBO; heat maps; nearest training images."""

from __future__ import annotations

import numpy as np
import pytest

from random_weights import random_weights
from vaestudio.core import probes
from vaestudio.core.architecture import Architecture
from vaestudio.core.data.synthetic import synthetic_dataset
from vaestudio.core.diagnosis import worst
from vaestudio.core.errors import Cancelled
from vaestudio.core.iwae import iwae_log_likelihood, iwae_noise
from vaestudio.core.zoo import numpy_prior

ARCH = Architecture(latent_dim=3)
DATA = synthetic_dataset(40, 70)
WEIGHTS = random_weights(ARCH, 4)


def direct_elbo(images: np.ndarray, samples: int, seed: int) -> np.ndarray:
    """Each image's ELBO written out in plain NumPy (one pass, no chunks), from the same noise."""
    vae = probes.as_vae(WEIGHTS)
    x = probes.model_inputs(images, ARCH).astype(float)
    eps = np.random.default_rng(seed).standard_normal((samples, len(x), ARCH.latent_dim), dtype=np.float32)
    mean, logvar = vae.encode(x.astype(np.float32))
    kl = 0.5 * np.sum(mean.astype(float) ** 2 + np.exp(logvar.astype(float)) - 1.0 - logvar, axis=1)
    z = (mean[None] + eps * np.exp(0.5 * logvar)[None]).reshape(-1, ARCH.latent_dim)
    eta = vae.decode_logits(z).astype(float).reshape(samples, *x.shape)
    log_px = (x[None] * eta - np.log1p(np.exp(eta))).sum(axis=(2, 3, 4)).mean(axis=0)
    return log_px - kl


def test_the_worst_list_is_truly_the_lowest_per_image_elbo_whatever_the_chunking():
    reports = []
    scores = worst.per_image_elbo(WEIGHTS, DATA.test_images, samples=2, seed=7, chunk=16,
                                  progress=lambda done, total: reports.append((done, total)))
    expected = direct_elbo(DATA.test_images, samples=2, seed=7)
    assert scores.elbo == pytest.approx(expected, rel=1e-5)
    assert scores.elbo == pytest.approx(scores.log_likelihood - scores.kl)
    assert list(scores.worst(5)) == list(np.argsort(expected)[:5])
    assert reports[-1] == (70, 70) and len(reports) == 5
    same = worst.per_image_elbo(WEIGHTS, DATA.test_images, samples=2, seed=7, chunk=1000)
    assert np.array_equal(same.elbo, scores.elbo)
    assert np.allclose(probes.reconstruct(WEIGHTS, DATA.test_images, 2, 7).elbo, scores.elbo)


def test_a_cancelled_scoring_stops_before_its_next_chunk():
    calls = []

    def cancelled():
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(Cancelled, match="after 32 of 70"):
        worst.per_image_elbo(WEIGHTS, DATA.test_images, chunk=16, cancelled=cancelled)


def test_worst_images_come_with_reconstruction_heat_map_and_nearest_training_images():
    scores, items = worst.worst_images(WEIGHTS, DATA.test_images, 4, train_images=DATA.train_images, k_nearest=3)
    assert [w.index for w in items] == list(scores.worst(4))
    assert items[0].elbo <= items[-1].elbo
    first = items[0]
    assert first.heat.shape == (28, 28) and first.reconstruction.shape == (28, 28)
    vae = probes.as_vae(WEIGHTS)
    x = probes.model_inputs(DATA.test_images[first.index:first.index + 1], ARCH)
    at_mean = probes.log_likelihood_of("bernoulli", x, vae.decode_logits(first.mean[None]))[0]
    assert first.heat.sum() == pytest.approx(-at_mean, rel=1e-4)
    train_means = probes.encode(WEIGHTS, DATA.train_images).mean
    distances = np.linalg.norm(train_means - first.mean, axis=1)
    assert list(first.nearest_train) == list(np.argsort(distances)[:3])
    assert worst.heat_uint8(first.heat).max() == 255
    summary = worst.worst_summary(items)
    assert summary[0]["index"] == first.index and summary[0]["elbo"] == first.elbo


VAMP = Architecture(latent_dim=3, prior="vamp", pseudo_inputs=5)


def _bounds_written_out(vae, image: np.ndarray, samples: int, seed: int, log_prior) -> tuple[float, float]:
    """(ELBO, IWAE) of one image in plain NumPy from core/iwae's noise of image 0, with log p(z) = log_prior(z)."""
    x = probes.model_inputs(image[None], vae.architecture).astype(float)
    mean, logvar = (a.astype(float)[0] for a in vae.encode(x.astype(np.float32)))
    eps = iwae_noise(seed, 0, samples, vae.architecture.latent_dim).astype(float)
    z = mean + eps * np.exp(0.5 * logvar)
    eta = vae.decode_logits(z.astype(np.float32)).astype(float).reshape(samples, -1)
    log_px = (x.reshape(1, -1) * eta - np.logaddexp(0.0, eta)).sum(axis=1)
    log_q = (-0.5 * (eps ** 2 + logvar + np.log(2 * np.pi))).sum(axis=1)
    log_w = log_px + log_prior(z) - log_q
    return float(log_w.mean()), float(np.log(np.mean(np.exp(log_w - log_w.max()))) + log_w.max())


def _vamp_log_density(vae, z: np.ndarray) -> np.ndarray:
    """log (1/K) sum_k N(z; mean_k, var_k) over the encoder's posteriors at the pseudo-inputs, directly."""
    means, logvars = (a.astype(float) for a in vae.encode(vae.pseudo_inputs()))
    log_n = -0.5 * ((z[:, None] - means) ** 2 / np.exp(logvars) + logvars + np.log(2 * np.pi)).sum(axis=2)
    return np.log(np.exp(log_n).mean(axis=1))


def _standard_log_density(z: np.ndarray) -> np.ndarray:
    return (-0.5 * (z ** 2 + np.log(2 * np.pi))).sum(axis=1)


def test_a_clicked_images_bounds_under_a_vampprior_are_core_iwaes_not_the_standard_priors():
    vae = probes.as_vae(random_weights(VAMP, seed=5, scale=1.0))  # components away from N(0, I)
    image = DATA.test_images[5]
    elbo, iwae = worst.importance_bounds(vae, image, samples=300, seed=3)
    estimate = iwae_log_likelihood(vae, probes.model_inputs(image[None], VAMP), k=300, seed=3)
    assert (elbo, iwae) == (estimate.elbo, estimate.per_image[0])  # one implementation of the mathematics
    assert iwae >= elbo
    # the VampPrior's bounds, written out: what the window shows; N(0, I)'s are nats away
    model_elbo, model_iwae = _bounds_written_out(vae, image, 300, 3, lambda z: _vamp_log_density(vae, z))
    standard_elbo, standard_iwae = _bounds_written_out(vae, image, 300, 3, _standard_log_density)
    assert elbo == pytest.approx(model_elbo, abs=1e-3) and iwae == pytest.approx(model_iwae, abs=1e-3)
    assert abs(elbo - standard_elbo) > 1.0 and abs(iwae - standard_iwae) > 1.0


def test_a_clicked_images_bounds_under_a_conditional_model_are_those_of_its_class():
    vae = probes.as_vae(random_weights(Architecture(latent_dim=3, model="conditional"), seed=3))
    image = DATA.test_images[2]
    bounds = worst.importance_bounds(vae, image, samples=200, label=7)
    estimate = iwae_log_likelihood(vae, probes.model_inputs(image[None], vae.architecture), k=200, labels=[7])
    assert bounds == (estimate.elbo, estimate.per_image[0])
    assert worst.importance_bounds(vae, image, samples=200) != bounds  # no label: class 0's bound


def test_the_per_image_elbo_of_a_vampprior_model_takes_its_kl_against_the_mixture_not_n01(monkeypatch):
    vae = probes.as_vae(random_weights(VAMP, seed=3, scale=0.6))  # components away from N(0, I)
    images = DATA.test_images[:12]
    scores = worst.per_image_elbo(vae, images, samples=2, seed=7, chunk=5)
    x = probes.model_inputs(images, VAMP).astype(float)
    mean, logvar = (a.astype(float) for a in vae.encode(x.astype(np.float32)))
    # the reconstruction term: from the same draws as with N(0, I), written out
    eps = np.random.default_rng(7).standard_normal((2, len(x), 3), dtype=np.float32)
    z = (mean[None] + eps * np.exp(0.5 * logvar)[None]).astype(np.float32).reshape(-1, 3)
    eta = vae.decode_logits(z).astype(float).reshape(2, *x.shape)
    log_px = (x[None] * eta - np.logaddexp(0.0, eta)).sum(axis=(2, 3, 4)).mean(axis=0)
    assert scores.log_likelihood == pytest.approx(log_px, rel=1e-5)
    # the KL: E_q[log q(z|x) - log p(z)] against the mixture written out, from 4000 draws of its own
    draws = np.random.default_rng(11).standard_normal((len(x), 4000, 3))
    z = mean[:, None] + draws * np.exp(0.5 * logvar)[:, None]
    log_q = (-0.5 * (draws ** 2 + logvar[:, None] + np.log(2 * np.pi))).sum(axis=2)
    gaps = log_q - _vamp_log_density(vae, z.reshape(-1, 3)).reshape(len(x), 4000)
    errors = gaps.std(axis=1) / np.sqrt(probes.KL_SAMPLES)  # standard error of the estimate of each image
    assert np.all(np.abs(scores.kl - gaps.mean(axis=1)) < 5 * errors + 0.05)
    assert scores.elbo == pytest.approx(log_px - scores.kl)
    # N(0, I)'s closed form is nats away: the ELBO shown is not the standard prior's
    standard_elbo = log_px - 0.5 * (mean ** 2 + np.exp(logvar) - 1.0 - logvar).sum(axis=1)
    assert abs(np.mean(scores.elbo - standard_elbo)) > max(1.0, 5 * np.sqrt(np.sum(errors ** 2)) / len(x))
    # repeatable whatever the chunking, the reconstructions' figures too; another seed, other draws
    again = worst.per_image_elbo(vae, images, samples=2, seed=7, chunk=1000)
    assert again.kl == pytest.approx(scores.kl, rel=1e-6)  # (the encoder's float32 sums, batched otherwise)
    assert again.elbo == pytest.approx(scores.elbo, rel=1e-6)
    assert probes.reconstruct(vae, images, 2, 7).kl == pytest.approx(scores.kl, rel=1e-6)
    monkeypatch.setattr(numpy_prior, "_KL_BLOCK", 1)  # the KL's draws in blocks of one image
    assert worst.per_image_elbo(vae, images, samples=2, seed=7, chunk=5).kl == pytest.approx(scores.kl, rel=1e-12)
    assert not np.array_equal(worst.per_image_elbo(vae, images, samples=2, seed=8).kl, scores.kl)
