"""Background work: training in a QThread, TensorFlow start-up, and short tasks (load/save/decode).

The training worker owns the Trainer and the run folder's recorder. Its slot runs the trainer's event
generator, records each core event into the run folder (like `vaestudio train --out`) and then turns it
into a Qt signal (queued to the UI thread). Pause, resume and stop go straight to the
trainer's thread-safe methods, because the worker thread is busy inside the generator.
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QObject, QRunnable, Qt, QThread, QThreadPool, Signal, Slot

from vaestudio.core.config import TrainConfig
from vaestudio.core.errors import VaeStudioError
from vaestudio.core.events import EpochEnd, Finished, Snapshot, Started, StepMetrics

DatasetProvider = Callable[[TrainConfig], Any]


TRAINING_NICENESS = 5  # how much lower than the UI thread training threads run


def yield_cpu_to_the_window() -> None:
    """Lower the calling thread's CPU priority, so the UI thread gets a core the moment it wakes.

    Linux keeps a nice value per thread and new threads inherit it, so TensorFlow's thread pools,
    started from a lowered thread, also give way. Elsewhere this does nothing.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        thread = threading.get_native_id()
        niceness = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, niceness + TRAINING_NICENESS))
    except OSError:
        pass


def load_configured_dataset(config: TrainConfig):
    """The dataset a config names (runs in the worker thread)."""
    from vaestudio.core.runs import default_dataset_loader

    return default_dataset_loader(config)


