"""One run as the window knows it: its curves, its snapshots, and the moment of training being looked at.

A RunHistory is fed core events — relayed live from a training run, or replayed from a run folder — and
is the same object either way. The time machine lives here: `select(index)` shows an earlier snapshot,
`follow()` (or reaching the newest) follows training again. Qt-free; changed only on the UI thread;
`weights_at` may also be called from worker threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from psygnal import Signal

from vaestudio.core.config import TrainConfig
from vaestudio.core.events import EpochEnd, Finished, HyperChanged, Snapshot, Started, StepMetrics
from vaestudio.core.progress import Ema, Progress, ProgressTracker


@dataclass
class Curve:
    """x/y points that grow as a run goes on."""

    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)

    def append(self, x: float, y: float) -> None:
        self.x.append(float(x))
        self.y.append(float(y))

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(self.x, dtype=float), np.asarray(self.y, dtype=float)

    def __len__(self) -> int:
        return len(self.x)


@dataclass(frozen=True)
class SnapshotInfo:
    """One moment of a run: a snapshot's place in the history and in the run folder."""

    index: int  # position in this history, 0..n-1
    frame: int  # frame number in the run folder (-1: not recorded)
    epoch: int
    step: int
    label: str
    has_weights: bool


TRAIN_CURVES = ("train_elbo", "train_log_likelihood", "train_kl")
TEST_CURVES = ("test_elbo", "test_log_likelihood", "test_kl")


