"""Labels that change with every moment re-lay nothing out while their text fits (widgets.HeldLabel): a step
of the timeline repaints them only. Before, each new text made Qt recompute every layout up to the main
window's (~9 of ~33 ms of the UI thread per step with every dock shown)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QHBoxLayout, QWidget

from vaestudio.gui.widgets import ElidedLabel, HeldLabel


class LayoutRequests(QObject):
    """Counts the layout requests `watched` receives."""

    def __init__(self, watched: QWidget):
        super().__init__()
        self.count = 0
        watched.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.LayoutRequest:
            self.count += 1
        return False


def _in_a_row(qtbot, label: QWidget) -> QWidget:
    box = QWidget()
    row = QHBoxLayout(box)
    row.addWidget(label)
    row.addStretch(1)
    box.resize(400, 60)
    qtbot.addWidget(box)
    box.show()
    qtbot.waitExposed(box)
    qtbot.wait(50)  # the first layout's requests are handled
    return box


def test_a_held_label_grows_for_a_longer_text_and_relays_nothing_for_one_that_fits(qtbot):
    label = HeldLabel("epoch 1, step 300")
    box = _in_a_row(qtbot, label)
    requests = LayoutRequests(box)
    label.setText("epoch 1, step 600")  # fits in the room it has
    label.setText("step 9")
    qtbot.wait(50)
    assert requests.count == 0 and label.label.text() == "step 9"
    label.setText("epoch 12, step 123 456 (the last snapshot of the run)")
    qtbot.waitUntil(lambda: label.width() >= label.label.sizeHint().width())  # shown whole
    assert requests.count >= 1


def test_an_elided_labels_new_text_relays_nothing(qtbot):
    label = ElidedLabel("short")
    box = _in_a_row(qtbot, label)
    requests = LayoutRequests(box)
    for text in ("a much longer text than the room it has, " * 5, "short again", "x"):
        label.set_full_text(text)
        qtbot.wait(20)
    assert requests.count == 0 and label.full_text() == "x"


def test_stepping_the_timeline_does_not_lay_the_window_out_again(qtbot, window, recorded_run):
    history = window.opening.open_run(recorded_run[0])  # conftest's finished run
    assert history is not None, window.last_error
    qtbot.waitUntil(lambda: not window.opening.is_replaying(history) and len(history.snapshots) >= 3,
                    timeout=60_000)
    indices = [s.index for s in history.snapshots[-3:]]

    def settled(index: int) -> bool:
        pictures = window.studio.explorer.pictures
        return (pictures.info is not None and pictures.info.index == index and pictures.reconstructions is not None
                and not window.executor.busy(("diagnosis-worst", "diagnosis-quality")))

    for index in indices:  # each moment once: its texts may grow a label (that re-lays out once)
        history.select(index)
        qtbot.waitUntil(lambda index=index: settled(index), timeout=30_000)
    qtbot.wait(200)
    requests = LayoutRequests(window)
    moments = []
    for index in indices * 2:
        history.select(index)
        qtbot.waitUntil(lambda index=index: settled(index), timeout=30_000)
        qtbot.wait(20)  # posted layout requests and paints are handled
        moments.append(window.timeline.moment_text())
    assert len(set(moments)) == len(indices)  # the moment's name changed with every step
    assert requests.count == 0
