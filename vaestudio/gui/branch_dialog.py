"""*Branch from here…*: a new run from a moment of a run (live, opened or finished), its options changed.

The dialog names the moment, proposes a new folder next to the parent's, shows every training option
(editable) and the architecture (greyed: the parent's weights fit only it), and says whether Adam's state
comes from the parent's checkpoint or starts fresh. OK checks everything with `core.branching.plan_branch`
(one line naming the field when a value is wrong) and hands the plan to `TrainingController.branch`,
which trains the child as Start trains a new run. While a run trains (or is paused) in the window,
branching is refused: the window trains one run at a time (stop it first; its snapshots stay).

`BranchButton` is the Run dock's button; the timeline's context menu and the collapse banner go through
`Commands.ask_branch` too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QLineEdit, QPushButton, QVBoxLayout, QWidget)

from vaestudio.core.config import LR_SCHEDULES, PRECISIONS
from vaestudio.core.errors import VaeStudioError
from vaestudio.gui.number_field import NumberField
from vaestudio.gui.widgets import subscribe

# The options a branch may change, in the dialog's order (TrainConfig fields) and their labels; those from
# RECORDING_FROM on go in the second column.
NUMBER_OPTIONS = {
    "epochs": "Train to epoch",
    "batch_size": "Batch size",
    "learning_rate": "Learning rate",
    "lr_warmup_steps": "LR warm-up steps",
    "beta": "β (KL weight)",
    "kl_warmup_steps": "KL warm-up steps",
    "seed": "Seed",
    "metrics_every": "Metrics every",
    "snapshot_every": "Snapshot every (epoch 1)",
    "snapshot_every_later": "Snapshot every (later)",
    "grid_size": "Grid size",
    "steps_per_call": "Steps per call",
}
RECORDING_FROM = "metrics_every"
CHOICE_OPTIONS = {"lr_schedule": ("LR schedule", LR_SCHEDULES), "precision": ("Precision", PRECISIONS)}
FIXED = {"latent_dim": "Latent dim", "image_size": "Image size", "channels": "Channels", "likelihood": "Likelihood"}
FROM_PARENT = "Comes from the parent: its weights fit only this architecture (start a new run to change it)"
_EPOCH_LABEL = re.compile(r"^epoch (\d+)$")


def branch_refusal(studio, history, info) -> str | None:
    """Why the moment `info` of `history` cannot be branched from now (one line), or None when it can."""
    if history is None:
        return "No run is shown: open a run folder or train one first"
    if studio.is_training:
        return ("A run is training in the window: stop it first (Run → Stop); the window trains one run at a "
                "time, and every snapshot stays there to branch from")
    if history.folder is None:
        return "A model file has no run folder to branch from: open the run's folder instead"
    if info is None:
        return f"{history.title()} has no snapshot yet to branch from"
    if info.frame < 0 or not info.has_weights:
        return f"The moment '{info.label}' of {history.title()} has no saved weights to branch from"
    return None


def default_branch_folder(parent: Path, label: str, step: int) -> Path:
    """A new folder beside the parent's: <parent>-branch-epoch2 (or -step40), numbered when taken."""
    match = _EPOCH_LABEL.match(label)
    where = f"epoch{match[1]}" if match else f"step{step}"
    base = parent.parent / f"{parent.name}-branch-{where}"
    folder, number = base, 2
    while folder.exists():
        folder = base.with_name(f"{base.name}-{number}")
        number += 1
    return folder


