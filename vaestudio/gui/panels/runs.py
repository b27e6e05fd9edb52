"""The runs: those open in the window (the live one, opened folders and models) and recent ones.

Selecting an open run shows it on the plane and in every explorer panel; its check box overlays its
curves on the ELBO plot. Open run… opens a folder read-only, Close closes the selected run, Continue
continues it (more epochs, a new learning rate or β), and a double-click on a recent run opens it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout,
                               QWidget)

from vaestudio.gui.commands import Commands
from vaestudio.gui.state.run_history import RunHistory
from vaestudio.gui.state.studio import Studio
from vaestudio.gui.widgets import subscribe

REFRESH_MS = 1000


class RunsPanel(QWidget):
    """Open and recent runs: which one is shown, which are compared, open / close / continue."""

    title = "Runs"

    def __init__(self, studio: Studio, commands: Commands, parent: QWidget | None = None):
        super().__init__(parent)
        self.studio = studio
        self.commands = commands
        self._filling = False

        self.open_list = QListWidget()
        self.open_list.setToolTip("Select a run to show it; tick it to overlay its curves on the ELBO plot")
        self.recent_list = QListWidget()
        self.recent_list.setToolTip("Double-click to open a recent run (read-only)")
        self.open_button = QPushButton("Open run…")
        self.close_button = QPushButton("Close")
        self.continue_button = QPushButton("Continue…")
        self.continue_button.setToolTip("Continue the selected run: more epochs, a new learning rate or β")
        buttons = QHBoxLayout()
        for button in (self.open_button, self.close_button, self.continue_button):
            buttons.addWidget(button)
        self.empty_label = QLabel("No run open: press Start, or open a run folder.")
        self.empty_label.setWordWrap(True)
        self.empty_label.setStyleSheet("color: palette(mid);")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(QLabel("<b>Open</b>"))
        layout.addWidget(self.empty_label)
        layout.addWidget(self.open_list, 2)
        layout.addLayout(buttons)
        layout.addWidget(QLabel("<b>Recent</b>"))
        layout.addWidget(self.recent_list, 1)

        self.open_list.currentItemChanged.connect(self._on_selected)
        self.open_list.itemChanged.connect(self._on_item_changed)
        self.recent_list.itemActivated.connect(self._on_recent_activated)
        self.open_button.clicked.connect(self.ask_open)
        self.close_button.clicked.connect(self.close_selected)
        self.continue_button.clicked.connect(self.continue_selected)
        subscribe(self, [(signal, self.refresh) for signal in (
            studio.runs_changed, studio.active_changed, studio.compared_changed, studio.training_changed)])
        if commands.opening is not None:  # a Qt signal: Qt disconnects it when this panel goes
            commands.opening.recent_changed.connect(self.refresh)
        # Status words (epochs done, the newest snapshot) change as runs grow: refreshed now and then.
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._refresh_texts)
        self._timer.start()
        self.refresh()

    # -- user actions ------------------------------------------------------------------------------------------
    def ask_open(self) -> None:
        folder = self.commands.ask_folder("runs", "Open a run folder (read-only)")
        if folder is not None and self.commands.opening is not None:
            self.commands.opening.open_run(folder)

    def selected(self) -> RunHistory | None:
        item = self.open_list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def close_selected(self) -> None:
        history = self.selected()
        if history is not None and history is not self.studio.live:
            self.studio.close_run(history)

    def continue_selected(self) -> None:
        history = self.selected()
        training = self.commands.training
        if history is None or history.folder is None or training is None or self.studio.is_training:
            return
        values = self.commands.ask_continue(history.folder)
        if values is not None:
            training.continue_run(history.folder, **values)

    def _on_selected(self, current: QListWidgetItem | None, _previous) -> None:
        if self._filling or current is None:
            return
        history = current.data(Qt.ItemDataRole.UserRole)
        if history is not self.studio.active:
            self.studio.activate(history)
        self._update_buttons()

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        if self._filling:
            return
        history = item.data(Qt.ItemDataRole.UserRole)
        self.studio.set_compared(history, item.checkState() == Qt.CheckState.Checked)

    def _on_recent_activated(self, item: QListWidgetItem) -> None:
        folder = item.data(Qt.ItemDataRole.UserRole)
        if folder is not None and self.commands.opening is not None:
            self.commands.opening.open_run(Path(folder))

    # -- showing -------------------------------------------------------------------------------------------------
    def describe(self, history: RunHistory) -> str:
        """One line: the run's name and where it stands."""
        words = []
        if history is self.studio.live:
            words.append({"waiting": "starting", "training": "training", "paused": "paused",
                          "stopping": "stopping"}.get(self.studio.training, "training"))
        opening = self.commands.opening
        if opening is not None and opening.is_replaying(history):
            words.append("reading…")
        pid = opening.writers.get(id(history)) if opening is not None else None
        if pid is not None:
            words.append(f"being written by PID {pid}")
        if history.epoch_ends:
            total = history.config.epochs if history.config is not None else "?"
            words.append(f"{history.epoch_ends[-1].epoch}/{total} epochs")
        finished = history.finished_event
        if finished is not None and history is not self.studio.live and pid is None:
            words.append(finished.reason)
        if history.folder is None:
            words.append("model file")
        text = history.title()
        return f"{text} — {', '.join(words)}" if words else text

    def refresh(self) -> None:
        """Show the open runs (updated in place while they are the same runs) and the recent ones."""
        self._filling = True
        try:
            shown = [self.open_list.item(row).data(Qt.ItemDataRole.UserRole) for row in range(self.open_list.count())]
            if shown != self.studio.runs:
                self.open_list.clear()
                for history in self.studio.runs:
                    item = QListWidgetItem()
                    item.setData(Qt.ItemDataRole.UserRole, history)
                    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    self.open_list.addItem(item)
            for row, history in enumerate(self.studio.runs):
                item = self.open_list.item(row)
                item.setText(self.describe(history))
                checked = Qt.CheckState.Checked if history in self.studio.compared else Qt.CheckState.Unchecked
                if item.checkState() != checked:
                    item.setCheckState(checked)
                item.setToolTip(str(history.folder) if history.folder is not None else history.title())
                font = item.font()
                font.setBold(history is self.studio.active)
                item.setFont(font)
                if history is self.studio.active and self.open_list.currentItem() is not item:
                    self.open_list.setCurrentItem(item)
            self.recent_list.clear()
            open_folders = {h.folder for h in self.studio.runs if h.folder is not None}
            recent = self.commands.opening.recent() if self.commands.opening is not None else []
            for folder in recent:
                if folder in open_folders:
                    continue
                item = QListWidgetItem(folder.name)
                item.setData(Qt.ItemDataRole.UserRole, str(folder))
                item.setToolTip(str(folder))
                self.recent_list.addItem(item)
        finally:
            self._filling = False
        self.empty_label.setVisible(not self.studio.runs)
        self._update_buttons()

    def _refresh_texts(self) -> None:
        if not self.isVisible():
            return
        for row in range(self.open_list.count()):
            item = self.open_list.item(row)
            text = self.describe(item.data(Qt.ItemDataRole.UserRole))
            if item.text() != text:
                self._filling = True
                item.setText(text)
                self._filling = False

    def _update_buttons(self) -> None:
        history = self.selected()
        self.close_button.setEnabled(history is not None and history is not self.studio.live)
        self.continue_button.setEnabled(history is not None and history.folder is not None
                                        and not self.studio.is_training and self.commands.training is not None)
        self.open_button.setEnabled(self.commands.opening is not None)
