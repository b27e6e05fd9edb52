"""Training settings: presets, validation and JSON round trip."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaestudio.core.errors import ConfigError

DATASETS = ("fashion_mnist", "mnist")
# "auto": mixed bfloat16 where the hardware has native bfloat16 (see device.bfloat16_is_fast), else float32.
PRECISIONS = ("float32", "mixed_bfloat16", "auto")

# Each preset fills the hyperparameters; explicit values override it.
PRESETS: dict[str, dict[str, Any]] = {
    # The article's settings.
    # float32: at Adam 1e-4 mixed bfloat16 lagged by 9 nats after 5 epochs (see README, Performance).
    "tutorial": dict(epochs=10, latent_dim=2, batch_size=32, learning_rate=1e-4,
                     steps_per_call=16, precision="float32"),
    # Same architecture, tuned by measurement (see benchmarks/ and the README).
    "fast": dict(epochs=10, latent_dim=2, batch_size=128, learning_rate=2e-3,
                 steps_per_call=16, precision="auto"),
}

# name: (low, high, type) -- inclusive bounds; None means unbounded.
LIMITS: dict[str, tuple[float | None, float | None, type]] = {
    "epochs": (1, 10_000, int),
    "latent_dim": (1, 64, int),
    "batch_size": (1, 8192, int),
    "learning_rate": (1e-8, 100.0, float),
    "grid_size": (2, 40, int),
    "seed": (0, 2**31 - 1, int),
    "limit": (1, None, int),
    "metrics_every": (1, 100_000, int),
    "snapshot_every": (0, 100_000, int),
    "steps_per_call": (1, 1000, int),
}


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
    steps_per_call: int = 1
    precision: str = "float32"
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_preset(cls, preset: str = "tutorial", **overrides: Any) -> "TrainConfig":
        """A config from a preset name, with explicit values (not None) taking precedence."""
        if preset not in PRESETS and preset != "custom":
            raise ConfigError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)} or custom")
        values: dict[str, Any] = dict(PRESETS.get(preset, PRESETS["tutorial"]))
        values.update({k: v for k, v in overrides.items() if v is not None})
        config = cls(preset=preset, **values)
        config.validate()
        return config

    def validate(self) -> "TrainConfig":
        """Raise ConfigError naming the first value that is out of range."""
        if self.dataset not in DATASETS:
            raise ConfigError(f"dataset {self.dataset!r} is not one of {', '.join(DATASETS)}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision {self.precision!r} is not one of {', '.join(PRECISIONS)}")
        for name, (low, high, kind) in LIMITS.items():
            value = getattr(self, name)
            if value is None and name == "limit":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{name} must be a number, got {value!r}")
            if kind is int and int(value) != value:
                raise ConfigError(f"{name} must be a whole number, got {value!r}")
            if value != value or (low is not None and value < low) or (high is not None and value > high):
                bounds = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
                raise ConfigError(f"{name} must be {bounds}, got {value!r}")
            setattr(self, name, kind(value))
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "config") -> "TrainConfig":
        """Build and validate a config from a mapping; unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown setting(s) {', '.join(unknown)}")
        try:
            config = cls(**values)
        except TypeError as exc:  # pragma: no cover - dataclass signature errors
            raise ConfigError(f"{source}: {exc}") from None
        try:
            return config.validate()
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None

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


def read_json_object(path: str | Path, error: type[Exception]) -> dict[str, Any]:
    """A JSON file's top-level object; a missing, unreadable or non-object file raises `error` naming it."""
    path = Path(path)
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{path}: not a readable JSON file ({exc})") from None
    if not isinstance(values, dict):
        raise error(f"{path}: expected a JSON object")
    return values
