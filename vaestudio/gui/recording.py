"""Record morph: while on, every cursor position is decoded (NumPy VAE of the moment shown) into a frame;
when it stops, the window offers to save the frames as a GIF at once.

There is one recording per studio (`morph_recorder(studio)`): the Run menu's Record morph (Ctrl+R) and the
cursor preview's button both show and switch the same one, so they never disagree, two never run at once,
and stopping from either stops it."""

from __future__ import annotations

import time
import weakref

import numpy as np
from psygnal import Signal

from vaestudio.gui.state.studio import Studio

MAX_FRAMES = 3000  # about 50 s of a 60 Hz drag
MIN_FRAME_SECONDS = 0.02  # GIF viewers show shorter frames slower than asked


class MorphRecorder:
    """Frames of the cursor's path; Qt-free."""

    changed = Signal(bool)  # recording on/off
    frame_added = Signal(int)  # frames recorded so far
    stopped = Signal(int)  # frames recorded, when recording stops

    def __init__(self, studio: Studio):
        self.view, self.explorer = studio.view, studio.explorer  # not the studio: it is the registry's weak key
        self.recording = False
        self.frames: list[np.ndarray] = []
        self.times: list[float] = []  # when each frame was recorded (perf_counter)

    def set_recording(self, on: bool) -> None:
        on = bool(on)
        if on == self.recording:
            return
        self.recording = on
        if on:
            self.frames, self.times = [], []
            self.view.events.cursor.connect(self._on_cursor)
            self._on_cursor(self.view.cursor)
        else:
            self.view.events.cursor.disconnect(self._on_cursor)
        self.changed.emit(on)
        if not on:
            self.stopped.emit(len(self.frames))

    def toggle(self) -> None:
        self.set_recording(not self.recording)

    def frame_seconds(self) -> float:
        """How long each frame shows in the GIF: the pace it was recorded at (at least 0.02 s, at most 1 s)."""
        if len(self.times) < 2:
            return 0.1
        pace = (self.times[-1] - self.times[0]) / (len(self.times) - 1)
        return round(max(MIN_FRAME_SECONDS, min(pace, 1.0)), 2)

    def _on_cursor(self, cursor) -> None:
        vae = self.explorer.vae
        if vae is None or len(self.frames) >= MAX_FRAMES:
            return
        z = np.asarray(cursor, dtype=np.float32)
        if z.size != vae.architecture.latent_dim:
            return
        self.frames.append(vae.decode_uint8(z[None], self.view.single_label)[0])  # as the cursor preview shows it
        self.times.append(time.perf_counter())
        self.frame_added.emit(len(self.frames))


_RECORDERS: "weakref.WeakKeyDictionary[Studio, MorphRecorder]" = weakref.WeakKeyDictionary()


def morph_recorder(studio: Studio) -> MorphRecorder:
    """The studio's one morph recorder (made on first use)."""
    recorder = _RECORDERS.get(studio)
    if recorder is None:
        recorder = _RECORDERS[studio] = MorphRecorder(studio)
    return recorder
