"""Latent quality with labels: how well the latent means separate the classes, and what the decoder
makes of the prior.

- k-nearest-neighbour accuracy: each test image's posterior mean takes the majority label of its k
  nearest training means (Euclidean; a tie goes to the label of the nearest among the tied);
- linear probe accuracy: multinomial logistic regression on the standardised training means, fitted by
  PROBE_STEPS steps of full-batch gradient descent on the mean cross-entropy with a small L2 penalty
  (NumPy; no closed form), scored on the test means;
- with the dataset's classifier (core/diagnosis/classifier.py): the class histogram of decoded prior
  samples (a conditional model's decoded for every class in turn), and the Fréchet distance between the classifier's penultimate features of test images and of
  prior samples: a "Fréchet distance on this dataset's classifier features (not Inception FID)".

Training means are those of at most TRAIN_LIMIT training images (a seeded choice), so one snapshot costs
a few seconds at most. Chance is 1 / the number of classes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from vaestudio.core import probes
from vaestudio.core.numpy_vae import NumpyVAE
from vaestudio.core.weights import VaeWeights

KNN_K = 5
PROBE_STEPS = 300
PROBE_RATE = 0.5
PROBE_L2 = 1e-4
TRAIN_LIMIT = 5000
SAMPLES = 1000
FRECHET_NAME = "Fréchet distance on this dataset's classifier features (not Inception FID)"


@dataclass(frozen=True, eq=False)
class LatentQuality:
    """A snapshot's latent-quality figures (accuracies in [0, 1])."""

    knn_accuracy: float
    probe_accuracy: float
    classes: int
    sample_classes: dict[str, float] | None = None  # class name -> fraction of prior samples
    frechet_distance: float | None = None  # see FRECHET_NAME
    classifier_accuracy: float | None = None  # the classifier's own test accuracy
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def chance(self) -> float:
        return 1.0 / self.classes

    def to_json(self) -> dict:
        """`inspect --json`'s fields."""
        return {"knn_accuracy": self.knn_accuracy, "probe_accuracy": self.probe_accuracy,
                "sample_classes": self.sample_classes, "frechet_distance": self.frechet_distance,
                "frechet_distance_is": FRECHET_NAME, "classifier_test_accuracy": self.classifier_accuracy}


def knn_accuracy(train_z: np.ndarray, train_y: np.ndarray, test_z: np.ndarray, test_y: np.ndarray,
                 k: int = KNN_K, block: int = 512) -> float:
    """Fraction of test points whose k nearest training points' majority label is theirs."""
    train_z, test_z = _points(train_z, test_z)
    train_y, test_y = np.asarray(train_y, np.int64), np.asarray(test_y, np.int64)
    k = max(1, min(int(k), len(train_z)))
    classes = int(max(train_y.max(), test_y.max())) + 1
    squares = (train_z ** 2).sum(axis=1)
    correct = 0
    for start in range(0, len(test_z), block):
        query = test_z[start:start + block]
        distances = squares[None] - 2.0 * query @ train_z.T
        nearest = np.argpartition(distances, k - 1, axis=1)[:, :k]
        nearest = np.take_along_axis(nearest, np.take_along_axis(distances, nearest, 1).argsort(1, kind="stable"), 1)
        labels = train_y[nearest]  # (B, k), nearest first
        votes = np.zeros((len(query), classes))
        np.add.at(votes, (np.arange(len(query))[:, None], labels), 1.0)
        votes[np.arange(len(query)), labels[:, 0]] += 0.5  # ties: the nearest's label
        correct += int((votes.argmax(axis=1) == test_y[start:start + block]).sum())
    return correct / len(test_z)


