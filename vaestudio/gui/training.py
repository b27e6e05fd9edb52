"""The run being trained in the window: start, continue, pause, stop, live learning rate and beta.

`TrainingController` drives one `core.runs.Run` at a time in a training thread (the same pipeline as
`vaestudio train`, so the run folder is recorded identically) and relays its events into `studio.live`,
a `RunHistory`, on the UI thread. It sets `studio.training` (waiting → training ⇄ paused → stopping →
idle), loads the run's test images as the explorer's `Probe`, and waits for the one TensorFlow loader
before anything touches TensorFlow. Every decision reads the state here, never a widget.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication

from vaestudio.core.config import TrainConfig
from vaestudio.core.errors import VaeStudioError
from vaestudio.core.events import DataLoaded, EpochEnd, Finished, Saved, Started, Status
from vaestudio.core.progress import format_duration
from vaestudio.gui.state.explorer import Probe
from vaestudio.gui.state.run_history import RunHistory
from vaestudio.gui.state.studio import IDLE, PAUSED, STOPPING, TRAINING, WAITING, Studio
from vaestudio.gui.collector import pause_full_collections, resume_full_collections
from vaestudio.gui.tensorflow import TensorFlowLoader
from vaestudio.gui.threads import StreamThread, collect_cycles_here

DatasetProvider = Callable[[TrainConfig], Any]
COLLECT_AFTER_MS = 1500  # an ended run's cycles are collected this long after its end (see _collect_when_quiet)
COLLECT_RETRY_MS = 250  # ... and later while a mouse button is held (a drag)


@dataclass(frozen=True)
class RunOutcome:
    """How a run in the window ended: what the status bar and any dialog say."""

    folder: Path | None
    finished: Finished | None  # None: failed before or without a Finished event
    saved: tuple[Path, ...]
    error: str | None
    text: str  # one line for the status bar

    @property
    def can_continue(self) -> bool:
        return self.error is None and self.finished is not None and self.finished.reason in ("stopped", "diverged")


class TrainingController(QObject):
    """Starts and controls the window's training run; see the module docstring."""

    run_started = Signal(object)  # RunHistory: a run was started or continued (the live history)
    run_ended = Signal(object)  # RunOutcome

    def __init__(self, studio: Studio, loader: TensorFlowLoader, parent: QObject | None = None):
        super().__init__(parent)
        self.studio = studio
        self.loader = loader
        self.dataset_provider: DatasetProvider | None = None  # tests and the self-test train on small data
        self.config_overrides: dict[str, Any] = {}
        self._collection_due = False  # an ended run's cycles are still to be collected (collect_ended_run)
        self.runs_root: Callable[[], Path] | None = None  # None: run_paths.runs_root()
        self.devices: str | None = None  # the window's device setting (core.tf.device.plan_devices); None: one
        self.run = None  # core.runs.Run of the run under way
        self.history: RunHistory | None = None
        self.thread: StreamThread | None = None
        self.last_outcome: RunOutcome | None = None
        self._finished: Finished | None = None
        self._saved: tuple[Path, ...] = ()
        self._error: str | None = None
        self._closing = False
        self._written = threading.Event()  # set once the run under way has written its files (or ended)
        self._writer = None  # final_writes.WindowPriorityWriter of a run stopped by closing the window

    # -- starting ------------------------------------------------------------------------------------------
    def config_to_prepare(self, config: Callable[[], TrainConfig]) -> TrainConfig | None:
        """The config Start would train with the settings `config()` gives, to prepare its steps ahead
        (core.tf.prepare); None while a run trains, for several devices, or for invalid settings."""
        if self.busy or self.devices is not None:
            return None
        try:
            return dataclasses.replace(config(), **self.config_overrides).validate()
        except (VaeStudioError, TypeError, ValueError):
            return None

    @property
    def busy(self) -> bool:
        """True from Start until the run's thread has ended and its results are taken."""
        return self.run is not None

    def start(self, config: TrainConfig) -> bool:
        """Train a new run of `config` in a new folder under the runs folder; False when refused (said why)."""
        from vaestudio.core.runs import Run
        from vaestudio.gui.run_paths import new_run_dir, runs_root

        if self.busy:
            return False
        try:
            if self.config_overrides:
                config = dataclasses.replace(config, **self.config_overrides)
            config = config.validate()
            root = self.runs_root() if self.runs_root is not None else runs_root()
            folder = new_run_dir(root, config.dataset)
            run = Run.new(folder, config, load_dataset=self.dataset_provider, devices=self.devices)
        except VaeStudioError as exc:
            self.studio.report("Cannot start training", str(exc))
            return False
        self._begin(run, RunHistory(name=folder.name, folder=folder, config=config, live=True))
        return True

    def continue_run(self, folder: str | Path, epochs: int | None = None, learning_rate: float | None = None,
                     beta: float | None = None) -> bool:
        """Continue the run in `folder` from its checkpoint (or from step 0 if it stopped before its first).

        Everything is checked first; a refused continuation changes nothing (no file, no panel)."""
        from vaestudio.core.runs import ResumeChanges, Run

        if self.busy:
            return False
        folder = Path(folder)
        try:
            run = Run.resuming(folder, ResumeChanges(epochs=epochs, learning_rate=learning_rate, beta=beta),
                               load_dataset=self.dataset_provider, devices=self.devices)
        except VaeStudioError as exc:
            message = str(exc) if str(folder) in str(exc) else f"{folder}: {exc}"
            self.studio.report("Cannot continue the run", message)
            return False
        self._begin(run, RunHistory(name=folder.name, folder=folder, config=run.config, live=True))
        return True

    def branch(self, plan) -> bool:
        """Train a branch (a core.branching.BranchPlan, already checked) in its new folder, as Start trains a new
        run; False when refused (said why): the window trains one run at a time."""
        from vaestudio.core.runs import Run

        if self.busy:
            self.studio.report("Cannot branch", "a run is training in the window: stop it first")
            return False
        try:
            run = Run.branching(plan, load_dataset=self.dataset_provider, devices=self.devices)
        except VaeStudioError as exc:
            self.studio.report("Cannot branch", str(exc))
            return False
        self._begin(run, RunHistory(name=plan.out.name, folder=plan.out, config=plan.config, live=True))
        return True

    def _begin(self, run, history: RunHistory) -> None:
        self.run, self.history = run, history
        self._finished, self._saved, self._error = None, (), None
        self.collect_ended_run()  # the previous run's cycles: never while a run trains (threads.collect_cycles_here)
        pause_full_collections()  # gui/collector.py: no 70 ms full collection while the run trains
        self.studio.set_live(history)
        self.studio.add_run(history)  # replaces a read-only view of the same folder, and shows this one
        self.studio.set_training(WAITING)
        if not self.loader.ready:
            self.studio.say("Waiting for TensorFlow to load…")
        self.run_started.emit(history)
        self.loader.when_ready(lambda: self._launch(run), lambda message: self._fail_before_start(run, message))

    def _launch(self, run) -> None:
        if run is not self.run:
            return
        if run.stop_requested:
            self._finish_thread_less("stopped before training began")
            return
        run.device = str(self.studio.device) if self.studio.device is not None else None
        self.studio.say(("Reading " if not run.is_new else "Starting a run in ") + f"{run.path}…")
        self._written = written = threading.Event()
        thread = StreamThread(lambda: _until_written(run.events(include_history=True), written), "vaestudio-training",
                              lower_priority=True, parent=self)
        thread.items.connect(self._on_items)
        thread.failed.connect(self._on_failed)
        thread.ended.connect(self._on_ended)
        self.thread = thread
        thread.start()

    def _fail_before_start(self, run, message: str) -> None:
        if run is self.run:
            self._error = f"TensorFlow could not be loaded: {message}"
            self._finish_thread_less(self._error)

    # -- control -----------------------------------------------------------------------------------------------
    def pause(self) -> None:
        if self.run is not None and self.studio.training in (WAITING, TRAINING):
            self.run.pause()
            if self.history is not None:
                self.history.tracker.pause()  # paused time is not training time (the ETA's rate)
            self.studio.set_training(PAUSED)
            self.studio.say("Paused: press Space or Resume to go on")

    def resume(self) -> None:
        if self.run is not None and self.studio.training == PAUSED:
            self.run.resume()
            if self.history is not None:
                self.history.tracker.resume()
            started = self.history is not None and self.history.started_event is not None
            self.studio.set_training(TRAINING if started else WAITING)
            self.studio.say("Training…")

    def toggle_pause(self) -> None:
        if self.studio.training == PAUSED:
            self.resume()
        else:
            self.pause()

    def stop(self) -> None:
        """Stop after the current steps; the run keeps its checkpoint and writes its final files."""
        if self.run is None or self.studio.training == STOPPING:
            return
        self.run.stop()
        if self.thread is None:  # still waiting for TensorFlow
            self._finish_thread_less("stopped before training began")
            return
        self.studio.set_training(STOPPING)
        self.studio.say("Stopping after the current steps…")

    def set_learning_rate(self, value: float) -> str | None:
        """Change the learning rate of the run under way (from its next steps); the error, or None."""
        return self._set("learning_rate", value)

    def set_beta(self, value: float) -> str | None:
        return self._set("beta", value)

    def _set(self, name: str, value: float) -> str | None:
        if self.run is None:
            return "no run is training"
        try:
            getattr(self.run, f"set_{name}")(value)
        except VaeStudioError as exc:
            return str(exc)
        return None

    def shutdown(self, timeout_ms: int = -1, exiting: bool = False) -> bool:
        """Closing the window: stop after the current steps as Stop does (the checkpoint at the last completed
        step, then model.keras, the grid, the GIF and run.json, all of that step) and wait for the thread.
        Nothing is cancelled mid-way: cutting the run's generator left files of different steps behind.
        Those writes are made at the window's priority (gui/final_writes.py): the window is closing, and
        at the training thread's they waited behind every busy program.
        `exiting` (the process ends right after): wait only until the files are written, not for TensorFlow
        to be torn down. True once the thread has ended (or, exiting, once the files are written)."""
        self._closing = True
        self.loader.forget_waiting()
        if self.run is not None:
            if self._writer is None:
                from vaestudio.gui.final_writes import WindowPriorityWriter

                self._writer = WindowPriorityWriter()  # started here: at the UI thread's priority
                self.run.write_final_files_with(self._writer)
            self.run.stop()
        thread = self.thread
        if thread is None:
            return True
        if exiting:
            return self._written.wait(None if timeout_ms < 0 else timeout_ms / 1000)
        ended = thread.wait() if timeout_ms < 0 else thread.wait(timeout_ms)
        if ended:  # the event loop may not run again: take the results now
            self.thread = None
            self._end()
            self._collection_due = True  # the window is closing: now
            self.collect_ended_run()
        return ended

    # -- events from the training thread ---------------------------------------------------------------------
    def _on_items(self, items: list) -> None:
        history = self.history
        if history is None:
            return
        for event in items:
            if isinstance(event, DataLoaded):  # a continued run's recorded history follows
                self.studio.set_probe(history, Probe.from_dataset(event.data))
                if self.studio.diagnosis is not None:
                    self.studio.diagnosis.set_dataset(history, event.data)
                self.studio.say(f"Data: {event.description}", 5000)
            elif isinstance(event, Status):
                self.studio.say(event.text)
            elif isinstance(event, Saved):
                self._saved = tuple(event.paths)
            else:
                history.feed(event)
                if isinstance(event, Started):
                    if self.studio.training == WAITING:
                        self.studio.set_training(TRAINING)
                    if self.studio.training != PAUSED:
                        self.studio.say(f"Training on {event.device}…")
                elif isinstance(event, EpochEnd):
                    self.studio.say(f"Epoch {event.epoch}: test ELBO {event.test_elbo:.2f} nats "
                                    f"({format_duration(event.seconds)})", 8000)
                elif isinstance(event, Finished):
                    self._finished = event
                    if self.studio.training != IDLE:
                        self.studio.set_training(STOPPING)  # the final files are being written

    def _on_failed(self, message: str) -> None:
        self._error = message

    def _on_ended(self) -> None:
        if self.run is None:  # already taken (shutdown)
            return
        thread, self.thread = self.thread, None
        if thread is not None:
            thread.wait()
        self._end()
        self._collect_later()

    def _collect_later(self) -> None:
        self._collection_due = True
        QTimer.singleShot(COLLECT_AFTER_MS, self, self._collect_when_quiet)

    def _collect_when_quiet(self) -> None:
        """The full collection that frees an ended run's model scans every object made since TensorFlow
        loaded: 57-106 ms of the UI thread, which is the only thread it is safe on (threads.collect_cycles_here).
        Made at the run's end it froze a drag in progress; it waits until no mouse button is held."""
        if not self._collection_due:
            return
        if QApplication.mouseButtons() != Qt.MouseButton.NoButton:
            QTimer.singleShot(COLLECT_RETRY_MS, self, self._collect_when_quiet)
            return
        self.collect_ended_run()

    def collect_ended_run(self) -> None:
        """Free the ended run's cycles now, if not done yet, and let full collections run again (before a new
        run begins, at the latest)."""
        if self._collection_due:
            self._collection_due = False
            collect_cycles_here()
        resume_full_collections()

    def _finish_thread_less(self, text: str) -> None:
        """The run ends before a training thread was started (stopped or refused while TensorFlow loaded)."""
        self._end(text)
        self.collect_ended_run()  # nothing of TensorFlow's was made: only full collections to let run again

    def _end(self, text: str | None = None) -> None:
        run, history = self.run, self.history
        self.run = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        folder = run.path if run is not None and run.path.exists() else None
        outcome = RunOutcome(folder, self._finished, self._saved, self._error,
                             text or self._describe(history, folder))
        self.last_outcome = outcome
        self.studio.set_live(None)  # the run is read-only now
        if history is not None and history.started_event is None and not history.snapshots:
            # Nothing was trained (refused or stopped while loading): do not leave an empty run open.
            if history in self.studio.runs:
                self.studio.close_run(history)
        self.history = None
        self.studio.set_training(IDLE)
        if not self._closing:
            self.studio.say(outcome.text)
            if outcome.error is not None:
                self.studio.report("Training failed", outcome.error)
            elif outcome.finished is not None and outcome.finished.reason == "diverged":
                self.studio.report("Training diverged", self._divergence_text(outcome))
        self.run_ended.emit(outcome)

    def _describe(self, history: RunHistory | None, folder: Path | None) -> str:
        finished, error = self._finished, self._error
        where = f" The run is in {folder}" if folder is not None else ""
        if error is not None:
            return f"Training failed: {error}"
        if finished is None:
            return "Training ended before it began"
        if finished.reason == "completed":
            return f"Training completed: {finished.epoch} epochs, {finished.step} steps.{where}"
        if finished.reason == "diverged":
            return f"Training diverged at step {finished.step}: {finished.message}.{where}"
        # stopped: say where, as the progress bar does (the epoch under way, its share done)
        progress = history.progress() if history is not None else None
        total = history.config.epochs if history is not None and history.config is not None else finished.epoch
        if progress is not None and progress.epoch_fraction < 1.0 and finished.epoch < total:
            place = (f"Stopped in epoch {progress.epoch} of {progress.total_epochs} at step {finished.step} "
                     f"({progress.epoch_fraction:.0%} of the epoch)")
        else:
            place = f"Stopped after epoch {finished.epoch} of {total} (step {finished.step})"
        # no folder here: the message must fit a 1280-pixel status bar (Open run folder and the run's name follow)
        return f"{place}; press Start to continue it, or start a new run"

    def _divergence_text(self, outcome: RunOutcome) -> str:
        text = outcome.finished.message if outcome.finished is not None else "the loss became NaN"
        if outcome.folder is not None and (outcome.folder / "model.keras").is_file():
            text += f"\n\nThe model with the last good weights is saved in {outcome.folder}."
        return text + "\n\nTry a lower learning rate (a tenth of it, say), then continue or start again."


def _until_written(events, written: threading.Event):
    """The run's events; `written` is set once its files are written (Saved passed on) or it has ended."""
    try:
        for event in events:
            yield event
            if isinstance(event, Saved):
                written.set()
    finally:
        written.set()
