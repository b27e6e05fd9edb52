"""run.json: what a run's start found (steps per epoch, data, device, precision, replicas), how the run
last ended, and the checkpoint step its final files were saved at; for a branch (core.branching), its
parent (absolute folder, step, epoch, frame, label, optimizer "restored" or "fresh") and where its own
count began ("start": step, epoch, epoch_step).

Written by the run pipeline (`core.runs`), read by replay (`core.replay`). A missing or unreadable file
reads as no facts: replay then works them out from the metrics and the checkpoint.
"""

from __future__ import annotations

import json
from typing import Any

from vaestudio.core.config import read_json_object
from vaestudio.core.errors import RunFolderError, VaeStudioError
from vaestudio.core.events import Finished, Started
from vaestudio.core.store.run_folder import RUN_FACTS, RunFolder, RunState


def read_facts(folder: RunFolder) -> dict[str, Any]:
    """The folder's run.json as a dict; {} when it is missing or unreadable."""
    path = folder.file(RUN_FACTS)
    if not path.exists():
        return {}
    try:
        return read_json_object(path, RunFolderError)
    except RunFolderError:
        return {}


def write_facts(folder: RunFolder, started: Started | None = None, dataset=None, finished: Finished | None = None,
                saved_step: int | None = None) -> None:
    """Update run.json: a start (with its data) clears how the run ended and where it was saved; a
    `finished` records how it ended; `saved_step` the checkpoint step its final files were saved at."""
    from vaestudio.core.store.atomic import write_text_atomic

    facts = read_facts(folder)
    if started is not None:
        facts.update(steps_per_epoch=started.steps_per_epoch, device=started.device, precision=started.precision,
                     replicas=started.replicas, data=dataset.describe() if dataset is not None else None,
                     ended=None, message=None, saved_step=None)
    if saved_step is not None:
        facts.update(saved_step=saved_step)
    if finished is not None:
        facts.update(ended=finished.reason, message=finished.message)
    try:
        write_text_atomic(folder.file(RUN_FACTS), json.dumps(facts, indent=2, sort_keys=True) + "\n")
    except VaeStudioError as exc:
        raise RunFolderError(str(exc)) from None


def write_branch_facts(folder: RunFolder, parent: dict[str, Any], start: dict[str, int]) -> None:
    """Record, in a new branch's run.json, the moment it was branched from and where its count begins."""
    from vaestudio.core.store.atomic import write_text_atomic

    facts = read_facts(folder)
    facts.update(parent=parent, start=start)
    try:
        write_text_atomic(folder.file(RUN_FACTS), json.dumps(facts, indent=2, sort_keys=True) + "\n")
    except VaeStudioError as exc:
        raise RunFolderError(str(exc)) from None


def recorded_parent(facts: dict[str, Any]) -> dict[str, Any] | None:
    """The parent a branch's run.json records ({"folder": str, "step": int, ...}); None for a root run or
    when the record is not sound."""
    parent = facts.get("parent")
    if not isinstance(parent, dict) or not isinstance(parent.get("folder"), str) or not parent["folder"]:
        return None
    step = parent.get("step")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        return None
    return parent


def step_offset(facts: dict[str, Any], steps_per_epoch: int) -> int:
    """Global steps ahead of epochs x steps per epoch + steps into the epoch: 0 but for a branch that began
    its epoch afresh on data of another size (see core.branching)."""
    start = facts.get("start")
    if not isinstance(start, dict):
        return 0
    values = [start.get(name) for name in ("step", "epoch", "epoch_step")]
    if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in values):
        return 0
    step, epoch, epoch_step = values
    return max(step - (epoch * steps_per_epoch + epoch_step), 0)


def recorded_start_step(facts: dict[str, Any]) -> int:
    """The step a run's own records begin at: its parent's step for a branch, else 0."""
    parent = recorded_parent(facts)
    return parent["step"] if parent is not None else 0


def recorded_steps_per_epoch(facts: dict[str, Any], rows: list[dict], state: RunState) -> int:
    """Steps per epoch as run.json recorded them, else as the epoch rows or the checkpoint imply."""
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
