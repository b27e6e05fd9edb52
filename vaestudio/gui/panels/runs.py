"""The runs: those open in the window (the live one, opened folders and models) and recent ones.

Selecting an open run shows it on the plane and in every explorer panel; its check box overlays its
curves on the ELBO plot. Open run… opens a folder read-only, Close closes the selected run, Continue
continues it (more epochs, a new learning rate or β), and a double-click on a recent run opens it.

Open runs are shown as families (core.branching): a branch sits indented under its parent when both are
open; a branch whose parent is not open says where it was branched from, and selecting it offers *Open
parent* below the list.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QRect, Qt, QTimer
from PySide6.QtGui import QPen
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QStyle,
                               QStyledItemDelegate, QStyleOptionViewItem, QVBoxLayout, QWidget)

from vaestudio.gui.commands import Commands
from vaestudio.gui.state.run_history import RunHistory
from vaestudio.gui.state.studio import Studio
from vaestudio.gui.widgets import subscribe

REFRESH_MS = 1000
INDENT = 18  # pixels per generation of a family
DEPTH_ROLE = Qt.ItemDataRole.UserRole + 1


@dataclass(frozen=True)
class ParentLink:
    """Where a branch was branched from (its run.json, or the plan of the branch being trained)."""

    folder: Path
    step: int
    label: str

    def text(self) -> str:
        return f"branched from {self.folder.name} at {self.label or f'step {self.step}'} (step {self.step})"


def parent_link(history: RunHistory, training=None) -> ParentLink | None:
    """The parent of the run `history` shows, None for a root run or a model file."""
    run = getattr(training, "run", None)
    plan = getattr(run, "branch", None) if run is not None and history.live else None
    if plan is not None:
        return ParentLink(plan.moment.folder, plan.moment.step, plan.moment.label)
    if history.folder is None:
        return None
    from vaestudio.core.branching import parent_of
    from vaestudio.core.run_facts import read_facts, recorded_parent
    from vaestudio.core.store.run_folder import RunFolder

    found = parent_of(history.folder)
    if found is None:
        return None
    recorded = recorded_parent(read_facts(RunFolder(history.folder))) or {}
    label = recorded.get("label")
    return ParentLink(found[0], found[1], label if isinstance(label, str) else "")


class _FamilyDelegate(QStyledItemDelegate):
    """Draws (and takes clicks on) each item indented by its depth in its family, with a connector."""

    @staticmethod
    def shifted(option: QStyleOptionViewItem, index) -> QStyleOptionViewItem:
        depth = index.data(DEPTH_ROLE) or 0
        if not depth:
            return option
        moved = QStyleOptionViewItem(option)
        moved.rect = option.rect.adjusted(depth * INDENT, 0, 0, 0)
        return moved

    def paint(self, painter, option, index) -> None:
        depth = index.data(DEPTH_ROLE) or 0
        if depth:
            rect = option.rect
            x, middle = rect.left() + depth * INDENT - INDENT // 2, rect.center().y()
            painter.save()
            painter.setPen(QPen(option.palette.mid().color()))
            painter.drawLine(x, rect.top(), x, middle)
            painter.drawLine(x, middle, x + INDENT // 2 - 2, middle)
            painter.restore()
        super().paint(painter, self.shifted(option, index), index)

    def editorEvent(self, event, model, option, index) -> bool:  # noqa: N802 - the check box, indented
        return super().editorEvent(event, model, self.shifted(option, index), index)

    def sizeHint(self, option, index):  # noqa: N802
        hint = super().sizeHint(option, index)
        hint.setWidth(hint.width() + (index.data(DEPTH_ROLE) or 0) * INDENT)
        return hint


class RunsPanel(QWidget):
    """Open and recent runs: which one is shown, which are compared, open / close / continue."""

    title = "Runs"

    def __init__(self, studio: Studio, commands: Commands, parent: QWidget | None = None):
        super().__init__(parent)
        self.studio = studio
        self.commands = commands
        self._filling = False
        self._links: dict[int, ParentLink | None] = {}  # id(history) -> its parent, read once per open run

        self.open_list = QListWidget()
        self.open_list.setToolTip("Select a run to show it; tick it to overlay its curves on the ELBO plot; "
                                  "a branch sits under its parent")
        self.open_list.setItemDelegate(_FamilyDelegate(self.open_list))
        self.recent_list = QListWidget()
        self.recent_list.setToolTip("Double-click to open a recent run (read-only)")
        self.open_button = QPushButton("Open run…")
        self.close_button = QPushButton("Close")
        self.continue_button = QPushButton("Continue…")
        self.continue_button.setToolTip("Continue the selected run: more epochs, a new learning rate or β")
        buttons = QHBoxLayout()
        for button in (self.open_button, self.close_button, self.continue_button):
            buttons.addWidget(button)
        self.parent_note = QLabel()  # the selected branch's parent, when it is not open
        self.parent_note.setWordWrap(True)
        self.open_parent_button = QPushButton("Open parent")
        self.open_parent_button.setToolTip("Open the run this one was branched from (read-only)")
        parent_row = QHBoxLayout()
        parent_row.addWidget(self.parent_note, 1)
        parent_row.addWidget(self.open_parent_button)
        self.empty_label = QLabel("No run open: press Start, or open a run folder.")
        self.empty_label.setWordWrap(True)
        self.empty_label.setStyleSheet("color: palette(mid);")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(QLabel("<b>Open</b>"))
        layout.addWidget(self.empty_label)
        layout.addWidget(self.open_list, 2)
        layout.addLayout(parent_row)
        layout.addLayout(buttons)
        layout.addWidget(QLabel("<b>Recent</b>"))
        layout.addWidget(self.recent_list, 1)

        self.open_list.currentItemChanged.connect(self._on_selected)
        self.open_list.itemChanged.connect(self._on_item_changed)
        self.recent_list.itemActivated.connect(self._on_recent_activated)
        self.open_button.clicked.connect(self.ask_open)
        self.close_button.clicked.connect(self.close_selected)
        self.continue_button.clicked.connect(self.continue_selected)
        self.open_parent_button.clicked.connect(self.open_parent)
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

    def open_parent(self) -> RunHistory | None:
        """Open the selected branch's parent (read-only), which then sits above it."""
        history = self.selected()
        link = self.link(history) if history is not None else None
        if link is None or self.commands.opening is None:
            return None
        return self.commands.opening.open_run(link.folder)

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

    # -- families ------------------------------------------------------------------------------------------------
    def link(self, history: RunHistory) -> ParentLink | None:
        """The parent of an open run (read from its folder once; the live branch's from its plan)."""
        key = id(history)
        if key not in self._links:
            try:
                self._links[key] = parent_link(history, self.commands.training)
            except Exception:  # noqa: BLE001 - a damaged run.json must not break the list: no family shown
                self._links[key] = None
        return self._links[key]

    def open_parent_of(self, history: RunHistory) -> RunHistory | None:
        """The open run `history` was branched from, if it is open."""
        link = self.link(history)
        if link is None:
            return None
        target = _resolved(link.folder)
        return next((h for h in self.studio.runs if h is not history and h.folder is not None
                     and _resolved(h.folder) == target), None)

    def family_order(self) -> list[tuple[RunHistory, int]]:
        """The open runs as shown: each root in opening order, its branches under it; (run, depth)."""
        runs = self.studio.runs
        self._links = {key: link for key, link in self._links.items() if key in {id(h) for h in runs}}
        parents = {id(h): self.open_parent_of(h) for h in runs}
        order: list[tuple[RunHistory, int]] = []
        placed: set[int] = set()

        def place(history: RunHistory, depth: int) -> None:
            if id(history) in placed:
                return
            placed.add(id(history))
            order.append((history, depth))
            for child in runs:
                if parents[id(child)] is history:
                    place(child, depth + 1)

        for history in runs:
            if parents[id(history)] is None:
                place(history, 0)
        for history in runs:  # a loop of parents (hand-made run.json files): shown flat
            place(history, 0)
        return order

    def check_rect(self, item: QListWidgetItem) -> QRect:
        """Where the item's check box is drawn (viewport coordinates): what a user clicks."""
        view = self.open_list
        option = QStyleOptionViewItem()
        option.rect = view.visualItemRect(item)
        option.widget = view
        index = view.indexFromItem(item)
        delegate = view.itemDelegate()
        delegate.initStyleOption(option, index)
        option = _FamilyDelegate.shifted(option, index)
        return view.style().subElementRect(QStyle.SubElement.SE_ItemViewItemCheckIndicator, option, view)

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
        link = self.link(history)
        if link is not None and self.open_parent_of(history) is None:
            words.append(link.text())
        text = history.title()
        return f"{text} — {', '.join(words)}" if words else text

    def refresh(self) -> None:
        """Show the open runs (updated in place while they are the same runs) and the recent ones."""
        self._filling = True
        try:
            order = self.family_order()
            shown = [(self.open_list.item(row).data(Qt.ItemDataRole.UserRole),
                      self.open_list.item(row).data(DEPTH_ROLE)) for row in range(self.open_list.count())]
            if shown != order:
                self.open_list.clear()
                for history, depth in order:
                    item = QListWidgetItem()
                    item.setData(Qt.ItemDataRole.UserRole, history)
                    item.setData(DEPTH_ROLE, depth)
                    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    item.setCheckState(Qt.CheckState.Unchecked)  # every item shows its check box from the start
                    self.open_list.addItem(item)
            for row, (history, _depth) in enumerate(order):
                item = self.open_list.item(row)
                item.setText(self.describe(history))
                checked = Qt.CheckState.Checked if history in self.studio.compared else Qt.CheckState.Unchecked
                if item.checkState() != checked:
                    item.setCheckState(checked)
                link = self.link(history)
                tip = str(history.folder) if history.folder is not None else history.title()
                item.setToolTip(tip + (f"\n{link.text()[0].upper()}{link.text()[1:]}" if link is not None else ""))
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
        link = self.link(history) if history is not None else None
        orphan = link is not None and self.open_parent_of(history) is None
        if orphan:
            gone = not (link.folder / "config.json").is_file()
            self.parent_note.setText(f"{history.title()} was {link.text()}"
                                     + (f"; its folder {link.folder} is gone." if gone else "; it is not open."))
            self.open_parent_button.setEnabled(not gone and self.commands.opening is not None)
        self.parent_note.setVisible(orphan)
        self.open_parent_button.setVisible(orphan)


def _resolved(folder: Path) -> Path:
    try:
        return Path(folder).resolve()
    except OSError:
        return Path(folder).absolute()
