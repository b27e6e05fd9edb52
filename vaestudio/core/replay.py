"""Replay a run folder as the events it recorded, in the order the live run yielded them.

    for event in replay(folder):                     # Started, StepMetrics, Snapshot, ..., Finished
        ...
    for event in replay(folder, after=position):     # only what was recorded beyond `position`
        ...

Read-only: a run being written (by this process or another) may be replayed, and a reader following it
asks again with `after` set to what it already holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from vaestudio.core.diagnosis.run_watch import recorded_alarms
from vaestudio.core.errors import RunFolderError
from vaestudio.core.events import (CollapseAlarm, EpochEnd, Event, Finished, HyperChanged, Snapshot, Started, Status,
                                    StepMetrics)
from vaestudio.core.run_facts import read_facts, recorded_start_step, recorded_steps_per_epoch, step_offset
from vaestudio.core.store.metrics_log import OBJECTIVE_TERMS
from vaestudio.core.store.run_folder import RunFolder


@dataclass(frozen=True)
class ReplayPosition:
    """What a reader already holds of a run folder: the last of each kind of record it has read."""

    step: int = 0  # the last metrics step
    frame: int = -1  # the last snapshot frame
    epoch: int = 0  # the last epoch end
    hyper: int = -1  # the step of the last hyper-parameter change

    def precedes(self, row: dict) -> bool:
        """True when a metrics row was recorded beyond this position."""
        kind = row["kind"]
        if kind == "step":
            return row["step"] > self.step
        if kind == "hyper":
            return row["step"] > self.hyper
        return row["epoch"] > self.epoch


def replay(folder: str | Path, after: ReplayPosition | None = None, lazy: bool = False) -> Iterator[Event]:
    """The events a run folder recorded, snapshots with their weights (None for folders of vaestudio 0.1.0).

    Without `after`: the whole run, from Started to Finished. With `after`: only the metrics, snapshots,
    epoch ends and hyper-parameter changes recorded beyond it (no Started, no Finished). With `lazy`,
    snapshots come without their grid and weights (`Snapshot.weights_on_disk` says whether the folder has
    them), for a reader that loads a moment's files when it is shown (the window)."""
    run_folder = RunFolder(folder)
    state = run_folder.read_state()
    facts = read_facts(run_folder)
    rows = run_folder.metrics().rows()
    steps_per_epoch = recorded_steps_per_epoch(facts, rows, state)
    offset = step_offset(facts, steps_per_epoch)  # 0 but for some branches (core.branching)
    records = run_folder.snapshots.records()
    if after is not None:
        rows = [row for row in rows if after.precedes(row)]
        records = [record for record in records if record.frame > after.frame]
    else:
        config = state.config
        start_step = recorded_start_step(facts)  # a branch's records begin at its parent's step
        yield Started(config.epochs, steps_per_epoch, (start_step - offset) // steps_per_epoch + 1,
                      str(facts.get("device") or "recorded"), str(facts.get("precision") or "float32"),
                      start_step=start_step, replicas=int(facts.get("replicas") or 1))
    yield from _in_order(run_folder, rows, records, steps_per_epoch, offset,
                         recorded_alarms(run_folder.path), lazy)
    if after is None:
        reason = facts.get("ended") or ("completed" if state.complete else "stopped")
        yield Finished(str(reason), state.epochs_done, state.step, str(facts.get("message") or ""))


def _in_order(folder: RunFolder, rows: list[dict], records: list, steps_per_epoch: int,
              offset: int = 0, alarms: list[CollapseAlarm] = (), lazy: bool = False) -> Iterator[Event]:
    """Metrics rows and snapshots merged as the live run made them: at the same step, metrics, then a
    snapshot, then the epoch's end (then a collapse alarm, at the epoch end that raised it)."""
    store = folder.snapshots
    pending_records = iter(records)
    pending = next(pending_records, None)

    def snapshots_until(step: float, inclusive: bool) -> Iterator[Event]:
        nonlocal pending
        while pending is not None and (pending.step < step or (inclusive and pending.step == step)):
            try:
                if lazy:  # read when the moment is shown: opening a long run reads only its index
                    event: Event = Snapshot(pending.epoch, pending.step, pending.label, None, frame=pending.frame,
                                            weights_on_disk=store.weights_path(pending.frame).is_file())
                else:
                    event = Snapshot(pending.epoch, pending.step, pending.label, store.load_mosaic(pending),
                                     store.load_weights(pending), frame=pending.frame)
            except RunFolderError as exc:  # one damaged snapshot: say so and go on with the rest
                event = Status(f"skipped a damaged snapshot: {exc}")
            pending = next(pending_records, None)
            yield event

    for row in rows:
        kind, step = row["kind"], row["step"]
        if kind == "step":
            yield from snapshots_until(step, inclusive=False)
            epoch_step = step - offset - (row["epoch"] - 1) * steps_per_epoch
            yield StepMetrics(row["epoch"], step, epoch_step, steps_per_epoch, row["elbo"], row["log_likelihood"],
                              row["kl"], row["images_per_second"] or 0.0, objective=row["objective"],
                              learning_rate=row["learning_rate"], beta=row["beta"],
                              terms={name: row[name] for name in OBJECTIVE_TERMS if row.get(name) is not None} or None)
        elif kind == "hyper":
            yield from snapshots_until(step, inclusive=False)
            yield HyperChanged(step, row["learning_rate"], row["beta"])
        elif kind == "epoch":
            yield from snapshots_until(step, inclusive=True)
            yield EpochEnd(row["epoch"], step, row["test_elbo"], row["test_log_likelihood"], row["test_kl"],
                           row["seconds"] or 0.0, kl_per_dimension=tuple(row["kl_per_dimension"] or ()))
            yield from (alarm for alarm in alarms if alarm.step == step)
    yield from snapshots_until(math.inf, inclusive=True)
