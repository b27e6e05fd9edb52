"""Record morph: while on, every cursor position is decoded (NumPy VAE of the moment shown) into a frame;
when it stops, the window offers to save the frames as a GIF at once."""

from __future__ import annotations

import numpy as np
from psygnal import Signal

from vaestudio.gui.state.studio import Studio

MAX_FRAMES = 3000  # about 50 s of a 60 Hz drag


class MorphRecorder:
    """Frames of the cursor's path; Qt-free."""

    changed = Signal(bool)  # recording on/off
    stopped = Signal(int)  # frames recorded, when recording stops

    def __init__(self, studio: Studio):
        self.studio = studio
        self.recording = False
        self.frames: list[np.ndarray] = []

    def set_recording(self, on: bool) -> None:
        on = bool(on)
        if on == self.recording:
            return
        self.recording = on
        if on:
            self.frames = []
            self.studio.view.events.cursor.connect(self._on_cursor)
            self._on_cursor(self.studio.view.cursor)
        else:
            self.studio.view.events.cursor.disconnect(self._on_cursor)
        self.changed.emit(on)
        if not on:
            self.stopped.emit(len(self.frames))

    def _on_cursor(self, cursor) -> None:
        vae = self.studio.explorer.vae
        if vae is None or len(self.frames) >= MAX_FRAMES:
            return
        z = np.asarray(cursor, dtype=np.float32)
        if z.size != vae.architecture.latent_dim:
            return
        self.frames.append(vae.decode_uint8(z[None])[0])
