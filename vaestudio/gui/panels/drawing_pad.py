"""The drawing pad: a 28 x 28 canvas, shown large, that the model encodes live while you draw.

Left button draws, right button erases, with a round soft brush of the chosen size; Clear empties the
canvas. The drawing is one own image of the latent view ("drawing"), replaced as you draw — at most
every MIN_UPDATE_MS, so a fast stroke costs a few encodes, not one per mouse event — so its marker on the
plane and its reconstruction (shown beside the canvas) follow the pen. "Keep" copies the drawing into a
new own image and starts a fresh one.
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSpinBox, QVBoxLayout, QWidget)

from vaestudio.gui.commands import Commands
from vaestudio.gui.panels.class_selector import OwnClassBox
from vaestudio.gui.panels.image_strip import ImageStrip, Tile
from vaestudio.gui.qimages import to_qimage
from vaestudio.gui.state.latent_view import OwnImage
from vaestudio.gui.state.own_images import active_architecture, training_background
from vaestudio.gui.state.studio import Studio
from vaestudio.gui.widgets import subscribe

SIZE = 28
MIN_UPDATE_MS = 40  # the drawing reaches the model at most 25 times a second while you draw
DRAWING = "drawing"
GRID_GREY = 34  # the faint lines between the canvas's pixels


def stamp(ink: np.ndarray, centre: tuple[float, float], radius: float, erase: bool = False) -> None:
    """Paint (or erase) a round brush of `radius` pixels at `centre` (x, y in pixel units) into `ink`
    (float32 (H, W) in [0, 1], changed in place); the edge is soft over one pixel."""
    height, width = ink.shape
    x, y = centre
    reach = int(np.ceil(radius + 1))
    left, right = max(0, int(x) - reach), min(width, int(x) + reach + 1)
    top, bottom = max(0, int(y) - reach), min(height, int(y) + reach + 1)
    if left >= right or top >= bottom:
        return
    ys, xs = np.mgrid[top:bottom, left:right]
    distance = np.hypot(xs + 0.5 - x, ys + 0.5 - y)
    cover = np.clip(radius + 0.5 - distance, 0.0, 1.0).astype(np.float32)
    patch = ink[top:bottom, left:right]
    if erase:
        np.minimum(patch, 1.0 - cover, out=patch)
    else:
        np.maximum(patch, cover, out=patch)


class DrawingCanvas(QWidget):
    """The 28 x 28 canvas: white ink on black, like the training digits and garments."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.ink = np.zeros((SIZE, SIZE), np.float32)
        self.brush = 1.2  # radius in canvas pixels
        self._last: QPointF | None = None
        self._erasing = False
        self.setMinimumSize(SIZE * 5, SIZE * 5)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Left button: draw. Right button: erase.")

    def sizeHint(self) -> QSize:
        return QSize(SIZE * 10, SIZE * 10)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return width

    def square(self) -> QRectF:
        """Where the canvas is painted: the largest centred square of whole screen pixels per canvas pixel."""
        cell = max(1, min(self.width(), self.height()) // SIZE)
        side = cell * SIZE
        return QRectF((self.width() - side) // 2, (self.height() - side) // 2, side, side)

    def to_canvas(self, position: QPointF) -> tuple[float, float]:
        """A widget position as canvas pixel coordinates (x, y)."""
        square = self.square()
        scale = SIZE / square.width()
        return ((position.x() - square.left()) * scale, (position.y() - square.top()) * scale)

    def clear(self) -> None:
        self.ink[:] = 0.0
        self.update()
        self.changed.emit()

    def image(self) -> np.ndarray:
        """The drawing as uint8 (28, 28): 0 background, 255 ink."""
        return np.rint(self.ink * 255.0).astype(np.uint8)

    # -- drawing -----------------------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:
        if event.button() not in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            return
        self._erasing = event.button() == Qt.MouseButton.RightButton
        self._last = event.position()
        self._stroke(self._last, self._last)

    def mouseMoveEvent(self, event) -> None:
        if self._last is None or not event.buttons() & (Qt.MouseButton.LeftButton | Qt.MouseButton.RightButton):
            return
        position = event.position()
        self._stroke(self._last, position)
        self._last = position

    def mouseReleaseEvent(self, event) -> None:
        if self._last is not None:
            self._stroke(self._last, event.position())
        self._last = None

    def _stroke(self, start: QPointF, end: QPointF) -> None:
        self.draw_line(self.to_canvas(start), self.to_canvas(end), self._erasing)

    def draw_line(self, start: tuple[float, float], end: tuple[float, float], erase: bool = False) -> None:
        """Brush stamps every half pixel from start to end (canvas pixel coordinates x, y), so fast strokes
        leave no gaps; what a mouse stroke does, also for the self-test."""
        (x0, y0), (x1, y1) = start, end
        steps = max(1, int(np.ceil(np.hypot(x1 - x0, y1 - y0) * 2)))
        for t in np.linspace(0.0, 1.0, steps + 1):
            stamp(self.ink, (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t), self.brush, erase)
        square, reach = self.square(), self.brush + 1.5  # repaint only the cells the brush can have touched
        cell = square.width() / SIZE
        left, right = (min(x0, x1) - reach) * cell + square.left(), (max(x0, x1) + reach) * cell + square.left()
        top, bottom = (min(y0, y1) - reach) * cell + square.top(), (max(y0, y1) + reach) * cell + square.top()
        self.update(QRectF(left, top, right - left, bottom - top).toAlignedRect().adjusted(-1, -1, 1, 1))
        self.changed.emit()

    def picture(self) -> np.ndarray:
        """What the canvas shows, one screen pixel per array element: each canvas pixel as a cell of whole
        screen pixels, with a faint grid between the cells (cells of 6 screen pixels or more)."""
        cell = int(self.square().width()) // SIZE
        pixels = self.image()
        picture = np.repeat(np.repeat(pixels, cell, axis=0), cell, axis=1)
        if cell >= 6:
            np.maximum(picture[::cell], GRID_GREY, out=picture[::cell])
            np.maximum(picture[:, ::cell], GRID_GREY, out=picture[:, ::cell])
        return picture

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(event.rect(), self.palette().window())
        square = self.square()
        picture = np.ascontiguousarray(self.picture())
        image = to_qimage(picture, copy=False)
        painter.drawImage(square.topLeft(), image)  # unscaled: the cells are already whole pixels
        painter.setPen(QPen(QColor(128, 128, 128), 1))
        painter.drawRect(square.adjusted(-1, -1, 0, 0))
        painter.end()


class DrawingPadPanel(QWidget):
    """Draw with the mouse; the drawing is encoded live and shown reconstructed beside the canvas."""

    title = "Drawing pad"

    def __init__(self, studio: Studio, commands: Commands, parent: QWidget | None = None):
        super().__init__(parent)
        self.studio, self.commands, self.view = studio, commands, studio.view
        self.own: OwnImage | None = None  # the own image this pad keeps up to date
        self.updates = 0  # drawings sent to the view (the self-test counts them)
        # ms from the first stroke not yet sent to its reconstruction on screen, per update (the self-test)
        self.latencies_ms: deque[float] = deque(maxlen=500)
        self._drawn_since: float | None = None  # the first stroke not yet sent
        self._sent_since: float | None = None  # the first stroke of the update being encoded
        self._own_before = None
        self._last_update = 0.0
        self._kept = 0

        self.canvas = DrawingCanvas()
        self.canvas.changed.connect(self._on_drawn)
        self.brush = QSpinBox()
        self.brush.setRange(1, 6)
        self.brush.setValue(2)
        self.brush.setSuffix(" px")
        self.brush.setToolTip("Brush diameter, in pixels of the 28 × 28 image")
        self.brush.valueChanged.connect(self._set_brush)
        self._set_brush(self.brush.value())
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.clear)
        self.keep_button = QPushButton("Keep")
        self.keep_button.setToolTip("Keep this drawing as one of your images and start a new one")
        self.keep_button.clicked.connect(self.keep)
        self.class_box = OwnClassBox.of_probe(self.view, studio)  # a conditional model's class
        self.class_box.activated.connect(lambda _index: self.push() if self.position() is not None else None)
        self.result = ImageStrip(rows=1, max_cell=140)
        self.posterior = QLabel()
        self.posterior.setWordWrap(True)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Brush"))
        controls.addWidget(self.brush)
        controls.addWidget(self.class_box)
        controls.addStretch(1)
        controls.addWidget(self.keep_button)
        controls.addWidget(self.clear_button)
        side = QVBoxLayout()
        side.addWidget(self.result, 1)
        side.addWidget(self.posterior)
        top = QHBoxLayout()
        top.addWidget(self.canvas, 3)
        top.addLayout(side, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top, 1)
        layout.addLayout(controls)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.push)
        subscribe(self, [(signal, self._refresh) for signal in (
            studio.explorer.moment_loaded, studio.explorer.own_changed, studio.active_changed,
            self.view.events.own_images)])
        self._refresh()

    def _set_brush(self, diameter: int) -> None:
        self.canvas.brush = diameter / 2.0 + 0.1

    # -- sending the drawing to the model ---------------------------------------------------------------
    def _on_drawn(self) -> None:
        if self._drawn_since is None:
            self._drawn_since = time.perf_counter()
        if not self._timer.isActive():
            since_ms = (time.perf_counter() - self._last_update) * 1000.0
            self._timer.start(int(max(0.0, MIN_UPDATE_MS - since_ms)))

    def position(self) -> int | None:
        """Where the pad's drawing is among the view's own images (None until something is drawn, or after
        it was removed)."""
        own = self.view.own_images
        for index, image in enumerate(own):
            if image is self.own:
                return index
        for index, image in enumerate(own):  # prepared again for another model (state.own_images.refit_own_images)
            if self.own is not None and image.name == DRAWING and image.source == DRAWING:
                self.own = image
                return index
        return None

    def push(self) -> None:
        """Send the drawing as it is now to the latent view (replacing the pad's own image)."""
        self._timer.stop()
        self._last_update = time.perf_counter()
        index = self.position()
        pixels = self.canvas.image()
        if index is None and not pixels.any():
            return  # nothing drawn yet: no own image
        image = self._prepare(pixels)
        if image is None:
            return
        self.own = image
        self.updates += 1
        self._sent_since, self._drawn_since = self._drawn_since or time.perf_counter(), None
        self._own_before = self.studio.explorer.pictures.own  # encodings from before this update
        if index is None:
            self.view.add_own_image(image)
        else:
            self.view.replace_own_image(index, image)

    def _prepare(self, pixels: np.ndarray) -> OwnImage | None:
        from vaestudio.core.data.own_image import prepare_own_image

        studio = self.studio
        light = training_background(studio.explorer.probe) == "light"
        try:
            prepared = prepare_own_image(pixels, active_architecture(studio), invert=light)
        except ValueError as exc:
            studio.say(f"The drawing cannot be encoded: {exc}", 5000)
            return None
        return OwnImage(DRAWING, prepared.model_input[0], prepared.preview, DRAWING, label=self.class_box.label())

    def clear(self) -> None:
        """Empty the canvas (the drawing stays an own image, blank, until you draw again)."""
        self.canvas.clear()
        self.push()

    def keep(self) -> None:
        """Keep the drawing as an own image of its own (endpoints on it stay) and start a fresh drawing."""
        index = self.position()
        if index is None or self.own is None:
            return
        self._kept += 1
        self.view.replace_own_image(index, OwnImage(f"drawing {self._kept}", self.own.inputs, self.own.preview,
                                                    DRAWING, label=self.own.label))
        self.own = None
        self.canvas.ink[:] = 0.0
        self.canvas.update()
        self._refresh()

    # -- what is shown ------------------------------------------------------------------------------------
    def _refresh(self, *_args) -> None:
        pictures = self.studio.explorer.pictures
        index = self.position()
        self.keep_button.setEnabled(index is not None)
        if index is None:
            self.result.set_tiles(())
            self.result.set_placeholder("Draw on the left with the mouse: the model encodes your drawing as you "
                                        "draw, shows its reconstruction here and its place on the plane.")
            self.posterior.setText("")
            return
        own = pictures.own
        encoding = own[index] if own is not None and len(own) == len(self.view.own_images) else None
        recon = encoding.reconstruction if encoding is not None else None
        self.result.set_tiles([Tile((self.own.preview,), ("model sees",), "The drawing as the model's input"),
                               Tile((recon,), ("reconstruction",), "The model's reconstruction of the drawing")])
        if encoding is not None and self._sent_since is not None and own is not self._own_before:
            self.latencies_ms.append((time.perf_counter() - self._sent_since) * 1000.0)
            self._sent_since = None
        if pictures.info is not None and pictures.vae is None:
            self.posterior.setText(pictures.note or "No model weights at this moment.")
        elif encoding is not None:
            mean = np.asarray(encoding.mean, np.float64)
            sigma = np.exp(0.5 * np.asarray(encoding.logvar, np.float64))
            x, y = self.view.axes
            shown = (x,) if len(mean) == 1 else (x, y)
            self.posterior.setText("Posterior: " + ", ".join(f"z{d + 1} = {mean[d]:+.2f} ± {sigma[d]:.2f}"
                                                               for d in shown))
        else:
            self.posterior.setText("Encoding…")
