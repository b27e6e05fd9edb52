"""What a Trainer yields. Plain dataclasses: the CLI prints them, the window turns them into signals."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Started:
    """Training is about to take its first step."""

    total_epochs: int
    steps_per_epoch: int
    start_epoch: int  # 1 for a new run, later when resuming
    device: str
    precision: str = "float32"  # or "mixed_bfloat16"


@dataclass(frozen=True)
class StepMetrics:
    """Train-batch ELBO (nats per image, higher is better), averaged since the last report."""

    epoch: int
    step: int  # global step, 1-based, counts optimizer updates
    epoch_step: int  # steps done in this epoch
    steps_per_epoch: int
    elbo: float
    log_likelihood: float
    kl: float
    images_per_second: float


@dataclass(frozen=True)
class Snapshot:
    """The decoded latent grid at one moment, and the decoder weights that produced it."""

    epoch: int
    step: int
    label: str  # e.g. "epoch 1, batch 75"
    mosaic: np.ndarray  # uint8, (n*28, n*28); as the plane shows it: top tiles = highest z2, left = lowest z1
    decoder_weights: list[np.ndarray] = field(default_factory=list, repr=False)
    # Encoder means of a fixed probe of test images (for the class-coloured overlay), and their labels.
    latent_means: np.ndarray | None = field(default=None, repr=False)
    latent_labels: np.ndarray | None = field(default=None, repr=False)


@dataclass(frozen=True)
class EpochEnd:
    """An epoch finished; the test ELBO is the mean over the whole test set."""

    epoch: int
    step: int
    test_elbo: float
    test_log_likelihood: float
    test_kl: float
    seconds: float  # training time of the epoch, without the test pass


@dataclass(frozen=True)
class Finished:
    """The run ended. reason is 'completed', 'stopped' or 'diverged'."""

    reason: str
    epoch: int
    step: int
    message: str = ""


Event = Started | StepMetrics | Snapshot | EpochEnd | Finished
