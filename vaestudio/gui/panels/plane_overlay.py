"""The test-set overlay of the latent plane: the encoder means of the fixed test images as points coloured
by class, the class legend, and the test image clicked on the plane ("inspected"): its picture, where it
is encoded, and what can be done with it (an interpolation endpoint, a reconstruction, the cursor there).
"""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget

from vaestudio.gui.panels import plane_items as items
from vaestudio.gui.panels.plane_geometry import PlaneGeometry
from vaestudio.gui.qimages import to_pixmap
from vaestudio.gui.state.latent_view import Endpoint
from vaestudio.gui.state.studio import Studio

INSPECTED_SIZE = 84  # pixels a side of the inspected test image


def legend_html(probe) -> str:
    """One coloured disc and class name per class of the test images (empty without test images)."""
    if probe is None:
        return ""
    entries = []
    for label in sorted({int(label) for label in probe.labels}):
        name = probe.class_names[label] if 0 <= label < len(probe.class_names) else str(label)
        red, green, blue = items.class_color(label)
        entries.append(f'<span style="color: rgb({red},{green},{blue});">●</span>&nbsp;{html.escape(name)}')
    return " &nbsp; ".join(entries)


class InspectedImageBar(QFrame):
    """The inspected test image, a line about it, and its buttons."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.image = QLabel()
        self.image.setFixedSize(INSPECTED_SIZE, INSPECTED_SIZE)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.endpoint_button = QPushButton("Endpoint")
        self.endpoint_button.setToolTip("Use this image as an end of the interpolation (A, then B)")
        self.reconstruct_button = QPushButton("Reconstruct")
        self.reconstruct_button.setToolTip("Add this image to the reconstruction strip")
        self.cursor_button = QPushButton("Cursor here")
        self.cursor_button.setToolTip("Move the cursor to this image's encoding")
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setToolTip("Close (Esc)")
        buttons = QHBoxLayout()
        for button in (self.endpoint_button, self.reconstruct_button, self.cursor_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        head = QHBoxLayout()
        head.addWidget(self.text, 1)
        head.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        right = QVBoxLayout()
        right.addLayout(head, 1)
        right.addLayout(buttons)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.image)
        layout.addLayout(right, 1)
        self.hide()


class TestSetOverlay:
    """The overlay's plot items (`points`, `ring`), its `legend` and its `bar`, drawn from the explorer's
    pictures; clicks and buttons act through the view."""

    def __init__(self, studio: Studio, geometry: PlaneGeometry):
        self.studio, self.view, self.explorer, self.geometry = studio, studio.view, studio.explorer, geometry
        self.points = items.OverlayPoints()
        self.ring = items.InspectedRing()
        # The class legend wraps with the panel's width (a Qt label, not an item of the plane's scene).
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.bar = InspectedImageBar()
        self._means: np.ndarray | None = None  # the encodings last drawn (identity), to skip redraws
        self.points.sigClicked.connect(self._on_point_clicked)
        self.bar.endpoint_button.clicked.connect(self._as_endpoint)
        self.bar.reconstruct_button.clicked.connect(self._to_reconstructions)
        self.bar.cursor_button.clicked.connect(self._cursor_here)
        self.bar.close_button.clicked.connect(lambda: self.view.inspect_test_image(None))

    def forget(self) -> None:
        """Draw the points again next time (the axes, scale or test images changed)."""
        self._means = None

    def draw(self, pictures) -> None:
        probe = self.explorer.probe
        means = pictures.means
        if pictures.info is None or pictures.vae is None or probe is None:
            if self._means is not None:
                self.points.setData([], [])
                self._means = None
            return
        if means is None or self._means is means or len(means) != len(probe.labels):
            return  # keep the last points until the new moment's encodings come (no flicker while scrubbing)
        x, y = self.geometry.project(means)
        self.points.set_points(x, y, probe.labels)
        self._means = means
        self.show_inspected(self.view.inspected_test_image)

    def show_legend(self, probe) -> None:
        self.legend.setText(legend_html(probe))

    def set_visible(self, visible: bool) -> None:
        for item in (self.points, self.ring):
            item.show_points(visible)
        self.legend.setVisible(visible and bool(self.legend.text()))

    def show_inspected(self, index: int | None) -> None:
        probe = self.explorer.probe
        means = self.explorer.pictures.means
        if index is None or probe is None or not 0 <= index < len(probe.images):
            self.bar.hide()
            self.ring.place(None, None)
            return
        self.bar.image.setPixmap(to_pixmap(probe.images[index], INSPECTED_SIZE))
        text = f"<b>Test image {index}</b> · {probe.class_name(index)}"
        if means is not None and index < len(means):
            z = means[index]
            text += "<br>encoded at z = (" + ", ".join(f"{v:+.2f}" for v in z[:6]) + (", …)" if len(z) > 6 else ")")
            x, y = self.geometry.project(means)  # all of them: a 1-d space spreads points by their index
            self.ring.place(float(x[index]), float(y[index]))
        self.bar.text.setText(text)
        self.bar.cursor_button.setEnabled(means is not None)
        self.bar.show()

    def _on_point_clicked(self, _item, points, _event) -> None:
        if len(points):
            self.view.inspect_test_image(int(points[0].data()))

    def _as_endpoint(self) -> None:
        index = self.view.inspected_test_image
        probe = self.explorer.probe
        if index is not None and probe is not None:
            label = f"test image {index} ({probe.class_name(index)})"
            which = self.view.pick_endpoint(Endpoint.test_image(index, label))
            self.studio.say(f"Interpolation endpoint {which.upper()}: test image {index}", 4000)

    def _to_reconstructions(self) -> None:
        if self.view.inspected_test_image is not None:
            self.view.add_reconstruction(self.view.inspected_test_image)

    def _cursor_here(self) -> None:
        index, means = self.view.inspected_test_image, self.explorer.pictures.means
        if index is not None and means is not None and index < len(means):
            self.view.move_cursor(means[index])
