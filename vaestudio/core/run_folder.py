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

import numpy as np

from vaestudio import __version__
from vaestudio.core.atomic import write_text_atomic
from vaestudio.core.config import TrainConfig
from vaestudio.core.errors import RunFolderError, VaeStudioError
from vaestudio.core.events import EpochEnd, Event, Snapshot, StepMetrics
from vaestudio.core.metrics_log import MetricsLog

CONFIG = "config.json"
METRICS = "metrics.csv"
MODEL = "model.keras"
GRID = "grid_final.png"
ANIMATION = "training.gif"
SNAPSHOTS = "snapshots"
SNAPSHOT_INDEX = "index.csv"
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
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunFolderError(f"{self.path}: not a vaestudio run folder ({CONFIG} is missing)") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RunFolderError(f"{path}: unreadable ({exc})") from None
        if not isinstance(values, dict):
            raise RunFolderError(f"{path}: expected a JSON object")
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
    """Writes a Trainer's events into a RunFolder as they arrive."""

    def __init__(self, folder: RunFolder):
        self.folder = folder
        self.metrics = MetricsLog(folder.file(METRICS))
        self._frames = len(folder.snapshots())
        self.last_snapshot: Snapshot | None = None

    def record(self, event: Event) -> None:
        if isinstance(event, StepMetrics):
            self.metrics.append_step(event.epoch, event.step, event.elbo, event.log_likelihood, event.kl,
                                     event.images_per_second)
        elif isinstance(event, EpochEnd):
            self.metrics.append_epoch(event.epoch, event.step, event.test_elbo, event.test_log_likelihood,
                                      event.test_kl, event.seconds)
        elif isinstance(event, Snapshot):
            self._save_snapshot(event)

    def _save_snapshot(self, snapshot: Snapshot) -> None:
        from vaestudio.core.export import save_png

        frame = self._frames
        save_png(snapshot.mosaic, self.folder.snapshot_dir / f"frame-{frame:05d}.png")
        index = self.folder.snapshot_dir / SNAPSHOT_INDEX
        new = not index.exists()
        with open(index, "a", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            if new:
                writer.writerow(["frame", "epoch", "step", "label"])
            writer.writerow([frame, snapshot.epoch, snapshot.step, snapshot.label])
        self._frames += 1
        self.last_snapshot = snapshot

    def finish(self, model, frame_seconds: float = 0.15) -> list[Path]:
        """Save the model, the final grid and the animation; returns the files written."""
        from vaestudio.core.export import save_gif, save_png
        from vaestudio.core.model import save_model

        written = [save_model(model, self.folder.file(MODEL))]
        frames, labels = self.folder.load_frames()
        if frames:
            written.append(save_png(frames[-1], self.folder.file(GRID)))
            written.append(save_gif(frames, self.folder.file(ANIMATION), frame_seconds=frame_seconds,
                                    captions=labels))
        return written
