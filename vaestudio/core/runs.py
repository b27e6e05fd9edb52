"""One run pipeline for the command line and the window: start a run in a new folder, resume one, or
replay a folder as the events it recorded.

    run = Run.new(folder, config)            # or Run.resuming(folder, ResumeChanges(epochs=20, learning_rate=1e-4))
    for event in run.events():               # Status, Started, StepMetrics, Snapshot, ..., Finished, Saved
        ...                                  # every event is already recorded in the folder when it arrives
    run.pause(); run.resume(); run.stop(); run.set_learning_rate(x); run.set_beta(b)   # from any thread

Nothing in a folder changes until the run is known to be valid: `new` and `resuming` check the folder,
the config, the checkpoint and the requested changes without writing; `events()` then loads the data,
takes the folder's lock, and only then writes. A run killed at any moment leaves a folder that
`Run.resuming` continues, from its last checkpoint or, if it had none, from step 0.
"""

from __future__ import annotations

import dataclasses
import json
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Union

from vaestudio.core.config import LIMITS, TrainConfig, checked_number, read_json_object
from vaestudio.core.errors import RunFolderError, VaeStudioError
from vaestudio.core.events import (EpochEnd, Event, Finished, HyperChanged, Saved, Snapshot, Started, Status,
                                   StepMetrics)
from vaestudio.core.store.run_folder import RUN_FACTS, RunFolder, RunState


DatasetLoader = Callable[[TrainConfig], Any]
DevicesRequest = Union[int, str]  # see core.tf.device.parse_devices: a number of devices, or "all"


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


def default_dataset_loader(config: TrainConfig):
    """The dataset a config names."""
    from vaestudio.core import data

    if hasattr(data, "load_for_config"):
        return data.load_for_config(config)
    return data.load_dataset(config.dataset, data_dir=config.data_dir, limit=config.limit)


