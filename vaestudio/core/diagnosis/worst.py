"""The worst-modelled test images and why: per-image ELBO, per-pixel error, nearest training images.

Per-image ELBO = E_q[log p(x|z)] - KL(q(z|x) || p(z)), p the model's prior: the reconstruction term a
Monte Carlo average over `samples` draws z = mean + std * eps (one draw by default), eps from one
generator seeded by `seed` for the whole set; the KL analytic for N(0, I), and for a VampPrior (no
closed form) a Monte Carlo estimate from probes.KL_SAMPLES draws of q per image of its own generator
(probes.PriorKl) — the same numbers as probes.reconstruct(model, images, samples, seed) on every image
at once, whatever the chunking. Computed in chunks with a progress callback and a cancel check, so the
window can run it in the background.

The heat map of an image is each pixel's negative log-likelihood under the decoder at the posterior mean
(summed over colour channels); its sum is -log p(x | z = mean). Nearest training images are found by
Euclidean distance between posterior means.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from vaestudio.core import probes
from vaestudio.core.errors import Cancelled
from vaestudio.core.iwae import iwae_log_likelihood
from vaestudio.core.numpy_vae import NumpyVAE
from vaestudio.core.weights import VaeWeights
from vaestudio.core.zoo.labels import DEFAULT_CLASS

CHUNK = 256  # images per chunk (one progress report, one cancel check)
NEAREST = 5


@dataclass(frozen=True, eq=False)
class ImageScores:
    """Each image's ELBO and its two terms, float64 nats (N,), and its posterior mean."""

    elbo: np.ndarray = field(repr=False)
    log_likelihood: np.ndarray = field(repr=False)
    kl: np.ndarray = field(repr=False)
    means: np.ndarray = field(repr=False)  # float32 (N, d)
    samples: int = 1
    seed: int = 0

    def worst(self, n: int) -> np.ndarray:
        """Indices of the n images of lowest ELBO, worst first (ties by index)."""
        return np.argsort(self.elbo, kind="stable")[:max(0, int(n))]


@dataclass(frozen=True, eq=False)
class WorstImage:
    """One badly modelled test image, with what explains it."""

    index: int  # in the test images scored
    elbo: float
    log_likelihood: float
    kl: float
    image: np.ndarray = field(repr=False)  # uint8 as given
    reconstruction: np.ndarray = field(repr=False)  # uint8, decoded posterior mean
    heat: np.ndarray = field(repr=False)  # float32 (H, W): each pixel's -log p(x | z = mean), nats
    mean: np.ndarray = field(repr=False)  # float32 (d,)
    nearest_train: tuple[int, ...] = ()  # training images closest in latent space, closest first


def per_image_elbo(model: NumpyVAE | VaeWeights, images: np.ndarray, samples: int = 1, seed: int = 0,
                   chunk: int = CHUNK, progress: Callable[[int, int], None] | None = None,
                   cancelled: Callable[[], bool] | None = None, labels=None) -> ImageScores:
    """Every image's ELBO terms (see the module docstring). progress(done, total) counts images;
    cancelled() returning True raises Cancelled before the next chunk. `labels`: the images' classes, which
    a conditional model encodes and decodes with (ignored by other models; None: class 0)."""
    vae = probes.as_vae(model)
    x = probes.model_inputs(images, vae.architecture)
    samples = _whole(samples, "samples")
    chunk = _whole(chunk, "chunk")
    count, dim = len(x), vae.architecture.latent_dim
    eps = np.random.default_rng(seed).standard_normal((samples, count, dim), dtype=np.float32)
    means = np.empty((count, dim), np.float32)
    log_likelihood, kl = np.empty(count), np.empty(count)
    prior_kl = probes.PriorKl(vae, seed)
    for start in range(0, count, chunk):
        if cancelled is not None and cancelled():
            raise Cancelled(f"per-image ELBO cancelled after {start} of {count} images")
        stop = min(start + chunk, count)
        chunk_labels = _rows(vae, labels, start, stop)
        mean, logvar = vae.encode(x[start:stop], chunk_labels)
        means[start:stop] = mean
        kl[start:stop] = prior_kl(mean, logvar)
        z = mean[None] + eps[:, start:stop] * np.exp(0.5 * logvar)[None]  # (S, B, d)
        repeated = None if chunk_labels is None else np.tile(chunk_labels, samples)
        logits = vae.decode_logits(z.reshape(-1, dim), repeated).reshape(samples, stop - start, *x.shape[1:])
        log_likelihood[start:stop] = probes.log_likelihood_of(vae.architecture.likelihood, x[None, start:stop],
                                                              logits).mean(axis=0)
        if progress is not None:
            progress(stop, count)
    return ImageScores(log_likelihood - kl, log_likelihood, kl, means, samples, seed)


