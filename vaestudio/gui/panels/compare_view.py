"""The Compare view: 2-4 runs side by side at the same point of training, driven by one timeline.

One column per compared run (state: `studio.comparison`, gui/state/compare.py): its snapshot at or before
the shared point (labelled with its own epoch and step), the z1 x z2 grid its NumPy VAE decodes, the decoded
cursor of the plane, the same test images above their reconstructions, and the KL of each latent dimension.
The timeline below moves every column at once; its stops are the moments at which any compared run took a
snapshot, in the alignment unit (images seen, step or wall time). Pictures shrink with the room (1280x720).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import (QBoxLayout, QComboBox, QFrame, QGridLayout, QHBoxLayout, QLabel, QSizePolicy, QSlider,
                               QVBoxLayout, QWidget)

from vaestudio.gui.qimages import to_pixmap
from vaestudio.gui.state.alignment import IMAGES, SECONDS, STEP, UNIT_NAMES, UNITS
from vaestudio.gui.state.compare import MAX_COLUMNS
from vaestudio.gui.state.compare_pictures import ComparedMoment
from vaestudio.gui.widgets import ElidedLabel, HeldLabel, subscribe

EMPTY_TEXT = ("Tick two to four runs in the Runs list (File → Open run… opens more) to see them side by side "
              "at the same point of training.")
BAR_COLOUR = QColor(31, 119, 180)
WAITING_COLOUR = QColor(150, 150, 150)


def describe_point(value: float, unit: str) -> str:
    """'9,600 images seen', 'step 150' or '12.3 s of training'."""
    if unit == IMAGES:
        return f"{value:,.0f} images seen"
    if unit == SECONDS:
        return f"{value:,.1f} s of training"
    return f"step {value:,.0f}"


def reconstruction_sheet(originals: np.ndarray, reconstructed: np.ndarray, gap: int = 2) -> np.ndarray:
    """Test images in a row above their reconstructions, as one uint8 picture (white gaps)."""
    rows = []
    for images in (originals, reconstructed):
        tiles = [np.asarray(image, np.uint8) for image in images]
        blank = np.full((tiles[0].shape[0], gap) + tiles[0].shape[2:], 255, np.uint8)
        row = [part for tile in tiles for part in (tile, blank)][:-1]
        rows.append(np.concatenate(row, axis=1))
    spacer = np.full((gap,) + rows[0].shape[1:], 255, np.uint8)
    return np.concatenate([rows[0], spacer, rows[1]], axis=0)


class ScaledImage(QWidget):
    """A picture scaled to fit with sharp pixels, centred; it shrinks with the room it is given. A `square`
    one is never wider than high (the room beside it goes to its neighbours).

    Painted, not a QLabel's pixmap: a QLabel asks its layouts to recompute on every new picture, and the
    cursor preview's picture changes 60 times a second while the cursor is dragged: every dock of the
    window was laid out and repainted each time (issue 22)."""

    def __init__(self, minimum: int = 40, square: bool = False):
        super().__init__()
        self.image: np.ndarray | None = None
        self._source = None  # QPixmap of the image at its own size
        self.square, self.minimum = square, minimum
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setMinimumSize(minimum, minimum)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)  # its own background: no parent repaints

    def set_image(self, image: np.ndarray | None, dimmed: bool = False) -> None:
        self.image = image
        self._source = None if image is None else to_pixmap(image)
        self.setEnabled(not dimmed)  # a picture of the moment before, until the new one arrives
        self.update()

    def target_rect(self) -> QRect:
        """Where the picture is drawn: the largest centred rectangle of its shape that fits."""
        if self.image is None:
            return QRect()
        height, width = self.image.shape[:2]
        scale = max(min(self.width() / width, self.height() / height), 0.05)
        w, h = max(int(width * scale), 1), max(int(height * scale), 1)
        return QRect((self.width() - w) // 2, (self.height() - h) // 2, w, h)

    def pixmap(self) -> QPixmap | None:
        """The picture as it is drawn now (None without one)."""
        if self._source is None:
            return None
        rect = self.target_rect()
        return self._source.scaled(rect.width(), rect.height(), Qt.AspectRatioMode.IgnoreAspectRatio,
                                   Qt.TransformationMode.FastTransformation)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self.square:
            self.setMaximumWidth(max(self.height(), self.minimum))

    def paintEvent(self, _event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().color(self.backgroundRole()))
        if self._source is None:
            painter.end()
            return
        if not self.isEnabled():
            painter.setOpacity(0.4)
        painter.drawPixmap(self.target_rect(), self._source)
        painter.end()


class KlBars(QWidget):
    """The KL of each latent dimension as bars (nats), painted small; `top` nats fill the height (the same
    in every column, so that bars compare across runs)."""

    def __init__(self):
        super().__init__()
        self.values: np.ndarray | None = None
        self.top = 0.0
        self.setMinimumSize(40, 28)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)

    def set_values(self, values: np.ndarray | None) -> None:
        self.values = None if values is None else np.asarray(values, float)
        self.setToolTip("" if values is None else "KL per latent dimension (nats): " + ", ".join(
            f"z{i + 1} {v:.2f}" for i, v in enumerate(self.values)))
        self.update()

    def set_top(self, top: float) -> None:
        if top != self.top:
            self.top = top
            self.update()

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(80, 40)

    def paintEvent(self, _event) -> None:  # noqa: N802
        if self.values is None or not len(self.values):
            return
        painter = QPainter(self)
        text_height = self.fontMetrics().height()
        room = self.height() - text_height - 2
        top = max(self.top, float(self.values.max()), 1e-9)
        width = self.width() / len(self.values)
        colour = BAR_COLOUR if self.isEnabled() else WAITING_COLOUR
        for index, value in enumerate(self.values):
            height = room * max(value, 0.0) / top
            painter.fillRect(QRectF(index * width + 1, room - height, max(width - 2, 1), height), colour)
            label = self.label(index, width)
            if label:
                painter.drawText(QRectF(index * width, room, width, text_height + 2), Qt.AlignmentFlag.AlignCenter,
                                 label)
        painter.end()

    def label(self, index: int, width: float) -> str:
        """The words under bar `index` that fit its `width`: 'z1 2.5', else '2.5', else none."""
        value = float(self.values[index])
        fitting = [text for text in (f"z{index + 1} {value:.1f}", f"{value:.1f}")
                   if self.fontMetrics().horizontalAdvance(text) + 2 <= width]
        return fitting[0] if fitting and len(self.values) <= 8 else ""


class CompareColumn(QFrame):
    """One run at the shared point."""

    def __init__(self):
        super().__init__()
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = ElidedLabel(mode=Qt.TextElideMode.ElideRight)
        self.title.setStyleSheet("font-weight: bold;")
        self.moment_label = ElidedLabel(mode=Qt.TextElideMode.ElideRight)
        self.grid = ScaledImage(60, square=True)
        self.preview = ScaledImage(28)
        self.preview.setToolTip("The plane's cursor (z shown under the Cursor preview) decoded by this run's "
                                "model at this moment")
        self.kl = KlBars()
        self.reconstructions = ScaledImage(24)
        self.reconstructions.setToolTip("The same test images (top) and this run's reconstructions (bottom)")
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setEnabled(False)
        # A column wider than tall (two runs in a bottom dock): the grid on the left as high as the room allows,
        # on its right the cursor preview and the KL bars above the reconstructions; taller than wide: below it.
        small = QHBoxLayout()
        small.setContentsMargins(0, 0, 0, 0)
        small.addWidget(self.preview, 1)
        small.addWidget(self.kl, 1)
        side = QVBoxLayout()
        side.setContentsMargins(0, 0, 0, 0)
        side.setSpacing(4)
        side.addLayout(small, 1)
        side.addWidget(self.reconstructions, 1)
        self.pictures = pictures = QBoxLayout(QBoxLayout.Direction.LeftToRight)  # see resizeEvent
        pictures.setContentsMargins(0, 0, 0, 0)
        pictures.addWidget(self.grid, 3)
        pictures.addLayout(side, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        self.header = header = QBoxLayout(QBoxLayout.Direction.LeftToRight)  # the run's name, then its moment
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(self.title, 2)
        header.addWidget(self.moment_label, 5)
        layout.addLayout(header)
        layout.addLayout(pictures, 1)
        layout.addWidget(self.note)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._arrange()

    def _arrange(self) -> None:
        """A column taller than wide (three or four runs side by side) puts its small pictures under the grid;
        its moment goes under its name when both do not fit on one line."""
        down, across = QBoxLayout.Direction.TopToBottom, QBoxLayout.Direction.LeftToRight
        self.pictures.setDirection(down if self.width() < self.height() else across)
        metrics = self.fontMetrics()  # on one line, the name has 2/7 of the width and the moment 5/7
        fits = all(metrics.horizontalAdvance(label.full_text()) + 12 <= self.width() * share
                   for label, share in ((self.title, 2 / 7), (self.moment_label, 5 / 7)))
        self.header.setDirection(across if fits else down)

    def show_moment(self, moment: ComparedMoment, position_text: str) -> None:
        """The run's moment (`position_text`: where it lies in the unit, when that is not the step)."""
        self.title.set_full_text(moment.history.title(), str(moment.history.folder or moment.history.title()))
        info = moment.info
        waiting = info is not None and not moment.loaded
        if info is None:
            self.moment_label.set_full_text("no snapshot yet at this point")
        else:
            where = f"{info.label} · step {info.step}" + (f" · {position_text}" if position_text else "")
            self.moment_label.set_full_text(where + (" · computing…" if waiting else ""))
        self._arrange()
        if not waiting:
            self.grid.set_image(moment.grid)
            self.kl.set_values(moment.kl_per_dimension)
            sheet = None
            if moment.reconstructions is not None and moment.originals is not None:
                sheet = reconstruction_sheet(moment.originals, moment.reconstructions.images)
            self.reconstructions.set_image(sheet)
        for widget in (self.grid, self.reconstructions, self.kl, self.preview):
            widget.setEnabled(not waiting)
        if not waiting:  # a note stays until the next moment is computed (the pictures do not jump meanwhile)
            self.note.setText(moment.note)
            self.note.setVisible(bool(moment.note))

    def show_preview(self, image: np.ndarray | None) -> None:
        self.preview.set_image(image, dimmed=not self.grid.isEnabled())