class BranchDialog(QDialog):
    """The options of a branch from `info` (a SnapshotInfo) of `history`; OK starts it through `start(plan)`.

    Raises VaeStudioError (one line) when the moment cannot be read."""

    def __init__(self, history, info, start: Callable[[Any], bool], overrides: dict[str, Any] | None = None,
                 lower_beta: bool = False, parent: QWidget | None = None):
        from vaestudio.core.branching import find_moment
        from vaestudio.core.store.run_folder import RunFolder

        super().__init__(parent)
        self.history, self.info = history, info
        self.parent_folder = Path(history.folder)
        self._start = start
        self.overrides = dict(overrides or {})  # the window's test hooks (small grids), as Start applies them
        self.plan = None  # the BranchPlan started, once OK succeeded
        self.moment = find_moment(self.parent_folder, "frame", info.frame)
        self.parent_config = RunFolder(self.parent_folder).read_config()
        self.setWindowTitle(f"Branch from {history.title()}")
        self.setMinimumWidth(640)
        m, config = self.moment, self.parent_config

        self.moment_label = QLabel(
            f"From <b>{history.title()}</b> at <b>{m.label}</b> (step {m.step}, {m.epoch} epoch"
            f"{'s' if m.epoch != 1 else ''} done): the new run starts from that snapshot's weights and its steps "
            f"continue the parent's count (its first step is {m.step + 1}). The parent's folder is only read.")
        self.moment_label.setWordWrap(True)
        self.optimizer_label = QLabel(
            "Optimizer: Adam's state comes from the parent's checkpoint (taken at this moment)."
            if m.optimizer_variables is not None else
            "Optimizer: a fresh Adam (the parent's checkpoint was not taken at this moment).")
        self.optimizer_label.setWordWrap(True)
        self.folder_edit = QLineEdit(str(default_branch_folder(self.parent_folder, m.label, m.step)))
        self.folder_edit.setToolTip("The new run's folder (new or empty; never the parent's)")

        self.fields = {name: NumberField.for_setting(name, label) for name, label in NUMBER_OPTIONS.items()}
        for name, field in self.fields.items():
            field.set_value(getattr(config, name))
        self.fields["learning_rate"].set_value(m.learning_rate)  # in force in the parent at the moment
        self.fields["beta"].set_value(m.beta)
        self.fields["epochs"].set_value(config.epochs if config.epochs > m.epoch
                                        else m.epoch + max(1, config.epochs // 2))
        self.fields["epochs"].setToolTip(f"Epochs counted from the first run of the family: the branch trains "
                                         f"from epoch {m.epoch + 1} to this one")
        self.choices = {}
        for name, (label, values) in CHOICE_OPTIONS.items():
            combo = QComboBox()
            combo.addItems(values)
            combo.setCurrentText(getattr(config, name))
            self.choices[name] = combo
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.hide()
        if lower_beta and m.beta > 0:
            self.fields["beta"].set_value(round(m.beta / 2, 6))
            self.note.setText(f"β lowered from {m.beta:g} to {m.beta / 2:g} (the collapse alarm's advice): a smaller "
                              "KL weight lets the code keep more about the image. Change it as you like.")
            self.note.show()

        folder_row = QFormLayout()
        folder_row.addRow("New folder", self.folder_edit)
        training, recording = QFormLayout(), QFormLayout()
        form = training
        for name, label in NUMBER_OPTIONS.items():
            form = recording if name == RECORDING_FROM else form
            form.addRow(label, self.fields[name])
            if name == "lr_warmup_steps":
                form.addRow(CHOICE_OPTIONS["lr_schedule"][0], self.choices["lr_schedule"])
        recording.addRow(CHOICE_OPTIONS["precision"][0], self.choices["precision"])
        training_box = QGroupBox("Training")
        training_box.setLayout(training)
        recording_box = QGroupBox("Recording and speed")
        recording_box.setLayout(recording)
        fixed = QFormLayout()
        self.fixed_fields = {}
        for name, label in FIXED.items():
            shown = QLineEdit(str(getattr(config, name)))
            shown.setEnabled(False)
            shown.setToolTip(FROM_PARENT)
            self.fixed_fields[name] = shown
            fixed.addRow(label, shown)
        data = QLineEdit(config.dataset + (f" ({config.data_dir})" if config.data_dir else ""))
        data.setEnabled(False)
        data.setToolTip("The parent's data (vaestudio train --from … --dataset/--data can change it)")
        fixed.addRow("Data", data)
        fixed_box = QGroupBox("From the parent")
        fixed_box.setToolTip(FROM_PARENT)
        fixed_box.setLayout(fixed)

        self.problem = QLabel()
        self.problem.setStyleSheet("color: #c9302c;")
        self.problem.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Branch and train")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        right = QVBoxLayout()
        right.addWidget(recording_box)
        right.addWidget(fixed_box)
        columns = QHBoxLayout()
        columns.addWidget(training_box, 1)
        columns.addLayout(right, 1)
        layout = QVBoxLayout(self)
        for widget in (self.moment_label, self.optimizer_label, self.note):
            layout.addWidget(widget)
        layout.addLayout(folder_row)
        layout.addLayout(columns)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        for field in self.fields.values():
            field.textChanged.connect(self._check)
        self.folder_edit.textChanged.connect(self._check)
        self._check()

    # -- values ------------------------------------------------------------------------------------------------
    def changes(self) -> dict[str, Any]:
        """The child's settings as typed (valid fields only), for plan_branch."""
        values: dict[str, Any] = {name: field.value() for name, field in self.fields.items()}
        values.update({name: combo.currentText() for name, combo in self.choices.items()})
        values.update(self.overrides)
        return values

    def set_values(self, values: dict[str, Any]) -> None:
        """Type `values` into the fields (tests and the self-test); "out" is the new folder."""
        for name, value in values.items():
            if name == "out":
                self.folder_edit.setText(str(value))
            elif name in self.choices:
                self.choices[name].setCurrentText(str(value))
            else:
                self.fields[name].setText(str(value))

    def error(self) -> str | None:
        """The first problem with what is typed (one line naming the field), None when it can be tried."""
        for field in self.fields.values():
            if field.error:
                return field.error
        epochs = self.fields["epochs"].value()
        if epochs is not None and epochs <= self.moment.epoch:
            return (f"Train to epoch: the branch starts after epoch {self.moment.epoch}; ask for more than "
                    f"{self.moment.epoch}")
        if not self.folder_edit.text().strip():
            return "New folder is empty: enter the new run's folder"
        return None

    def _check(self) -> None:
        problem = self.error()
        self.problem.setText(problem or "")
        self.ok_button.setEnabled(problem is None)

    # -- OK ----------------------------------------------------------------------------------------------------
    def accept(self) -> None:
        """Check the branch as a whole (folder, options) and start it; a problem keeps the dialog open."""
        from vaestudio.core.branching import plan_branch

        problem = self.error()
        if problem is None:
            try:
                plan = plan_branch(self.parent_folder, Path(self.folder_edit.text().strip()).expanduser(),
                                   self.changes(), kind="frame", number=self.info.frame, option_names=FIELD_NAMES)
            except VaeStudioError as exc:
                problem = str(exc)
            else:
                if self._start(plan):
                    self.plan = plan
                    super().accept()
                    return
                problem = "The branch did not start: see the message in the status bar"
        self.problem.setText(problem)


FIELD_NAMES = {**NUMBER_OPTIONS, **{name: label for name, (label, _) in CHOICE_OPTIONS.items()}, **FIXED}


class BranchButton(QPushButton):
    """The Run dock's *Branch from here…*: enabled when the moment shown can be branched from (else its
    tooltip says why)."""

    def __init__(self, studio, commands, parent: QWidget | None = None):
        super().__init__("Branch from here…", parent)
        self.studio, self.commands = studio, commands
        self.clicked.connect(self._on_clicked)
        subscribe(self, [(studio.active_changed, self.refresh), (studio.active_moment_changed, self.refresh),
                         (studio.active_snapshot_added, self.refresh), (studio.training_changed, self.refresh)])
        self.refresh()

    def refresh(self, *_args) -> None:
        history = self.studio.active
        refusal = branch_refusal(self.studio, history, history.current if history is not None else None)
        self.setEnabled(refusal is None and self.commands.training is not None)
        self.setToolTip(refusal or "Start a new run from the moment shown (the timeline's), its options changed")

    def _on_clicked(self) -> None:
        self.commands.ask_branch()