class Run:
    """A training run bound to its folder. Create with `Run.new` or `Run.resuming`; iterate `events()` once."""

    def __init__(self, folder: RunFolder, config: TrainConfig, state: RunState | None,
                 changes: ResumeChanges, load_dataset: DatasetLoader | None, device: str | None,
                 devices: "DevicesRequest | None" = None):
        from vaestudio.core.tf.device import parse_devices

        self.folder = folder
        self.config = config
        self.state = state  # None for a new run
        self.changes = changes
        self.device = device
        self.devices = parse_devices(devices)  # None: one device; else N or "all" (not part of the config)
        self.device_plan = None  # the devices prepared for training, once events() has begun
        self._load_dataset = load_dataset or default_dataset_loader
        self._lock_guard = threading.Lock()
        self._stop_requested = False
        self._paused = False
        self._pending: dict[str, float] = {}
        self.trainer = None
        self.dataset = None
        self._recorder = None

    # -- creating ------------------------------------------------------------------------------------
    @classmethod
    def new(cls, folder: str | Path, config: TrainConfig, *, load_dataset: DatasetLoader | None = None,
            device: str | None = None, devices: "DevicesRequest | None" = None) -> "Run":
        """A new run into `folder` (which must not exist or be empty); nothing is written yet."""
        from vaestudio.core.tf.device import writes_run

        config = dataclasses.replace(config).validate()
        run_folder = RunFolder(folder)
        if writes_run(devices):  # a worker other than the chief (--devices workers) writes nothing
            run_folder.check_can_create()
        return cls(run_folder, config, None, ResumeChanges(), load_dataset, device, devices)

    @classmethod
    def resuming(cls, folder: str | Path, changes: ResumeChanges = ResumeChanges(), *,
               load_dataset: DatasetLoader | None = None, device: str | None = None,
               devices: "DevicesRequest | None" = None) -> "Run":
        """Continue the run in `folder`; every file is read and checked, nothing is written yet."""
        run_folder = RunFolder(folder)
        state = run_folder.read_state()
        run_folder.check_writable()
        changes = changes.checked()
        config = dataclasses.replace(state.config)
        finishing = changes.epochs == config.epochs and bool(state.final_files_missing)  # the same command again
        if changes.epochs is not None and not finishing:
            if changes.epochs <= state.epochs_done:
                raise RunFolderError(f"{run_folder.path}: has already trained {state.epochs_done} epochs; ask for "
                                     f"more than {state.epochs_done} to continue it (asked for {changes.epochs})")
            config.epochs = changes.epochs
        elif state.complete and not state.final_files_missing:
            raise RunFolderError(f"{run_folder.path}: this run is complete: it has trained all its {config.epochs} "
                                 f"epochs and saved its model; to train it further, ask for more epochs "
                                 f"(--epochs {config.epochs + 1} or more; in the window, Continue run…)")
        return cls(run_folder, config.validate(), state, changes, load_dataset, device, devices)

    @property
    def is_new(self) -> bool:
        return self.state is None

    @property
    def path(self) -> Path:
        return self.folder.path

    # -- control, from any thread ------------------------------------------------------------------------
    def stop(self) -> None:
        with self._lock_guard:
            self._stop_requested = True
            trainer = self.trainer
        if trainer is not None:
            trainer.stop()

    def pause(self) -> None:
        with self._lock_guard:
            self._paused = True
            trainer = self.trainer
        if trainer is not None:
            trainer.pause()

    def resume(self) -> None:
        with self._lock_guard:
            self._paused = False
            trainer = self.trainer
        if trainer is not None:
            trainer.resume()

    @property
    def is_paused(self) -> bool:
        return self._paused

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested

    def set_learning_rate(self, value: float) -> None:
        self._set("learning_rate", value)

    def set_beta(self, value: float) -> None:
        self._set("beta", value)

    def _set(self, name: str, value: float) -> None:
        low, high, kind = LIMITS[name]
        value = checked_number(name, value, low, high, kind)
        with self._lock_guard:
            trainer = self.trainer
            if trainer is None:
                self._pending[name] = value
        if trainer is not None:
            getattr(trainer, f"set_{name}")(value)

    # -- the run --------------------------------------------------------------------------------------
    def events(self) -> Iterator[Event]:
        """Load the data, prepare the folder, train and record; yields every event once recorded."""
        from vaestudio.core.store.lock import RunLock

        lock = RunLock(self.folder.path)
        try:
            yield Status("Loading data…")
            self.dataset = dataset = self._load_dataset(self.config)
            steps_per_epoch = math.ceil(len(dataset.train_images) / self.config.batch_size)
            if self.state is not None:
                _check_data_fits(self.folder, self.state, steps_per_epoch)
            if self._stop_requested:
                yield Finished("stopped", self._epochs_done, self._step, "stopped before training began")
                return
            if self.devices is not None:  # before the folder is written: the machine may not have them
                from vaestudio.core.tf.device import plan_devices

                self.device_plan = plan_devices(self.devices)
                if self.device_plan.workers > 1:  # the same data, settings and step on every worker
                    from vaestudio.core.tf.workers import check_workers_agree

                    check_workers_agree(self.config, dataset, self._step, self.changes)
                if not self.device_plan.writes_run:
                    yield from self._follow(dataset)
                    return
            if self.is_new:
                self.folder.check_can_create()  # again: the folder may have changed while the data loaded
                self.folder.make()
                lock.acquire()
                self.folder.write_config(self.config)
            else:
                lock.acquire()
                self._prepare_resume()
            yield Status("Building the model…")
            yield from self._train(dataset, steps_per_epoch)
        finally:
            if self._recorder is not None:
                self._recorder.close()
            lock.release()

    @property
    def _epochs_done(self) -> int:
        return self.state.epochs_done if self.state else 0

    @property
    def _step(self) -> int:
        return self.state.step if self.state else 0

    def _prepare_resume(self) -> None:
        """Under the lock: re-check the folder, clean what a crash left, cut everything back to the checkpoint."""
        state = self.folder.read_state()
        if state.step != self.state.step or state.config.architecture != self.state.config.architecture:
            raise RunFolderError(f"{self.folder.path}: changed while it was being opened; try again")
        self.folder.remove_leftovers()
        checkpoint = state.checkpoint
        metrics = self.folder.metrics()
        metrics.truncate_after_step(state.step)
        if checkpoint is not None and checkpoint.epoch_step == 0 and checkpoint.epoch_metrics and checkpoint.epoch:
            # Killed between the checkpoint and its metrics row: the checkpoint carries the row.
            if not any(r["kind"] == "epoch" and r["epoch"] == checkpoint.epoch for r in metrics.rows()):
                m = checkpoint.epoch_metrics
                metrics.append_epoch(checkpoint.epoch, checkpoint.step, m["test_elbo"], m["test_log_likelihood"],
                                     m["test_kl"], m["seconds"])
        # Without a checkpoint the run starts again from step 0 and re-takes its first snapshot.
        store = self.folder.snapshots
        store.keep_until(state.step if checkpoint is not None else -1)
        for record in store.unreadable():  # a damaged grid image is drawn again from the snapshot's weights
            weights = store.load_weights(record)
            mosaic = None
            if weights is not None:
                from vaestudio.core.numpy_vae import NumpyVAE

                mosaic = NumpyVAE(weights).grid(self.config.grid_size)
            store.repair(record, mosaic)
        if self.config.to_dict() != state.config.to_dict():
            self.folder.write_config(self.config)

    def _first_snapshot(self, checkpoint) -> str | None:
        """The snapshot to take before the first step: the start of a run, or an epoch's end that was lost."""
        if checkpoint is None:
            return "before training"
        if _missing_epoch_snapshot(self.folder, checkpoint):
            return f"epoch {checkpoint.epoch}"
        return None

    def _follow(self, dataset) -> Iterator[Event]:
        """A worker other than the chief (--devices workers): trains in step with the others, records nothing."""
        from vaestudio.core.tf.trainer import Trainer

        trainer = Trainer(self.config, dataset, resume_from=self.state.checkpoint if self.state else None,
                          devices=self.device_plan, learning_rate=self.changes.learning_rate, beta=self.changes.beta)
        with self._lock_guard:
            self.trainer = trainer
            stop = self._stop_requested
        if stop:
            trainer.stop()
        yield Status("Building the model…")
        yield from trainer.events()

    def _train(self, dataset, steps_per_epoch: int):
        from vaestudio.core.store.recorder import RunRecorder
        from vaestudio.core.tf.trainer import Trainer

        checkpoint = self.state.checkpoint if self.state else None
        with self._lock_guard:
            pending = dict(self._pending)
        if self.device is None and self.device_plan is not None:
            self.device = self.device_plan.label
        if self.device is None:
            from vaestudio.core.tf.device import detect_device

            self.device = str(detect_device())
        trainer = Trainer(self.config, dataset, resume_from=checkpoint, device=self.device, devices=self.device_plan,
                          first_snapshot=self._first_snapshot(checkpoint),
                          learning_rate=pending.get("learning_rate", self.changes.learning_rate),
                          beta=pending.get("beta", self.changes.beta))
        with self._lock_guard:
            self.trainer = trainer
            stop, paused = self._stop_requested, self._paused
        if stop:
            trainer.stop()
        if paused:
            trainer.pause()
        recorder = self._recorder = RunRecorder(self.folder, trainer.checkpoint,
                                                tensorboard=_open_tensorboard(self.folder, self.is_new))
        started, finished = False, None
        try:
            for event in trainer.events():
                if isinstance(event, Started):
                    started = True
                    _write_facts(self.folder, event, dataset)
                event = recorder.record(event)
                if isinstance(event, Finished):
                    finished = event
                    _write_facts(self.folder, None, None, finished=event)
                yield event
        except BaseException:
            if started:
                _try(recorder.save_checkpoint)  # a failure after training began keeps what was trained
            raise
        if started and trainer.model is not None:
            yield Status(f"Saving the run in {self.folder.path}…")
            saved = tuple(recorder.finish(trainer.model))
            checkpoint_step = recorder.checkpoint_step if recorder.checkpoint_step is not None else self._step
            _write_facts(self.folder, None, None, saved_step=checkpoint_step)
            yield Saved(saved)


