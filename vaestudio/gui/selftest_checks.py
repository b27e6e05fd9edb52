"""The self-test's checks of branching and comparing (vaestudio/gui/selftest.py runs them on its finished run, in its window):
each does what a user does, raises the self-test's failure (`fail`) saying what went wrong, and returns its
words for the "checks passed" line. `wait_until` is the self-test's (it runs the event loop while waiting)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

EPOCH_STEPS = 16  # the self-test's 512 images in batches of 32


def branch_check(window, tmp: Path, fail: type[Exception], wait_until: Callable) -> str:
    """Branch from here… at epoch 2 of the finished run, trained to epoch 3 in the window: the child's count
    continues the parent's and its run.json names the parent. Returns the check's words."""
    studio = window.studio
    parent = studio.active
    moment = next((info for info in parent.snapshots if info.label == "epoch 2"), None) if parent else None
    if moment is None:
        raise fail("branch: no run shown, or it has no snapshot at the end of epoch 2")
    parent.select(moment.index)
    window.commands.answers["branch"] = {"epochs": 3, "out": tmp / "branch"}
    dialog = window.commands.ask_branch(parent, moment)
    if dialog is None or dialog.plan is None:
        problem = dialog.problem.text() if dialog is not None else ""
        raise fail(f"branch: did not start: {window.last_error or problem}")
    wait_until(lambda: not studio.is_training, 300, "the branch to train", poll_ms=10)
    child = studio.active
    if window.last_error or child is None or child.folder != tmp / "branch" or child.started_event is None:
        raise fail(f"branch: did not train: {window.last_error}")
    recorded = json.loads((child.folder / "run.json").read_text()).get("parent") or {}
    steps = child.curves["train_elbo"].x
    if Path(recorded.get("folder", "")).resolve() != parent.folder.resolve() or recorded.get("step") != moment.step:
        raise fail(f"branch: run.json names {recorded or 'no parent'}, not {parent.folder} at step "
                              f"{moment.step}")
    if child.started_event.start_step != moment.step or not steps or not moment.step < steps[0] <= moment.step + EPOCH_STEPS:
        raise fail(f"branch: began at step {child.started_event.start_step}, first metrics at "
                              f"{steps[:1]}, not after the parent's step {moment.step}")
    return f"branch at step {moment.step}"


def compare_check(window, folder: Path, tmp: Path, fail: type[Exception], wait_until: Callable) -> str:
    """The run and a copy of it (the self-test trains one run) ticked and shown side by side in the Compare
    view, moved to the middle of training: both columns must show the same snapshot, decoded by its model."""
    import shutil

    studio = window.studio
    copy = shutil.copytree(folder, tmp / f"{folder.name} (copy)", ignore=shutil.ignore_patterns("*.lock", ".lock*"))
    other = window.opening.open_run(copy)
    if other is None:
        raise fail(f"cannot open the copy of the run: {window.last_error}")
    wait_until(lambda: not window.opening.is_replaying(other) and other.snapshots, 60, "the copy to be read")
    for history in studio.runs:
        studio.set_compared(history, True)
    studio.comparison.request_view()
    comparison, view = studio.comparison, window.panel("compare_view")
    stops = view.stops if view is not None else []
    if len(comparison.runs) != 2 or len(stops) < 2:
        raise fail(f"the Compare view shows {len(comparison.runs)} runs and {len(stops)} moments")
    view.slider.setValue(len(stops) // 2)
    wait_until(lambda: all(m.loaded for m in comparison.columns), 30, "the Compare view's pictures")
    shown = {(m.info.step, m.grid.tobytes()) for m in comparison.columns if m.info is not None and m.grid is not None}
    if len(shown) != 1 or len(comparison.columns) != 2:
        raise fail(f"the Compare view shows the two copies at different moments: "
                              f"{[m.info.label if m.info else None for m in comparison.columns]}")
    return f"compare (the run and its copy at {view.point_label.text()}: both at '{comparison.columns[0].info.label}')"
