"""Keep Python's garbage collector from freezing the window: what is alive once the window is built and
once TensorFlow has loaded lives as long as the process, so the collector stops scanning it.

With TensorFlow, Keras and pyqtgraph loaded the interpreter tracks ~440 000 objects; a full collection
walks all of them: 0.68 s of CPU, 1.2-1.5 s of the UI thread at a loaded 2-core machine's load 15, at the
end of every run (benchmarks/window_responsiveness.py --profile). Frozen (`gc.freeze`), ~395 000 of them
are never walked again: that collection then walks ~47 000 (0.27 s at the same load). Cycles made later
(a run's Keras model, closed dialogs) are still collected as before.

While the window's run trains, full collections (generation 2) are paused: one took 71 ms of the UI thread
at a busy moment of a profiled run (benchmarks/window_responsiveness.py --profile), and one on another thread
is where Keras models' cycles were once freed unsafely (gui/threads.collect_cycles_here). Young objects are
still collected; the run's end restores the threshold and collects everything on the UI thread.
"""

from __future__ import annotations

import gc

from vaestudio.gui.state.studio import READY


FULL_COLLECTIONS_OFF = 1 << 30  # generation 2's threshold while a run trains: never reached
_threshold_before: tuple[int, int, int] | None = None


def pause_full_collections() -> None:
    """No automatic full collection from now on until `resume_full_collections` (a run starts training)."""
    global _threshold_before
    if _threshold_before is None:
        _threshold_before = gc.get_threshold()
        gc.set_threshold(_threshold_before[0], _threshold_before[1], FULL_COLLECTIONS_OFF)


def resume_full_collections() -> None:
    """Automatic full collections as before `pause_full_collections` (the run ended)."""
    global _threshold_before
    if _threshold_before is not None:
        gc.set_threshold(*_threshold_before)
        _threshold_before = None


def freeze_long_lived() -> None:
    """Move every object alive now out of the collector's generations (they are never scanned again)."""
    gc.freeze()


def settle_memory(window) -> None:
    """Freeze what is alive now (the built window), and again once TensorFlow has loaded (TensorFlow's
    modules). For the app's own window: a test's windows are not frozen, so they stay collectable."""
    freeze_long_lived()
    studio = window.studio
    if studio.tf_status == READY:
        return

    frozen = [False]

    def on_device(status: str) -> None:
        if status == READY and not frozen[0]:
            frozen[0] = True
            freeze_long_lived()

    studio.device_changed.connect(on_device)
