"""Small widgets and helpers the shell's panels share."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from PySide6.QtCore import QEvent, QSize, Qt, QTimer
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QGraphicsItem, QLabel, QSizePolicy, QWidget


def subscribe(widget: QWidget, subscriptions: Sequence[tuple[Any, Callable]]) -> None:
    """Connect each (state signal, slot) pair, and disconnect them all when `widget` is destroyed, so that
    the state never calls into a deleted panel. The one way a panel subscribes to the Qt-free state: a
    reader finds everything a panel redraws on in its one `subscribe` call. Prefer bound methods as slots
    (psygnal holds them weakly)."""
    pairs = list(subscriptions)
    for signal, slot in pairs:
        signal.connect(slot)
    widget.destroyed.connect(lambda *_: [signal.disconnect(slot) for signal, slot in pairs])


class RefreshWhenShown:
    """A panel's refresh (it reads everything from the state) that waits while nobody can see the panel.

    `request()` is the slot for the panel's subscriptions; `seen(visible)` follows its dock (docks.py
    `refresh_while_shown`: a dock's visibilityChanged, which follows its tab; Qt keeps a tabbed-away dock
    "visible"). While the panel is not seen a request only notes that it is out of date; it refreshes once
    when it is seen again. In the default layout most docks sit behind tabs: a step of the timeline
    refreshed all of them (about half of the UI thread's ~40 ms per step).
    """

    def __init__(self, refresh: Callable[[], None]):
        self._refresh = refresh
        self.visible = True  # until its dock says otherwise (a panel on its own, in a test, is always seen)
        self.stale = False

    def request(self, *_args) -> None:
        if self.visible:
            self.stale = False
            self._refresh()
        else:
            self.stale = True

    def seen(self, visible: bool) -> None:
        self.visible = visible
        if visible and self.stale:
            self.stale = False
            self._refresh()


def cache_axes(plot_item) -> None:
    """Draw each axis of a pyqtgraph PlotItem (with its grid lines) once into a pixmap that repaints blit.

    A plot repaints whenever anything in it changes (a curve grows, the moment line moves): replaying the
    axes' drawing cost 2.6 ms of CPU per repaint of a 700×300 plot with a grid, the blit 1.0 ms (measured
    under Xvfb). The pixmap is redrawn when the axis changes (its range, labels or size).
    """
    for name in plot_item.axes:
        plot_item.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


class HeldLabel(QWidget):
    """A QLabel held by a widget without a layout, so that a new text does not re-lay the window out.

    `QLabel.setText` calls `updateGeometry()`, and Qt then activates every layout from the label's up to the
    main window's (each activation tells its widget's parent), whether or not any size changed: with every
    dock shown, the ~15 labels a moment rewrites cost ~9 of the ~33 ms of UI thread a timeline step took
    (labels of fixed size: 22.7-25.5 ms against 31.9-33.8, under Xvfb). Here the label's request stops at
    its holder, which passes it on only when the label no longer fits (`_label_asked`): a shorter text keeps
    the size (the row does not jump) until something else re-lays the window out. The QLabel calls panels
    make are forwarded; style sheets, fonts and tooltips set on the holder reach the label.
    """

    def __init__(self, text: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.label = QLabel(text, self)

    # -- the QLabel calls panels make ---------------------------------------------------------------------
    def text(self) -> str:
        return self.label.text()

    def setText(self, text: str) -> None:  # noqa: N802
        if text != self.label.text():
            self.label.setText(text)

    def setWordWrap(self, on: bool) -> None:  # noqa: N802
        self.label.setWordWrap(on)
        policy = self.sizePolicy()
        policy.setHeightForWidth(on)
        self.setSizePolicy(policy)
        self.updateGeometry()

    def wordWrap(self) -> bool:  # noqa: N802
        return self.label.wordWrap()

    def setAlignment(self, alignment: Qt.AlignmentFlag) -> None:  # noqa: N802
        self.label.setAlignment(alignment)

    def setTextInteractionFlags(self, flags: Qt.TextInteractionFlag) -> None:  # noqa: N802
        self.label.setTextInteractionFlags(flags)

    def setPixmap(self, pixmap: QPixmap) -> None:  # noqa: N802
        self.label.setPixmap(pixmap)

    def pixmap(self) -> QPixmap:
        return self.label.pixmap()

    # -- size: the label's, asked again only when it changes ----------------------------------------------
    def sizeHint(self) -> QSize:  # noqa: N802
        return self.label.sizeHint()

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return self.label.minimumSizeHint()

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return self.label.wordWrap()

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return self.label.heightForWidth(width)

    def resizeEvent(self, event) -> None:  # noqa: N802
        self.label.setGeometry(self.rect())

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:  # the label's updateGeometry(): a new text or font
            self._label_asked()
            return True
        return super().event(event)

    def _label_asked(self) -> None:
        hint = self.label.sizeHint()
        if hint.width() > self.width() or hint.height() > self.height():
            self.updateGeometry()


class ElidedLabel(HeldLabel):
    """A one-line label that elides what does not fit (the whole text is its tooltip)."""

    def __init__(self, text: str = "", mode: Qt.TextElideMode = Qt.TextElideMode.ElideMiddle):
        super().__init__()
        self._full = ""
        self._mode = mode
        self._line_height = self.label.sizeHint().height()
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(40)
        self.set_full_text(text)

    def set_full_text(self, text: str, tooltip: str | None = None) -> None:
        self._full = text
        self.setToolTip(text if tooltip is None else tooltip)
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._elide()

    def _label_asked(self) -> None:  # one line: only its height is the label's (the width is the layout's)
        height = self.label.sizeHint().height()
        if height != self._line_height:
            self._line_height = height
            self.updateGeometry()

    def _elide(self) -> None:
        metrics = self.fontMetrics()
        self.setText(metrics.elidedText(self._full, self._mode, max(self.width() - 4, 20)))


class SteadyLabel(HeldLabel):
    """A word-wrapped label that keeps the tallest height its texts have needed at its width, while they change.

    Panels rewrite such labels for every moment and every few training steps (a moment's name, a figure). A
    label whose height follows its text resizes the plots beside it when a text needs one line more or less
    (their axes are then drawn again) and re-lays its dock out. This one grows when a text needs more lines
    and otherwise keeps its height (text at the top), so a new text only repaints the label. Once a text has
    stayed for `SETTLE_MS` the label fits it again (one re-layout, and no blank band under a short text);
    `forget_height()` does that at once.
    """

    WIDTHS_KEPT = 8
    SETTLE_MS = 2000

    def __init__(self, text: str = "", parent: QWidget | None = None):
        super().__init__(text, parent)
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self._tallest: dict[int, int] = {}  # width -> the tallest height needed at it
        self._settle = QTimer(self, singleShot=True)
        self._settle.timeout.connect(self._fit_if_taller)

    def setText(self, text: str) -> None:  # noqa: N802
        if text == self.text():
            return
        super().setText(text)
        if self._tallest:
            self._settle.start(self.SETTLE_MS)

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        tallest = max(self.label.heightForWidth(width), self._tallest.get(width, 0))
        if width not in self._tallest and len(self._tallest) >= self.WIDTHS_KEPT:
            self._tallest.pop(next(iter(self._tallest)))
        self._tallest[width] = tallest
        return tallest

    def _label_asked(self) -> None:
        width = self.width()
        if self.label.heightForWidth(width) > self._tallest.get(width, 0):  # more lines than the layout knows of
            self.updateGeometry()

    def forget_height(self) -> None:
        """Fit the height to the present text again."""
        self._settle.stop()
        self._tallest.clear()
        self.updateGeometry()

    def _fit_if_taller(self) -> None:
        if self._tallest.get(self.width(), 0) > self.label.heightForWidth(self.width()):
            self.forget_height()

