"""The timeline: a slider over the active run's snapshots (live or opened) — the time machine.

Dragging it (or Left/Right while it has focus, Alt+Left/Alt+Right anywhere) shows that moment in every
panel; Live (or reaching the newest snapshot) follows training again. It only changes the run history's
moment: every picture then comes from that snapshot's own weights, never from the model in training.
A red mark under the slider shows the moment a posterior-collapse alarm started (state: Diagnosis).
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPolygonF
from PySide6.QtWidgets import QHBoxLayout, QSizePolicy, QSlider, QStyle, QStyleOptionSlider, QToolButton, QWidget

from vaestudio.gui.commands import Commands
from vaestudio.gui.state.run_history import RunHistory, SnapshotInfo
from vaestudio.gui.state.studio import Studio
from vaestudio.gui.widgets import ElidedLabel, subscribe

SLIDER_MIN_WIDTH = 120
ALARM_COLOR = QColor(200, 30, 30)


def moment_text(info: SnapshotInfo, count: int) -> str:
    """How the label names a moment: "epoch 10 · step 18750 · 36/36"."""
    return f"{info.label} · step {info.step} · {info.index + 1}/{count}"


class _MomentLabel(ElidedLabel):
    """The moment's name: it asks for the width of the longest name of the run's moments (so it stays put
    while the slider is dragged) and elides only when the row is too narrow for it."""

    def __init__(self):
        super().__init__()
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.wanted = 0  # pixels

    def want(self, texts) -> None:
        metrics = self.fontMetrics()
        wanted = max((metrics.horizontalAdvance(text) for text in texts), default=0) + 8
        if wanted != self.wanted:
            self.wanted = wanted
            self.updateGeometry()

    def sizeHint(self) -> QSize:  # noqa: N802
        hint = super().sizeHint()
        return QSize(max(self.wanted, self.minimumWidth()), hint.height())


class _MarkedSlider(QSlider):
    """A slider with an optional red mark (a triangle under the groove) at one value."""

    def __init__(self):
        super().__init__(Qt.Orientation.Horizontal)
        self.mark: int | None = None

    def set_mark(self, value: int | None) -> None:
        if value != self.mark:
            self.mark = value
            self.update()

    def mark_x(self) -> float | None:
        """Where the mark is drawn (the handle's centre at that value), in pixels."""
        if self.mark is None:
            return None
        option = QStyleOptionSlider()
        self.initStyleOption(option)
        handle = self.style().subControlRect(QStyle.ComplexControl.CC_Slider, option,
                                             QStyle.SubControl.SC_SliderHandle, self)
        span = self.width() - handle.width()
        position = QStyle.sliderPositionFromValue(self.minimum(), self.maximum(), self.mark, span)
        return position + handle.width() / 2

    def paintEvent(self, event) -> None:  # noqa: N802
        super().paintEvent(event)
        x = self.mark_x()
        if x is None:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(ALARM_COLOR)
        bottom = self.height()
        painter.drawPolygon(QPolygonF([QPointF(x, bottom - 6), QPointF(x - 5, bottom), QPointF(x + 5, bottom)]))
        painter.drawRect(int(x) - 1, 0, 2, 4)
        painter.end()


class TimelinePanel(QWidget):
    """A slider, a label naming the moment, step buttons and Live."""

    title = "Timeline"

    def __init__(self, studio: Studio, commands: Commands, parent: QWidget | None = None):
        super().__init__(parent)
        self.studio = studio
        self.commands = commands
        self.history: RunHistory | None = None
        self._updating = False
        self.context_menu = None  # the last right-click menu (Branch from here…), and its action
        self.branch_action = None

        self.back_button = QToolButton(text="◀")
        self.back_button.setToolTip("Previous snapshot (Left, or Alt+Left anywhere)")
        self.slider = _MarkedSlider()
        self.slider.setToolTip("Drag to go back in training; every panel shows that moment")
        self.slider.setPageStep(1)
        self.slider.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.forward_button = QToolButton(text="▶")
        self.forward_button.setToolTip("Next snapshot (Right, or Alt+Right anywhere)")
        self.live_button = QToolButton(text="Live")
        self.live_button.setCheckable(True)
        self.live_button.setToolTip("Follow training: show each new snapshot as it comes")
        self.label = _MomentLabel()
        self.label.setMinimumWidth(60)
        self.label.want(["No snapshot yet", "No run shown"])  # room for these before any run is measured
        self.slider.setMinimumWidth(SLIDER_MIN_WIDTH)
        self._measured: tuple[RunHistory | None, int] = (None, 0)  # the history and how many moments measured
        self._widest_head = (0, "")  # pixels and text of the widest "label · step n" among them
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.addWidget(self.back_button)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.forward_button)
        layout.addWidget(self.live_button)
        layout.addWidget(self.label, 0)  # its whole text when there is room; the slider takes the rest

        self.slider.valueChanged.connect(self._on_slider)
        self.back_button.clicked.connect(lambda: self.step(-1))
        self.forward_button.clicked.connect(lambda: self.step(+1))
        self.live_button.clicked.connect(self.follow)
        subscribe(self, [
            (studio.active_changed, self._on_active), (studio.active_snapshot_added, self._on_snapshot),
            (studio.active_moment_changed, self._on_moment), (studio.active_following_changed, self._on_following),
            (studio.active_cleared, self._refresh)])
        self.alarm = None  # the active run's collapse alarm (collapse.Alarm), marked on the slider
        if studio.diagnosis is not None:
            subscribe(self, [(studio.diagnosis.alarm_changed, self._on_alarm)])
            self.alarm = studio.diagnosis.alarm
        self._on_active(studio.active)

    # -- user actions --------------------------------------------------------------------------------------------
    def step(self, delta: int) -> None:
        if self.history is not None:
            self.history.step(delta)

    def follow(self) -> None:
        if self.history is not None:
            self.history.follow()
        self._refresh()

    def contextMenuEvent(self, event) -> None:  # noqa: N802 - right-click on the timeline (slider included)
        """A menu with *Branch from here…* for the moment shown (greyed, with the reason, when it cannot be)."""
        from PySide6.QtWidgets import QMenu

        from vaestudio.gui.branch_dialog import branch_refusal

        h = self.history
        current = h.current if h is not None else None
        refusal = branch_refusal(self.studio, h, current) or (None if self.commands.training is not None
                                                               else "this window cannot train")
        if self.context_menu is not None:
            self.context_menu.deleteLater()
        menu = self.context_menu = QMenu(self)
        where = f" ({current.label} · step {current.step})" if current is not None else ""
        self.branch_action = menu.addAction(f"Branch from here{where}…")
        self.branch_action.triggered.connect(self._branch)
        self.branch_action.setEnabled(refusal is None)
        if refusal is not None:
            menu.addAction(refusal).setEnabled(False)
        menu.popup(event.globalPos())
        event.accept()

    def _branch(self) -> None:
        self.commands.ask_branch()

    def _on_slider(self, value: int) -> None:
        if not self._updating and self.history is not None:
            self.history.select(value)

    # -- state -----------------------------------------------------------------------------------------------------
    def _on_active(self, history: RunHistory | None) -> None:
        self.history = history
        self._refresh()

    def _on_alarm(self, alarm) -> None:
        self.alarm = alarm
        self._refresh()

    @property
    def alarm_index(self) -> int | None:
        """The snapshot marked as the start of the collapse alarm (None: no alarm)."""
        if self.alarm is None or self.history is None or not self.history.snapshots:
            return None
        return self.history.index_at_step(self.alarm.started_step)

    def _on_snapshot(self, _info: SnapshotInfo) -> None:
        self._refresh()

    def _on_moment(self, _info) -> None:
        self._refresh()

    def _on_following(self, _following: bool) -> None:
        self._refresh()

    def _measure(self) -> None:
        """Ask the label for the width of the longest moment name (each snapshot's name is measured once)."""
        h = self.history
        snapshots = h.snapshots if h is not None else []
        known_history, known = self._measured
        start = known if known_history is h and known <= len(snapshots) else 0
        if start == 0:
            self._widest_head = (0, "")
        metrics = self.label.fontMetrics()
        for info in snapshots[start:]:
            head = f"{info.label} · step {info.step}"
            width = metrics.horizontalAdvance(head)
            if width > self._widest_head[0]:
                self._widest_head = (width, head)
        self._measured = (h, len(snapshots))
        count = len(snapshots)
        self.label.want([f"{self._widest_head[1]} · {count}/{count}", "No snapshot yet", "No run shown"])

    def _refresh(self) -> None:
        h = self.history
        count = len(h.snapshots) if h is not None else 0
        if self._measured != (h, count):
            self._measure()
        self._updating = True
        try:
            self.slider.setRange(0, max(count - 1, 0))
            if h is not None and h.current is not None:
                self.slider.setValue(h.current.index)
        finally:
            self._updating = False
        has = count > 0
        self.slider.setEnabled(count > 1)
        marked = self.alarm_index
        self.slider.set_mark(marked)
        self.slider.setToolTip("Drag to go back in training; every panel shows that moment" + (
            "" if marked is None else f"\nRed mark: the posterior-collapse alarm started here "
                                      f"(epoch {self.alarm.started_epoch}, step {self.alarm.started_step})"))
        current = h.current if h is not None else None
        self.back_button.setEnabled(has and current is not None and current.index > 0)
        self.forward_button.setEnabled(has and current is not None and current.index < count - 1)
        following = h is not None and h.following
        self.live_button.setChecked(following and has)
        self.live_button.setEnabled(has and not following)
        if h is None:
            self._set_text("No run shown", "")
        elif current is None:
            self._set_text("No snapshot yet", "")
        else:
            self._set_text(moment_text(current, count),
                           f"Snapshot {current.index + 1} of {count} of {h.title()}"
                           + (" (following training)" if following and h.live else ""))

    def _set_text(self, text: str, tooltip: str) -> None:
        self.label.set_full_text(text, f"{text}\n{tooltip}" if tooltip else text)

    def moment_text(self) -> str:
        """The whole label (it may be shown elided)."""
        return self.label.full_text()
