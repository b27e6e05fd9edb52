"""The run controls' progress box: the epoch's and the run's progress bars, and the ETA and rate of the
run under way (or how the last one ended)."""

from __future__ import annotations

from PySide6.QtWidgets import QGroupBox, QLabel, QProgressBar, QVBoxLayout, QWidget

from vaestudio.core.progress import format_duration
from vaestudio.gui.state.studio import PAUSED, STOPPING, TRAINING, WAITING

ENDINGS = {"completed": "Completed", "stopped": "Stopped", "diverged": "Diverged"}


class ThinBar(QProgressBar):
    """A progress bar a few pixels high with its text in a label above: never mistaken for a button."""

    def __init__(self):
        super().__init__()
        self.setRange(0, 1000)
        self.setTextVisible(False)
        self.setFixedHeight(6)


class RunProgress(QGroupBox):
    """Epoch and run progress with their labels, and a line with the ETA or how the run ended."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Progress", parent)
        self.epoch_label = QLabel("Epoch: not started")
        self.epoch_bar = ThinBar()
        self.run_label = QLabel("Run: not started")
        self.run_bar = ThinBar()
        self.eta_label = QLabel("")
        self.eta_label.setStyleSheet("color: palette(mid);")
        layout = QVBoxLayout(self)
        for widget in (self.epoch_label, self.epoch_bar, self.run_label, self.run_bar, self.eta_label):
            layout.addWidget(widget)

    def show_run(self, history, state: str) -> None:
        """Show the progress of `history` (a RunHistory or None) in training state `state`."""
        progress = history.progress() if history is not None else None
        if progress is None:
            waiting = state in (WAITING, PAUSED) and history is not None
            self.epoch_label.setText("Epoch: starting…" if waiting else "Epoch: not started")
            self.run_label.setText("Run: starting…" if waiting else "Run: not started")
            self.epoch_bar.setValue(0)
            self.run_bar.setValue(0)
            self.eta_label.setText("")
            return
        self.epoch_bar.setValue(int(round(progress.epoch_fraction * 1000)))
        self.run_bar.setValue(int(round(progress.run_fraction * 1000)))
        self.epoch_label.setText(f"Epoch {progress.epoch} of {progress.total_epochs}: {progress.epoch_fraction:.0%}")
        self.run_label.setText(f"Run: {progress.run_fraction:.0%}")
        if state in (TRAINING, WAITING):
            rate = f" · {progress.steps_per_second:.1f} steps/s" if progress.steps_per_second else ""
            self.eta_label.setText(f"ETA {format_duration(progress.eta_seconds)}{rate}")
        elif state == PAUSED:
            self.eta_label.setText("Paused")
        elif state == STOPPING:
            self.eta_label.setText("Stopping…")
        else:
            finished = history.finished_event
            self.eta_label.setText(ENDINGS.get(finished.reason, finished.reason) if finished is not None else "")
