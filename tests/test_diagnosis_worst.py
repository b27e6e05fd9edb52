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
