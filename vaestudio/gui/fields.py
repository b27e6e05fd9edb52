"""Number entry that refuses out-of-range values where they are typed, saying why.

Each field checks its text against `TrainConfig.LIMITS`; non-numeric keystrokes are blocked by a
validator, and a value outside the limits turns the field red and sets `error` (shown by the panel).
"""

from __future__ import annotations

import math

from PySide6.QtCore import Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QLineEdit

from vaestudio.core.config import LIMITS

_STYLE = 'QLineEdit[invalid="true"] { border: 2px solid #d9534f; background: #fff1f0; }'


class _NumberValidator(QValidator):
    """Allows only characters that can be part of a number; range checks happen in the field."""

    def __init__(self, integer: bool, parent=None):
        super().__init__(parent)
        self.allowed = set("0123456789") if integer else set("0123456789.eE-+")

    def validate(self, text: str, pos: int):
        if all(ch in self.allowed for ch in text.strip()):
            return QValidator.State.Acceptable, text, pos
        return QValidator.State.Invalid, text, pos


class NumberField(QLineEdit):
    """A line edit for one TrainConfig number; `value()` is None while the text is not valid."""

    validityChanged = Signal()

    def __init__(self, name: str, label: str, parent=None):
        super().__init__(parent)
        self.name = name
        self.label = label
        self.low, self.high, self.kind = LIMITS[name]
        self.setValidator(_NumberValidator(self.kind is int, self))
        self.setToolTip(f"{label}: {self._bounds_text()}")
        self.setPlaceholderText(self._bounds_text())
        self._error: str | None = None
        self.setStyleSheet(_STYLE)
        self.setProperty("invalid", False)
        self.textChanged.connect(self._check)
        self._check(self.text())

    def _bounds_text(self) -> str:
        if self.high is None:
            return f"at least {self.low:g}"
        return f"{self.low:g} to {self.high:g}"

    @property
    def error(self) -> str | None:
        return self._error

    def value(self) -> int | float | None:
        return None if self._error else self._parse(self.text())[0]

    def set_value(self, value: int | float) -> None:
        self.setText(_format(value, self.kind))

    def _parse(self, text: str) -> tuple[int | float | None, str | None]:
        text = text.strip()
        if not text:
            return None, f"{self.label} is empty: enter {self._bounds_text()}"
        try:
            number = float(text) if self.kind is float else int(text)
        except ValueError:
            return None, f"{self.label}: {text!r} is not a {'whole ' if self.kind is int else ''}number"
        if not math.isfinite(number):
            return None, f"{self.label} must be a finite number"
        if number < self.low or (self.high is not None and number > self.high):
            return None, f"{self.label} must be {_range_phrase(self.low, self.high)}, not {text}"
        return number, None

    def _check(self, text: str) -> None:
        _, error = self._parse(text)
        changed = error != self._error
        self._error = error
        if bool(self.property("invalid")) != bool(error):
            self.setProperty("invalid", bool(error))
            self.style().unpolish(self)
            self.style().polish(self)
        if changed:
            self.validityChanged.emit()


def _range_phrase(low, high) -> str:
    return f"at least {low:g}" if high is None else f"between {low:g} and {high:g}"


def _format(value: int | float, kind: type) -> str:
    if kind is int:
        return str(int(value))
    return f"{float(value):g}"
