"""Branch from here… in the window (issue 17), driven as a user drives it: the timeline's right-click menu
or the Run dock's button, the dialog, OK; the child trains like a started run, continues its parent's count,
never writes the parent, and sits under it in the Runs panel, whose check boxes overlay curves."""

from __future__ import annotations

import json

import pytest
from hostile_helpers import assert_unchanged, copy_run, tree_state
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from window_helpers import wait_idle

from vaestudio.core.events import EpochEnd


def open_run(qtbot, window, folder):
    window.commands.answers["runs"] = folder
    window.open_run_action.trigger()
    history = window.studio.active
    assert history is not None and history.folder == folder, window.last_error
    qtbot.waitUntil(lambda: not window.opening.is_replaying(history), timeout=30_000)
    return history


def right_click(qtbot, widget):
    """A right-click as the user makes it, through the window system (which turns it into a context-menu event
    for the widget under the mouse); the menu it opens."""
    top = widget.window()
    where = widget.mapTo(top, QPoint(widget.width() // 2, widget.height() // 2))
    QTest.mouseClick(top.windowHandle(), Qt.MouseButton.RightButton, pos=where)
    qtbot.waitUntil(lambda: window_menu(widget) is not None and window_menu(widget).isVisible(), timeout=3000)
    return window_menu(widget)


def window_menu(widget):
    panel = widget
    while panel is not None and not hasattr(panel, "context_menu"):
        panel = panel.parentWidget()
    return panel.context_menu if panel is not None else None


def shown_runs(window) -> list[tuple[str, int]]:
    """The Runs panel's open list as seen: each run's name and its indentation (generation)."""
    runs = window.runs_panel
    return [(runs.open_list.item(row).data(Qt.ItemDataRole.UserRole).folder.name,
             runs.open_list.item(row).data(Qt.ItemDataRole.UserRole + 1)) for row in range(runs.open_list.count())]


def wait_trained(qtbot, window) -> None:
    qtbot.waitUntil(lambda: window.studio.is_training or window.last_error is not None, timeout=60_000)
    wait_idle(qtbot, window)
    assert window.last_error is None, window.last_error


def test_branch_from_the_timeline_trains_a_child_under_its_untouched_parent(qtbot, window, recorded_run, tmp_path):
    parent = copy_run(recorded_run[0], tmp_path / "run-a")
    before = tree_state(parent)
    history = open_run(qtbot, window, parent)
    epoch_1 = next(info for info in history.snapshots if info.label == "epoch 1")
    history.select(epoch_1.index)

    menu = right_click(qtbot, window.timeline.slider)
    action = window.timeline.branch_action
    assert action in menu.actions() and action.isEnabled() and "epoch 1 · step 4" in action.text()
    action.trigger()
    dialog = window.commands.branch_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=3000)
    assert "run-a" in dialog.moment_label.text() and "epoch 1" in dialog.moment_label.text()
    assert "first step is 5" in dialog.moment_label.text()
    assert "fresh Adam" in dialog.optimizer_label.text()  # the checkpoint is at step 8, not 4
    assert dialog.folder_edit.text() == str(tmp_path / "run-a-branch-epoch1")
    latent = dialog.fixed_fields["latent_dim"]
    assert latent.text() == "2" and not latent.isEnabled() and "from the parent" in latent.toolTip()

    beta = dialog.fields["beta"]
    beta.clear()
    QTest.keyClicks(beta, "-1")  # a bad value: one line naming the field, OK greyed
    assert dialog.problem.text().startswith("β (KL weight) must be between 0 and 100")
    assert not dialog.ok_button.isEnabled()
    beta.clear()
    QTest.keyClicks(beta, "2")
    dialog.fields["epochs"].setText("3")
    assert dialog.problem.text() == "" and dialog.ok_button.isEnabled()
    QTest.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    wait_trained(qtbot, window)

    child = tmp_path / "run-a-branch-epoch1"
    facts = json.loads((child / "run.json").read_text())
    assert facts["parent"]["folder"] == str(parent) and facts["parent"]["step"] == 4
    assert facts["parent"]["optimizer"] == "fresh"
    assert json.loads((child / "config.json").read_text())["beta"] == 2.0
    branch = window.studio.active
    assert branch.folder == child and branch.started_event.start_step == 4
    steps = branch.curves["train_elbo"].x
    assert steps[0] == 5 and steps[-1] == 12  # the parent's count goes on: epochs 2 and 3
    assert [end.epoch for end in branch.epoch_ends] == [2, 3]
    assert_unchanged(before, parent)  # not a byte, not a time stamp of the parent changed

    # The Runs panel: the child under its parent, every run with its check box; a click on one overlays.
    assert shown_runs(window) == [("run-a", 0), ("run-a-branch-epoch1", 1)]
    runs = window.runs_panel
    for row in range(runs.open_list.count()):
        assert runs.open_list.item(row).data(Qt.ItemDataRole.CheckStateRole) is not None
    first = runs.open_list.item(0)
    QTest.mouseClick(runs.open_list.viewport(), Qt.MouseButton.LeftButton, pos=runs.check_rect(first).center())
    assert first.checkState() == Qt.CheckState.Checked
    assert window.studio.compared == [history]
    assert id(history) in window.elbo.compared_curves
    assert "run-a: train" in [label.text for _, label in window.elbo.legend.items]

    # Opening the child alone offers its parent (no dialog): "Open parent" puts it back above the child.
    for name in ("run-a", "run-a-branch-epoch1"):
        runs.open_list.setCurrentRow([n for n, _ in shown_runs(window)].index(name))
        runs.close_selected()
    assert window.studio.runs == []
    reopened = open_run(qtbot, window, child)
    assert shown_runs(window) == [("run-a-branch-epoch1", 0)]
    assert "branched from run-a at epoch 1 (step 4)" in runs.open_list.item(0).text()
    assert runs.open_parent_button.isVisible() and "it is not open" in runs.parent_note.text()
    QTest.mouseClick(runs.open_parent_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(window.studio.runs) == 2 and not window.opening.is_replaying(), timeout=30_000)
    assert shown_runs(window) == [("run-a", 0), ("run-a-branch-epoch1", 1)]
    window.studio.activate(reopened)
    assert not runs.open_parent_button.isVisible()
    assert "branched from" not in runs.open_list.item(1).text()


def test_the_run_docks_button_branches_a_run_trained_in_the_window(qtbot, window, runs_dir):
    button = window.controls.branch_button
    assert not button.isEnabled() and "No run is shown" in button.toolTip()
    window.controls.fields["epochs"].setText("2")
    window.controls.start_button.click()
    window.controls.pause_button.click()
    # While a run trains or is paused, branching is refused (the window trains one run at a time): stop it first.
    assert window.studio.training == "paused"
    assert not button.isEnabled() and "stop it first" in button.toolTip()
    # (The label: the slider is disabled while the run has only its first snapshot, and a disabled widget
    # takes no right-click.)
    menu = right_click(qtbot, window.timeline.label)
    assert not window.timeline.branch_action.isEnabled()
    assert any("stop it first" in action.text() for action in menu.actions())
    menu.close()
    window.controls.pause_button.click()  # Resume
    wait_idle(qtbot, window)
    assert window.last_error is None, window.last_error
    parent = window.studio.active
    assert parent.current.label == "epoch 2" and button.isEnabled()

    QTest.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = window.commands.branch_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=3000)
    assert "from the parent's checkpoint" in dialog.optimizer_label.text()  # the moment is the checkpoint's
    assert dialog.fields["epochs"].text() == "3"  # the parent trained all its 2: one more proposed
    dialog.fields["learning_rate"].setText("0.0005")
    QTest.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    wait_trained(qtbot, window)
    child = window.studio.active
    assert child is not parent and child.folder == parent.folder.parent / f"{parent.folder.name}-branch-epoch2"
    facts = json.loads((child.folder / "run.json").read_text())
    assert facts["parent"]["optimizer"] == "restored" and facts["parent"]["step"] == parent.current.step
    assert child.curves["train_elbo"].x[0] == parent.current.step + 1
    assert shown_runs(window) == [(parent.folder.name, 0), (child.folder.name, 1)]