def probe_accuracy(train_z: np.ndarray, train_y: np.ndarray, test_z: np.ndarray, test_y: np.ndarray,
                   steps: int = PROBE_STEPS, rate: float = PROBE_RATE, l2: float = PROBE_L2) -> float:
    """Test accuracy of the linear probe of the module docstring."""
    train_z, test_z = _points(train_z, test_z)
    train_y, test_y = np.asarray(train_y, np.int64), np.asarray(test_y, np.int64)
    centre, scale = train_z.mean(axis=0), train_z.std(axis=0)
    scale[scale < 1e-12] = 1.0
    x = np.concatenate([(train_z - centre) / scale, np.ones((len(train_z), 1))], axis=1)
    classes = int(max(train_y.max(), test_y.max())) + 1
    targets = np.eye(classes)[train_y]
    w = np.zeros((x.shape[1], classes))
    for _ in range(steps):
        logits = x @ w
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        gradient = x.T @ (p - targets) / len(x) + l2 * np.vstack([w[:-1], np.zeros((1, classes))])
        w -= rate * gradient
    test_x = np.concatenate([(test_z - centre) / scale, np.ones((len(test_z), 1))], axis=1)
    return float(np.mean((test_x @ w).argmax(axis=1) == test_y))


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between Gaussians fitted to two feature sets.

    Tr (S_a S_b)^(1/2) is the sum of the square roots of the eigenvalues of S_a^(1/2) S_b S_a^(1/2)
    (symmetric, so eigh is exact and stable; tiny negative eigenvalues of rounding are clipped)."""
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"feature sets {a.shape} and {b.shape} must be (N >= 2, D) with the same D")
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_root = np.sqrt(np.clip(cross, 0.0, None)).sum()
    shift = a.mean(axis=0) - b.mean(axis=0)
    return float(max(0.0, shift @ shift + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_root))


def sample_judgement(model: NumpyVAE | VaeWeights, classifier, n: int = SAMPLES,
                     seed: int = 0) -> tuple[dict[str, float], np.ndarray]:
    """(class name -> fraction of n decoded prior samples the classifier puts in it, their features). A
    conditional model decodes sample i for class i mod its classes (an even share each, not all class 0)."""
    vae = probes.as_vae(model)
    z = vae.sample_prior(n, seed)  # the model's prior: N(0, I) (the same draws as before) or a VampPrior
    classes = vae.architecture.classes
    features = classifier.features(vae.decode(z, np.arange(n) % classes if classes else None))
    predicted = classifier.logits_of_features(features).argmax(axis=1)
    counts = np.bincount(predicted, minlength=len(classifier.class_names))
    return {name: float(c) / n for name, c in zip(classifier.class_names, counts)}, features


def latent_quality(model: NumpyVAE | VaeWeights, train_images: np.ndarray, train_labels: np.ndarray,
                   test_images: np.ndarray, test_labels: np.ndarray, classifier=None,
                   test_features: np.ndarray | None = None, train_limit: int = TRAIN_LIMIT,
                   samples: int = SAMPLES, seed: int = 0,
                   test_posterior: probes.Posterior | None = None) -> LatentQuality:
    """Every figure of the module docstring for one snapshot. `classifier`: a DatasetClassifier (None: no
    histogram, no Fréchet distance); `test_features`: its features of the test images, when already known
    (they do not change with the snapshot); `test_posterior`: the test images' posteriors when encoded."""
    vae = probes.as_vae(model)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    train_labels = np.asarray(train_labels)
    if len(train_images) > train_limit:
        chosen = np.sort(np.random.default_rng(seed).choice(len(train_images), train_limit, replace=False))
        train_images, train_labels = np.asarray(train_images)[chosen], train_labels[chosen]
    given = vae.architecture.classes  # a conditional model encodes each image with its true class
    train_z = probes.encode(vae, train_images, train_labels if given else None).mean
    test_z = (test_posterior or probes.encode(vae, test_images, np.asarray(test_labels) if given else None)).mean
    seconds["encode"] = time.perf_counter() - started
    classes = int(max(np.max(train_labels), np.max(test_labels))) + 1
    if classifier is not None:
        classes = max(classes, len(classifier.class_names))
    started = time.perf_counter()
    knn = knn_accuracy(train_z, train_labels, test_z, test_labels)
    seconds["knn"] = time.perf_counter() - started
    started = time.perf_counter()
    probe = probe_accuracy(train_z, train_labels, test_z, test_labels)
    seconds["probe"] = time.perf_counter() - started
    if classifier is None:
        return LatentQuality(knn, probe, classes, seconds=seconds)
    started = time.perf_counter()
    histogram, sample_features = sample_judgement(vae, classifier, samples, seed)
    if test_features is None:
        test_features = classifier.features(test_images)
    distance = frechet_distance(test_features, sample_features)
    seconds["classifier"] = time.perf_counter() - started
    return LatentQuality(knn, probe, classes, histogram, distance, classifier.test_accuracy, seconds)


def _points(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    train, test = np.asarray(train, np.float64), np.asarray(test, np.float64)
    if train.ndim != 2 or test.ndim != 2 or train.shape[1] != test.shape[1] or not len(train) or not len(test):
        raise ValueError(f"latent points {train.shape} and {test.shape} must be non-empty (N, d) with the same d")
    return train, test
