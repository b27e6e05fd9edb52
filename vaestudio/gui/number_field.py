"""A line edit for one number, checked as it is typed: a red field and one line saying why, instead of
an error when the value is used."""

from __future__ import annotations

import math

from PySide6.QtCore import Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QLineEdit, QWidget

from vaestudio.core.config import LIMITS, range_phrase

# Tooltips of TrainConfig settings that say more than their label (the run controls and the Continue dialog).
SETTING_TOOLTIPS = {
    "beta": "Weight of the KL term in the objective; 1 is the ELBO (the tutorial). Can be changed while training.",
    "kl_warmup_steps": "β rises linearly from 0 over this many steps (0: no warm-up)",
    "snapshot_every_later": "After epoch 1, also take a snapshot (grid and model) every N steps; 0: only at the end "
                            "of each epoch (the tutorial's schedule)",
    "learning_rate": "Adam's learning rate. Can be changed while training.",
}
INVALID_STYLE = 'QLineEdit[invalid="true"] { border: 2px solid #d9534f; background: #fff1f0; }'


class NumberCharacters(QValidator):
    """Only characters that can be part of a number get in; range checks happen in the field."""

    def __init__(self, integer: bool, parent=None):
        super().__init__(parent)
        self.allowed = set("0123456789") if integer else set("0123456789.eE-+")

    def validate(self, text: str, pos: int):
        if all(ch in self.allowed for ch in text.strip()):
            return QValidator.State.Acceptable, text, pos
        return QValidator.State.Invalid, text, pos


class NumberField(QLineEdit):
    """A number of `kind` (int or float) between `low` and `high` (None: no upper bound). `value()` is None
    while the text is not valid, and `error` says why in one line naming `label`; `validityChanged` is
    emitted when the text becomes valid or invalid, or its error changes."""

    validityChanged = Signal()

    def __init__(self, label: str, low: float, high: float | None, kind: type, tooltip: str = "",
                 name: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.name, self.label = name, label
        self.low, self.high, self.kind = low, high, kind
        self.setValidator(NumberCharacters(kind is int, self))
        bounds = range_phrase(low, high, kind)
        self.setToolTip((tooltip or label) + f" ({bounds})")
        self.setPlaceholderText(bounds)
        self._error: str | None = None
        self.setStyleSheet(INVALID_STYLE)
        self.setProperty("invalid", False)
        self.textChanged.connect(self._check)
        self._check(self.text())

    @classmethod
    def for_setting(cls, name: str, label: str, parent: QWidget | None = None) -> "NumberField":
        """A field for the TrainConfig setting `name`, within its limits (`config.LIMITS`)."""
        low, high, kind = LIMITS[name]
        return cls(label, low, high, kind, SETTING_TOOLTIPS.get(name, label), name, parent)

    @property
    def error(self) -> str | None:
        return self._error

    def value(self) -> int | float | None:
        return None if self._error else self._parse(self.text())[0]

    def set_value(self, value: int | float) -> None:
        self.setText(str(int(value)) if self.kind is int else f"{float(value):g}")

    def _parse(self, text: str) -> tuple[int | float | None, str | None]:
        text = text.strip()
        bounds = range_phrase(self.low, self.high, self.kind)
        if not text:
            return None, f"{self.label} is empty: enter a number {bounds}"
        try:
            number = float(text) if self.kind is float else int(text)
        except ValueError:
            return None, f"{self.label}: {text!r} is not a {'whole ' if self.kind is int else ''}number"
        if not math.isfinite(number):
            return None, f"{self.label} must be a finite number"
        if number < self.low or (self.high is not None and number > self.high):
            return None, f"{self.label} must be {bounds}, not {text}"
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
