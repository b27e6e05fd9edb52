"""Files the window opens and saves: run folders (read-only), `.keras` models, recent runs.

`RunOpener.open_run(folder)` checks the folder at once (a bad folder is reported and nothing changes),
then replays it on a worker thread into a new `RunHistory`: curves appear progressively for long runs.
A folder another process is writing (its lock is held) is shown as such and followed: new rows and
snapshots are read every few seconds until the writer lets go. The run's test images (its dataset) are
loaded in the background for the explorer; without them the grids and curves still show.

Opening and saving `.keras` models wait for the one TensorFlow loader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

from PySide6.QtCore import QObject, QSettings, QTimer, Signal

from vaestudio.core.config import TrainConfig
from vaestudio.core.errors import VaeStudioError
from vaestudio.core.events import Finished, Snapshot, Started
from vaestudio.gui.state.explorer import Probe
from vaestudio.gui.state.run_history import RunHistory, SnapshotInfo
from vaestudio.gui.state.studio import Studio
from vaestudio.gui.tensorflow import TensorFlowLoader
from vaestudio.gui.threads import QtExecutor, StreamThread, collect_cycles_here

RECENT_KEY = "runs/recent"
RECENT_COUNT = 8
FOLLOW_MS = 3000  # how often a run another process writes is read again
REPLAY_BATCH_SECONDS = 0.15  # replayed events reach the panels in batches this often

DatasetProvider = Callable[[TrainConfig], Any]


class RunOpener(QObject):
    """Opens run folders and models into the studio; saves models; remembers recent runs."""

    recent_changed = Signal()
    opened = Signal(object)  # RunHistory, once its replay has finished

    def __init__(self, studio: Studio, loader: TensorFlowLoader, executor: QtExecutor, settings: QSettings,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.studio = studio
        self.loader = loader
        self.executor = executor
        self.settings = settings
        self.dataset_provider: DatasetProvider | None = None
        self._replays: dict[int, StreamThread] = {}  # id(history) -> its replay
        self.writers: dict[int, int] = {}  # id(history) -> PID of the process writing its folder
        self._followed: dict[int, RunHistory] = {}
        self._probe_problems: dict[int, str] = {}  # id(history) -> why its test images could not be loaded
        self._follow_timer = QTimer(self)
        self._follow_timer.setInterval(FOLLOW_MS)
        self._follow_timer.timeout.connect(self._follow)
        studio.runs_changed.connect(self._forget_closed)

    # -- recent runs ------------------------------------------------------------------------------------
    def recent(self) -> list[Path]:
        value = self.settings.value(RECENT_KEY, [])
        if isinstance(value, str):
            value = [value] if value else []
        paths = [Path(str(v)) for v in (value or []) if str(v)]
        return [p for p in paths if p.is_dir()][:RECENT_COUNT]

    def remember(self, folder: Path) -> None:
        folder = Path(folder)
        paths = [folder] + [p for p in self.recent() if p != folder]
        self.settings.setValue(RECENT_KEY, [str(p) for p in paths[:RECENT_COUNT]])
        self.recent_changed.emit()

    # -- run folders --------------------------------------------------------------------------------------
    def open_run(self, folder: str | Path, activate: bool = True) -> RunHistory | None:
        """Open a run folder read-only; None (and the reason shown) when it is not a readable run."""
        from vaestudio.core.store.lock import holder_pid
        from vaestudio.core.store.run_folder import RunFolder

        folder = Path(folder)
        live = self.studio.live
        if live is not None and live.folder is not None and _same(live.folder, folder):
            self.studio.activate(live)  # the window is training this run: show it
            return live
        try:
            config = RunFolder(folder).read_config()
        except VaeStudioError as exc:
            message = str(exc) if str(folder) in str(exc) else f"{folder}: {exc}"
            self.studio.report("Cannot open the run", message)
            return None
        history = RunHistory(name=folder.name, folder=folder, config=config)
        pid = holder_pid(folder)
        if pid is not None:
            self.writers[id(history)] = pid
        self.studio.add_run(history, activate=activate)
        self.remember(folder)
        self.studio.say(f"Reading {folder}…")
        self._start_replay(history, lambda: _replayed(folder))
        self._load_probe(history, config)
        return history

    def _start_replay(self, history: RunHistory, produce: Callable[[], Iterator]) -> None:
        thread = StreamThread(produce, "vaestudio-replay", batch_seconds=REPLAY_BATCH_SECONDS, parent=self)
        key = id(history)
        self._replays[key] = thread
        thread.items.connect(lambda events: self._feed(history, events))
        thread.failed.connect(lambda message: self._replay_failed(history, message))
        thread.ended.connect(lambda: self._replay_ended(history, thread))
        thread.start()

    def _feed(self, history: RunHistory, events: list) -> None:
        if history not in self.studio.runs:
            return
        for event in events:
            history.feed(event)

    def _replay_failed(self, history: RunHistory, message: str) -> None:
        if history in self.studio.runs:
            self.studio.report("Cannot read the whole run", message)

    def _replay_ended(self, history: RunHistory, thread: StreamThread) -> None:
        thread.wait()
        if self._replays.get(id(history)) is thread:
            del self._replays[id(history)]
        thread.deleteLater()
        if history not in self.studio.runs:
            return
        pid = self.writers.get(id(history))
        if pid is not None:
            self._followed[id(history)] = history
            if not self._follow_timer.isActive():
                self._follow_timer.start()
            self.studio.say(f"{history.folder} is being written by another vaestudio process (PID {pid}): "
                            "following it", 8000)
        else:
            count = len(history.snapshots)
            problem = self._probe_problems.get(id(history))
            self.studio.say(f"Opened {history.folder} (read-only): {count} snapshot{'s' if count != 1 else ''}"
                            + (f"; {problem}" if problem else ""), 0 if problem else 8000)
        self.studio.run_read(history)
        self.opened.emit(history)

    def is_replaying(self, history: RunHistory | None = None) -> bool:
        if history is None:
            return bool(self._replays)
        return id(history) in self._replays

    def _follow(self) -> None:
        """Read what the writing process added since the last look; stop following once it has let go."""
        from vaestudio.core.store.lock import holder_pid

        for key, history in list(self._followed.items()):
            if history not in self.studio.runs or id(history) in self._replays:
                continue
            pid = holder_pid(history.folder)
            if pid is None:
                del self._followed[key]
                self.writers.pop(key, None)
            self._start_replay(history, lambda h=history: _replayed(h.folder, _known(h)))
        if not self._followed:
            self._follow_timer.stop()

    def _forget_closed(self) -> None:
        open_ids = {id(h) for h in self.studio.runs}
        for key in list(self._replays):
            if key not in open_ids:
                self._replays[key].cancel()
        for key in list(self._followed):
            if key not in open_ids:
                del self._followed[key]
                self.writers.pop(key, None)

    def _load_probe(self, history: RunHistory, config: TrainConfig) -> None:
        """The run's test images, for the overlay, reconstructions and KL bars (background)."""
        provider = self.dataset_provider

        def load() -> tuple:
            from vaestudio.core.runs import default_dataset_loader

            dataset = (provider or default_dataset_loader)(config)
            return Probe.from_dataset(dataset), dataset

        def loaded(found: tuple) -> None:
            probe, dataset = found
            if history in self.studio.runs:
                self.studio.set_probe(history, probe)
                if self.studio.diagnosis is not None:
                    self.studio.diagnosis.set_dataset(history, dataset)

        def failed(message: str) -> None:
            if history not in self.studio.runs:
                return
            problem = (f"the test images of this run could not be loaded ({message}): its grids and curves show, "
                       "the overlay and reconstructions do not")
            self._probe_problems[id(history)] = problem
            if not self.is_replaying(history):
                self.studio.say(problem[0].upper() + problem[1:])

        self.executor.submit(load, loaded, failed)

    def shutdown(self, timeout_ms: int = 2000) -> None:
        self._follow_timer.stop()
        for thread in list(self._replays.values()):
            thread.cancel()
        for thread in list(self._replays.values()):
            thread.wait(timeout_ms)

    # -- models -------------------------------------------------------------------------------------------
    def open_model(self, path: str | Path) -> None:
        """Open a `.keras` model (once TensorFlow has loaded) as a run of one snapshot, with the test images of
        the data its side-car settings (`.json` beside it) name, else of the data it was most likely trained
        on (`core.model_settings`, as `vaestudio inspect`). Errors are shown; nothing changes."""
        path = Path(path)
        self.studio.say(f"Opening {path}…" if self.loader.ready else f"Opening {path} once TensorFlow has loaded…")

        def load():
            from vaestudio.core.model_settings import model_settings
            from vaestudio.core.tf.model_file import load_model
            from vaestudio.core.weights import VaeWeights

            model = load_model(path)
            weights = VaeWeights.from_model(model)
            config, note = model_settings(path, weights.architecture)
            from vaestudio.core.numpy_vae import NumpyVAE

            grid = NumpyVAE(weights).grid(config.grid_size)
            del model
            collect_cycles_here()  # in this worker thread, not on the UI thread
            return weights, grid, config, note

        def loaded(result) -> None:
            weights, grid, config, note = result
            history = RunHistory(name=path.name, folder=None, config=config)
            history.feed(Started(config.epochs, 1, 1, "opened model"))
            history.feed(Snapshot(0, 0, f"{path.name} (opened model)", grid, weights))
            history.feed(Finished("completed", 0, 0, "opened from a model file"))
            self.studio.add_run(history)
            self.studio.say(f"Opened {path}" + (f" ({note})" if note else "")
                            + f"; its pictures use the test images of {config.dataset}", 8000)
            self._load_probe(history, config)

        def failed(message: str) -> None:
            self.studio.report("Cannot open the model", message if str(path) in message else f"{path}: {message}")

        self.loader.when_ready(lambda: self.executor.submit(load, loaded, failed), failed)

    def save_model(self, path: str | Path, history: RunHistory, info: SnapshotInfo,
                   done: Callable[[Path], None] | None = None) -> None:
        """Save the model of one moment of a run (its snapshot's weights) as `.keras`, with its settings as
        `.json` beside it. Works while training runs: it never touches the model in training."""
        path = Path(path)

        def save():
            from vaestudio.core.errors import ExportError
            from vaestudio.core.tf.model import model_from_weights
            from vaestudio.core.tf.model_file import save_model

            weights = history.weights_at(info)
            if weights is None:
                raise ExportError(f"{path}: this snapshot was recorded without model weights (vaestudio 0.1.0)")
            save_model(model_from_weights(weights), path)
            collect_cycles_here()  # in this worker thread, not on the UI thread
            if history.config is not None:
                history.config.save(path.with_suffix(".json"))
            return path

        def saved(written: Path) -> None:
            self.studio.say(f"Saved the model of {history.title()} at {info.label} to {written} "
                            f"(settings in {written.with_suffix('.json').name})", 10000)
            if done is not None:
                done(written)

        def failed(message: str) -> None:
            self.studio.report("Cannot save the model", message)

        self.studio.say(f"Saving {path}…")
        self.loader.when_ready(lambda: self.executor.submit(save, saved, failed), failed)


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return a == b


def _replayed(folder: Path, after=None) -> Iterator:
    from vaestudio.core.replay import replay

    yield from replay(folder, after, lazy=True)


def _known(history: RunHistory):
    """What a history holds of its folder (a `core.replay.ReplayPosition`): its last metrics step,
    snapshot frame, epoch end and hyper-parameter change."""
    from vaestudio.core.replay import ReplayPosition

    return ReplayPosition(step=history.last_metrics.step if history.last_metrics is not None else 0,
                          frame=max((info.frame for info in history.snapshots), default=-1),
                          epoch=history.epoch_ends[-1].epoch if history.epoch_ends else 0,
                          hyper=history.hyper_changes[-1].step if history.hyper_changes else -1)
