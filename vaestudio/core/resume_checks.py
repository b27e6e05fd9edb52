"""Whether a run folder can be continued with the changes asked for, and cutting it back to its checkpoint.

`core.runs.Run.resuming` calls `resumed_config` before anything is written; `Run.events` calls
`check_data_fits` once the data has loaded and `prepare_resume` under the folder's lock.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from vaestudio.core.config import LIMITS, TrainConfig, checked_number
from vaestudio.core.errors import RunFolderError
from vaestudio.core.store.run_folder import RunFolder, RunState

__all__ = ["ResumeChanges", "resumed_config", "check_data_fits", "prepare_resume", "first_snapshot_label"]


@dataclass(frozen=True)
class ResumeChanges:
    """What a resumed run may change; everything else is fixed by its checkpoint and its data order."""

    epochs: int | None = None
    learning_rate: float | None = None
    beta: float | None = None

    def checked(self) -> "ResumeChanges":
        values = {}
        for name in ("epochs", "learning_rate", "beta"):
            value = getattr(self, name)
            if value is not None:
                low, high, kind = LIMITS[name]
                values[name] = checked_number(name, value, low, high, kind)
        return ResumeChanges(**values)


def resumed_config(folder: RunFolder, state: RunState, changes: ResumeChanges) -> TrainConfig:
    """The config a resumed run trains with (`changes` already checked); RunFolderError if there is nothing to do."""
    config = dataclasses.replace(state.config)
    finishing = changes.epochs == config.epochs and bool(state.final_files_missing)  # the same command again
    if changes.epochs is not None and not finishing:
        if changes.epochs <= state.epochs_done:
            raise RunFolderError(f"{folder.path}: has already trained {state.epochs_done} epochs; ask for "
                                 f"more than {state.epochs_done} to continue it (asked for {changes.epochs})")
        config.epochs = changes.epochs
    elif state.complete and not state.final_files_missing:
        raise RunFolderError(f"{folder.path}: this run is complete: it has trained all its {config.epochs} "
                             f"epochs and saved its model; to train it further, ask for more epochs "
                             f"(--epochs {config.epochs + 1} or more; in the window, Continue run…)")
    return config.validate()


def check_data_fits(folder: RunFolder, state: RunState, steps_per_epoch: int) -> None:
    """A checkpoint's position only means something with the same number of batches per epoch."""
    from vaestudio.core.run_facts import read_facts, step_offset

    checkpoint = state.checkpoint
    if checkpoint is None:
        return
    offset = step_offset(read_facts(folder), steps_per_epoch)  # 0 but for some branches (core.branching)
    expected = offset + checkpoint.epoch * steps_per_epoch + checkpoint.epoch_step
    if checkpoint.epoch_step > steps_per_epoch or checkpoint.step != expected:
        raise RunFolderError(f"{folder.file('checkpoint.npz')}: was taken at step {checkpoint.step} (epoch "
                             f"{checkpoint.epoch}, {checkpoint.epoch_step} steps into the next), which does not fit "
                             f"the data as it is now ({steps_per_epoch} batches per epoch); the data or its "
                             "folder has changed since the run was recorded")


def prepare_resume(folder: RunFolder, opened: RunState, config: TrainConfig) -> None:
    """Under the folder's lock: re-check it against the state read when it was opened, clean what a crash
    left, and cut the metrics and snapshots back to the checkpoint; write `config` if it changed."""
    state = folder.read_state()
    if state.step != opened.step or state.config.architecture != opened.config.architecture:
        raise RunFolderError(f"{folder.path}: changed while it was being opened; try again")
    folder.remove_leftovers()
    checkpoint = state.checkpoint
    metrics = folder.metrics()
    metrics.truncate_after_step(state.step)
    if checkpoint is not None and checkpoint.epoch_step == 0 and checkpoint.epoch_metrics and checkpoint.epoch:
        # Killed between the checkpoint and its metrics row: the checkpoint carries the row.
        if not any(r["kind"] == "epoch" and r["epoch"] == checkpoint.epoch for r in metrics.rows()):
            m = checkpoint.epoch_metrics
            metrics.append_epoch(checkpoint.epoch, checkpoint.step, m["test_elbo"], m["test_log_likelihood"],
                                 m["test_kl"], m["seconds"])
    # Without a checkpoint the run starts again from step 0 and re-takes its first snapshot.
    store = folder.snapshots
    store.keep_until(state.step if checkpoint is not None else -1)
    for record in store.unreadable():  # a damaged grid image is drawn again from the snapshot's weights
        weights = store.load_weights(record)
        mosaic = None
        if weights is not None:
            from vaestudio.core.numpy_vae import NumpyVAE

            mosaic = NumpyVAE(weights).grid(config.grid_size)
        store.repair(record, mosaic)
    if config.to_dict() != state.config.to_dict():
        folder.write_config(config)


def first_snapshot_label(folder: RunFolder, checkpoint, branch=None) -> str | None:
    """The snapshot to take before the first step: the start of a run (or of a branch, `branch` its plan),
    or an epoch's end that was lost; None when there is none to take."""
    if checkpoint is None:
        return "before training"
    if branch is not None:
        return branch.first_label
    if _missing_epoch_snapshot(folder, checkpoint):
        return f"epoch {checkpoint.epoch}"
    return None


def _missing_epoch_snapshot(folder: RunFolder, checkpoint) -> bool:
    """A checkpoint at the end of an epoch whose snapshot was never recorded (the run died in between)."""
    if checkpoint is None or checkpoint.epoch_step != 0 or checkpoint.epoch == 0:
        return False
    return not any(r.step == checkpoint.step for r in folder.snapshots.records())
