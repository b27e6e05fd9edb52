"""What a run yields, live or replayed from its folder. Plain dataclasses: the CLI prints them, the window
relays them as signals, the run folder records them.

Order of a run: Status* DataLoaded Status* Started Snapshot(step 0) (StepMetrics | Snapshot | HyperChanged)* per epoch
[Snapshot EpochEnd [CollapseAlarm]] ... Finished [Saved]. Metrics are nats per image; higher ELBO is better.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from vaestudio.core.diagnosis.collapse import Alarm
    from vaestudio.core.weights import VaeWeights


@dataclass(frozen=True)
class Status:
    """What the run is doing before training starts or after it ends ("Loading data…")."""

    text: str


@dataclass(frozen=True)
class DataLoaded:
    """The run's data is loaded and its folder is ready: the model is built next. Live runs only."""

    dataset: str  # the config's dataset name, e.g. "fashion_mnist"
    description: str  # one line: what was loaded, how many images, from where
    train_count: int
    test_count: int
    data: Any = field(default=None, repr=False, compare=False)  # the Dataset itself (its test images)


@dataclass(frozen=True)
class Started:
    """Training is about to take its first step (of a new run, or of a resumed one)."""

    total_epochs: int
    steps_per_epoch: int
    start_epoch: int  # 1 for a new run, later when resuming
    device: str
    precision: str = "float32"  # or "mixed_bfloat16"
    start_step: int = 0  # global step already done (resumed runs)
    replicas: int = 1  # devices the batch is split across


@dataclass(frozen=True)
class StepMetrics:
    """Train-batch ELBO terms averaged since the last report, and the hyper-parameters in force."""

    epoch: int
    step: int  # global step, 1-based, counts optimizer updates
    epoch_step: int  # steps done in this epoch
    steps_per_epoch: int
    elbo: float  # the true bound (beta = 1), always
    log_likelihood: float
    kl: float
    images_per_second: float
    objective: float | None = None  # log_likelihood - beta_t * kl when that differs from the ELBO
    learning_rate: float | None = None  # in force at this step (after schedule and warm-up)
    beta: float | None = None  # beta_t in force at this step (after KL warm-up)
    # An objective's own terms, by name (beta-TCVAE: mi, tc, dim_kl); None for the others.
    terms: dict[str, float] | None = None


@dataclass(frozen=True)
class Snapshot:
    """The model at one moment: its weights, and the decoded latent grid they give."""

    epoch: int
    step: int
    label: str  # e.g. "epoch 1, batch 75"
    mosaic: np.ndarray | None = field(repr=False)  # uint8 grid as the plane shows it: top row = highest z2
    weights: "VaeWeights | None" = field(default=None, repr=False)  # None: recorded by 0.1.0 without weights
    frame: int = -1  # its number in the run folder, once recorded
    # A lazy replay (replay(..., lazy=True)) reads neither the grid nor the weights: mosaic is None, and
    # this says whether the folder holds the frame's weights, to be read when the moment is shown.
    weights_on_disk: bool = False
    # Transitional, until the window encodes test images itself from `weights`: encoder means of the
    # trainer's fixed probe of test images, and their labels.
    latent_means: np.ndarray | None = field(default=None, repr=False)
    latent_labels: np.ndarray | None = field(default=None, repr=False)


@dataclass(frozen=True)
class EpochEnd:
    """An epoch finished; the test terms are means over the whole test set."""

    epoch: int
    step: int
    test_elbo: float
    test_log_likelihood: float
    test_kl: float
    seconds: float  # training time of the epoch, without the test pass
    kl_per_dimension: tuple[float, ...] = ()  # analytic KL(q(z|x) || N(0, I)) per latent dimension, test mean


@dataclass(frozen=True)
class CollapseAlarm:
    """The run is in posterior collapse (core/diagnosis/collapse.py): raised right after the EpochEnd that
    confirmed it, recorded in the run folder's diagnosis.json; a healthy run yields none."""

    epoch: int  # the epoch end that raised it (alarm.started_epoch / started_step: where the collapse began)
    step: int
    alarm: "Alarm" = field(repr=False)

    @property
    def line(self) -> str:
        """The CLI's one line: what, since when, what to try."""
        return self.alarm.line()


@dataclass(frozen=True)
class HyperChanged:
    """The user changed the learning rate or beta; in force from `step` on."""

    step: int
    learning_rate: float
    beta: float


@dataclass(frozen=True)
class Finished:
    """The run ended. reason is 'completed', 'stopped' or 'diverged'."""

    reason: str
    epoch: int
    step: int
    message: str = ""


@dataclass(frozen=True)
class Saved:
    """The run's final files (model, final grid, animation) are written."""

    paths: tuple[Path, ...]


Event = (Status | DataLoaded | Started | StepMetrics | Snapshot | EpochEnd | CollapseAlarm | HyperChanged | Finished
         | Saved)
