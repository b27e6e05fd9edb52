"""The large preview of the latent point under the cursor, decoded as the cursor moves (at most every 12 ms).

Cursor moves only record the newest point; a single-shot timer decodes it at once
(never sooner than MIN_DECODE_MS after the previous decode), so a burst of moves costs one decode.
The time from the first unhandled move to the new image is recorded, for the self-test.
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from vaestudio.core.decoding import LatentDecoder

# Shorter than a 60 Hz frame on purpose: with a 16 ms gap, moves arriving every ~16 ms lock into a
# fixed phase behind the decodes and each waits ~9 ms; at 12 ms a 60 Hz drag decodes at once.
MIN_DECODE_MS = 12


class MorphPreview(QWidget):
    """Shows `decoder.decode_point(z)` for the cursor's z; optionally records the frames."""

    previewUpdated = Signal()
    recordingChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.decoder: LatentDecoder | None = None
        self._z: np.ndarray | None = None
        self._pending_since: float | None = None
        self._last_decode = 0.0
        self.latencies_ms: deque[float] = deque(maxlen=2000)
        self.decode_count = 0
        self.recording = False
        self.recorded: list[tuple[np.ndarray, np.ndarray]] = []  # (z, image) per decoded frame
        self.image: np.ndarray | None = None

        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground("#202020")
        self.viewbox = self.view.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.image_item.setLevels((0, 255))
        self.viewbox.addItem(self.image_item)
        self.viewbox.setRange(xRange=(0, 28), yRange=(0, 28), padding=0)
        self.view.setMinimumSize(200, 200)
        self.title = QLabel("<b>Cursor preview</b>")
        self.caption = QLabel("Drag the cross on the latent plane")
        self.caption.setWordWrap(True)
        self.record_button = QPushButton("Record morph")
        self.record_button.setCheckable(True)
        self.record_button.setToolTip("Record the cursor's path while you drag, then export it as a GIF")
        self.record_button.toggled.connect(self.set_recording)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.caption)
        layout.addWidget(self.record_button)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._decode_now)

    def set_decoder(self, decoder: LatentDecoder | None) -> None:
        self.decoder = decoder
        self.refresh()

    def request(self, z: np.ndarray) -> None:
        """The cursor moved to z: decode it on the next frame."""
        self._z = np.asarray(z, dtype=np.float32)
        if self._pending_since is None:
            self._pending_since = time.perf_counter()
        if not self._timer.isActive():
            since_ms = (time.perf_counter() - self._last_decode) * 1000.0
            self._timer.start(int(max(0.0, MIN_DECODE_MS - since_ms)))

    def refresh(self) -> None:
        """Re-decode the current point (new weights); not counted as drag latency."""
        if self._z is not None and not self._timer.isActive():
            self._decode(measure=False)

    def _decode_now(self) -> None:
        self._decode(measure=True)

    def _decode(self, measure: bool) -> None:
        if self._z is None or self.decoder is None or not self.decoder.ready:
            self._pending_since = None
            return
        z = self._z
        image = self.decoder.decode_point(z)
        self.image = image
        self.image_item.setImage(image, autoLevels=False, levels=(0, 255))
        now = time.perf_counter()
        self._last_decode = now
        if measure and self._pending_since is not None:
            self.latencies_ms.append((now - self._pending_since) * 1000.0)
        self._pending_since = None
        self.decode_count += 1
        self.caption.setText("z = (" + ", ".join(f"{v:+.2f}" for v in z[:8]) + (", …)" if z.size > 8 else ")"))
        if self.recording:
            self.recorded.append((z.copy(), image))
            self.record_button.setText(f"Stop recording ({len(self.recorded)} frames)")
        self.previewUpdated.emit()

    def set_recording(self, on: bool) -> None:
        if on == self.recording:
            return
        self.recording = on
        if on:
            self.recorded = []
            if self.image is not None and self._z is not None:
                self.recorded.append((self._z.copy(), self.image))
        if self.record_button.isChecked() != on:
            self.record_button.setChecked(on)
        self.record_button.setText(f"Stop recording ({len(self.recorded)} frames)" if on else "Record morph")
        self.recordingChanged.emit(on)

    def recorded_frames(self) -> list[np.ndarray]:
        return [image for _, image in self.recorded]

    def latency_percentile(self, q: float = 95.0) -> float | None:
        return float(np.percentile(np.asarray(self.latencies_ms), q)) if self.latencies_ms else None

    def clear(self) -> None:
        self.image = None
        self.image_item.clear()
