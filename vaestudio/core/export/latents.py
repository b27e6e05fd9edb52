"""The test set's latent codes as a table: each image's posterior mean and standard deviation, and its label.

    .npz  arrays mean (N, d) and std (N, d) float32, label (N,) int64, class_names (C,) str
    .csv  a header `index,label,class,mean_0,…,mean_{d-1},std_0,…,std_{d-1}`, then one row per image

The codes come from the NumPy VAE (core/numpy_vae.py), the same numbers the window and `inspect` use.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaestudio.core.export.target import check_file_target
from vaestudio.core.weights import VaeWeights

LATENT_SUFFIXES = (".npz", ".csv")


@dataclass(frozen=True)
class Codes:
    """The posterior of each test image (in the test set's order) and what it shows."""

    mean: np.ndarray  # (N, d) float32
    std: np.ndarray  # (N, d) float32: exp(logvar / 2)
    labels: np.ndarray  # (N,) int64
    class_names: tuple[str, ...]
    pictures: np.ndarray  # the test images as the dataset stores them (uint8 (N, H, W[, C]) or floats in [0, 1])

    def class_of(self, label: int) -> str:
        return self.class_names[label] if 0 <= label < len(self.class_names) else str(label)


def encode_test_set(weights: VaeWeights, images: np.ndarray, labels: np.ndarray,
                   class_names: tuple[str, ...]) -> Codes:
    """Encode `images` (a dataset's test images, as stored) with the NumPy VAE (a conditional model: each
    with its own label)."""
    from vaestudio.core import probes
    from vaestudio.core.numpy_vae import NumpyVAE

    inputs = probes.model_inputs(images, weights.architecture)
    own = np.asarray(labels, dtype=np.int64) if weights.architecture.classes else None
    mean, logvar = NumpyVAE(weights).encode(inputs, own)
    std = np.exp(0.5 * logvar.astype(np.float64)).astype(np.float32)
    return Codes(mean, std, np.asarray(labels, dtype=np.int64), tuple(class_names), np.asarray(images))


def write_latents(codes: Codes, path: str | Path) -> Path:
    """The codes as .npz or .csv (by the suffix), written atomically."""
    from vaestudio.core.store.atomic import write_bytes_atomic

    path = check_file_target(path, LATENT_SUFFIXES)
    if path.suffix.lower() == ".npz":
        buffer = io.BytesIO()
        np.savez(buffer, mean=codes.mean, std=codes.std, label=codes.labels,
                 class_names=np.array(codes.class_names, dtype=str))
        write_bytes_atomic(path, buffer.getvalue())
    else:
        write_bytes_atomic(path, latents_csv(codes).encode("utf-8"))
    return path


def latents_csv(codes: Codes) -> str:
    d = codes.mean.shape[1]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["index", "label", "class", *(f"mean_{i}" for i in range(d)), *(f"std_{i}" for i in range(d))])
    for index, (label, mean, std) in enumerate(zip(codes.labels, codes.mean, codes.std)):
        writer.writerow([index, int(label), codes.class_of(int(label)), *map(_number, mean), *map(_number, std)])
    return text.getvalue()


def _number(value: float) -> str:
    return repr(float(value))  # the shortest text that reads back as the same float32
