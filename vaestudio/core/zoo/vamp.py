"""Where a VampPrior's pseudo-inputs start (Tomczak & Welling 2018 learn them from a chosen start).

The pseudo-inputs are held as logits (images = sigmoid(logits), tf/model.PseudoInputs). Started as noise
around grey (logits ~ N(0, 0.5)), they hardly move at the tutorial's learning rate (Adam at 1e-4 moves a
logit by at most ~1e-4 a step): after 3 epochs all K were still grey noise, the encoder put their
posteriors in one spot, and the "mixture" was one Gaussian, no better than N(0, I). A fresh run therefore
starts them at K distinct training images, as the model's inputs see them (binarized for the Bernoulli
likelihood), their pixels kept `MARGIN` away from 0 and 1 so that the logits are finite and still learn.
"""

from __future__ import annotations

import numpy as np

from vaestudio.core.architecture import Architecture
from vaestudio.core.data import preprocess

# Pixels of a starting pseudo-input lie in [MARGIN, 1 - MARGIN]: logits within +-2.94.
MARGIN = 0.05


def initial_pseudo_input_logits(train_images: np.ndarray, architecture: Architecture, seed: int) -> np.ndarray:
    """float32 (K, H, W, C): the logits of K training images drawn without replacement with `seed` (with
    replacement when there are fewer than K), preprocessed as training does, pixels clipped to the margin."""
    count = architecture.pseudo_inputs
    if count < 1 or len(train_images) == 0:
        raise ValueError(f"no pseudo-inputs to start: {count} pseudo-inputs from {len(train_images)} training images")
    rng = np.random.default_rng([int(seed), 0x7A3B])  # its own stream: the data order's is untouched
    chosen = np.sort(rng.choice(len(train_images), count, replace=count > len(train_images)))
    pixels = np.clip(preprocess(np.asarray(train_images)[chosen], architecture), MARGIN, 1.0 - MARGIN)
    return np.log(pixels / (1.0 - pixels)).astype(np.float32)
