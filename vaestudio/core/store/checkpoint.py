"""Checkpoints: everything needed to continue a run exactly, in one file written atomically.

A checkpoint holds the model weights, the optimizer's variables (Adam's moments and step count), the
training noise generator's state, where the run stood (epoch, global step, steps into the epoch), the
learning rate and beta in force, and the test metrics of the epoch it closes (so a kill between the
checkpoint and the metrics row loses nothing). Every value is checked when read: a damaged or hand-made
checkpoint is refused by name before anything is changed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vaestudio.core.architecture import Architecture
from vaestudio.core.errors import ConfigError, ExportError, RunFolderError

FORMAT = 2  # 1: vaestudio 0.1.0 (no architecture, learning rate, beta or epoch metrics)
MAX_CHECKPOINT_BYTES = 1 << 30
MAX_META_BYTES = 1 << 20  # its JSON metadata: a few hundred bytes
NOISE_STATE_SHAPE = (3,)  # tf.random.Generator's Philox state


@dataclass
class Checkpoint:
    epoch: int  # last completed epoch
    step: int  # optimizer updates so far
    epoch_step: int  # steps already taken in epoch `epoch + 1` (0 at an epoch boundary)
    architecture: Architecture
    model_weights: list[np.ndarray] = field(repr=False)
    optimizer_variables: list[np.ndarray] = field(repr=False)
    noise_state: np.ndarray = field(repr=False)
    learning_rate: float | None = None  # the base learning rate in force (None: the config's)
    beta: float | None = None  # beta in force (None: the config's)
    epoch_metrics: dict[str, float] | None = None  # test_elbo, test_log_likelihood, test_kl, seconds of `epoch`

    @property
    def latent_dim(self) -> int:
        return self.architecture.latent_dim


def save_checkpoint(path: str | Path, checkpoint: Checkpoint) -> Path:
    """Write `checkpoint` to `path` (.npz) atomically: a crash leaves the previous checkpoint intact."""
    from vaestudio.core.store.atomic import atomic_path

    path = Path(path)
    meta = {"format": FORMAT, "epoch": checkpoint.epoch, "step": checkpoint.step,
            "epoch_step": checkpoint.epoch_step, "architecture": checkpoint.architecture.to_dict(),
            "model_weights": len(checkpoint.model_weights),
            "optimizer_variables": len(checkpoint.optimizer_variables),
            "learning_rate": checkpoint.learning_rate, "beta": checkpoint.beta,
            "epoch_metrics": checkpoint.epoch_metrics}
    arrays = {"meta": np.array(json.dumps(meta)), "noise_state": np.asarray(checkpoint.noise_state)}
    arrays |= {f"model_{i}": np.asarray(w) for i, w in enumerate(checkpoint.model_weights)}
    arrays |= {f"optimizer_{i}": np.asarray(v) for i, v in enumerate(checkpoint.optimizer_variables)}
    try:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)
    except ExportError as exc:
        raise RunFolderError(f"cannot save checkpoint: {exc}") from None
    return path


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and check a checkpoint; anything damaged or foreign raises RunFolderError naming the file."""
    path = Path(path)
    if not path.exists():
        raise RunFolderError(f"{path}: no checkpoint")
    from vaestudio.core.store.npz import read_npz

    archive = read_npz(path, RunFolderError, MAX_CHECKPOINT_BYTES, "checkpoint")
    try:
        return _checkpoint(path, archive)
    except RunFolderError as exc:
        from vaestudio.core.store.safe_files import short

        raise RunFolderError(short(str(exc))) from None


