"""Checkpoints: everything needed to continue a run exactly, in one file written atomically.

A checkpoint holds the model weights, the optimizer's variables (Adam's moments and step count), the
training noise generator's state, and where the run stood (epoch, global step, steps into the epoch).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vaestudio.core.store.atomic import atomic_path
from vaestudio.core.errors import ExportError, RunFolderError

FORMAT = 1


@dataclass
class Checkpoint:
    epoch: int  # last completed epoch
    step: int  # optimizer updates so far
    epoch_step: int  # steps already taken in epoch `epoch + 1` (0 at an epoch boundary)
    latent_dim: int
    model_weights: list[np.ndarray] = field(repr=False)
    optimizer_variables: list[np.ndarray] = field(repr=False)
    noise_state: np.ndarray = field(repr=False)


def save_checkpoint(path: str | Path, checkpoint: Checkpoint) -> Path:
    """Write `checkpoint` to `path` (.npz) atomically: a crash leaves the previous checkpoint intact."""
    path = Path(path)
    meta = {"format": FORMAT, "epoch": checkpoint.epoch, "step": checkpoint.step,
            "epoch_step": checkpoint.epoch_step, "latent_dim": checkpoint.latent_dim,
            "model_weights": len(checkpoint.model_weights),
            "optimizer_variables": len(checkpoint.optimizer_variables)}
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
    """Read a checkpoint; anything damaged or foreign raises RunFolderError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise RunFolderError(f"{path}: no checkpoint (the run stopped before its first epoch ended?)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"]))
            if meta.get("format") != FORMAT:
                raise RunFolderError(f"{path}: checkpoint format {meta.get('format')!r} is not supported "
                                     f"(this vaestudio reads format {FORMAT})")
            return Checkpoint(
                epoch=int(meta["epoch"]), step=int(meta["step"]), epoch_step=int(meta["epoch_step"]),
                latent_dim=int(meta["latent_dim"]),
                model_weights=[archive[f"model_{i}"] for i in range(int(meta["model_weights"]))],
                optimizer_variables=[archive[f"optimizer_{i}"] for i in range(int(meta["optimizer_variables"]))],
                noise_state=archive["noise_state"])
    except RunFolderError:
        raise
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        raise RunFolderError(f"{path}: damaged checkpoint ({type(exc).__name__}: {exc})") from None