def describe_error(exc: BaseException) -> str:
    """User errors keep their one-line message; anything else also names its type."""
    if isinstance(exc, VaeStudioError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class ResumeHistory:
    """What a resumed run had recorded before: shown in the panels before training goes on."""

    folder: Path
    config: TrainConfig
    rows: list  # metrics.csv rows (MetricsLog.rows()), cut back to the checkpoint
    frame_labels: list[str]  # labels of the snapshots kept in the folder
    epoch: int  # last completed epoch of the checkpoint
    step: int  # its global step


class TrainingWorker(QObject):
    """Runs one `core.runs.Run` (new or resumed) in its own QThread and relays its events as signals.

    The run records every event into its folder before it arrives here (the same pipeline as
    `vaestudio train`). With a `config` it starts a new run in a fresh folder under `runs_dir`; with
    `resume_dir` it continues the run saved there (to `epochs` if given).
    """

    status = Signal(str)  # what it is doing before training starts
    datasetReady = Signal(object)  # the Dataset (for class names)
    folderReady = Signal(str)  # the run folder being recorded into
    resumed = Signal(object)  # ResumeHistory, before training goes on
    restored = Signal(object, str)  # decoder weights of the resumed model, label
    started = Signal(object)  # Started
    metrics = Signal(object)  # StepMetrics
    snapshot = Signal(object)  # Snapshot
    epochEnded = Signal(object)  # EpochEnd
    finished = Signal(object)  # Finished
    saved = Signal(object)  # list[Path]: model, final grid and animation written at the end
    failed = Signal(str)
    done = Signal()  # always last: the thread may quit

    def __init__(self, config: TrainConfig | None = None, dataset_provider: DatasetProvider | None = None, *,
                 runs_dir: Path | None = None, resume_dir: Path | None = None, epochs: int | None = None):
        super().__init__()
        if (config is None) == (resume_dir is None):
            raise ValueError("give either a config (new run) or resume_dir (resumed run)")
        self.config = config
        self.runs_dir = Path(runs_dir) if runs_dir is not None else None
        self.resume_dir = Path(resume_dir) if resume_dir is not None else None
        self.epochs = epochs
        self._provider = dataset_provider or load_configured_dataset
        self._lock = threading.Lock()
        self._run = None
        self._stop_requested = False
        self._paused = False
        self.folder = None  # the run folder's path, once known
        self.model = None  # the trained model, readable once `done` has fired
        self.device: str | None = None  # what the window's device loader found (set before the thread starts)

    # -- thread-safe controls, called from the UI thread ------------------------------------------
    def stop(self) -> None:
        with self._lock:
            self._stop_requested = True
            run = self._run
        if run is not None:
            run.stop()

    def pause(self) -> None:
        with self._lock:
            self._paused = True
            run = self._run
        if run is not None:
            run.pause()

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            run = self._run
        if run is not None:
            run.resume()

    @property
    def is_paused(self) -> bool:
        return self._paused

    # -- the worker thread ------------------------------------------------------------------------
    @Slot()
    def run(self) -> None:
        yield_cpu_to_the_window()
        try:
            self._train()
        except Exception as exc:  # a failed run must never take the window down
            if not isinstance(exc, VaeStudioError):
                traceback.print_exc()
            self.failed.emit(self._describe(exc))
        finally:
            self.done.emit()

    def _describe(self, exc: BaseException) -> str:
        """The error's message, naming the resumed folder when the message does not already."""
        message = describe_error(exc)
        if self.resume_dir is not None and str(self.resume_dir) not in message:
            message = f"{self.resume_dir}: {message}"
        return message

    def _make_run(self):
        from vaestudio.core.runs import ResumeChanges, Run

        if self.resume_dir is not None:
            self.status.emit(f"Reading {self.resume_dir}…")
            return Run.resuming(self.resume_dir, ResumeChanges(epochs=self.epochs), load_dataset=self._provider,
                                device=self.device)
        from vaestudio.gui.run_paths import new_run_dir

        return Run.new(new_run_dir(self.runs_dir, self.config.dataset), self.config, load_dataset=self._provider,
                       device=self.device)

    def _train(self) -> None:
        from vaestudio.core.events import HyperChanged, Saved, Status

        run = self._make_run()
        with self._lock:
            self._run = run
            stop, paused = self._stop_requested, self._paused
        if stop:
            run.stop()
        if paused:
            run.pause()
        relay = {Started: self.started, StepMetrics: self.metrics, Snapshot: self.snapshot,
                 EpochEnd: self.epochEnded, Finished: self.finished}
        overlay = None
        for event in run.events():
            if isinstance(event, Status):
                self.status.emit(event.text)
                if event.text.startswith("Building"):
                    self.folder = run.path
                    self.datasetReady.emit(run.dataset)
                    overlay = _Overlay(run.dataset)
                    if not run.is_new:
                        self._announce_history(run)
                    self.folderReady.emit(str(run.path))
            elif isinstance(event, Saved):
                self.saved.emit(list(event.paths))
            elif not isinstance(event, HyperChanged):
                if isinstance(event, Started) and not run.is_new and run.trainer is not None:
                    state = run.state
                    self.restored.emit(run.trainer.model.decoder.get_weights(),
                                       f"resumed after epoch {state.epochs_done}, step {state.step}")
                if isinstance(event, Snapshot) and overlay is not None and run.trainer is not None:
                    event = overlay.add_to(event, run.trainer.model)
                relay[type(event)].emit(event)
        self.model = run.trainer.model if run.trainer is not None else None

    def _announce_history(self, run) -> None:
        folder = run.folder
        rows = folder.metrics().rows()
        labels = [record.label for record in folder.snapshots.records()]
        state = run.state
        self.resumed.emit(ResumeHistory(folder.path, run.config, rows, labels, state.epochs_done, state.step))


class _Overlay:
    """Transitional, until the explorer encodes test images itself from each snapshot's weights: the
    encoder means of a fixed probe of test images, computed in the training thread."""

    SIZE = 1000

    def __init__(self, dataset):
        from vaestudio.core.data import preprocess

        self.inputs = preprocess(dataset.test_images[: self.SIZE])
        self.labels = np.asarray(dataset.test_labels[: self.SIZE]).copy()

    def add_to(self, snapshot: Snapshot, model) -> Snapshot:
        import dataclasses

        means = np.asarray(model.encode(self.inputs)[0], dtype=np.float32)
        return dataclasses.replace(snapshot, latent_means=means, latent_labels=self.labels)


class TrainingThread:
    """A TrainingWorker moved to its own QThread, with the bookkeeping to stop and join it."""

    def __init__(self, worker: TrainingWorker):
        self.worker = worker
        self.thread = QThread()
        self.thread.setObjectName("vaestudio-training")
        worker.moveToThread(self.thread)
        self.thread.started.connect(worker.run)
        # Direct: quit() is thread-safe, and a queued call could not arrive while the UI waits in join().
        worker.done.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)

    def start(self) -> None:
        self.thread.start()

    def is_running(self) -> bool:
        return self.thread.isRunning()

    def stop_and_join(self, timeout_ms: int) -> bool:
        """Ask the trainer to stop and wait up to `timeout_ms` for the thread to end."""
        self.worker.stop()
        self.thread.quit()
        return self.thread.wait(max(0, int(timeout_ms)))