def pixel_errors(model: NumpyVAE | VaeWeights, images: np.ndarray, labels=None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(heat float32 (N, H, W): each pixel's -log p(x | z = mean) in nats, summed over channels;
    reconstructions uint8; posterior means float32 (N, d)). `labels` as in per_image_elbo."""
    vae = probes.as_vae(model)
    x = probes.model_inputs(images, vae.architecture)
    labels = _rows(vae, labels, 0, len(x))
    mean, _ = vae.encode(x, labels)
    logits = vae.decode_logits(mean, labels)
    eta = logits.astype(np.float64)
    log_p = x * eta - np.logaddexp(0.0, eta)
    if vae.architecture.likelihood == "continuous_bernoulli":
        log_p = log_p + probes.continuous_bernoulli_log_normalizer(eta)
    reconstructions = vae.decode_uint8(mean, labels)
    return (-log_p.sum(axis=-1)).astype(np.float32), reconstructions, mean


def heat_uint8(heat: np.ndarray, top: float | None = None) -> np.ndarray:
    """A heat map as a uint8 picture, 0 nats black and `top` (default: the map's own maximum) white."""
    heat = np.asarray(heat, np.float64)
    top = float(heat.max()) if top is None else float(top)
    if top <= 0:
        return np.zeros(heat.shape, np.uint8)
    return np.clip(np.rint(heat / top * 255.0), 0, 255).astype(np.uint8)


def nearest(train_means: np.ndarray, query_means: np.ndarray, k: int = NEAREST) -> np.ndarray:
    """Indices (Q, k) of the k training points nearest each query point (Euclidean), closest first."""
    train = np.asarray(train_means, np.float64)
    query = np.asarray(query_means, np.float64)
    if train.ndim != 2 or query.ndim != 2 or train.shape[1] != query.shape[1]:
        raise ValueError(f"latent means {train.shape} and {query.shape} must be (N, d) with the same d")
    k = min(_whole(k, "k"), len(train))
    distances = (query ** 2).sum(1)[:, None] - 2.0 * query @ train.T + (train ** 2).sum(1)[None]
    part = np.argpartition(distances, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(distances, part, axis=1).argsort(axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def worst_images(model: NumpyVAE | VaeWeights, test_images: np.ndarray, n: int,
                 scores: ImageScores | None = None, train_images: np.ndarray | None = None,
                 train_means: np.ndarray | None = None, k_nearest: int = NEAREST,
                 progress: Callable[[int, int], None] | None = None,
                 cancelled: Callable[[], bool] | None = None, test_labels=None,
                 train_labels=None) -> tuple[ImageScores, list[WorstImage]]:
    """The n worst-modelled test images with their reconstruction, heat map and (given training images or
    their posterior means) nearest training images; `scores` when already computed. `test_labels`,
    `train_labels`: the images' classes, for a conditional model (see per_image_elbo)."""
    vae = probes.as_vae(model)
    if scores is None:
        scores = per_image_elbo(vae, test_images, progress=progress, cancelled=cancelled, labels=test_labels)
    chosen = scores.worst(n)
    if len(chosen) == 0:
        return scores, []
    picked = np.asarray(test_images)[chosen]
    heat, reconstructions, means = pixel_errors(vae, picked, _rows(vae, test_labels, 0, len(test_images), chosen))
    neighbours = None
    if train_means is None and train_images is not None:
        train_means = probes.encode(vae, train_images, _rows(vae, train_labels, 0, len(train_images))).mean
    if train_means is not None:
        neighbours = nearest(train_means, means, k_nearest)
    found = [WorstImage(int(i), float(scores.elbo[i]), float(scores.log_likelihood[i]), float(scores.kl[i]),
                        picked[row], reconstructions[row], heat[row], means[row],
                        () if neighbours is None else tuple(int(j) for j in neighbours[row]))
             for row, i in enumerate(chosen)]
    return scores, found


def worst_summary(items: list[WorstImage]) -> list[dict]:
    """`inspect --worst N`'s `worst` list: test index and ELBO terms of each, worst first."""
    return [{"index": w.index, "elbo": w.elbo, "log_likelihood": w.log_likelihood, "kl": w.kl,
             "nearest_train": list(w.nearest_train)} for w in items]


def _whole(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
    return int(value)


def _rows(vae: NumpyVAE, labels, start: int, stop: int, chosen=None) -> np.ndarray | None:
    """A conditional model's labels of images start..stop (then `chosen` of them); None for other models or
    when no labels are given (the model's first class)."""
    if labels is None or not vae.architecture.classes:
        return None
    rows = np.asarray(labels, dtype=int)[start:stop]
    return rows if chosen is None else rows[chosen]


IWAE_SAMPLES = 500  # importance samples of one clicked image's bound


def importance_bounds(model: NumpyVAE | VaeWeights, image: np.ndarray, samples: int = IWAE_SAMPLES, seed: int = 0,
                      label: int | None = None) -> tuple[float, float]:
    """(ELBO, IWAE bound) of one uint8 image under the model and its prior (N(0, I) or a VampPrior): core/iwae.py's
    estimate on this image alone, from `samples` draws z_k ~ q(z|x) (the noise of image 0, `iwae_noise(seed, 0,
    ...)`): log w_k = log p(x|z_k) + log p(z_k) − log q(z_k|x); ELBO = mean(log w_k), IWAE = log mean exp(log w_k)
    ≥ ELBO (Jensen). `label`: the image's class, which a conditional model encodes and decodes with (None: its
    first class; ignored by other models)."""
    vae = probes.as_vae(model)
    x = probes.model_inputs(np.asarray(image)[None], vae.architecture)
    labels = np.array([DEFAULT_CLASS if label is None else int(label)]) if vae.architecture.classes else None
    estimate = iwae_log_likelihood(vae, x, k=samples, seed=seed, labels=labels)
    return estimate.elbo, estimate.mean
