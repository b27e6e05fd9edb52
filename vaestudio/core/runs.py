"""One run pipeline for the command line and the window: start a run in a new folder, or resume one
(`core.replay` replays a folder as the events it recorded; `core.run_facts` keeps its run.json;
`core.resume_checks` decides whether a folder can continue and cuts it back to its checkpoint).

    run = Run.new(folder, config)            # or Run.resuming(folder, ResumeChanges(epochs=20, learning_rate=1e-4))
                                             # or Run.branching(plan), plan from core.branching.plan_branch
    for event in run.events():               # Status, DataLoaded, Started, StepMetrics, Snapshot, ..., Saved
        ...                                  # every event is already recorded in the folder when it arrives
    run.pause(); run.resume(); run.stop(); run.set_learning_rate(x); run.set_beta(b)   # from any thread
    run.write_final_files_with(runner)       # from any thread: who writes the files of the run's end

Nothing in a folder changes until the run is known to be valid: `new` and `resuming` check the folder,
the config, the checkpoint and the requested changes without writing; `events()` then loads the data,
takes the folder's lock, and only then writes. A run killed at any moment leaves a folder that
`Run.resuming` continues, from its last checkpoint or, if it had none, from step 0.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Callable, Iterator, Union

from vaestudio.core.config import TrainConfig
from vaestudio.core.control import TrainingControl
from vaestudio.core.events import DataLoaded, Event, Finished, Saved, Started, Status
from vaestudio.core.replay import replay  # also re-exported for callers that import it from here
from vaestudio.core.resume_checks import (ResumeChanges, check_data_fits, first_snapshot_label, prepare_resume,
                                          resumed_config)
from vaestudio.core.run_facts import write_facts
from vaestudio.core.store.run_folder import RunFolder, RunState


DatasetLoader = Callable[[TrainConfig], Any]
DevicesRequest = Union[int, str]  # see core.tf.device.parse_devices: a number of devices, or "all"


def default_dataset_loader(config: TrainConfig):
    """The dataset a config names."""
    from vaestudio.core.data import load_for_config

    return load_for_config(config)


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
        self.control = TrainingControl()  # pause, stop, learning rate, beta: handed to the trainer
        self.trainer = None
        self.dataset = None
        self.learning_rate: float | None = None  # the base learning rate in force when training ended
        self._recorder = None
        self.branch = None  # the BranchPlan of a new run branched from another (core.branching)
        self._branch_start = None  # its starting Checkpoint, once its data gave the batches per epoch
        self._final_writer: Callable[[Callable[[], Any]], Any] | None = None  # see write_final_files_with

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
    def branching(cls, plan, *, load_dataset: DatasetLoader | None = None, device: str | None = None,
                  devices: "DevicesRequest | None" = None) -> "Run":
        """A new run into `plan.out` from a parent's snapshot (a core.branching.BranchPlan, already checked);
        nothing is written yet, and the parent's folder never is."""
        run = cls.new(plan.out, plan.config, load_dataset=load_dataset, device=device, devices=devices)
        run.branch = plan
        return run

    @classmethod
    def resuming(cls, folder: str | Path, changes: ResumeChanges = ResumeChanges(), *,
               load_dataset: DatasetLoader | None = None, device: str | None = None,
               devices: "DevicesRequest | None" = None) -> "Run":
        """Continue the run in `folder`; every file is read and checked, nothing is written yet."""
        run_folder = RunFolder(folder)
        state = run_folder.read_state()
        run_folder.check_writable()
        changes = changes.checked()
        config = resumed_config(run_folder, state, changes)
        run = cls(run_folder, config, state, changes, load_dataset, device, devices)
        if state.checkpoint is None:  # a branch killed before its first checkpoint starts from its parent again
            from vaestudio.core.branching import restart_plan

            run.branch = restart_plan(run_folder, run.config)
        return run

    @property
    def is_new(self) -> bool:
        return self.state is None

    @property
    def path(self) -> Path:
        return self.folder.path

    # -- control, from any thread (the one TrainingControl, shared with the trainer) ---------------------
    def stop(self) -> None:
        self.control.stop()

    def pause(self) -> None:
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    @property
    def is_paused(self) -> bool:
        return self.control.is_paused

    @property
    def stop_requested(self) -> bool:
        return self.control.stop_requested

    def set_learning_rate(self, value: float) -> None:
        self.control.set_learning_rate(value)

    def set_beta(self, value: float) -> None:
        self.control.set_beta(value)

    def write_final_files_with(self, runner: Callable[[Callable[[], Any]], Any] | None) -> None:
        """The files of the run's end not written yet (the stop's checkpoint, run.json, model.keras, the grid,
        the GIF) are written by `runner(write)`, which calls `write` elsewhere and returns its result or raises
        its error, while the thread iterating `events()` waits (the order and the files stay the same); None:
        by that thread. E.g. a closing window's: a thread at the window's priority, where the training thread
        runs lower and cannot raise its priority again (an unprivileged thread on Linux)."""
        self._final_writer = runner

    # -- the run --------------------------------------------------------------------------------------
    def events(self, include_history: bool = False) -> Iterator[Event]:
        """Load the data, prepare the folder, train and record; yields every event once recorded.

        With `include_history`, a resumed run yields what it had recorded up to its checkpoint (as
        `replay` does, without Started and Finished) right after DataLoaded: a viewer gets the whole run.
        Once the events end, the trainer and the data are let go of (in the thread that iterated)."""
        from vaestudio.core.store.lock import RunLock

        lock = RunLock(self.folder.path)
        try:
            yield Status("Loading data…")
            self.dataset = dataset = self._load_dataset(self.config)
            steps_per_epoch = math.ceil(len(dataset.train_images) / self.config.batch_size)
            if self.state is not None:
                check_data_fits(self.folder, self.state, steps_per_epoch)
            if self.control.stop_requested:
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
                if self.branch is not None:
                    self._start_branch(steps_per_epoch)
            else:
                lock.acquire()
                prepare_resume(self.folder, self.state, self.config)
                if self.branch is not None:
                    self._start_branch(steps_per_epoch)
            yield self._data_loaded(dataset)
            if include_history and not self.is_new:
                yield from (e for e in replay(self.folder.path) if not isinstance(e, (Started, Finished)))
            yield Status("Building the model…")
            yield from self._train(dataset, steps_per_epoch)
        finally:
            if self._recorder is not None:
                self._recorder.close()
            lock.release()
            self._let_go()

    def _start_branch(self, steps_per_epoch: int) -> None:
        """A branch's starting checkpoint (its parent's weights at the moment) and its run.json record."""
        from vaestudio.core.run_facts import write_branch_facts

        start = self.branch.start(steps_per_epoch)
        self._branch_start = start
        write_branch_facts(self.folder, self.branch.parent_facts(),
                           {"step": start.step, "epoch": start.epoch, "epoch_step": start.epoch_step})

    def _data_loaded(self, dataset) -> DataLoaded:
        describe = getattr(dataset, "describe", None)
        description = describe() if callable(describe) else str(self.config.dataset)
        return DataLoaded(self.config.dataset, description, len(dataset.train_images), len(dataset.test_images),
                          data=dataset)

    def _let_go(self) -> None:
        """Drop the trainer (its model, its TensorFlow pipelines) and the data, keeping the learning rate."""
        if self.trainer is not None:
            self.learning_rate = self.trainer.state.learning_rate
        self.trainer = self.dataset = self._recorder = None

    @property
    def _epochs_done(self) -> int:
        return self.state.epochs_done if self.state else 0

    @property
    def _step(self) -> int:
        return self.state.step if self.state else 0

    def _follow(self, dataset) -> Iterator[Event]:
        """A worker other than the chief (--devices workers): trains in step with the others, records nothing."""
        from vaestudio.core.tf.trainer import Trainer

        start = self.state.checkpoint if self.state else None
        if self.branch is not None and start is None:
            start = self.branch.start(math.ceil(len(dataset.train_images) / self.config.batch_size))
        self.trainer = Trainer(self.config, dataset, resume_from=start,
                               devices=self.device_plan, learning_rate=self.changes.learning_rate,
                               beta=self.changes.beta, control=self.control)
        yield self._data_loaded(dataset)
        yield Status("Building the model…")
        yield from self.trainer.events()

    def _train(self, dataset, steps_per_epoch: int):
        from vaestudio.core.store.recorder import RunRecorder
        from vaestudio.core.tf.trainer import Trainer

        checkpoint = (self.state.checkpoint if self.state else None) or self._branch_start
        if self.device is None and self.device_plan is not None:
            self.device = self.device_plan.label
        if self.device is None:
            from vaestudio.core.tf.device import detect_device

            self.device = str(detect_device())
        trainer = Trainer(self.config, dataset, resume_from=checkpoint, device=self.device, devices=self.device_plan,
                          first_snapshot=first_snapshot_label(self.folder, checkpoint, self.branch), learning_rate=self.changes.learning_rate,
                          beta=self.changes.beta, control=self.control)  # values asked for since win over these
        self.trainer = trainer
        recorder = self._recorder = RunRecorder(self.folder, trainer.checkpoint,
                                                tensorboard=_open_tensorboard(self.folder, self.is_new))
        watch = self._collapse_watch()
        started = False
        try:
            for event in trainer.events():
                if isinstance(event, Started):
                    started = True
                    write_facts(self.folder, event, dataset)
                if isinstance(event, Finished):
                    self._write_final(lambda finished=event: (recorder.record(finished),
                                                              write_facts(self.folder, finished=finished)))
                else:
                    event = recorder.record(event)
                yield event
                alarm = watch.observe(event)  # recorded in diagnosis.json before it is yielded
                if alarm is not None:
                    yield alarm
        except BaseException:
            if started:
                _try(recorder.save_checkpoint)  # a failure after training began keeps what was trained
            raise
        if started and trainer.model is not None:
            yield Status(f"Saving the run in {self.folder.path}…")
            yield Saved(self._write_final(lambda: self._save_final_files(recorder, trainer.model)))

    def _write_final(self, write: Callable[[], Any]) -> Any:
        runner = self._final_writer
        return write() if runner is None else runner(write)

    def _save_final_files(self, recorder, model) -> tuple[Path, ...]:
        saved = tuple(recorder.finish(model))
        checkpoint_step = recorder.checkpoint_step if recorder.checkpoint_step is not None else self._step
        write_facts(self.folder, saved_step=checkpoint_step)
        return saved


    def _collapse_watch(self):
        """The posterior-collapse watch over this run's epoch ends, knowing what the folder recorded."""
        from vaestudio.core.diagnosis.run_watch import RunCollapseWatch

        rows = () if self.is_new else self.folder.metrics().rows()
        beta = self.changes.beta if self.changes.beta is not None else self.config.beta
        return RunCollapseWatch(self.folder.path, self.config.kl_warmup_steps, beta, rows, self._step)


def _open_tensorboard(folder: RunFolder, new: bool):
    """The run's TensorBoard log: a new run starts one; a resumed run rebuilds it from the folder."""
    from vaestudio.core.store import tensorboard

    try:
        return tensorboard.TensorBoardLog(folder.path) if new else tensorboard.rebuild(folder.path)
    except Exception:  # TensorBoard files are a convenience: never fail a run over them
        return None


def _try(action) -> None:
    try:
        action()
    except Exception:
        pass
