"""A bar of controls that wraps onto a further row when the panel is too narrow, instead of squeezing them
(a squeezed combo elides its text: "Linear scal" on the latent plane at 1280x720)."""

from __future__ import annotations

from typing import Sequence

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QLayout, QLayoutItem, QWidget


class WrappingBar(QLayout):
    """`leading` widgets from the left, `trailing` ones aligned right; each at its size hint, on as many rows
    as the width needs (hidden widgets take no room). The trailing widgets share the last row of the leading
    ones when they fit beside them."""

    def __init__(self, leading: Sequence[QWidget], trailing: Sequence[QWidget] = (), spacing: int = 3):
        super().__init__()
        self._items: list[QLayoutItem] = []
        self._leading_count = len(leading)
        self.setSpacing(spacing)
        self.setContentsMargins(0, 0, 0, 0)
        for widget in (*leading, *trailing):
            self.addWidget(widget)

    # -- QLayout's interface ----------------------------------------------------------------------------------
    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 - Qt's name
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802
        if not 0 <= index < len(self._items):
            return None
        if index < self._leading_count:
            self._leading_count -= 1
        return self._items.pop(index)

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        margins = self.contentsMargins()
        rows = self._rows(width - margins.left() - margins.right())
        return self._height(rows) + margins.top() + margins.bottom()

    def sizeHint(self) -> QSize:  # noqa: N802 - one row
        margins = self.contentsMargins()
        shown = self._shown(self._items)
        width = sum(item.sizeHint().width() for item in shown) + self.spacing() * max(len(shown) - 1, 0)
        return QSize(width + margins.left() + margins.right(),
                     self._height([shown]) + margins.top() + margins.bottom())

    def minimumSize(self) -> QSize:  # noqa: N802 - the widest control on its own row
        margins = self.contentsMargins()
        shown = self._shown(self._items)
        width = max((item.minimumSize().width() for item in shown), default=0)
        return QSize(width + margins.left() + margins.right(),
                     self._height([shown]) + margins.top() + margins.bottom())

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802
        super().setGeometry(rect)
        area = self.contentsRect()
        trailing = set(map(id, self._trailing()))
        y = area.y()
        for row in self._rows(area.width()):
            height = self._height([row])
            left = [item for item in row if id(item) not in trailing]
            right = [item for item in row if id(item) in trailing]
            right_width = sum(item.sizeHint().width() for item in right) + self.spacing() * max(len(right) - 1, 0)
            for items, x in ((left, area.x()), (right, area.x() + max(area.width() - right_width, 0))):
                for item in items:
                    size = item.sizeHint()
                    width, item_height = min(size.width(), area.width()), min(size.height(), height)
                    item.setGeometry(QRect(QPoint(x, y + (height - item_height) // 2), QSize(width, item_height)))
                    x += width + self.spacing()
            y += height + self.spacing()

    # -- placing ---------------------------------------------------------------------------------------------
    @staticmethod
    def _shown(items: Sequence[QLayoutItem]) -> list[QLayoutItem]:
        return [item for item in items if not item.isEmpty()]

    def _trailing(self) -> list[QLayoutItem]:
        return self._items[self._leading_count:]

    def _rows(self, width: int) -> list[list[QLayoutItem]]:
        """The shown items row by row at `width`: leading ones as many per row as fit, then the trailing ones
        together (beside the last leading row if they fit there)."""
        rows: list[list[QLayoutItem]] = []
        row: list[QLayoutItem] = []
        used = 0
        for item in self._shown(self._items[:self._leading_count]):
            needed = item.sizeHint().width() + (used + self.spacing() if row else 0)
            if row and needed > width:
                rows.append(row)
                row, needed = [], item.sizeHint().width()
            row.append(item)
            used = needed
        trailing = self._shown(self._trailing())
        if trailing:
            trailing_width = sum(item.sizeHint().width() for item in trailing) + self.spacing() * (len(trailing) - 1)
            if row and used + self.spacing() + trailing_width > width:
                rows.append(row)
                row = []
            row.extend(trailing)
        if row:
            rows.append(row)
        return rows

    def _height(self, rows: list[list[QLayoutItem]]) -> int:
        heights = [max((item.sizeHint().height() for item in row), default=0) for row in rows if row]
        return sum(heights) + self.spacing() * max(len(heights) - 1, 0)

