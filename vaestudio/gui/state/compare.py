"""Compared runs at one point of training: the alignment unit, the shared point, and each run's pictures there.

Qt-free and evented. The runs compared are the ones ticked in the Runs panel (`studio.compared`) when two or
more are ticked, else the active run and the ticked one; at most MAX_COLUMNS. One point, in the alignment
unit (images seen by default, step, or wall time: see gui.state.alignment), drives every column: each run
shows its snapshot taken at or before the point, and each picture is that snapshot's NumPy VAE applied to
images (a snapshot is a model): the z1 x z2 grid, the decoded cursor (`studio.view.cursor`), the
reconstructions of the same test images, and the test images' KL per latent dimension (a conditional model
encodes and reconstructs each test image with its own class; its grid and cursor decode for class 0).

Events, one per change: `unit_changed(unit)`, `runs_changed()` (which columns), `point_changed(value)`,
`column_changed(column, ComparedMoment)` (a column's moment chosen, then again once its pictures are
computed), `preview_changed(column, image | None)`, `snapshots_changed()` (a compared run took a snapshot),
`view_requested()` (a "Compare…" button asks the window to show the view). Pictures are computed only while a view wants them
(`want(True)`), one background task per column (gui.state.tasks): a newer request for a column cancels the
older one; moments already computed are kept (the last MOMENTS_KEPT). What a column computes, on its worker
thread, is in gui.state.compare_pictures.
"""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from typing import Any, Callable

import numpy as np
from psygnal import Signal

from vaestudio.gui.state.alignment import (DEFAULT_UNIT, SECONDS, UNIT_NAMES, RunClock, checked_unit, clock_of,
                                           images_before_branch)
from vaestudio.gui.state.run_history import RunHistory, SnapshotInfo
from vaestudio.gui.state.compare_pictures import ComparedMoment, column_pictures, cursor_image, fits
from vaestudio.gui.state.tasks import Executor

MAX_COLUMNS = 4
MOMENTS_KEPT = 32
PREVIEW_INTERVAL = 1 / 30  # paced (pace_previews): the columns' cursor previews during a drag, at most this often


