"""A conditional model's diagnosis uses the images' true classes (issue 19): the per-image ELBO, the worst
images' heat maps and the health's encodings are those of the labelled images, not of class 0."""

from __future__ import annotations

import numpy as np

from random_weights import random_weights
from vaestudio.core import probes
from vaestudio.core.architecture import Architecture
from vaestudio.core.diagnosis import collapse, worst
from vaestudio.core.numpy_vae import NumpyVAE


def test_per_image_elbo_worst_images_and_health_take_the_labels():
    vae = NumpyVAE(random_weights(Architecture(latent_dim=2, model="conditional"), seed=3))
    images = (np.random.default_rng(2).random((6, 28, 28)) > 0.6).astype(np.uint8) * 255
    labels = np.array([1, 4, 9, 0, 7, 4])
    scores = worst.per_image_elbo(vae, images, samples=2, seed=5, chunk=4, labels=labels)
    direct = probes.reconstruct(vae, images, samples=2, seed=5, labels=labels)
    np.testing.assert_allclose(scores.elbo, direct.elbo, rtol=1e-5)
    assert not np.allclose(scores.elbo, worst.per_image_elbo(vae, images, samples=2, seed=5).elbo)

    _, items = worst.worst_images(vae, images, 2, scores=scores, test_labels=labels)
    for item in items:
        mean, _ = vae.encode(probes.model_inputs(images[[item.index]], vae.architecture), labels[[item.index]])
        np.testing.assert_allclose(item.mean, mean[0], rtol=1e-5)
        np.testing.assert_array_equal(item.reconstruction, vae.decode_uint8(mean, labels[[item.index]])[0])

    health = collapse.health(vae, images, labels=labels)
    posterior = probes.encode(vae, images, labels)
    assert health.total_kl == collapse.health_of_posterior(posterior.mean, posterior.logvar).total_kl
