"""A run folder on disk: config, metrics, snapshots, final model, grid and animation.

`RunRecorder` consumes a Trainer's events and keeps the folder current as they arrive, so whatever
happens to the process, what was recorded stays readable. Snapshots are spilled to small PNG files
instead of piling up in memory.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from vaestudio.core.store.checkpoint import Checkpoint

from vaestudio import __version__
from vaestudio.core.store.atomic import write_text_atomic
from vaestudio.core.config import TrainConfig, read_json_object
from vaestudio.core.errors import RunFolderError, VaeStudioError
from vaestudio.core.events import EpochEnd, Event, Finished, Snapshot, StepMetrics
from vaestudio.core.store.metrics_log import MetricsLog

CONFIG = "config.json"
METRICS = "metrics.csv"
MODEL = "model.keras"
GRID = "grid_final.png"
ANIMATION = "training.gif"
SNAPSHOTS = "snapshots"
SNAPSHOT_INDEX = "index.csv"
CHECKPOINT = "checkpoint.npz"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class SnapshotRecord:
    frame: int
    epoch: int
    step: int
    label: str
    path: Path


class RunFolder:
    """Paths and reading/writing of one run's folder."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def snapshot_dir(self) -> Path:
        return self.path / SNAPSHOTS

    def create(self, config: TrainConfig) -> "RunFolder":
        """Start a new run here; refuses a folder that already holds one, so nothing saved is overwritten."""
        if self.path.exists() and not self.path.is_dir():
            raise RunFolderError(f"{self.path}: exists and is not a folder")
        if self.file(CONFIG).exists() or self.file(MODEL).exists() or self.file(METRICS).exists():
            raise RunFolderError(f"{self.path}: already holds a run; choose another --out folder "
                                 "(or --resume it)")
        try:
            self.snapshot_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunFolderError(f"{self.path}: cannot create the run folder ({exc.strerror or exc})") from None
        self.write_config(config)
        return self

    def write_config(self, config: TrainConfig) -> None:
        payload = {"version": FORMAT_VERSION, "vaestudio": __version__, **config.to_dict()}
        try:
            write_text_atomic(self.file(CONFIG), json.dumps(payload, indent=2, sort_keys=True) + "\n")
        except VaeStudioError as exc:
            raise RunFolderError(str(exc)) from None

    def read_config(self) -> TrainConfig:
        path = self.file(CONFIG)
        if not path.exists():
            raise RunFolderError(f"{self.path}: not a vaestudio run folder ({CONFIG} is missing)")
        values = read_json_object(path, RunFolderError)
        version = values.pop("version", None)
        values.pop("vaestudio", None)
        if version != FORMAT_VERSION:
            raise RunFolderError(f"{path}: run folder format {version!r} is not supported "
                                 f"(this vaestudio reads format {FORMAT_VERSION})")
        return TrainConfig.from_dict(values, source=str(path))

    def snapshots(self) -> list[SnapshotRecord]:
        """The snapshots recorded so far, in order; a torn last index line is ignored."""
        index = self.snapshot_dir / SNAPSHOT_INDEX
        if not index.exists():
            return []
        records = []
        with open(index, newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                if len(row) != 4 or row[0] == "frame":
                    continue
                try:
                    frame, epoch, step = int(row[0]), int(row[1]), int(row[2])
                except ValueError:
                    continue
                path = self.snapshot_dir / f"frame-{frame:05d}.png"
                if path.exists():
                    records.append(SnapshotRecord(frame, epoch, step, row[3], path))
        return records

    def prepare_resume(self) -> tuple[TrainConfig, "Checkpoint"]:
        """Read the config and the last checkpoint, and cut metrics and snapshots back to that checkpoint,
        so the continued run has no duplicate or missing rows."""
        from vaestudio.core.store.checkpoint import load_checkpoint

        if not self.path.is_dir():
            raise RunFolderError(f"{self.path}: no such run folder")
        config = self.read_config()
        checkpoint = load_checkpoint(self.file(CHECKPOINT))
        MetricsLog(self.file(METRICS)).truncate_after_step(checkpoint.step)
        self._truncate_snapshots(checkpoint.step)
        return config, checkpoint

    def _truncate_snapshots(self, step: int) -> None:
        records = self.snapshots()
        kept = [r for r in records if r.step <= step]
        lines = ["frame,epoch,step,label"] + [_index_line(r.frame, r.epoch, r.step, r.label) for r in kept]
        write_text_atomic(self.snapshot_dir / SNAPSHOT_INDEX, "\n".join(lines) + "\n")
        kept_paths = {r.path for r in kept}
        for orphan in self.snapshot_dir.glob("frame-*.png"):
            if orphan not in kept_paths:
                orphan.unlink(missing_ok=True)

    def load_frames(self) -> tuple[list[np.ndarray], list[str]]:
        from PIL import Image

        frames, labels = [], []
        for record in self.snapshots():
            try:
                with Image.open(record.path) as image:
                    frames.append(np.asarray(image.convert("L")))
            except OSError as exc:
                raise RunFolderError(f"{record.path}: unreadable snapshot ({exc})") from None
            labels.append(record.label)
        return frames, labels


class RunRecorder:
    """Writes a Trainer's events into a RunFolder as they arrive, with a checkpoint after every epoch
    and when the run is stopped (call `record` in the thread that iterates the trainer)."""

    def __init__(self, folder: RunFolder, trainer=None):
        self.folder = folder
        self.trainer = trainer
        self.metrics = MetricsLog(folder.file(METRICS))
        records = folder.snapshots()
        self._frames = records[-1].frame + 1 if records else 0
        self.last_snapshot: Snapshot | None = None

    def record(self, event: Event) -> None:
        if isinstance(event, StepMetrics):
            self.metrics.append_step(event.epoch, event.step, event.elbo, event.log_likelihood, event.kl,
                                     event.images_per_second)
        elif isinstance(event, EpochEnd):
            self.metrics.append_epoch(event.epoch, event.step, event.test_elbo, event.test_log_likelihood,
                                      event.test_kl, event.seconds)
            self.save_checkpoint()
        elif isinstance(event, Snapshot):
            self._save_snapshot(event)
        elif isinstance(event, Finished) and event.reason == "stopped":
            self.save_checkpoint()

    def save_checkpoint(self) -> None:
        from vaestudio.core.store.checkpoint import save_checkpoint

        if self.trainer is not None:
            save_checkpoint(self.folder.file(CHECKPOINT), self.trainer.checkpoint())

    def _save_snapshot(self, snapshot: Snapshot) -> None:
        from vaestudio.core.store.images import save_png

        frame = self._frames
        save_png(snapshot.mosaic, self.folder.snapshot_dir / f"frame-{frame:05d}.png")
        index = self.folder.snapshot_dir / SNAPSHOT_INDEX
        new = not index.exists()
        with open(index, "a", encoding="utf-8") as handle:
            handle.write(("frame,epoch,step,label\n" if new else "")
                         + _index_line(frame, snapshot.epoch, snapshot.step, snapshot.label) + "\n")
        self._frames += 1
        self.last_snapshot = snapshot

    def finish(self, model, frame_seconds: float = 0.15) -> list[Path]:
        """Save the model, the final grid and the animation; returns the files written."""
        from vaestudio.core.store.images import save_gif, save_png
        from vaestudio.core.tf.model import save_model

        written = [save_model(model, self.folder.file(MODEL))]
        frames, labels = self.folder.load_frames()
        if frames:
            written.append(save_png(frames[-1], self.folder.file(GRID)))
            written.append(save_gif(frames, self.folder.file(ANIMATION), frame_seconds=frame_seconds,
                                    captions=labels))
        return written


def _index_line(frame: int, epoch: int, step: int, label: str) -> str:
    import io

    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow([frame, epoch, step, label])
    return buffer.getvalue()