def test_the_collapse_banners_button_opens_the_dialog_at_the_last_healthy_moment_with_a_lower_beta(
        qtbot, window, recorded_run, tmp_path):
    parent = copy_run(recorded_run[0], tmp_path / "run-a")
    history = open_run(qtbot, window, parent)
    banner = window.banner
    assert not banner.isVisible()
    history.feed(EpochEnd(3, 12, -540.0, -539.99, 0.01, 1.0, (0.01, 0.0)))  # the code collapses in epoch 3
    qtbot.waitUntil(banner.isVisible, timeout=3000)
    assert banner.branch.isEnabled() and "lower β" in banner.branch.toolTip()
    assert "branch from the last healthy moment" in banner.text.text()
    QTest.mouseClick(banner.branch, Qt.MouseButton.LeftButton)
    dialog = window.commands.branch_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=3000)
    assert history.current.step == 8 and dialog.moment.step == 8  # epoch 2, the last healthy moment
    assert dialog.fields["beta"].value() == 0.5 and "β lowered from 1 to 0.5" in dialog.note.text()
    assert dialog.folder_edit.text().endswith("run-a-branch-epoch2")
    dialog.reject()
    assert not (tmp_path / "run-a-branch-epoch2").exists()


def test_the_self_tests_branch_check_passes_on_a_run_and_fails_in_one_line_without_one(qtbot, window, recorded_run,
                                                                                       tmp_path):
    from vaestudio.gui.selftest import SelfTestFailure, wait_until
    from vaestudio.gui.selftest_checks import branch_check

    with pytest.raises(SelfTestFailure, match="^branch: no run shown"):
        branch_check(window, tmp_path, SelfTestFailure, wait_until)
    open_run(qtbot, window, copy_run(recorded_run[0], tmp_path / "run-a"))
    assert branch_check(window, tmp_path, SelfTestFailure, wait_until) == "branch at step 8"
    assert window.studio.active.folder == tmp_path / "branch"
