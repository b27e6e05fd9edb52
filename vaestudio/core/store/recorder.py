"""Record a run's events into its folder as they arrive (in the thread that trains).

Order of writes at the end of an epoch: the epoch's snapshot, then the checkpoint (which also carries the
epoch's test metrics), then the metrics row. Whatever moment a process dies, the folder is consistent
with its checkpoint: a resume drops what came after it and restores what it carries.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from vaestudio.core.events import EpochEnd, Event, Finished, HyperChanged, Snapshot, Started, StepMetrics
from vaestudio.core.store.checkpoint import Checkpoint, save_checkpoint
from vaestudio.core.store.run_folder import ANIMATION, CHECKPOINT, GRID, MODEL, RunFolder

CHECKPOINT_SECONDS = 120.0  # also checkpoint inside long epochs, so a crash loses at most this much
# Grey levels of the run's training.gif: 32 keeps the pictures and makes the 10-epoch tutorial run's GIF
# 4.2 MB instead of 9.6 MB at 256 (measured); exports from the window offer every choice.
ANIMATION_LEVELS = 32
# training.gif shows at most this many snapshots (evenly spread, first and last included): Pillow's GIF writer
# holds every frame, so a run of 10 000 snapshots would need gigabytes; 300 frames play for 45 s.
MAX_ANIMATION_FRAMES = 300
# This session's snapshot pictures kept in memory for the final GIF (at most this many bytes, the newest): a
# closing window then encodes them instead of first decoding every PNG again (40 frames: 0.14 s of 0.33 s).
KEPT_MOSAIC_BYTES = 32 * 2**20


class RunRecorder:
    """Keeps a run folder current with the events of its run; only the lock holder uses one."""

    def __init__(self, folder: RunFolder, take_checkpoint: Callable[[], Checkpoint] | None = None,
                 tensorboard=None, clock: Callable[[], float] = time.monotonic):
        self.folder = folder
        self.take_checkpoint = take_checkpoint
        self.metrics = folder.metrics()
        self._tensorboard = tensorboard  # a TensorBoardLog, or None
        self._clock = clock
        self._last_checkpoint = clock()
        self._epoch = 1
        self.tensorboard_failed = False
        self.checkpoint_step: int | None = None  # the step of the last checkpoint this recorder saved
        self._mosaics: dict[int, np.ndarray] = {}  # frame -> this session's snapshot picture (KEPT_MOSAIC_BYTES)

    @property
    def tensorboard(self):
        return self._tensorboard

    def _tb(self, method: str, *args) -> None:
        """Write to the TensorBoard files; they are a convenience, so a failure (a full disk) only stops them."""
        if self._tensorboard is None:
            return
        try:
            getattr(self._tensorboard, method)(*args)
        except Exception:  # noqa: BLE001
            self.tensorboard_failed = True
            self._drop_tensorboard()

    def _drop_tensorboard(self) -> None:
        """Close the TensorBoard file and remove it (a resume rebuilds it from the folder)."""
        log, self._tensorboard = self._tensorboard, None
        try:
            log.close()
        except Exception:  # noqa: BLE001
            pass
        try:
            log.path.unlink(missing_ok=True)
        except OSError:
            pass

    def record(self, event: Event) -> Event:
        """Write what `event` adds to the folder; returns the event to pass on (snapshots get their frame)."""
        if isinstance(event, Started):
            self._epoch = event.start_epoch
        elif isinstance(event, StepMetrics):
            self._epoch = event.epoch
            self.metrics.append_step(event.epoch, event.step, event.elbo, event.log_likelihood, event.kl,
                                     event.images_per_second, objective=event.objective,
                                     learning_rate=event.learning_rate, beta=event.beta, terms=event.terms)
            self._tb("step_row", event.step, event.elbo, event.log_likelihood, event.kl, event.objective,
                     event.learning_rate, event.beta)
            for name, value in (event.terms or {}).items():  # an objective's own terms (beta-TCVAE's)
                self._tb("scalar", f"train/{name}", value, event.step)
            if self._clock() - self._last_checkpoint > CHECKPOINT_SECONDS:
                self.save_checkpoint()
        elif isinstance(event, HyperChanged):
            self.metrics.append_hyper(self._epoch, event.step, event.learning_rate, event.beta)
            self._tb("scalar", "hparams/learning_rate", event.learning_rate, event.step)
            self._tb("scalar", "hparams/beta", event.beta, event.step)
        elif isinstance(event, Snapshot):
            record = self.folder.snapshots.add(event)
            if event.mosaic is not None:
                self._keep_mosaic(record.frame, event.mosaic)
            self._tb("image", "grid", event.mosaic, event.step)
            return dataclasses.replace(event, frame=record.frame)
        elif isinstance(event, EpochEnd):
            self.save_checkpoint(epoch_metrics=dict(test_elbo=event.test_elbo,
                                                    test_log_likelihood=event.test_log_likelihood,
                                                    test_kl=event.test_kl, seconds=event.seconds))
            self.metrics.append_epoch(event.epoch, event.step, event.test_elbo, event.test_log_likelihood,
                                      event.test_kl, event.seconds, kl_per_dimension=event.kl_per_dimension)
            self._tb("epoch_row", event.step, event.test_elbo, event.test_log_likelihood, event.test_kl,
                     event.kl_per_dimension)
            self._tb("flush")
        elif isinstance(event, Finished) and event.reason == "stopped":
            self.save_checkpoint()
        return event

    def save_checkpoint(self, epoch_metrics: dict[str, float] | None = None) -> None:
        if self.take_checkpoint is None:
            return
        checkpoint = self.take_checkpoint()
        if epoch_metrics is not None:
            checkpoint.epoch_metrics = epoch_metrics
        save_checkpoint(self.folder.file(CHECKPOINT), checkpoint)
        self._last_checkpoint = self._clock()
        self.checkpoint_step = checkpoint.step

    def finish(self, model, frame_seconds: float = 0.15, levels: int = ANIMATION_LEVELS) -> list[Path]:
        """Save the model, the final grid and the animation; returns the files written. The pictures are
        written by a second thread meanwhile (started here, so at this thread's priority), which this one
        waits for: the model's error, else the pictures', is raised after both are done."""
        import threading

        from vaestudio.core.tf.model_file import save_model

        pictures: dict[str, object] = {}

        def draw() -> None:
            try:
                pictures["written"] = save_pictures(self.folder, frame_seconds, levels, known=self._mosaics)
            except BaseException as exc:  # noqa: BLE001 - raised again below
                pictures["error"] = exc

        drawing = threading.Thread(target=draw, name="vaestudio-final-pictures")
        drawing.start()
        try:
            written = [save_model(model, self.folder.file(MODEL))]
        finally:
            drawing.join()
        if "error" in pictures:
            raise pictures["error"]
        written += pictures["written"]
        self._tb("flush")
        return written

    def _keep_mosaic(self, frame: int, mosaic) -> None:
        self._mosaics[frame] = np.array(mosaic, dtype=np.uint8, copy=True)  # the picture its PNG holds
        kept = sum(m.nbytes for m in self._mosaics.values())
        while kept > KEPT_MOSAIC_BYTES and len(self._mosaics) > 1:
            kept -= self._mosaics.pop(next(iter(self._mosaics))).nbytes

    def close(self) -> None:
        log = self._tensorboard
        self._tb("close")
        if log is not None and self._tensorboard is not None:
            self._tensorboard = None
            try:
                if log.path.stat().st_size == 0:  # nothing reached it (a full disk): leave no empty file
                    log.path.unlink()
            except OSError:
                pass


def save_pictures(folder: RunFolder, frame_seconds: float = 0.15, levels: int = ANIMATION_LEVELS,
                  max_frames: int | None = None, known: Mapping[int, np.ndarray] | None = None) -> list[Path]:
    """grid_final.png (the last snapshot's picture) and training.gif (at most `max_frames` snapshots, evenly
    spread, the first and last included, read from disk only when shown); returns the files written. `known`:
    frame -> picture of snapshots whose PNG need not be read again."""
    from vaestudio.core.store.images import save_gif
    from vaestudio.core.store.snapshots import spread

    store = folder.snapshots
    records = spread(store.records(), MAX_ANIMATION_FRAMES if max_frames is None else max_frames)
    if not records:
        return []
    known = known or {}
    frames = [known[record.frame] if record.frame in known else store.load_mosaic(record) for record in records]
    return [_copy_picture(records[-1].png, frames[-1], folder.file(GRID)),
            save_gif(frames, folder.file(ANIMATION), frame_seconds=frame_seconds, captions=[r.label for r in records],
                     levels=levels)]


def _copy_picture(source: Path, mosaic, target: Path) -> Path:
    """`target` as a copy of the snapshot's PNG `source` (the same picture: save_png wrote it from the
    mosaic; a copy takes a millisecond, encoding it again 20 ms, 0.1 s on a busy machine, while the window
    closes), atomically; encoded from `mosaic` if the copy fails."""
    import shutil

    from vaestudio.core.errors import ExportError
    from vaestudio.core.store.atomic import atomic_path
    from vaestudio.core.store.images import save_png

    try:
        with atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)
        return target
    except (ExportError, OSError):
        return save_png(mosaic, target)
