"""Latent quality: kNN and linear-probe accuracy fall to chance on shuffled labels and are high on
separated classes; the Fréchet distance; the dataset classifier (trained once, cached)."""

from __future__ import annotations

import numpy as np
import pytest

from random_weights import random_weights
from vaestudio.core.architecture import Architecture
from vaestudio.core.data.synthetic import synthetic_dataset
from vaestudio.core.diagnosis import classifier as classifiers
from vaestudio.core.diagnosis import latent_quality as quality

CLASSES = 10
CHANCE_TOLERANCE = 0.05  # 1000 test points: the accuracy of guessing has a standard deviation of ~0.01


def clustered(count: int, seed: int, spread: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Latent means of 10 classes around well-separated centres in 4 dimensions."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(0.0, 3.0, (CLASSES, 4))
    labels = rng.integers(0, CLASSES, count)
    return centres[labels] + rng.normal(0.0, spread, (count, 4)), labels


def test_well_separated_latents_give_high_accuracy_and_shuffled_labels_chance():
    train_z, train_y = clustered(2000, 1)
    test_z, test_y = clustered(1000, 2)
    assert quality.knn_accuracy(train_z, train_y, test_z, test_y) > 0.97
    assert quality.probe_accuracy(train_z, train_y, test_z, test_y) > 0.95
    rng = np.random.default_rng(3)
    shuffled_train, shuffled_test = rng.permutation(train_y), rng.permutation(test_y)
    assert quality.knn_accuracy(train_z, shuffled_train, test_z, shuffled_test) == pytest.approx(
        1 / CLASSES, abs=CHANCE_TOLERANCE)
    assert quality.probe_accuracy(train_z, shuffled_train, test_z, shuffled_test) == pytest.approx(
        1 / CLASSES, abs=CHANCE_TOLERANCE)


def test_a_models_latents_know_the_shapes_but_not_shuffled_labels():
    data = synthetic_dataset(1000, 600, seed=1)
    weights = random_weights(Architecture(latent_dim=8), 2)
    honest = quality.latent_quality(weights, data.train_images, data.train_labels, data.test_images,
                                    data.test_labels)
    assert honest.knn_accuracy > 0.5 and honest.probe_accuracy > 0.3 and honest.chance == 0.1
    rng = np.random.default_rng(5)
    shuffled = quality.latent_quality(weights, data.train_images, rng.permutation(data.train_labels),
                                      data.test_images, rng.permutation(data.test_labels))
    assert shuffled.knn_accuracy == pytest.approx(0.1, abs=0.07)  # 600 test images: sd ~0.012
    assert shuffled.probe_accuracy == pytest.approx(0.1, abs=0.07)
    assert shuffled.sample_classes is None and shuffled.frechet_distance is None


def test_the_frechet_distance_of_a_set_with_itself_is_zero_and_grows_with_a_shift():
    features = np.random.default_rng(0).normal(size=(500, 16)) @ np.random.default_rng(1).normal(size=(16, 16))
    assert quality.frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)
    near = quality.frechet_distance(features, features + 0.1)
    far = quality.frechet_distance(features, features + 1.0)
    assert near == pytest.approx(16 * 0.01, rel=1e-3) and far == pytest.approx(16.0, rel=1e-3)
    wider = quality.frechet_distance(features, features * 2.0)
    assert wider > far


def test_the_classifier_is_trained_once_per_dataset_cached_and_judges_prior_samples(tmp_path, monkeypatch):
    data = synthetic_dataset(600, 200, seed=3)
    monkeypatch.setenv("VAESTUDIO_CACHE_DIR", str(tmp_path))
    trained = classifiers.classifier_for(data, epochs=4)
    assert classifiers.classifier_path(data).is_file()
    assert classifiers.classifier_path(data).parent == tmp_path / "classifiers"
    assert trained.test_accuracy > 0.6  # drawn shapes are easy
    monkeypatch.setattr(classifiers, "train_classifier", lambda *a, **k: pytest.fail("trained again"))
    cached = classifiers.classifier_for(data)
    assert cached.test_accuracy == trained.test_accuracy
    assert np.array_equal(cached.predict(data.test_images), trained.predict(data.test_images))
    assert classifiers.cached_classifier(synthetic_dataset(600, 200, seed=4)) is None  # other content, other key
    figures = quality.latent_quality(random_weights(Architecture(latent_dim=2), 0), data.train_images,
                                     data.train_labels, data.test_images, data.test_labels, classifier=cached,
                                     samples=300)
    assert sum(figures.sample_classes.values()) == pytest.approx(1.0)
    assert set(figures.sample_classes) == set(data.class_names)
    assert figures.frechet_distance > 0 and figures.classifier_accuracy == trained.test_accuracy
    features = cached.features(data.test_images)
    assert features.shape == (200, classifiers.FEATURES)
    assert quality.frechet_distance(features, cached.features(data.test_images)) == pytest.approx(0, abs=1e-6)
    assert figures.to_json()["frechet_distance_is"].endswith("(not Inception FID)")