class DeviceLoader(QThread):
    """Imports TensorFlow and picks the device, off the UI thread."""

    ready = Signal(object, str)  # DeviceInfo, TensorFlow version
    failed = Signal(str)

    def __init__(self, cpu_only: bool, parent: QObject | None = None):
        super().__init__(parent)
        self.cpu_only = cpu_only
        self.setObjectName("vaestudio-tensorflow-loader")

    def run(self) -> None:
        yield_cpu_to_the_window()  # TensorFlow's thread pools start here and inherit it
        try:
            from vaestudio.core.tf.device import detect_device
            from vaestudio.core.tf.quiet import import_tensorflow

            tf = import_tensorflow()

            info = detect_device(cpu_only=self.cpu_only)
            # Import what training needs now, not when Start is pressed: an import holds the
            # interpreter for long stretches, which would freeze the window mid-run.
            import vaestudio.core.tf.objective  # noqa: F401  (tensorflow-probability)
            import vaestudio.core.tf.trainer  # noqa: F401
            self.ready.emit(info, str(tf.__version__))
        except Exception as exc:
            self.failed.emit(describe_error(exc))


class _Relay(QObject):
    result = Signal(int, object, object)  # task id, value, error message or None


class _Task(QRunnable):
    def __init__(self, task_id: int, fn: Callable[[], Any], relay: _Relay):
        super().__init__()
        self.task_id, self.fn, self.relay = task_id, fn, relay
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            value, error = self.fn(), None
        except Exception as exc:
            if not isinstance(exc, VaeStudioError):
                traceback.print_exc()
            value, error = None, describe_error(exc)
        self.relay.result.emit(self.task_id, value, error)


class TaskRunner(QObject):
    """Runs short callables on a private pool; callbacks run on the UI thread.

    `latest_only=True` drops queued tasks when a new one comes, and the result of any task that
    was superseded, so a slow decode never piles up behind fast snapshots.
    """

    def __init__(self, parent: QObject | None = None, latest_only: bool = False):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.result.connect(self._deliver)
        self._callbacks: dict[int, tuple[Callable, Callable | None]] = {}
        self._next_id = 0
        self._latest_only = latest_only

    def submit(self, fn: Callable[[], Any], on_done: Callable[[Any], None],
               on_error: Callable[[str], None] | None = None) -> int:
        self._next_id += 1
        if self._latest_only:
            self._pool.clear()
            self._callbacks.clear()
        self._callbacks[self._next_id] = (on_done, on_error)
        self._pool.start(_Task(self._next_id, fn, self._relay))
        return self._next_id

    def busy(self) -> bool:
        return bool(self._callbacks)

    def wait(self, timeout_ms: int = -1) -> bool:
        """Drop queued tasks and wait for the running one to end."""
        self._pool.clear()
        return self._pool.waitForDone(timeout_ms)

    @Slot(int, object, object)
    def _deliver(self, task_id: int, value: Any, error: str | None) -> None:
        callbacks = self._callbacks.pop(task_id, None)
        if callbacks is None:
            return
        on_done, on_error = callbacks
        if error is None:
            on_done(value)
        elif on_error is not None:
            on_error(error)