class CompareViewPanel(QWidget):
    """Compared runs side by side at one point of training, with one timeline."""

    title = "Compare"

    def __init__(self, studio, commands=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.studio, self.commands = studio, commands
        self.comparison = studio.comparison
        self.stops: list[float] = []  # the timeline's positions, in the unit
        self.columns: list[CompareColumn] = []

        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.grid_layout = QGridLayout()
        self.grid_layout.setContentsMargins(0, 0, 0, 0)
        self.grid_layout.setSpacing(4)
        self.unit_box = QComboBox()
        for unit in UNITS:
            self.unit_box.addItem(f"align by {UNIT_NAMES[unit]}", unit)
        self.unit_box.setToolTip("How the runs are lined up: images seen (runs with other batch sizes line up), "
                                 "optimizer steps, or seconds of training")
        self.unit_box.activated.connect(self._on_unit_chosen)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setMinimum(0)
        self.slider.setToolTip("One timeline for every run: each shows its snapshot at or before this point")
        self.slider.valueChanged.connect(self._on_slider)
        self.point_label = HeldLabel()
        self.point_label.setMinimumWidth(150)
        bar = QHBoxLayout()
        bar.addWidget(self.unit_box)
        bar.addWidget(self.slider, 1)
        bar.addWidget(self.point_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.empty)
        layout.addLayout(self.grid_layout, 1)
        layout.addLayout(bar)

        comparison = self.comparison
        subscribe(self, [(comparison.runs_changed, self._on_runs), (comparison.unit_changed, self._on_unit),
                         (comparison.point_changed, self._on_point), (comparison.column_changed, self._on_column),
                         (comparison.preview_changed, self._on_preview),
                         (comparison.snapshots_changed, self._on_stops), (studio.compared_changed, self._on_compared)])
        self._on_runs()

    # -- following the state --------------------------------------------------------------------------------
    def _on_runs(self) -> None:
        for column in self.columns:
            self.grid_layout.removeWidget(column)
            column.hide()  # at once: deleteLater waits for the event loop
            column.setParent(None)
            column.deleteLater()
        runs = self.comparison.runs
        self.columns = [CompareColumn() for _ in runs]
        for index, column in enumerate(self.columns):
            self.grid_layout.addWidget(column, 0, index)
            self.grid_layout.setColumnStretch(index, 1)
        for index in range(len(self.columns), 4):
            self.grid_layout.setColumnStretch(index, 0)
        self._on_compared()
        self._on_unit(self.comparison.unit)
        for index, moment in enumerate(self.comparison.columns):
            self._on_column(index, moment)
            self._on_preview(index, self.comparison.previews[index])

    def _on_unit(self, unit: str) -> None:
        self.unit_box.setCurrentIndex(UNITS.index(unit))
        self._on_stops()

    def _on_stops(self, *_args) -> None:
        """The timeline's stops: every moment at which a compared run took a snapshot."""
        found = [self.comparison.positions(h) for h in self.comparison.runs if h.snapshots]
        self.stops = sorted(set(float(v) for positions in found for v in positions))
        self.slider.blockSignals(True)
        self.slider.setMaximum(max(len(self.stops) - 1, 0))
        self.slider.setEnabled(len(self.stops) > 1)
        self.slider.blockSignals(False)
        self._on_point(self.comparison.point)

    def _on_point(self, value: float) -> None:
        self.point_label.setText(describe_point(value, self.comparison.unit) if self.comparison.runs else "")
        if self.stops:
            index = int(np.searchsorted(self.stops, value + 1e-9 * max(1.0, abs(value)), side="right")) - 1
            self.slider.blockSignals(True)
            self.slider.setValue(max(index, 0))
            self.slider.blockSignals(False)

    def _on_column(self, index: int, moment: ComparedMoment) -> None:
        if index < len(self.columns):
            unit = self.comparison.unit
            position = describe_point(moment.position, unit) if moment.position is not None and unit != STEP else ""
            self.columns[index].show_moment(moment, position)
            shown = [m.kl_per_dimension.max() for m in self.comparison.columns if m.kl_per_dimension is not None
                     and len(m.kl_per_dimension)]
            for column in self.columns:
                column.kl.set_top(float(max(shown, default=0.0)))

    def _on_preview(self, index: int, image) -> None:
        if index < len(self.columns):
            self.columns[index].show_preview(image)

    def _on_compared(self) -> None:
        """What is said above the columns (too few or too many runs ticked), and the units they allow."""
        shown, ticked = len(self.comparison.runs), len(self.studio.compared)
        self.empty.setText(EMPTY_TEXT if shown < 2 else
                           f"The first {MAX_COLUMNS} of the {ticked} ticked runs are shown: untick some to choose.")
        self.empty.setVisible(shown < 2 or ticked > MAX_COLUMNS)
        self._grey_units()

    def _grey_units(self, *_args) -> None:
        unavailable = self.comparison.unavailable()
        model = self.unit_box.model()
        for index, unit in enumerate(UNITS):
            model.item(index).setEnabled(unit not in unavailable)
            model.item(index).setToolTip(unavailable.get(unit, ""))

    # -- acting ---------------------------------------------------------------------------------------------
    def _on_slider(self, index: int) -> None:
        if 0 <= index < len(self.stops):
            self.comparison.set_point(self.stops[index])

    def _on_unit_chosen(self, index: int) -> None:
        try:
            self.comparison.unit = self.unit_box.itemData(index)
        except ValueError as exc:
            self.studio.say(str(exc), 8000)
            self.unit_box.setCurrentIndex(UNITS.index(self.comparison.unit))

    def move_to(self, value: float) -> None:
        """Show every run at `value` (in the unit): what dragging the timeline does."""
        self.comparison.set_point(value)
