"""The one dialog for continuing a run: more epochs, a new learning rate or β; it says where the run stands.

A finished run explains that it needs more epochs; a run that stopped before its first checkpoint (a
"dead-end" folder) says that it starts again from step 0 in the same folder.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from vaestudio.gui.number_field import NumberField


def describe_state(state, folder_name: str) -> str:
    """Where a run stands, in a sentence or two (core.store.run_folder.RunState)."""
    config = state.config
    if state.checkpoint is None:
        return (f"{folder_name} stopped before its first checkpoint: continuing it trains again from step 0 "
                f"in the same folder ({config.epochs} epochs).")
    where = f"{folder_name} has trained {state.epochs_done} of its {config.epochs} epochs (step {state.step})."
    if state.complete:
        return where + " It is finished: to continue it, ask for more epochs."
    return where + " It continues from its last checkpoint."


def default_epochs(state) -> int:
    """What the Epochs field proposes: the run's own count, or more than it has done when it is finished."""
    config = state.config
    if state.complete:
        return max(config.epochs, state.epochs_done) + max(1, config.epochs // 2)
    return config.epochs


class ContinueRunDialog(QDialog):
    """Epochs, learning rate and β for continuing the run whose RunState is given."""

    def __init__(self, state, folder_name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Continue run {folder_name}")
        self.setMinimumWidth(420)
        checkpoint = state.checkpoint
        lr = getattr(checkpoint, "learning_rate", None) or state.config.learning_rate
        beta = getattr(checkpoint, "beta", None)
        beta = state.config.beta if beta is None else beta
        self.explanation = QLabel(describe_state(state, folder_name))
        self.explanation.setWordWrap(True)
        self.epochs = NumberField.for_setting("epochs", "Epochs")
        self.epochs.set_value(default_epochs(state))
        self.learning_rate = NumberField.for_setting("learning_rate", "Learning rate")
        self.learning_rate.set_value(lr)
        self.beta = NumberField.for_setting("beta", "β (KL weight)")
        self.beta.set_value(beta)
        self.minimum_epochs = state.epochs_done + 1 if state.complete else 1
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #c9302c;")
        self.problem.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Continue")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Train to epoch", self.epochs)
        form.addRow("Learning rate", self.learning_rate)
        form.addRow("β (KL weight)", self.beta)
        layout = QVBoxLayout(self)
        layout.addWidget(self.explanation)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        for field in (self.epochs, self.learning_rate, self.beta):
            field.validityChanged.connect(self._check)
            field.textChanged.connect(self._check)
        self._check()

    def _check(self) -> None:
        problems = [f.error for f in (self.epochs, self.learning_rate, self.beta) if f.error]
        epochs = self.epochs.value()
        if not problems and epochs is not None and epochs < self.minimum_epochs:
            problems.append(f"Epochs: this run has done {self.minimum_epochs - 1}; ask for at least {self.minimum_epochs}")
        self.problem.setText(problems[0] if problems else "")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not problems)

    def values(self) -> dict:
        return {"epochs": int(self.epochs.value()), "learning_rate": float(self.learning_rate.value()),
                "beta": float(self.beta.value())}