class Comparison:
    """Which runs are compared, how they are aligned, the point they are shown at, and their pictures."""

    unit_changed = Signal(str)
    runs_changed = Signal()
    point_changed = Signal(float)
    snapshots_changed = Signal()  # a compared run took a snapshot: the timeline has a new stop
    view_requested = Signal()  # "Compare…": the window shows the Compare view
    column_changed = Signal(int, object)  # column, ComparedMoment
    preview_changed = Signal(int, object)  # column, uint8 image | None
    failed = Signal(str)

    def __init__(self, studio, executor: Executor):
        self.studio = studio
        self.executor = executor
        self._unit = DEFAULT_UNIT
        self.runs: list[RunHistory] = []
        self.point: float = 0.0
        self.columns: list[ComparedMoment] = []
        self.previews: list[np.ndarray | None] = []
        self.wanted = False
        self._images_before: dict[str, float] = {}
        self._kept: OrderedDict[tuple, ComparedMoment] = OrderedDict()
        self._generation: list[int] = []
        self._tasks: dict[int, Any] = {}  # column -> its TaskState not yet ended
        self._later: Callable[[float, Callable[[], None]], None] | None = None  # pace_previews
        self._last_preview = -1e9  # time.monotonic() of the last preview submitted
        self._preview_waiting = False
        studio.compared_changed.connect(self._on_runs)
        studio.active_changed.connect(self._on_runs)
        studio.view.events.cursor.connect(self._on_cursor)
        studio.probe_set.connect(self._on_probe)

    # -- the unit --------------------------------------------------------------------------------------------
    @property
    def unit(self) -> str:
        return self._unit

    @unit.setter
    def unit(self, unit: str) -> None:
        unit = checked_unit(unit)
        why = self.unavailable().get(unit)
        if why is not None:
            raise ValueError(f"cannot align by {UNIT_NAMES[unit]}: {why}")
        if unit == self._unit:
            return
        anchor = self.columns[0] if self.columns and self.columns[0].info is not None else None
        self._unit = unit
        self.unit_changed.emit(unit)
        point = self.point
        if anchor is not None:  # the point stays where the first run's shown moment is
            point = float(self.clock(anchor.history).convert([anchor.info.step], unit)[0])
        self.set_point(point, force=True)

    def unavailable(self) -> dict[str, str]:
        """unit -> why the runs drawn (the active run and the compared ones) cannot be aligned by it."""
        for history in self.curve_runs():
            for unit, why in self.clock(history).unavailable.items():
                return {unit: f"{history.title()}: {why}"}
        return {}

    def curve_runs(self) -> list[RunHistory]:
        """The runs whose curves the ELBO plot draws: the active run, then the compared ones."""
        active = self.studio.active
        return ([active] if active is not None else []) + [h for h in self.studio.compared if h is not active]

    # -- converting ------------------------------------------------------------------------------------------
    def clock(self, history: RunHistory) -> RunClock:
        key = str(history.folder)
        if key not in self._images_before:
            self._images_before[key] = images_before_branch(history.folder)
        return clock_of(history, self._images_before[key])

    def convert(self, history: RunHistory, steps) -> np.ndarray:
        """A run's steps in the current unit (steps again for a run that cannot be aligned by it)."""
        clock = self.clock(history)
        return clock.convert(steps, "step" if self._unit in clock.unavailable else self._unit)

    def step_at(self, history: RunHistory, value: float) -> float:
        clock = self.clock(history)
        return clock.step_at(value, "step" if self._unit in clock.unavailable else self._unit)

    def positions(self, history: RunHistory) -> np.ndarray:
        """Where each of a run's snapshots lies in the current unit."""
        return self.convert(history, [info.step for info in history.snapshots])

    def extent(self) -> tuple[float, float]:
        """The range the shared point moves in: from the earliest to the latest snapshot of the columns."""
        found = [self.positions(h) for h in self.runs if h.snapshots]
        if not found:
            return 0.0, 0.0
        return float(min(p[0] for p in found)), float(max(p[-1] for p in found))

    # -- the runs and the point ------------------------------------------------------------------------------
    def _on_runs(self, *_args) -> None:
        studio = self.studio
        ticked = list(studio.compared)
        if len(ticked) >= 2:
            runs = ticked
        else:
            runs = ([studio.active] if studio.active is not None else []) + [h for h in ticked if h is not studio.active]
        runs = runs[:MAX_COLUMNS]
        why = self.unavailable().get(self._unit)
        if why is not None:  # a run that joined cannot be aligned by the unit chosen (wall time)
            self._unit = DEFAULT_UNIT
            self.unit_changed.emit(self._unit)
            studio.say(f"Runs aligned by {UNIT_NAMES[DEFAULT_UNIT]}: {why}", 8000)
        if [id(h) for h in runs] == [id(h) for h in self.runs]:
            return
        for old in self.runs:
            old.snapshot_added.disconnect(self._on_snapshot)
        for task in self._tasks.values():
            task.cancel()  # their columns are other runs' now
        self._tasks.clear()
        self.runs = runs
        open_ids = {id(h) for h in self.studio.runs}
        for key in [key for key in self._kept if key[0] not in open_ids]:
            del self._kept[key]
        for history in runs:
            history.snapshot_added.connect(self._on_snapshot)
        self.columns = [ComparedMoment(h, None) for h in runs]
        self.previews = [None] * len(runs)
        self._generation = [0] * len(runs)
        self.runs_changed.emit()
        ends = [self.positions(h)[-1] for h in runs if h.snapshots]
        self.set_point(min(ends) if ends else 0.0, force=True)  # the latest point every run reached

    def _on_snapshot(self, _info=None) -> None:
        self.snapshots_changed.emit()
        self._place(reload=False)

    def request_view(self) -> None:
        """Ask the window to show the Compare view (a panel's "Compare…" button: panels never call each other)."""
        self.view_requested.emit()

    def _on_probe(self, history: RunHistory) -> None:
        """A run's test images arrived: the columns that use them are computed again."""
        if history in self.runs:
            self._place(reload=True)

    def set_point(self, value: float, force: bool = False) -> None:
        """Show every column at `value` (in the unit; clamped to `extent()`)."""
        low, high = self.extent()
        value = float(min(max(float(value), low), high))
        if value == self.point and not force:
            return
        self.point = value
        self.point_changed.emit(value)
        self._place(reload=force)

    def index_at(self, history: RunHistory, value: float | None = None) -> int | None:
        """The run's last snapshot at or before `value` (the point by default); None if it has none yet."""
        value = self.point if value is None else value
        positions = self.positions(history)
        if not len(positions):
            return None
        tolerance = 1e-9 * max(1.0, abs(value))
        index = int(np.searchsorted(positions, value + tolerance, side="right")) - 1
        return index if index >= 0 else None

    def _place(self, reload: bool) -> None:
        for column, history in enumerate(self.runs):
            index = self.index_at(history)
            info = history.snapshots[index] if index is not None else None
            current = self.columns[column]
            if not reload and current.info == info and (current.loaded or info is None):
                continue
            position = float(self.positions(history)[index]) if index is not None else None
            moment = ComparedMoment(history, info, position,
                                    note="" if info is not None else "no snapshot yet at this point")
            self._show(column, moment, loaded=info is None)

    def _show(self, column: int, moment: ComparedMoment, loaded: bool) -> None:
        self._generation[column] += 1
        task = self._tasks.pop(column, None)
        if task is not None:
            task.cancel()  # a moment asked for before is not wanted any more
        kept = self._kept.get(self._key(moment)) if moment.info is not None else None
        if kept is not None:
            self._kept.move_to_end(self._key(moment))
            moment = dataclasses.replace(kept, position=moment.position)
        elif loaded:
            moment = dataclasses.replace(moment, loaded=True)
        self.columns[column] = moment
        self.column_changed.emit(column, moment)
        self._update_preview(column)
        if not moment.loaded and self.wanted:
            self._load(column)

    # -- computing -------------------------------------------------------------------------------------------
    def want(self, wanted: bool) -> None:
        """A view shows (True) or stops showing the columns: pictures are computed only while wanted."""
        self.wanted = bool(wanted)
        if self.wanted:
            for column, moment in enumerate(self.columns):
                if not moment.loaded:
                    self._load(column)

    def _shared_probe(self):
        for history in self.runs:
            probe = self.studio.probes.get(id(history))
            if probe is not None:
                return probe
        return None

    def _key(self, moment: ComparedMoment) -> tuple:
        probe = self.studio.probes.get(id(moment.history))
        shared = self._shared_probe()
        return (id(moment.history), moment.info.index, moment.info.step, id(probe), id(shared))

    def _load(self, column: int) -> None:
        moment = self.columns[column]
        if moment.info is None:
            return
        generation, key = self._generation[column], self._key(moment)
        history, info = moment.history, moment.info
        grid_size = history.config.grid_size if history.config is not None else 20
        probes = [p for p in (self._shared_probe(), self.studio.probes.get(id(history))) if p is not None]
        kept = self._kept_encodings(history, info, probes)

        def work(task) -> ComparedMoment:
            return column_pictures(task, moment, grid_size, probes, kept)

        def done(result: ComparedMoment) -> None:
            self._kept[key] = result
            while len(self._kept) > MOMENTS_KEPT:
                self._kept.popitem(last=False)
            if column < len(self.columns) and generation == self._generation[column]:
                self.columns[column] = result
                self.column_changed.emit(column, result)
                self._update_preview(column)

        def failed(message: str) -> None:
            if column < len(self.columns) and generation == self._generation[column]:
                self.columns[column] = dataclasses.replace(moment, loaded=True, note=message)
                self.column_changed.emit(column, self.columns[column])
                self.failed.emit(f"{history.title()} at {info.label}: {message}")

        self._tasks[column] = self.executor.start(work, done, failed, key=f"compare-{column}")

    def _kept_encodings(self, history: RunHistory, info: SnapshotInfo, probes: list) -> tuple | None:
        """(probe, NumPy VAE, Posterior of the probe's images) of the moment, when the explorer has them and
        the probe is the one the column uses (the first that fits the model)."""
        for probe in probes:
            kept = self.studio.explorer.kept_encodings(history, info, probe)
            if kept is not None:
                first = next((p for p in probes if fits(p, kept[0].architecture)), None)
                return (probe, *kept) if first is probe else None
        return None

    # -- the cursor preview ----------------------------------------------------------------------------------
    def pace_previews(self, later: Callable[[float, Callable[[], None]], None]) -> None:
        """From now on the columns' cursor previews follow a drag at most every PREVIEW_INTERVAL (the last
        move is always shown): each is a decode per column on the pool, 60 a second while dragging, and on a
        machine whose cores train that time is taken from the training. `later(seconds, fn)` runs `fn` on
        the UI thread after a while (the window's)."""
        self._later = later

    def _on_cursor(self, *_args) -> None:
        if not self.wanted or not self.columns:
            return
        if self._later is not None:
            wait = self._last_preview + PREVIEW_INTERVAL - time.monotonic()
            if wait > 0:
                if not self._preview_waiting:
                    self._preview_waiting = True
                    self._later(wait, self._preview_after_wait)
                return
        self._decode_cursor()

    def _preview_after_wait(self) -> None:
        self._preview_waiting = False
        if self.wanted and self.columns:
            self._decode_cursor()

    def _decode_cursor(self) -> None:
        """Decode the cursor with every column's model on the pool (a burst of moves costs one)."""
        self._last_preview = time.monotonic()
        cursor = np.asarray(self.studio.view.cursor, np.float32)
        vaes = [moment.vae for moment in self.columns]

        def done(images: list) -> None:
            for column, (vae, image) in enumerate(zip(vaes, images)):
                if column < len(self.columns) and self.columns[column].vae is vae:
                    self._show_preview(column, image)

        self.executor.submit(lambda: [cursor_image(vae, cursor) for vae in vaes], done, key="compare-preview")

    def _update_preview(self, column: int) -> None:
        self._show_preview(column, cursor_image(self.columns[column].vae,
                                                 np.asarray(self.studio.view.cursor, np.float32)))

    def _show_preview(self, column: int, image: np.ndarray | None) -> None:
        if image is None and self.previews[column] is None:
            return
        self.previews[column] = image
        self.preview_changed.emit(column, image)


__all__ = ["Comparison", "MAX_COLUMNS", "SECONDS"]