def _missing_epoch_snapshot(folder: RunFolder, checkpoint) -> bool:
    """A checkpoint at the end of an epoch whose snapshot was never recorded (the run died in between)."""
    if checkpoint is None or checkpoint.epoch_step != 0 or checkpoint.epoch == 0:
        return False
    return not any(r.step == checkpoint.step for r in folder.snapshots.records())


def _check_data_fits(folder: RunFolder, state: RunState, steps_per_epoch: int) -> None:
    """A checkpoint's position only means something with the same number of batches per epoch."""
    checkpoint = state.checkpoint
    if checkpoint is None:
        return
    expected = checkpoint.epoch * steps_per_epoch + checkpoint.epoch_step
    if checkpoint.epoch_step > steps_per_epoch or checkpoint.step != expected:
        raise RunFolderError(f"{folder.file('checkpoint.npz')}: was taken at step {checkpoint.step} (epoch "
                             f"{checkpoint.epoch}, {checkpoint.epoch_step} steps into the next), which does not fit "
                             f"the data as it is now ({steps_per_epoch} batches per epoch); the data or its "
                             "folder has changed since the run was recorded")


def _open_tensorboard(folder: RunFolder, new: bool):
    """The run's TensorBoard log: a new run starts one; a resumed run rebuilds it from the folder."""
    from vaestudio.core.store import tensorboard

    try:
        return tensorboard.TensorBoardLog(folder.path) if new else tensorboard.rebuild(folder.path)
    except Exception:  # TensorBoard files are a convenience: never fail a run over them
        return None


