"""The posterior-collapse banner: shown while the active run is in collapse — what it means, what to
try, and buttons to look at the moment it started or branch from the last healthy one (state: Diagnosis).
The window makes it branch (`branch_with`: `branch_requested` opens the Branch from here… dialog at that
moment, β lowered); a banner built without it greys that button, whose tooltip then gives the `train --from`
command for the last healthy moment.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from vaestudio.gui.state.diagnosis import Diagnosis
from vaestudio.gui.state.studio import Studio
from vaestudio.gui.widgets import subscribe


class CollapseBanner(QFrame):
    """A warning strip above the panels; hidden while the active run is healthy."""

    branch_requested = Signal(int)  # the step of the last healthy moment (the window offers to branch there)

    def __init__(self, studio: Studio, diagnosis: Diagnosis, parent: QWidget | None = None, can_branch: bool = False):
        super().__init__(parent)
        self.can_branch = can_branch
        self.studio, self.diagnosis = studio, diagnosis
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("CollapseBanner { background: #fff3cd; } QLabel { color: #5c4400; }")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.show_start = QPushButton("Show where it started")
        self.show_start.clicked.connect(self._show_start)
        self.branch = QPushButton("Branch from the last healthy moment")
        self.branch.clicked.connect(self._branch)
        self.set_can_branch(can_branch)
        self.show_start.setToolTip("Show the moment the alarm started on the timeline")
        buttons = QVBoxLayout()
        buttons.addWidget(self.show_start)
        buttons.addWidget(self.branch)
        buttons.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(self.text, 1)
        layout.addLayout(buttons)
        subscribe(self, [(diagnosis.alarm_changed, self._show), (studio.training_changed, self._on_training)])
        self._show(diagnosis.alarm)

    def branch_with(self, handler) -> None:
        """Enable the branch button; `handler(step)` gets the last healthy step when it is pressed."""
        self.branch_requested.connect(handler)
        self.set_can_branch(True)

    def set_can_branch(self, on: bool) -> None:
        """Offer branching (something handles `branch_requested`), or grey the button with the command."""
        self.can_branch = on
        self.branch.setEnabled(False)
        self.branch.setToolTip(_NOT_IN_THE_WINDOW)
        self._on_training()
        if self.diagnosis.alarm is not None:
            self._show(self.diagnosis.alarm)

    def _on_training(self, *_args) -> None:
        """While a run trains in the window, branching waits for it to stop (one run at a time)."""
        if self.can_branch:
            training = self.studio.is_training
            self.branch.setEnabled(not training)
            self.branch.setToolTip(_STOP_FIRST if training else _BRANCH_TIP)

    def _show(self, alarm) -> None:
        self.setVisible(alarm is not None)
        if alarm is None:
            return
        advice = [a for a in alarm.advice if self.can_branch or not a.startswith("branch")]
        healthy = ("" if alarm.last_healthy_step is None else
                   f" It was last healthy at epoch {alarm.last_healthy_epoch} (step {alarm.last_healthy_step}).")
        self.text.setText(f"<b>Alarm:</b> {alarm.reason[0].upper()}{alarm.reason[1:]}, so the plane and the "
                          f"traversals show little.{healthy} <b>Try</b> {', '.join(advice)}.")
        self.branch.setVisible(alarm.last_healthy_step is not None)
        if not self.can_branch and alarm.last_healthy_step is not None:
            history = self.studio.active
            folder = str(history.folder) if history is not None and history.folder is not None else "RUN"
            self.branch.setToolTip(f"{_NOT_IN_THE_WINDOW} From the command line:\n  vaestudio train --from "
                                   f"{folder}@step:{alarm.last_healthy_step} --out NEW_FOLDER --beta …")

    def _show_start(self) -> None:
        alarm, history = self.diagnosis.alarm, self.studio.active
        if alarm is not None and history is not None:
            index = history.index_at_step(alarm.started_step)
            if index is not None:
                history.select(index)

    def _branch(self) -> None:
        alarm = self.diagnosis.alarm
        if alarm is not None and alarm.last_healthy_step is not None:
            self.branch_requested.emit(alarm.last_healthy_step)


_BRANCH_TIP = ("Start a new run from the weights of the last healthy moment, with a lower β (the Branch from "
               "here… dialog)")
_STOP_FIRST = ("Stop the run first (Run → Stop): the window trains one run at a time; then branch from the last "
               "healthy moment")
_NOT_IN_THE_WINDOW = "Branching from a past moment is not in the window yet."
