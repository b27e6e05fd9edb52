"""A tiny deterministic dataset of drawn shapes (10 classes, 28x28 grey) for tests and the self-test."""

from __future__ import annotations

import numpy as np

from vaestudio.core.data.dataset import Dataset, frozen

SYNTHETIC_CLASS_NAMES = ("Top bar", "Left bar", "Square", "Disc", "Ring",
                         "Diagonal", "Cross", "Triangle", "Two dots", "Frame")


def _shape_mask(label: int, yy: np.ndarray, xx: np.ndarray, size: int) -> np.ndarray:
    """A filled shape for class `label` on a 28 x 28 grid whose coordinates are already shifted."""
    c = 13.5
    if label == 0:
        return (yy >= 3) & (yy < 8) & (xx >= 4) & (xx < 24)            # bar at the top
    if label == 1:
        return (xx >= 3) & (xx < 8) & (yy >= 4) & (yy < 24)            # bar on the left
    if label == 2:
        return (abs(yy - c) <= size) & (abs(xx - c) <= size)           # square in the middle
    if label == 3:
        return (yy - c) ** 2 + (xx - c) ** 2 <= (size + 1) ** 2         # disc
    if label == 4:
        r2 = (yy - c) ** 2 + (xx - c) ** 2
        return (r2 <= (size + 3) ** 2) & (r2 >= (size + 0.5) ** 2)      # ring
    if label == 5:
        return (abs(yy - xx) <= 2) & (yy >= 3) & (yy < 25)              # diagonal
    if label == 6:
        return ((abs(yy - c) <= 2) | (abs(xx - c) <= 2)) & (abs(yy - c) <= 10) & (abs(xx - c) <= 10)  # cross
    if label == 7:
        return (yy >= 6) & (yy <= 22) & (abs(xx - c) <= (yy - 6) * 0.6)  # triangle
    if label == 8:
        return ((yy - 8) ** 2 + (xx - 8) ** 2 <= 12) | ((yy - 19) ** 2 + (xx - 19) ** 2 <= 12)  # two dots
    return ((yy >= 3) & (yy < 25) & (xx >= 3) & (xx < 25)) & ~((yy >= 7) & (yy < 21) & (xx >= 7) & (xx < 21))


def _draw(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    grid_y, grid_x = np.mgrid[0:28, 0:28].astype(np.float32)
    images = np.zeros((len(labels), 28, 28), dtype=np.uint8)
    shifts = rng.integers(-2, 3, size=(len(labels), 2))
    sizes = rng.integers(4, 8, size=len(labels))
    brightness = rng.integers(180, 256, size=len(labels))
    for i, label in enumerate(labels):
        mask = _shape_mask(int(label), grid_y - shifts[i, 0], grid_x - shifts[i, 1], int(sizes[i]))
        images[i][mask] = brightness[i]
    noise = rng.random(images.shape) < 0.01  # a few stray pixels, so no two images are identical
    images[noise] = rng.integers(0, 256, size=int(noise.sum()), dtype=np.uint8)
    return images


def synthetic_dataset(n_train: int = 256, n_test: int = 64, seed: int = 0) -> Dataset:
    """A tiny deterministic dataset of drawn shapes (10 classes) for tests and the self-test."""
    if n_train < 1 or n_test < 1:
        raise ValueError(f"synthetic_dataset needs at least one train and one test image, got {n_train}, {n_test}")
    rng = np.random.default_rng(seed)
    arrays = []
    for count in (n_train, n_test):
        labels = rng.permutation(np.arange(count) % 10).astype(np.uint8)
        arrays += [_draw(labels, rng), labels]
    x_train, y_train, x_test, y_test = (frozen(a) for a in arrays)
    return Dataset("synthetic", x_train, y_train, x_test, y_test, f"generated shapes (seed {seed})",
                   SYNTHETIC_CLASS_NAMES)
