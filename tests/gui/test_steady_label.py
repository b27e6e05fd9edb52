"""SteadyLabel: steady while its text changes, fitted to its text once the text stays."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QVBoxLayout, QWidget

from vaestudio.gui.widgets import SteadyLabel

LONG = "a moment with a long description " * 8
SHORT = "short"


def _label_in_a_box(qtbot, settle_ms: int) -> tuple[QWidget, SteadyLabel, QFrame]:
    box = QWidget()
    layout = QVBoxLayout(box)
    label = SteadyLabel(SHORT)
    label.SETTLE_MS = settle_ms
    below = QFrame()
    layout.addWidget(label)
    layout.addWidget(below, 1)
    box.resize(220, 400)
    qtbot.addWidget(box)
    box.show()
    qtbot.waitExposed(box)
    return box, label, below


def test_keeps_its_height_while_texts_change_then_fits_the_last(qtbot):
    box, label, below = _label_in_a_box(qtbot, settle_ms=300)
    one_line = label.height()
    label.setText(LONG)
    qtbot.waitUntil(lambda: label.height() > 2 * one_line)
    tall, below_top = label.height(), below.y()
    for i in range(6):  # a text every 50 ms: shorter ones keep the height, nothing below moves
        label.setText(SHORT if i % 2 == 0 else LONG)
        qtbot.wait(50)
        assert label.height() == tall and below.y() == below_top
    label.setText(SHORT)
    qtbot.wait(100)
    assert label.height() == tall  # not yet settled
    qtbot.waitUntil(lambda: label.height() < tall / 2, timeout=3000)  # settled: no blank band under "short"
    assert below.y() < below_top


def test_a_longer_text_grows_it_at_once(qtbot):
    _box, label, _below = _label_in_a_box(qtbot, settle_ms=60_000)
    one_line = label.height()
    label.setText(LONG)
    qtbot.waitUntil(lambda: label.height() > 2 * one_line)