class RunHistory:
    """Curves, snapshots and the current moment of one run (live or opened)."""

    cleared = Signal()
    started = Signal(object)  # Started
    metrics_added = Signal()  # the curves grew; redraw on a timer, not per event
    epoch_ended = Signal(object)  # EpochEnd
    hyper_changed = Signal(object)  # HyperChanged
    snapshot_added = Signal(object)  # SnapshotInfo
    moment_changed = Signal(object)  # SnapshotInfo | None: the moment every panel shows
    following_changed = Signal(bool)  # True: the moment follows the newest snapshot
    finished = Signal(object)  # Finished

    def __init__(self, name: str = "", folder: str | Path | None = None, config: TrainConfig | None = None, *,
                 live: bool = False, smoothing: float = 0.2, cache_size: int = 12):
        self.name = name
        self.folder = Path(folder) if folder is not None else None
        self.config = config
        self.live = live  # trained by this window now
        self.class_names: tuple[str, ...] = ()
        self._smoothing = smoothing
        self._cache: OrderedDict[int, object] = OrderedDict()  # snapshot index -> VaeWeights | None
        self._mosaics: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()
        self._reset_fields()

    def _reset_fields(self) -> None:
        self.curves: dict[str, Curve] = {name: Curve() for name in TRAIN_CURVES + TEST_CURVES}
        self.hyper_changes: list[HyperChanged] = []
        self.epoch_ends: list[EpochEnd] = []
        self.snapshots: list[SnapshotInfo] = []
        self.started_event: Started | None = None
        self.finished_event: Finished | None = None
        self.last_metrics: StepMetrics | None = None
        self.following = True
        self.current_index: int | None = None
        self.tracker = ProgressTracker()
        self._emas = [Ema(self._smoothing) for _ in TRAIN_CURVES]
        self._objective_emas: dict[str, Ema] = {}  # "train_objective" and an objective's own terms, when recorded
        with self._cache_lock:
            self._cache.clear()
            self._mosaics.clear()

    def clear(self) -> None:
        self._reset_fields()
        self.cleared.emit()
        self.moment_changed.emit(None)

    # -- feeding ---------------------------------------------------------------------------------------
    def feed(self, event: object) -> None:
        """Take one core event (live or replayed)."""
        if isinstance(event, StepMetrics):
            self.last_metrics = event
            for ema, name, value in zip(self._emas, TRAIN_CURVES, (event.elbo, event.log_likelihood, event.kl)):
                self.curves[name].append(event.step, ema.update(value))
            own = {"objective": event.objective, **(event.terms or {})}  # IWAE/beta-TCVAE: "train_<name>" curves
            for name, value in ((f"train_{name}", value) for name, value in own.items() if value is not None):
                ema = self._objective_emas.setdefault(name, Ema(self._smoothing))
                self.curves.setdefault(name, Curve()).append(event.step, ema.update(value))
            self.tracker.on_metrics(event)
            self.metrics_added.emit()
        elif isinstance(event, Snapshot):
            self._add_snapshot(event)
        elif isinstance(event, EpochEnd):
            self.epoch_ends.append(event)
            for name, value in zip(TEST_CURVES, (event.test_elbo, event.test_log_likelihood, event.test_kl)):
                self.curves[name].append(event.step, value)
            self.tracker.on_epoch_end(event)
            self.epoch_ended.emit(event)
        elif isinstance(event, HyperChanged):
            self.hyper_changes.append(event)
            self.hyper_changed.emit(event)
        elif isinstance(event, Started):
            self.started_event = event
            self.finished_event = None
            self.tracker.on_started(event)
            self.started.emit(event)
        elif isinstance(event, Finished):
            self.finished_event = event
            self.finished.emit(event)

    def _add_snapshot(self, snapshot: Snapshot) -> None:
        index = len(self.snapshots)
        lazy = snapshot.mosaic is None  # a lazy replay: the folder's files are read when the moment is shown
        info = SnapshotInfo(index, snapshot.frame, snapshot.epoch, snapshot.step, snapshot.label,
                            snapshot.weights is not None or snapshot.weights_on_disk)
        self.snapshots.append(info)
        if not lazy:
            with self._cache_lock:
                self._remember(self._cache, index, snapshot.weights)
                self._remember(self._mosaics, index, snapshot.mosaic)
        self.snapshot_added.emit(info)
        if self.following:
            self.current_index = index
            self.moment_changed.emit(info)

    def _remember(self, cache: OrderedDict, key: int, value) -> None:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > self._cache_size:
            cache.popitem(last=False)

    # -- the time machine -----------------------------------------------------------------------------
    @property
    def current(self) -> SnapshotInfo | None:
        if self.current_index is None or not self.snapshots:
            return None
        return self.snapshots[self.current_index]

    def select(self, index: int) -> None:
        """Show snapshot `index` (clamped); the newest one follows training again."""
        if not self.snapshots:
            return
        index = min(max(int(index), 0), len(self.snapshots) - 1)
        following = index == len(self.snapshots) - 1
        changed = index != self.current_index
        self.current_index = index
        if following != self.following:
            self.following = following
            self.following_changed.emit(following)
        if changed:
            self.moment_changed.emit(self.snapshots[index])

    def step(self, delta: int) -> None:
        """Left/Right: the previous or next snapshot."""
        if self.snapshots:
            start = self.current_index if self.current_index is not None else len(self.snapshots) - 1
            self.select(start + delta)

    def follow(self) -> None:
        """Live: show the newest snapshot and keep up with new ones."""
        if self.snapshots:
            self.select(len(self.snapshots) - 1)
        elif not self.following:
            self.following = True
            self.following_changed.emit(True)

    def index_at_step(self, step: float) -> int | None:
        """The last snapshot taken at or before global `step` (for clicking on the ELBO plot)."""
        best = None
        for info in self.snapshots:
            if info.step <= step:
                best = info.index
        return best if best is not None else (0 if self.snapshots else None)

    # -- reading a moment (any thread) -----------------------------------------------------------------------
    def weights_at(self, info: SnapshotInfo):
        """The VaeWeights of a snapshot (None when it was recorded without them)."""
        with self._cache_lock:
            if info.index in self._cache:
                self._cache.move_to_end(info.index)
                return self._cache[info.index]
        weights = None
        if info.has_weights and self.folder is not None and info.frame >= 0:
            from vaestudio.core.store.snapshots import SnapshotStore

            store = SnapshotStore(self.folder / "snapshots")
            weights = store.load_weights(_record(store, info))
        with self._cache_lock:
            self._remember(self._cache, info.index, weights)
        return weights

    def mosaic_at(self, info: SnapshotInfo) -> np.ndarray | None:
        with self._cache_lock:
            if info.index in self._mosaics:
                return self._mosaics[info.index]
        if self.folder is None or info.frame < 0:
            return None
        from vaestudio.core.store.snapshots import SnapshotStore

        store = SnapshotStore(self.folder / "snapshots")
        mosaic = store.load_mosaic(_record(store, info))
        with self._cache_lock:
            self._remember(self._mosaics, info.index, mosaic)
        return mosaic

    # -- summaries ------------------------------------------------------------------------------------
    def progress(self) -> Progress | None:
        return self.tracker.progress()

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim if self.config is not None else 2

    def title(self) -> str:
        return self.name or (self.folder.name if self.folder is not None else "run")


def _record(store, info: SnapshotInfo):
    from vaestudio.core.store.snapshots import SnapshotRecord

    return SnapshotRecord(info.frame, info.epoch, info.step, info.label, store.png_path(info.frame),
                          store.weights_path(info.frame))
