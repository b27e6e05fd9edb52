"""A conditional model's labels as one-hot rows (NumPy; the TensorFlow side is tf/inputs.py)."""

from __future__ import annotations

import numpy as np

# The class a conditional model encodes and decodes for when none is given (the window explores that one).
DEFAULT_CLASS = 0


def one_hot(labels, count: int, classes: int) -> np.ndarray:
    """float32 (count, classes): one label for all rows (an int, or None for DEFAULT_CLASS) or one per row;
    ValueError naming a label outside 0..classes-1."""
    labels = np.full(count, DEFAULT_CLASS if labels is None else labels) if np.ndim(labels) == 0 else np.asarray(labels)
    if labels.shape != (count,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be {count} whole numbers, got shape {labels.shape} of {labels.dtype}")
    if count and (labels.min() < 0 or labels.max() >= classes):
        wrong = int(labels.min() if labels.min() < 0 else labels.max())
        raise ValueError(f"a class must be between 0 and {classes - 1}, got {wrong}")
    return np.eye(classes, dtype=np.float32)[labels]


def with_label_channels(images: np.ndarray, labels, classes: int) -> np.ndarray:
    """float32 (N, H, W, C + classes): the images with their one-hot labels (`one_hot`) as constant channels,
    the encoder's input of a conditional model."""
    condition = one_hot(labels, len(images), classes)
    planes = np.broadcast_to(condition[:, None, None, :], (*images.shape[:3], classes))
    return np.concatenate([images, planes], axis=3).astype(np.float32, copy=False)


def conditional_labels(vae, labels) -> np.ndarray | None:
    """`labels` (images' true classes) as ints for a conditional model; None for a model without classes."""
    return np.asarray(labels, dtype=int) if vae.architecture.classes else None


def own_image_labels(vae, own_images, label: int | None) -> np.ndarray | None:
    """Each own image's class for a conditional model: its own `label` attribute when set, else `label`
    (None: DEFAULT_CLASS); None for a model without classes."""
    if not vae.architecture.classes:
        return None
    fallback = DEFAULT_CLASS if label is None else label
    return np.array([fallback if getattr(image, "label", None) is None else image.label for image in own_images],
                    dtype=int)
