"""Pixels to model input: float32 (N, H, W, C) in [0, 1], binarized for the Bernoulli likelihood."""

from __future__ import annotations

import numpy as np

from vaestudio.core.architecture import Architecture


def preprocess(images: np.ndarray, architecture: Architecture | None = None) -> np.ndarray:
    """Scale pixels (0..255: uint8, or any real dtype on that scale) to the model's input.

    With the Bernoulli likelihood (the default `Architecture()`, the tutorial's) pixels are binarized at
    0.5: for uint8 `x / 255 > 0.5` is exactly `x > 127`, which needs no float copy of the data. With the
    continuous Bernoulli the grey levels stay, `x / 255` in float32 (clipped to [0, 1] for other dtypes).
    Grey images may come as (N, H, W) or (N, H, W, 1), colour as (N, H, W, 3); the result is (N, H, W, C).
    ValueError when the images do not have the architecture's size and channels.
    """
    architecture = Architecture() if architecture is None else architecture
    size, channels = architecture.image_size, architecture.channels
    images = np.asarray(images)
    grey = channels == 1 and images.shape[1:] in ((size, size), (size, size, 1))
    colour = channels == 3 and images.shape[1:] == (size, size, 3)
    if images.ndim < 3 or not (grey or colour):
        wanted = f"(N, {size}, {size})" if channels == 1 else f"(N, {size}, {size}, 3)"
        raise ValueError(f"preprocess expects images of shape {wanted}, got {images.shape}")
    shape = (images.shape[0], size, size, channels)
    if architecture.binarized:
        if images.dtype == np.uint8:
            on = images > 127
        else:
            on = images.astype(np.float32) / np.float32(255.0) > np.float32(0.5)
        return on.astype(np.float32).reshape(shape)
    if images.dtype == np.uint8:
        return np.divide(images, np.float32(255.0), dtype=np.float32).reshape(shape)
    scaled = images.astype(np.float32)  # the one float copy
    scaled /= np.float32(255.0)
    return np.clip(scaled, 0.0, 1.0, out=scaled).reshape(shape)