def _write_facts(folder: RunFolder, started: Started | None, dataset, finished: Finished | None = None,
                 saved_step: int | None = None) -> None:
    """run.json: what the start found (steps per epoch, data, device), how the run last ended, and the
    checkpoint step its final files were saved at (None from its start until they are saved again)."""
    from vaestudio.core.store.atomic import write_text_atomic

    path = folder.file(RUN_FACTS)
    facts: dict[str, Any] = {}
    if path.exists():
        try:
            facts = read_json_object(path, RunFolderError)
        except RunFolderError:
            facts = {}
    if started is not None:
        facts.update(steps_per_epoch=started.steps_per_epoch, device=started.device, precision=started.precision,
                     replicas=started.replicas, data=dataset.describe() if dataset is not None else None,
                     ended=None, message=None, saved_step=None)
    if saved_step is not None:
        facts.update(saved_step=saved_step)
    if finished is not None:
        facts.update(ended=finished.reason, message=finished.message)
    try:
        write_text_atomic(path, json.dumps(facts, indent=2, sort_keys=True) + "\n")
    except VaeStudioError as exc:
        raise RunFolderError(str(exc)) from None


def _try(action) -> None:
    try:
        action()
    except Exception:
        pass


# ------------------------------------------------------------------------------------------------ replay


def read_facts(folder: RunFolder) -> dict[str, Any]:
    path = folder.file(RUN_FACTS)
    if not path.exists():
        return {}
    try:
        return read_json_object(path, RunFolderError)
    except RunFolderError:
        return {}


def replay(folder: str | Path) -> Iterator[Event]:
    """The events a run folder recorded, in the order the live run yielded them, snapshots with their
    weights (None for folders of vaestudio 0.1.0). Read-only: a run being written may be replayed."""
    run_folder = RunFolder(folder)
    state = run_folder.read_state()
    config = state.config
    facts = read_facts(run_folder)
    rows = run_folder.metrics().rows()
    records = run_folder.snapshots.records()
    steps_per_epoch = _recorded_steps_per_epoch(facts, rows, state)
    yield Started(config.epochs, steps_per_epoch, 1, str(facts.get("device") or "recorded"),
                  str(facts.get("precision") or "float32"), start_step=0, replicas=int(facts.get("replicas") or 1))
    # Events of the same step come as the live run made them: metrics, then a snapshot, then the epoch's end.
    snapshot_iter = iter(records)
    pending = next(snapshot_iter, None)

    def snapshots_until(step: int, inclusive: bool) -> Iterator[Event]:
        nonlocal pending
        while pending is not None and (pending.step < step or (inclusive and pending.step == step)):
            try:
                event: Event = _replayed_snapshot(run_folder, pending)
            except RunFolderError as exc:  # one damaged snapshot: say so and go on with the rest
                event = Status(f"skipped a damaged snapshot: {exc}")
            pending = next(snapshot_iter, None)
            yield event

    for row in rows:
        kind, step = row["kind"], row["step"]
        if kind == "step":
            yield from snapshots_until(step, inclusive=False)
            epoch_step = step - (row["epoch"] - 1) * steps_per_epoch
            yield StepMetrics(row["epoch"], step, epoch_step, steps_per_epoch, row["elbo"], row["log_likelihood"],
                              row["kl"], row["images_per_second"] or 0.0, objective=row["objective"],
                              learning_rate=row["learning_rate"], beta=row["beta"])
        elif kind == "hyper":
            yield from snapshots_until(step, inclusive=False)
            yield HyperChanged(step, row["learning_rate"], row["beta"])
        elif kind == "epoch":
            yield from snapshots_until(step, inclusive=True)
            yield EpochEnd(row["epoch"], step, row["test_elbo"], row["test_log_likelihood"], row["test_kl"],
                           row["seconds"] or 0.0, kl_per_dimension=tuple(row["kl_per_dimension"] or ()))
    yield from snapshots_until(math.inf, inclusive=True)
    reason = facts.get("ended") or ("completed" if state.complete else "stopped")
    yield Finished(str(reason), state.epochs_done, state.step, str(facts.get("message") or ""))


def _replayed_snapshot(folder: RunFolder, record) -> Snapshot:
    store = folder.snapshots
    return Snapshot(record.epoch, record.step, record.label, store.load_mosaic(record), store.load_weights(record),
                    frame=record.frame)


def _recorded_steps_per_epoch(facts: dict[str, Any], rows: list[dict], state: RunState) -> int:
    value = facts.get("steps_per_epoch")
    if isinstance(value, int) and value > 0:
        return value
    epoch_rows = [r for r in rows if r["kind"] == "epoch"]
    if epoch_rows and epoch_rows[0]["epoch"] >= 1:
        return max(epoch_rows[0]["step"] // epoch_rows[0]["epoch"], 1)
    checkpoint = state.checkpoint
    if checkpoint is not None and checkpoint.epoch:
        return max((checkpoint.step - checkpoint.epoch_step) // checkpoint.epoch, 1)
    steps = [r["step"] for r in rows if r["kind"] == "step"]
    return max(steps) if steps else 1