def _checkpoint(path: Path, archive: dict[str, np.ndarray]) -> Checkpoint:
    if archive.get("meta") is None or archive["meta"].size * archive["meta"].itemsize > MAX_META_BYTES:
        raise RunFolderError(f"{path}: damaged checkpoint (no metadata, or metadata larger than "
                             f"{MAX_META_BYTES} bytes)")
    try:
        meta = json.loads(str(archive["meta"]), parse_constant=_refuse_constant)
        if not isinstance(meta, dict):
            raise RunFolderError(f"{path}: damaged checkpoint (no metadata)")
        version = meta.get("format")
        if version not in (1, FORMAT):
            raise RunFolderError(f"{path}: checkpoint format {version!r} is not supported "
                                 f"(this vaestudio reads formats 1 and {FORMAT})")
        architecture = _architecture(meta, path)
        if "latent_dim" in meta and meta["latent_dim"] != architecture.latent_dim:
            raise RunFolderError(f"{path}: damaged checkpoint (latent_dim {meta['latent_dim']!r} disagrees with "
                                 f"its architecture's {architecture.latent_dim})")
        checkpoint = Checkpoint(
            epoch=_whole(meta, "epoch", path), step=_whole(meta, "step", path),
            epoch_step=_whole(meta, "epoch_step", path), architecture=architecture,
            model_weights=[archive[f"model_{i}"] for i in range(_whole(meta, "model_weights", path))],
            optimizer_variables=[archive[f"optimizer_{i}"] for i in range(_whole(meta, "optimizer_variables", path))],
            noise_state=archive["noise_state"],
            learning_rate=_optional_positive(meta, "learning_rate", path),
            beta=_optional_positive(meta, "beta", path, allow_zero=True),
            epoch_metrics=_epoch_metrics(meta, path))
    except RunFolderError:
        raise
    except RecursionError:
        raise RunFolderError(f"{path}: damaged checkpoint (its metadata is nested too deeply)") from None
    except (ValueError, KeyError, TypeError, ConfigError) as exc:
        raise RunFolderError(f"{path}: damaged checkpoint ({type(exc).__name__}: {str(exc)[:200]})") from None
    problem = _problem(checkpoint)
    if problem:
        raise RunFolderError(f"{path}: damaged checkpoint ({problem})")
    return checkpoint


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a valid number")


def _whole(meta: dict[str, Any], name: str, path: Path) -> int:
    value = meta.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RunFolderError(f"{path}: damaged checkpoint ({name} is {value!r}, expected a whole number ≥ 0)")
    return value


def _optional_positive(meta: dict[str, Any], name: str, path: Path, allow_zero: bool = False) -> float | None:
    value = meta.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < 0 or (value == 0 and not allow_zero):
        raise RunFolderError(f"{path}: damaged checkpoint ({name} is {value!r})")
    return float(value)


def _architecture(meta: dict[str, Any], path: Path) -> Architecture:
    if "architecture" in meta:
        values = meta["architecture"]
        if not isinstance(values, dict):
            raise RunFolderError(f"{path}: damaged checkpoint (architecture is {values!r})")
        return Architecture.from_dict(values, source=str(path))
    return Architecture(latent_dim=_whole(meta, "latent_dim", path))  # format 1


def _epoch_metrics(meta: dict[str, Any], path: Path) -> dict[str, float] | None:
    values = meta.get("epoch_metrics")
    if values is None:
        return None
    names = ("test_elbo", "test_log_likelihood", "test_kl", "seconds")
    if not isinstance(values, dict) or any(not isinstance(values.get(n), (int, float))
                                           or isinstance(values.get(n), bool)
                                           or not math.isfinite(values[n]) for n in names):
        raise RunFolderError(f"{path}: damaged checkpoint (epoch metrics {values!r})")
    return {n: float(values[n]) for n in names}


def _problem(checkpoint: Checkpoint) -> str | None:
    """What is inconsistent inside a checkpoint (None when it is sound)."""
    if checkpoint.epoch_step > checkpoint.step or checkpoint.epoch > checkpoint.step:
        return (f"epoch {checkpoint.epoch}, step {checkpoint.step} and epoch_step {checkpoint.epoch_step} "
                "do not fit together")
    noise = np.asarray(checkpoint.noise_state)
    if noise.shape != NOISE_STATE_SHAPE or not np.issubdtype(noise.dtype, np.integer):
        return f"noise_state has shape {noise.shape} and type {noise.dtype}, expected {NOISE_STATE_SHAPE} integers"
    arch = checkpoint.architecture
    expected = arch.encoder_shapes() + arch.decoder_shapes()
    found = [tuple(np.shape(w)) for w in checkpoint.model_weights]
    if found != expected:
        return f"its weights do not fit a model of {arch.describe()}"
    for array in checkpoint.model_weights + checkpoint.optimizer_variables:
        if not np.issubdtype(np.asarray(array).dtype, np.number):
            return f"an array of type {np.asarray(array).dtype}"
        if np.issubdtype(np.asarray(array).dtype, np.floating) and not np.isfinite(array).all():
            return "its weights or optimizer state hold NaN or infinite values"
    from vaestudio.core.weights import MAX_ABS_WEIGHT

    largest = max((float(np.abs(w).max()) for w in checkpoint.model_weights if np.size(w)), default=0.0)
    if largest > MAX_ABS_WEIGHT:
        return f"its weights hold absurd values (up to {largest:.3g})"
    return None
