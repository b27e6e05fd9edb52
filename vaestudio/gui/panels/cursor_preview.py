"""The cursor preview: the image the decoder of the moment makes of the latent point under the cursor,
a recorder for morphs, and samples from the prior.

Cursor moves only note the newest point; a single-shot timer decodes it at once (never sooner than
MIN_DECODE_MS after the previous decode), so a burst of moves costs one decode. Decoding uses
`explorer.vae` (the NumPy VAE of the moment shown, ~0.1 ms a point), never the model in training. The
time from the first unhandled move to the new image being painted is recorded (`latencies_ms`) for the
self-test and the benchmarks.
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPalette
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from vaestudio.gui.commands import Commands
from vaestudio.gui.qimages import to_qimage
from vaestudio.gui.recording import morph_recorder
from vaestudio.gui.state.studio import Studio
from vaestudio.gui.widgets import subscribe

# Shorter than a 60 Hz frame on purpose: with a 16 ms gap, moves arriving every ~16 ms lock into a
# fixed phase behind the decodes and each waits ~9 ms; at 12 ms a 60 Hz drag decodes at once.
MIN_DECODE_MS = 12
PRIOR_SAMPLES = 8
GIF_SCALE = 4  # recorded morphs are saved at 4x (112 pixels for 28x28 images)


def rgb32(image: np.ndarray) -> np.ndarray:
    """A uint8 grey (H, W) or colour (H, W, 3) image as 0xffRRGGBB words (H, W) uint32.

    Qt scales 32-bit images on its fast path: drawing a 28x28 image at 500x500 pixels takes about a
    fifth of the time it takes from an 8-bit grey image (benchmarks/plane_frame_cost.py).
    """
    image = np.asarray(image, dtype=np.uint32)
    if image.ndim == 3:
        words = (image[..., 0] << 16) | (image[..., 1] << 8) | image[..., 2]
    else:
        words = image * np.uint32(0x010101)
    return np.ascontiguousarray(words | np.uint32(0xFF000000))


class PixelImage(QWidget):
    """One small image painted large with sharp pixels, centred, keeping its aspect; a message when empty."""

    painted = Signal()
    clicked = Signal()

    def __init__(self, parent: QWidget | None = None, minimum: int = 120, message: str = ""):
        super().__init__(parent)
        self._array: np.ndarray | None = None
        self._words: np.ndarray | None = None  # what _qimage shows (it shares their memory)
        self._qimage: QImage | None = None
        self.message = message
        self.setMinimumSize(minimum, minimum)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)  # every pixel is painted below

    @property
    def image(self) -> np.ndarray | None:
        return self._array

    def set_image(self, image: np.ndarray | None) -> None:
        if image is None:
            self._array = self._words = self._qimage = None
        else:
            self._array = np.ascontiguousarray(image)
            self._words = rgb32(self._array)
            self._qimage = to_qimage(self._words, copy=False)  # shares the words: they are kept
        self.update()

    def set_message(self, message: str) -> None:
        if message != self.message:
            self.message = message
            self.update()

    def target_rect(self) -> QRectF:
        """Where the image is drawn: the largest centred square (or image-shaped) area that fits."""
        if self._qimage is None:
            return QRectF(self.rect())
        width, height = self._qimage.width(), self._qimage.height()
        factor = min(self.width() / width, self.height() / height)
        w, h = width * factor, height * factor
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(280, 280)

    def paintEvent(self, _event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(32, 32, 32))
        if self._qimage is not None:
            painter.drawImage(self.target_rect(), self._qimage)
        elif self.message:
            painter.setPen(QColor(200, 200, 200))
            painter.drawText(self.rect().adjusted(8, 8, -8, -8),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message)
        painter.end()
        self.painted.emit()

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mousePressEvent(event)


class CursorPreviewPanel(QWidget):
    """The decoded image at the cursor, its z, Record morph, and Sample from the prior."""

    title = "Cursor preview"
    preview_updated = Signal()
    recording_changed = Signal(bool)

    def __init__(self, studio: Studio, commands: Commands, parent: QWidget | None = None):
        super().__init__(parent)
        self.studio, self.commands = studio, commands
        self.view, self.explorer = studio.view, studio.explorer
        self._vae = None
        self._z: np.ndarray | None = None  # the newest point asked for, not decoded yet
        self._shown_z: np.ndarray | None = None
        self._pending_since: float | None = None  # first unhandled move
        self._painting_since: float | None = None  # a decoded move waiting for its paint
        self._last_decode = 0.0
        self.latencies_ms: deque[float] = deque(maxlen=2000)
        self.recorder = morph_recorder(studio)  # the one recording, shared with the Run menu's Record morph
        self.prior_z: np.ndarray | None = None
        self._prior_seed = 0
        self._build()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(lambda: self._decode(measure=True))
        subscribe(self, [(self.view.events.cursor, self.request), (self.view.events.decode_class, self._on_class),
                         (self.explorer.moment_loaded, self._on_pictures),
                         (self.recorder.changed, self._on_recording_changed),
                         (self.recorder.frame_added, self._show_recording),
                         (self.recorder.stopped, self._on_recording_stopped)])
        self.prior_button.setEnabled(False)
        self._on_pictures(self.explorer.pictures)
        self.request(self.view.cursor, measure=False)

    def _build(self) -> None:
        self.image_view = PixelImage(minimum=160)
        self.image_view.painted.connect(self._on_painted)
        # A read-only line, not a QLabel: a QLabel's new text asks every layout up to the window's to recompute,
        # 60 times a second while the cursor is dragged (every dock was laid out and repainted each time).
        self.caption = QLineEdit("z = ")
        self.caption.setReadOnly(True)  # still selectable and copyable
        self.caption.setFrame(False)
        self.caption.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        palette = self.caption.palette()
        palette.setColor(QPalette.ColorRole.Base, palette.color(QPalette.ColorRole.Window))
        self.caption.setPalette(palette)
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.record_button = QPushButton("Record morph")
        self.record_button.setCheckable(True)
        self.record_button.setToolTip("Record the decoded images while you move the cursor; when you stop, "
                                      "you are offered to save them as a GIF")
        self.record_button.toggled.connect(self.set_recording)
        self.save_button = QPushButton("Save morph…")
        self.save_button.setToolTip("Save the last recorded morph as a GIF")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.save_recording)
        self.prior_button = QPushButton("Sample from the prior")
        self.prior_button.setToolTip(f"Decode {PRIOR_SAMPLES} random points z ~ N(0, I); click one to move the "
                                     "cursor there")
        self.prior_button.clicked.connect(self.sample_prior)
        self.prior_strip = QWidget()
        strip = QHBoxLayout(self.prior_strip)
        strip.setContentsMargins(0, 0, 0, 0)
        strip.setSpacing(2)
        self.prior_images: list[PixelImage] = []
        for index in range(PRIOR_SAMPLES):
            thumb = PixelImage(minimum=28)
            thumb.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            thumb.setFixedHeight(48)
            thumb.setCursor(Qt.CursorShape.PointingHandCursor)
            thumb.clicked.connect(lambda i=index: self.choose_prior_sample(i))
            strip.addWidget(thumb)
            self.prior_images.append(thumb)
        self.prior_strip.hide()
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.record_button, 1)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(3)
        layout.addWidget(self.image_view, 1)
        layout.addWidget(self.caption)
        layout.addLayout(buttons)
        layout.addWidget(self.prior_button)
        layout.addWidget(self.prior_strip)

    # -- decoding the cursor --------------------------------------------------------------------------------
    @property
    def image(self) -> np.ndarray | None:
        """The image shown (uint8), or None."""
        return self.image_view.image

    def request(self, z, measure: bool = True) -> None:
        """The cursor moved to z: decode it on the next frame (at most every MIN_DECODE_MS)."""
        self._z = np.asarray(z, dtype=np.float32)
        if measure and self._pending_since is None:
            self._pending_since = time.perf_counter()
        if not self._timer.isActive():
            since_ms = (time.perf_counter() - self._last_decode) * 1000.0
            self._timer.start(int(max(0.0, MIN_DECODE_MS - since_ms)))

    def refresh(self) -> None:
        """Decode the cursor's point again (a new moment); not counted as drag latency."""
        if self._timer.isActive():
            return
        if self._z is None:
            self._z = np.asarray(self.view.cursor, dtype=np.float32)
        self._decode(measure=False)

    def _on_class(self, *_args) -> None:
        self._z = np.asarray(self.view.cursor, dtype=np.float32)  # a conditional model's class: decode again
        self.refresh()

    def _decode(self, measure: bool) -> None:
        z = self._z
        vae = self._vae
        if z is None:
            return
        if vae is None or z.size != vae.architecture.latent_dim:
            self._pending_since = None
            self._shown_z, self._z = z, None
            self.image_view.set_image(None)
            self._show_caption(z)
            return
        image = vae.decode_uint8(z[None], self.view.single_label)[0]
        now = time.perf_counter()
        self._last_decode = now
        self._shown_z, self._z = z, None
        if measure and self._pending_since is not None:
            if self.image_view.isVisible():
                self._painting_since = self._pending_since  # measured when the new image is painted
            else:
                self.latencies_ms.append((now - self._pending_since) * 1000.0)
        self._pending_since = None
        self.image_view.set_image(image)
        self._show_caption(z)
        self.preview_updated.emit()

    def _on_painted(self) -> None:
        if self._painting_since is not None:
            self.latencies_ms.append((time.perf_counter() - self._painting_since) * 1000.0)
            self._painting_since = None

    def _show_caption(self, z: np.ndarray) -> None:
        text = "z = (" + ", ".join(f"{v:+.2f}" for v in z[:8]) + (", …)" if z.size > 8 else ")")
        self.caption.setText(text)

    def _on_pictures(self, pictures) -> None:
        if pictures.vae is None:
            self.image_view.set_message(self._empty_message(pictures))
        if pictures.vae is self._vae:
            return
        self._vae = pictures.vae
        self.prior_button.setEnabled(self._vae is not None)
        self.refresh()
        self._redecode_prior()

    def _empty_message(self, pictures) -> str:
        if self.studio.active is None:
            return "No model yet: press Start, or open a run or a model"
        if pictures.info is None:
            return "Waiting for the first snapshot…"
        return pictures.note or "This moment has no model weights: nothing to decode"

    def latency_percentile(self, q: float = 95.0) -> float | None:
        """The q-th percentile of the recorded drag latencies (ms), or None before any."""
        return float(np.percentile(np.asarray(self.latencies_ms), q)) if self.latencies_ms else None

    # -- recording a morph (the studio's one MorphRecorder) ----------------------------------------------------
    @property
    def recording(self) -> bool:
        return self.recorder.recording

    @property
    def recorded(self) -> list[np.ndarray]:
        """The frames of the recording under way, or of the last one."""
        return self.recorder.frames

    def set_recording(self, on: bool) -> None:
        """Start or stop the recording (the Run menu's Record morph is the same one); stopping with frames
        recorded offers to save them as a GIF at once."""
        self.recorder.set_recording(on)

    def _on_recording_changed(self, on: bool) -> None:
        if self.record_button.isChecked() != on:
            self.record_button.blockSignals(True)
            self.record_button.setChecked(on)
            self.record_button.blockSignals(False)
        if on:
            self._show_recording()
        else:
            self.record_button.setText("Record morph")
        self.save_button.setEnabled(bool(self.recorded) and not on)
        self.recording_changed.emit(on)

    def _on_recording_stopped(self, count: int) -> None:
        if count:
            self.save_recording()

    def _show_recording(self, *_args) -> None:
        self.record_button.setText(f"Stop recording ({frames_text(len(self.recorded))})")

    def recorded_frames(self) -> list[np.ndarray]:
        return list(self.recorder.frames)

    def frame_seconds(self) -> float:
        """How long each recorded frame shows in the GIF: the pace it was recorded at (at least 0.02 s)."""
        return self.recorder.frame_seconds()

    def save_recording(self) -> bool:
        """Ask where to save the recorded morph and write it as a GIF; False when cancelled or failed."""
        if not self.recorded:
            return False
        count = len(self.recorded)
        path = self.commands.ask_save_path("exports", "Save the recorded morph", "morph.gif",
                                           "GIF animation (*.gif)", ".gif")
        if path is None:
            self.studio.say(f"Recorded morph of {frames_text(count)} not saved: Save morph… saves it", 6000)
            return False
        frames, seconds = self.recorded_frames(), self.frame_seconds()

        def write():
            from vaestudio.core.store.images import save_gif

            save_gif(frames, path, frame_seconds=seconds, scale=GIF_SCALE)

        return self.commands.write(path, write, f"the recorded morph ({frames_text(count)})")

    # -- samples from the prior -----------------------------------------------------------------------------------
    def sample_prior(self) -> None:
        """Fill the strip with decodes of random points from the prior (a new draw each time; a conditional
        model's for the plane's class, as the cursor)."""
        if self._vae is None:
            return
        from vaestudio.core.probes import sample_prior

        samples = sample_prior(self._vae, PRIOR_SAMPLES, seed=self._prior_seed, label=self.view.single_label)
        self._prior_seed += 1
        self.prior_z = samples.z
        for thumb, image, z in zip(self.prior_images, samples.images, samples.z):
            thumb.set_image(image)
            thumb.setToolTip("z = (" + ", ".join(f"{v:+.2f}" for v in z[:8]) + ")\nclick: move the cursor here")
        self.prior_strip.show()

    def _redecode_prior(self) -> None:
        """A new moment: the same prior points, decoded by its model."""
        if self.prior_z is None:
            return
        if self._vae is None or self.prior_z.shape[1] != self._vae.architecture.latent_dim:
            self.prior_z = None
            self.prior_strip.hide()
            return
        for thumb, image in zip(self.prior_images, self._vae.decode_uint8(self.prior_z, self.view.single_label)):
            thumb.set_image(image)

    def choose_prior_sample(self, index: int) -> None:
        if self.prior_z is not None and 0 <= index < len(self.prior_z):
            self.view.move_cursor(self.prior_z[index])


def frames_text(count: int) -> str:
    """'1 frame', '2 frames'."""
    return f"{count} frame" if count == 1 else f"{count} frames"
