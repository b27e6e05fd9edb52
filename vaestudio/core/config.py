"""Training settings: presets, validation and JSON round trip.

Every value is checked by name (type, finiteness, range) before anything uses it, so a hand-edited or
hostile `config.json` is refused with one line instead of failing later inside TensorFlow.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vaestudio.core.architecture import (CHANNELS, IMAGE_SIZES, LIKELIHOODS, MAX_LATENT_DIM, MAX_PSEUDO_INPUTS, MODELS,
                                         PRIORS, Architecture)
from vaestudio.core.errors import ConfigError

DATASETS = ("fashion_mnist", "mnist", "image_folder")
# "auto": mixed bfloat16 where the hardware has native bfloat16 (see tf.device.bfloat16_is_fast), else float32.
PRECISIONS = ("float32", "mixed_bfloat16", "auto")
LR_SCHEDULES = ("constant", "cosine")
# What training maximises (core/zoo/objectives.py): the ELBO (the tutorial's), the K-sample importance-weighted
# bound (Burda et al. 2016), or the ELBO with its KL split into MI + beta * TC + dimension-wise KL (Chen et al. 2018).
OBJECTIVES = ("elbo", "iwae", "tcvae")
# linear: beta rises from 0 over kl_warmup_steps (constant when 0: today's); cyclical: Fu et al. 2019.
KL_SCHEDULES = ("linear", "cyclical")
DEFAULT_IWAE_SAMPLES = 5
DEFAULT_PSEUDO_INPUTS = 500  # Tomczak & Welling's K for MNIST

# Each preset fills the hyperparameters; explicit values override it.
PRESETS: dict[str, dict[str, Any]] = {
    # The article's settings.
    # float32: at Adam 1e-4 mixed bfloat16 lagged by 9 nats after 5 epochs (see README, Performance).
    "tutorial": dict(epochs=10, latent_dim=2, batch_size=32, learning_rate=1e-4,
                     steps_per_call=16, precision="float32"),
    # Same architecture and objective, tuned by measurement (benchmarks/time_to_quality.py, RESULTS.md): one
    # epoch of batch 32 at a peak of 1e-2 (100x the article's), a 200-step warm-up and a cosine decay to zero
    # passed the article's 10-epoch test ELBO (-194.1) with every seed 0-4: -188.96, -189.70, -188.94,
    # -191.05, -188.41, in 0.050-0.084 of the article's 10-epoch training time at x1.16-1.52 its images/s
    # (Zen 4, 2 cores shared, load 4-8, issue 22); seeds 5-9 -188.90 to -191.56. On seed 3, the hardest:
    # peak 8e-3 / 1.2e-2 -191.26 / -191.18; batch 16 at 2e-3 (the preset before) -194.40 (missed), at 5e-3
    # -190.77 but slower (x1.02 the article's images/s against batch 32's x1.32, in one run); batch 64 at
    # 1e-2 / 2e-2 -193.19 / -193.86 (x1.46).
    # float32: mixed bfloat16, native on that CPU (AVX512-BF16), trained no more images/s (x1.01) and ended
    # 1.1-1.9 nats lower (measured at batch 16-24).
    "fast": dict(epochs=1, latent_dim=2, batch_size=32, learning_rate=1e-2, lr_schedule="cosine",
                 lr_warmup_steps=200, steps_per_call=16, precision="float32"),
}

# name: (low, high, type) -- inclusive bounds; None means unbounded.
LIMITS: dict[str, tuple[float | None, float | None, type]] = {
    "epochs": (1, 10_000, int),
    "latent_dim": (1, MAX_LATENT_DIM, int),
    "batch_size": (1, 8192, int),
    "learning_rate": (1e-8, 100.0, float),
    "grid_size": (2, 40, int),
    "seed": (0, 2**31 - 1, int),
    "limit": (1, None, int),
    "metrics_every": (1, 100_000, int),
    "snapshot_every": (0, 100_000, int),
    "snapshot_every_later": (0, 10_000_000, int),
    "steps_per_call": (1, 1000, int),
    "beta": (0.0, 100.0, float),
    "kl_warmup_steps": (0, 100_000_000, int),
    "lr_warmup_steps": (0, 100_000_000, int),
    "test_fraction": (0.01, 0.5, float),
    "free_bits": (0.0, 100.0, float),
    "samples": (1, 1000, int),
    "cycles": (1, 10_000, int),
}
# Settings a resumed run may change; the others are fixed by its checkpoint and its data order.
RESUMABLE = ("epochs", "learning_rate", "beta")


@dataclass
class TrainConfig:
    """Everything that determines a training run."""

    dataset: str = "fashion_mnist"
    data_dir: str | None = None
    preset: str = "tutorial"
    epochs: int = 10
    latent_dim: int = 2
    batch_size: int = 32
    learning_rate: float = 1e-4
    grid_size: int = 20
    seed: int = 0
    limit: int | None = None
    metrics_every: int = 25
    # Grid snapshots every N batches during epoch 1 (0: none), plus before training and after each epoch.
    snapshot_every: int = 75
    # Every N steps in later epochs too (0: only at the end of each epoch, the tutorial's schedule).
    snapshot_every_later: int = 0
    steps_per_call: int = 1
    precision: str = "float32"
    # The objective: ELBO = log-likelihood - KL; training maximises log-likelihood - beta_t * KL, with
    # beta_t rising linearly from 0 to beta over the first kl_warmup_steps steps.
    beta: float = 1.0
    kl_warmup_steps: int = 0
    # Learning rate: linear warm-up over lr_warmup_steps, then constant or a cosine decay to 0 at the end.
    lr_schedule: str = "constant"
    lr_warmup_steps: int = 0
    # The model's shape (see architecture.py) and, for image folders, the share of images held out.
    image_size: int = 28
    channels: int = 1
    likelihood: str = "bernoulli"
    test_fraction: float = 0.1
    # The model zoo's loss-side variants; their defaults are the tutorial's objective, so configs written
    # before they existed mean today's model. free_bits: nats per latent dimension under which the batch-mean
    # KL of a dimension is not pushed down (Kingma et al. 2016), 0: off. samples: K of the IWAE objective.
    # cycles: of the cyclical KL schedule, over the whole run.
    objective: str = "elbo"
    samples: int = 1
    free_bits: float = 0.0
    kl_schedule: str = "linear"
    cycles: int = 4
    # The prior (architecture.py): standard normal, or a VampPrior over `pseudo_inputs` learned images.
    prior: str = "standard"
    pseudo_inputs: int = 0
    # "conditional": the label enters the encoder and the decoder (architecture.py); Fashion-MNIST and MNIST.
    model: str = "vae"

    @classmethod
    def from_preset(cls, preset: str = "tutorial", **overrides: Any) -> "TrainConfig":
        """A config from a preset name, with explicit values (not None) taking precedence."""
        if preset not in PRESETS and preset != "custom":
            raise ConfigError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)} or custom")
        values: dict[str, Any] = dict(PRESETS.get(preset, PRESETS["tutorial"]))
        given = {k: v for k, v in overrides.items() if v is not None}
        if given.get("dataset") == "image_folder" and "likelihood" not in given:
            values["likelihood"] = "continuous_bernoulli"  # grey levels carry the picture
        if given.get("prior") == "vamp" and "pseudo_inputs" not in given:
            values["pseudo_inputs"] = DEFAULT_PSEUDO_INPUTS
        if given.get("objective") == "iwae" and "samples" not in given:
            values["samples"] = DEFAULT_IWAE_SAMPLES
        values.update(given)
        unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ConfigError(f"unknown setting(s) {', '.join(unknown)}")
        config = cls(preset=preset, **values)
        config.validate()
        return config

    def validate(self) -> "TrainConfig":
        """Raise ConfigError naming the first value that is out of range or of the wrong type."""
        for name, choices in (("dataset", DATASETS), ("precision", PRECISIONS), ("lr_schedule", LR_SCHEDULES),
                              ("likelihood", LIKELIHOODS), ("objective", OBJECTIVES), ("kl_schedule", KL_SCHEDULES),
                              ("prior", PRIORS), ("model", MODELS)):
            value = getattr(self, name)
            if not isinstance(value, str) or value not in choices:
                raise ConfigError(f"{name} {value!r} is not one of {', '.join(choices)}")
        if not isinstance(self.preset, str) or (self.preset not in PRESETS and self.preset != "custom"):
            raise ConfigError(f"preset {self.preset!r} is not one of {', '.join(PRESETS)}, custom")
        if self.data_dir is not None and not isinstance(self.data_dir, str):
            raise ConfigError(f"data_dir must be a folder path (text) or null, got {self.data_dir!r}")
        if self.dataset == "image_folder" and not self.data_dir:
            raise ConfigError("dataset image_folder needs data_dir, the folder of images")
        for name, (low, high, kind) in LIMITS.items():
            value = getattr(self, name)
            if value is None and name == "limit":
                continue
            setattr(self, name, checked_number(name, value, low, high, kind))
        for name, choices in (("image_size", IMAGE_SIZES), ("channels", CHANNELS)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value not in choices:
                raise ConfigError(f"{name} must be one of {', '.join(map(str, choices))}, got {value!r}")
        self._check_variant()
        return self

    def _check_variant(self) -> None:
        """Refuse combinations of the variants that have no meaning, naming the setting."""
        if self.prior == "vamp":
            setattr(self, "pseudo_inputs", checked_number("pseudo_inputs", self.pseudo_inputs, 1, MAX_PSEUDO_INPUTS, int))
            if self.free_bits or self.objective == "tcvae":
                what = "free_bits" if self.free_bits else "objective tcvae"
                raise ConfigError(f"{what} needs the standard normal prior (its KL is split per dimension), not "
                                  f"prior vamp")
        elif self.pseudo_inputs != 0:
            raise ConfigError(f"pseudo_inputs ({self.pseudo_inputs!r}) applies only to prior vamp")
        if self.model == "conditional":
            if self.dataset == "image_folder":
                raise ConfigError("model conditional needs the labels of fashion_mnist or mnist, not dataset "
                                  "image_folder")
            if self.prior == "vamp":
                raise ConfigError("model conditional cannot have prior vamp (its pseudo-inputs would need a "
                                  "class): use prior standard")
        if self.objective == "iwae" and self.samples < 2:
            raise ConfigError(f"samples must be at least 2 with objective iwae (1 is the ELBO), got {self.samples}")
        if self.objective != "iwae" and self.samples != 1:
            raise ConfigError(f"samples ({self.samples}) applies only to objective iwae, not {self.objective}")
        if self.free_bits and self.objective != "elbo":
            raise ConfigError(f"free_bits applies to objective elbo only, not {self.objective}")
        if self.kl_schedule == "cyclical" and self.kl_warmup_steps:
            raise ConfigError("kl_warmup_steps applies to kl_schedule linear; the cyclical schedule ramps beta "
                              "within each of its cycles")

    @property
    def architecture(self) -> Architecture:
        return Architecture.of(self)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "config") -> "TrainConfig":
        """Build and validate a config from a mapping; unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        from vaestudio.core.store.safe_files import short

        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(short(f"{source}: unknown setting(s) {', '.join(unknown)}"))
        config = cls(**values)
        try:
            return config.validate()
        except ConfigError as exc:
            raise ConfigError(short(f"{source}: {exc}")) from None

    def save(self, path: str | Path) -> None:
        """Write as JSON, atomically."""
        from vaestudio.core.store.atomic import write_text_atomic

        write_text_atomic(Path(path), json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "TrainConfig":
        values = read_json_object(path, ConfigError)
        values.pop("version", None)
        values.pop("vaestudio", None)
        return cls.from_dict(values, source=str(path))


def checked_number(name: str, value: Any, low: float | None, high: float | None, kind: type) -> int | float:
    """`value` as `kind` if it is a finite number within [low, high]; ConfigError naming `name` else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if kind is int and int(value) != value:
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(f"{name} must be {range_phrase(low, high, kind)}, got {value!r}")
    return kind(value)


def range_phrase(low: float | None, high: float | None, kind: type = float) -> str:
    """'between 1 and 64', 'at least 1': whole numbers printed in full (2147483647, not 2.14748e+09)."""
    def text(x: float | None) -> str:
        return str(int(x)) if kind is int and x is not None else f"{x:g}"

    return f"between {text(low)} and {text(high)}" if high is not None else f"at least {text(low)}"


# Largest config or side-car file read; real ones are under 2 KB.
MAX_JSON_BYTES = 1 << 20


def read_json_object(path: str | Path, error: type[Exception]) -> dict[str, Any]:
    """A JSON file's top-level object; a missing, unreadable, oversized or non-object file raises `error`
    naming it. NaN and Infinity (which Python's reader would accept) are refused by name."""
    path = Path(path)

    def refuse_constant(name: str) -> None:
        raise ValueError(f"{name} is not a valid number")

    from vaestudio.core.store.safe_files import read_capped

    try:
        data = read_capped(path, MAX_JSON_BYTES, error, "settings file")  # no FIFO, device or folder
        values = json.loads(data.decode("utf-8"), parse_constant=refuse_constant)
    except FileNotFoundError:
        raise error(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        if isinstance(exc, error):
            raise
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        if isinstance(exc, RecursionError):
            reason = "nested too deeply"
        reason = str(reason)[:200]
        raise error(f"{path}: not a readable JSON file ({reason})") from None
    if not isinstance(values, dict):
        raise error(f"{path}: expected a JSON object")
    return values
