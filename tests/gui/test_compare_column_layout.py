"""The Compare view's columns fit the room they get: a column taller than wide (three or four runs side by
side at 1400x900) puts its small pictures under its grid, the moment goes under the run's name when both do
not fit on one line, and the KL bars' labels never run into each other when the bars are narrow."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QBoxLayout

from vaestudio.gui.panels.compare_view import CompareColumn, KlBars


def test_a_tall_column_stacks_its_pictures_and_a_wide_one_puts_them_side_by_side(qtbot):
    column = CompareColumn()
    qtbot.addWidget(column)
    column.title.set_full_text("a-beta4")
    column.moment_label.set_full_text("epoch 2 · step 1876 · 120,064 images seen")
    column.show()
    column.resize(300, 380)  # three runs in a bottom dock half the window high
    # the pictures under the grid, the whole moment under the name
    qtbot.waitUntil(lambda: column.grid.geometry().bottom() < column.reconstructions.geometry().top())
    assert column.title.geometry().bottom() < column.moment_label.geometry().top()
    assert column.pictures.direction() == QBoxLayout.Direction.TopToBottom
    assert column.moment_label.text() == column.moment_label.full_text()
    column.resize(640, 260)  # two runs
    qtbot.waitUntil(lambda: column.grid.geometry().right() < column.reconstructions.geometry().left())
    qtbot.waitUntil(lambda: column.title.geometry().right() < column.moment_label.geometry().left())  # one line
    assert column.moment_label.text() == column.moment_label.full_text()


def test_kl_bar_labels_shorten_to_fit_their_bars(qtbot):
    bars = KlBars()
    qtbot.addWidget(bars)
    bars.set_values(np.array([3.42, 12.5]))
    metrics = bars.fontMetrics()
    for width in (200, 60, 30, 8):
        labels = [bars.label(index, width) for index in range(2)]
        assert all(metrics.horizontalAdvance(text) <= width for text in labels), (width, labels)
    assert bars.label(0, 200) == "z1 3.4"  # room enough: the dimension and its value
    assert bars.label(1, 8) == ""
