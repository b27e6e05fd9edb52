"""The window's status bar: the latest message (elided to fit, whole in its tooltip) with Open run folder
after a run ends, the run shown, and the device TensorFlow trains on."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QLabel, QStatusBar, QToolButton, QWidget

from vaestudio.gui.state.studio import FAILED, READY, Studio
from vaestudio.gui.widgets import ElidedLabel


class FittedLabel(QLabel):
    """A permanent status-bar label as wide as its text needs (never clipped), eliding only long run names."""

    def __init__(self, text: str = "", max_chars: int = 48):
        super().__init__()
        self.max_chars = max_chars
        self.set_full_text(text)

    def set_full_text(self, text: str, tooltip: str | None = None) -> None:
        half = self.max_chars // 2
        shown = text if len(text) <= self.max_chars else text[: half - 1] + "…" + text[-half:]
        self.setText(shown)
        self.setToolTip(tooltip if tooltip is not None else text)
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance(shown) + 12)


class StatusBar(QStatusBar):
    """Subscribes to the studio for the device; the window sets the run label and ended runs."""

    def __init__(self, studio: Studio, parent: QWidget | None = None):
        super().__init__(parent)
        self.studio = studio
        self.message_label = ElidedLabel("")
        self.open_folder_button = QToolButton(text="Open run folder")
        self.open_folder_button.setAutoRaise(True)
        self.open_folder_button.hide()
        self.open_folder_button.clicked.connect(self.open_run_folder)
        self.run_label = FittedLabel("No run yet")
        self.device_label = FittedLabel("Loading TensorFlow…", max_chars=60)
        self.addWidget(self.message_label, 1)
        self.addWidget(self.open_folder_button)
        self.addPermanentWidget(self.run_label)
        self.addPermanentWidget(self.device_label)
        self.finished_folder: Path | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(lambda: self.show_message(""))
        studio.message.connect(self.show_message)
        studio.device_changed.connect(self._on_device_changed)

    def show_message(self, text: str, milliseconds: int = 0) -> None:
        """The message (elided to fit, whole in its tooltip); 0 ms: until replaced."""
        self.message_label.set_full_text(text)
        if text and self.open_folder_button.isVisible() and self.finished_folder is not None \
                and str(self.finished_folder) not in text:
            self.open_folder_button.hide()
        self._timer.stop()
        if text and milliseconds > 0:
            self._timer.start(milliseconds)

    def text(self) -> str:
        return self.message_label.full_text()

    def show_run_ended(self, folder: Path | None, succeeded: bool, text: str) -> None:
        """A run ended: its one-line outcome, with Open run folder when there is one to open."""
        self.finished_folder = folder
        self.show_message(text)  # first: a message not naming the folder hides the button of an earlier run
        self.open_folder_button.setVisible(folder is not None and succeeded)

    def open_run_folder(self) -> None:
        if self.finished_folder is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.finished_folder)))

    def _on_device_changed(self, status: str) -> None:
        studio = self.studio
        if status == READY:
            self.device_label.set_full_text(f"Device: {studio.device.name}",
                                            f"Training runs on {studio.device} (TensorFlow {studio.tf_version})")
        elif status == FAILED:
            self.device_label.set_full_text("TensorFlow failed to load", studio.tf_error or "")
