"""A conditional model's test images are encoded and reconstructed with their own classes wherever a picture
or a figure shows them (not as class 0): `render --reconstructions` and `--interpolate`, the Compare view's
columns, the diagnosis's decoded prior samples."""

from __future__ import annotations

import numpy as np
import pytest

from hostile_helpers import COMMON
from vaestudio.cli import main


@pytest.fixture(scope="module")
def conditional_run(tiny_idx, tmp_path_factory):
    """A conditional run trained one epoch on the tiny data, its last weights and its test split."""
    from vaestudio.core.data import load_dataset
    from vaestudio.core.store.run_folder import RunFolder

    folder = tmp_path_factory.mktemp("own-class") / "conditional"
    assert main(["train", "--data", str(tiny_idx), *COMMON, "--model", "conditional", "--epochs", "1",
                 "--out", str(folder)]) == 0
    runs = RunFolder(folder)
    weights = runs.snapshots.load_weights(runs.snapshots.records()[-1])
    data = load_dataset("fashion_mnist", data_dir=tiny_idx)
    return folder, weights, np.asarray(data.test_images), np.asarray(data.test_labels)


def test_render_reconstructs_each_test_image_with_its_own_class(conditional_run, tmp_path):
    import imageio.v3 as iio

    from vaestudio.core import latent, probes
    from vaestudio.render_command import _first_of_each_class

    folder, weights, images, labels = conditional_run
    target = tmp_path / "r.png"
    assert main(["render", str(folder), "--reconstructions", "--scale", "1", "--out", str(target)]) == 0
    picture = iio.imread(target)
    bottom = picture[picture.shape[0] // 2:]
    chosen = _first_of_each_class(labels)
    assert len(set(labels[chosen])) > 1
    own = latent.strip(probes.reconstruct(weights, images[chosen], labels=labels[chosen]).images)
    as_class_0 = latent.strip(probes.reconstruct(weights, images[chosen]).images)
    np.testing.assert_array_equal(bottom.reshape(own.shape), own)
    assert not np.array_equal(own, as_class_0)


def test_render_interpolates_between_own_class_encodings_decoded_for_the_class_asked(conditional_run, tmp_path):
    import imageio.v3 as iio

    from vaestudio.core import latent, probes

    folder, weights, images, labels = conditional_run
    i, j = (int(np.flatnonzero(labels == c)[0]) for c in (3, 7))
    means = probes.encode(weights, images[[i, j]], labels[[i, j]]).mean
    for label in (None, 5):
        target = tmp_path / f"i{label}.png"
        extra = [] if label is None else ["--class", str(label)]
        assert main(["render", str(folder), "--interpolate", str(i), str(j), "--frames", "4", "--scale", "1",
                     *extra, "--out", str(target)]) == 0
        shown = iio.imread(target)
        expected = latent.strip(probes.interpolate(weights, means[0], means[1], 4, "linear", label).frames)
        np.testing.assert_array_equal(shown.reshape(expected.shape), expected)
    as_class_0 = probes.encode(weights, images[[i, j]]).mean
    assert not np.allclose(means, as_class_0)


class PixelJudge:
    """A stand-in for the dataset's classifier: a few pixels as features, a fixed random linear head."""

    class_names = tuple(f"class {i}" for i in range(10))
    test_accuracy = 0.5

    def __init__(self):
        self.head = np.random.default_rng(4).normal(size=(16, 10))

    def features(self, images):
        x = np.asarray(images, np.float32).reshape(len(images), -1)
        return x[:, ::49] / (255.0 if x.max() > 1.0 else 1.0)

    def logits_of_features(self, features):
        return features @ self.head


def test_the_diagnosis_decodes_a_conditional_models_prior_samples_for_every_class_in_turn():
    """inspect_fields given the labelled posterior: the prior samples' classes and the Fréchet distance are
    of samples decoded for class i mod 10 (as they were, all of class 0, they judged class 0's decoder)."""
    from types import SimpleNamespace

    from random_weights import random_weights
    from vaestudio.core import probes
    from vaestudio.core.architecture import Architecture
    from vaestudio.core.diagnosis import latent_quality
    from vaestudio.core.diagnosis.report import inspect_fields
    from vaestudio.core.numpy_vae import NumpyVAE

    vae = NumpyVAE(random_weights(Architecture(latent_dim=2, model="conditional"), seed=11))
    rng = np.random.default_rng(3)
    images = (rng.random((60, 28, 28)) > 0.6).astype(np.uint8) * 255
    labels = np.arange(60) % 10
    data = SimpleNamespace(train_images=images[:40], train_labels=labels[:40], test_images=images[40:],
                           test_labels=labels[40:], class_names=PixelJudge.class_names)
    judge = PixelJudge()
    fields = inspect_fields(vae.weights, data, classifier=judge,
                            posterior=probes.encode(vae, images[40:], labels[40:]))
    z = vae.sample_prior(latent_quality.SAMPLES, 0)
    test_features = judge.features(images[40:])

    def judged(decode_labels):
        features = judge.features(vae.decode(z, decode_labels))
        counts = np.bincount(judge.logits_of_features(features).argmax(axis=1), minlength=10)
        return ({name: c / len(z) for name, c in zip(judge.class_names, counts)},
                latent_quality.frechet_distance(test_features, features))

    histogram, distance = judged(np.arange(len(z)) % 10)
    assert fields["sample_classes"] == pytest.approx(histogram)
    assert fields["frechet_distance"] == pytest.approx(distance, rel=1e-6)
    assert fields["frechet_distance"] != pytest.approx(judged(None)[1], rel=1e-3)


def test_exported_latents_of_a_conditional_run_are_each_test_images_own_class_encoding(conditional_run, tmp_path):
    from vaestudio.core import probes

    folder, weights, images, labels = conditional_run
    target = tmp_path / "codes.npz"
    assert main(["export", str(folder), "--latents", str(target)]) == 0
    codes = np.load(target)
    own = probes.encode(weights, images, labels)
    np.testing.assert_allclose(codes["mean"], own.mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(codes["std"], np.exp(0.5 * own.logvar), rtol=1e-5, atol=1e-6)
    assert not np.allclose(codes["mean"], probes.encode(weights, images).mean, rtol=1e-3)
