"""The latent plane's choice of dimensions: the two axis selectors, and sliders holding the other latent
coordinates (a latent space of more than two dimensions). Both list dimensions by KL, most informative
first, and send choices back through the view (`set_axes`, `set_held`)."""

from __future__ import annotations

from typing import Callable

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QFrame, QGridLayout, QHBoxLayout, QLabel, QScrollArea, QSlider,
                               QToolButton, QVBoxLayout, QWidget)

from vaestudio.gui.state.latent_view import LatentView

HELD_STEPS = 100  # held-coordinate slider steps per unit of z
HELD_RANGE = 3.0  # sliders reach ±3 (99.7% of the prior)


def dimension_order(view: LatentView) -> tuple[int, ...]:
    """The view's dimensions, most KL first (in index order until the KL is known)."""
    order = tuple(view.dimension_order)
    return order if len(order) == view.latent_dim else tuple(range(view.latent_dim))


class AxisSelectors:
    """'Axes:' and two combo boxes: the dimension shown horizontally and vertically. `kl()` gives the
    per-dimension KL of the moment shown (None while unknown), written beside each dimension."""

    def __init__(self, view: LatentView, kl: Callable[[], np.ndarray | None]):
        self.view, self.kl = view, kl
        self.label = QLabel("Axes:")
        self.x_box, self.y_box = QComboBox(), QComboBox()
        self.x_box.setToolTip("Latent dimension shown horizontally (listed by KL, most informative first)")
        self.y_box.setToolTip("Latent dimension shown vertically (listed by KL, most informative first)")
        self.x_box.activated.connect(lambda _i: self._chosen(self.x_box, 0))
        self.y_box.activated.connect(lambda _i: self._chosen(self.y_box, 1))

    @property
    def widgets(self) -> tuple[QWidget, ...]:
        return self.label, self.x_box, self.y_box

    def _dimension_text(self, dimension: int) -> str:
        kl = self.kl()
        return f"z{dimension + 1}" + (f"  ({kl[dimension]:.2f} nats)" if kl is not None else "")

    def fill(self) -> None:
        """List the dimensions in the view's order, the shown axes selected (no signal sent)."""
        order = dimension_order(self.view)
        for box, chosen in ((self.x_box, self.view.axes[0]), (self.y_box, self.view.axes[1])):
            box.blockSignals(True)
            if [box.itemData(i) for i in range(box.count())] != list(order):
                box.clear()
                for dimension in order:
                    box.addItem(self._dimension_text(dimension), dimension)
            else:
                for i, dimension in enumerate(order):
                    box.setItemText(i, self._dimension_text(dimension))
            box.setCurrentIndex(box.findData(chosen))
            box.blockSignals(False)

    def _chosen(self, box: QComboBox, which: int) -> None:
        chosen = box.currentData()
        if chosen is None:
            return
        axes_now = list(self.view.axes)
        if chosen == axes_now[1 - which]:  # choosing the other axis swaps the two
            axes_now[1 - which] = axes_now[which]
        axes_now[which] = chosen
        self.view.set_axes(*axes_now)


class HeldSliders(QWidget):
    """One slider per latent coordinate not on the plane, holding it at a value for the grid and the
    cursor; "All to 0" resets them."""

    def __init__(self, view: LatentView, parent: QWidget | None = None):
        super().__init__(parent)
        self.view = view
        self._rows: dict[int, tuple[QSlider, QLabel]] = {}
        self.rows_box = QWidget()
        self.rows_layout = QGridLayout(self.rows_box)
        self.rows_layout.setContentsMargins(2, 2, 2, 2)
        self.title = QLabel("<b>Held</b>")
        self.title.setToolTip("The other latent coordinates, held at these values for the grid and the "
                              "cursor (listed by KL, most informative first)")
        self.zero_button = QToolButton()
        self.zero_button.setText("All to 0")
        self.zero_button.clicked.connect(self.zero)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.rows_box)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addStretch(1)
        head.addWidget(self.zero_button)
        outer.addLayout(head)
        outer.addWidget(scroll, 1)
        self.setMinimumWidth(170)
        self.setMaximumWidth(240)

    def rebuild(self) -> None:
        """One row per dimension off the plane, in the view's order (kept when they are the same)."""
        view = self.view
        wanted = [d for d in view.dimension_order if d not in view.axes] \
            if view.latent_dim > 2 and len(view.dimension_order) == view.latent_dim else []
        if list(self._rows) == wanted:
            self.show_values()
            return
        while self.rows_layout.count():
            widget = self.rows_layout.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self._rows = {}
        for row, dimension in enumerate(wanted):
            name = QLabel(f"z{dimension + 1}")
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(int(-HELD_RANGE * HELD_STEPS), int(HELD_RANGE * HELD_STEPS))
            slider.setToolTip(f"Hold z{dimension + 1} at this value (double-click the value to reset it to 0)")
            value = QLabel()
            value.setMinimumWidth(40)
            slider.valueChanged.connect(lambda v, d=dimension: self.view.set_held(d, v / HELD_STEPS))
            self.rows_layout.addWidget(name, row, 0)
            self.rows_layout.addWidget(slider, row, 1)
            self.rows_layout.addWidget(value, row, 2)
            self._rows[dimension] = (slider, value)
        self.rows_layout.setRowStretch(len(wanted), 1)
        self.show_values()

    def show_values(self, *_args) -> None:
        """Sliders and value labels to the view's held values (no signal sent)."""
        for dimension, (slider, value) in self._rows.items():
            held = self.view.held[dimension] if dimension < len(self.view.held) else 0.0
            slider.blockSignals(True)
            slider.setValue(int(round(held * HELD_STEPS)))
            slider.blockSignals(False)
            value.setText(f"{held:+.2f}")

    def zero(self) -> None:
        for dimension in list(self._rows):
            if self.view.held[dimension] != 0.0:
                self.view.set_held(dimension, 0.0)

    def slider(self, dimension: int) -> QSlider | None:
        """The slider holding `dimension` (None when it is on the plane or the space has <= 2 dimensions)."""
        row = self._rows.get(dimension)
        return row[0] if row is not None else None
