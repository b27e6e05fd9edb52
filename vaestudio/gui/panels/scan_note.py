"""The line under a diagnosis panel's figures saying which moment its scan is of, when that is not the
moment shown (the scans are paced while the window's run trains: gui/state/pacing.py)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget

from vaestudio.gui.state.diagnosis import Diagnosis
from vaestudio.gui.widgets import subscribe


class ScanNote(QLabel):
    """Hidden while the scan of `part` shown is of the moment shown (or there is none)."""

    def __init__(self, diagnosis: Diagnosis, part: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.diagnosis, self.part = diagnosis, part
        self.setWordWrap(True)
        subscribe(self, [(getattr(diagnosis, f"{part}_changed"), self.refresh),
                         (diagnosis.explorer.moment_loaded, self.refresh)])
        self.refresh()

    def refresh(self, *_args) -> None:
        info = self.diagnosis.older_scan(self.part)
        self.setVisible(info is not None)
        self.setText("" if info is None else
                     f"<i>Of {info.label}: while the run trains, scanning the test images takes at most a "
                     f"twentieth of the time (pause to scan the moment shown now).</i>")
