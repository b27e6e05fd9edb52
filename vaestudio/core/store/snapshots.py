"""A run's snapshots on disk: per frame a grid PNG and the model's weights, listed in index.csv.

    snapshots/index.csv           frame,epoch,step,label (one row per snapshot, in order)
    snapshots/frame-00003.png     the decoded grid, as the plane shows it
    snapshots/frame-00003.npz     the encoder and decoder weights (VaeWeights; absent in 0.1.0 folders)

Every file is written atomically and the index is rewritten (not appended) after the frame's files
exist, so the index never names a frame that is missing, a kill never leaves a torn index, and a full
disk leaves the previous index in place. Weights stay on disk: memory stays flat however long the run.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaestudio.core.errors import RunFolderError, VaeStudioError
from vaestudio.core.events import Snapshot

INDEX = "index.csv"
HEADER = ("frame", "epoch", "step", "label")
MAX_INDEX_BYTES = 16 << 20


@dataclass(frozen=True)
class SnapshotRecord:
    """One recorded snapshot: where it stands in the run and where its files are."""

    frame: int
    epoch: int
    step: int
    label: str
    png: Path
    weights_path: Path

    @property
    def has_weights(self) -> bool:
        return self.weights_path.is_file()


class SnapshotStore:
    """The snapshots/ folder of a run."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._records: list[SnapshotRecord] | None = None

    @property
    def index_path(self) -> Path:
        return self.folder / INDEX

    def png_path(self, frame: int) -> Path:
        return self.folder / f"frame-{frame:05d}.png"

    def weights_path(self, frame: int) -> Path:
        return self.folder / f"frame-{frame:05d}.npz"

    # -- reading -----------------------------------------------------------------------------------------
    def records(self) -> list[SnapshotRecord]:
        """The snapshots recorded so far, in order (frames whose PNG is missing are left out)."""
        if self._records is None:
            self._records = self._read_index()
        return list(self._records)

    def refresh(self) -> list[SnapshotRecord]:
        """Read the index again (a viewer following a run another process writes)."""
        self._records = None
        return self.records()

    def _read_index(self) -> list[SnapshotRecord]:
        path = self.index_path
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_INDEX_BYTES + 1)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise RunFolderError(f"{path}: cannot read the snapshot index ({exc.strerror or exc})") from None
        if len(data) > MAX_INDEX_BYTES:
            raise RunFolderError(f"{path}: larger than {MAX_INDEX_BYTES} bytes, not a snapshot index")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RunFolderError(f"{path}: damaged snapshot index (not UTF-8 text at byte {exc.start})") from None
        records: list[SnapshotRecord] = []
        seen: set[int] = set()
        for row in csv.reader(io.StringIO(text)):
            if len(row) != 4 or tuple(row) == HEADER:
                continue
            try:
                frame, epoch, step = int(row[0]), int(row[1]), int(row[2])
            except ValueError:
                continue
            if frame < 0 or epoch < 0 or step < 0 or frame in seen:
                continue
            seen.add(frame)
            png = self.png_path(frame)
            if png.is_file():
                records.append(SnapshotRecord(frame, epoch, step, row[3], png, self.weights_path(frame)))
        return records

    def load_mosaic(self, record: SnapshotRecord) -> np.ndarray:
        """The grid image of a snapshot (uint8, grey or RGB)."""
        from PIL import Image

        try:
            with Image.open(record.png) as image:
                image.load()
                return np.asarray(image.convert("RGB" if image.mode in ("RGB", "RGBA", "P") else "L"))
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise RunFolderError(f"{record.png}: unreadable snapshot ({exc})") from None

    def load_weights(self, record: SnapshotRecord):
        """The snapshot's VaeWeights, or None for a snapshot recorded without them (vaestudio 0.1.0)."""
        from vaestudio.core.weights import VaeWeights

        if not record.weights_path.is_file():
            return None
        return VaeWeights.load(record.weights_path, RunFolderError)

    def load_frames(self) -> tuple[list[np.ndarray], list[str]]:
        records = self.records()
        return [self.load_mosaic(r) for r in records], [r.label for r in records]

    # -- writing (only the process holding the run's lock) ------------------------------------------------
    def add(self, snapshot: Snapshot) -> SnapshotRecord:
        """Write a snapshot's grid and weights, then list it in the index; returns its record."""
        from vaestudio.core.store.images import save_png

        records = self.records()
        frame = records[-1].frame + 1 if records else 0
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            save_png(snapshot.mosaic, self.png_path(frame))
            if snapshot.weights is not None:
                snapshot.weights.save(self.weights_path(frame))
            record = SnapshotRecord(frame, snapshot.epoch, snapshot.step, snapshot.label,
                                    self.png_path(frame), self.weights_path(frame))
            self._write_index(records + [record])
        except VaeStudioError as exc:
            raise RunFolderError(str(exc)) from None
        except OSError as exc:
            raise RunFolderError(f"cannot write snapshot {frame} in {self.folder}: {exc.strerror or exc}") from None
        self._records = records + [record]
        return record

    def keep_until(self, step: int) -> None:
        """Drop the snapshots taken after global `step` (a resumed run re-takes them)."""
        kept = [r for r in self.records() if r.step <= step]
        self._write_index(kept)
        self._records = kept
        keep = {r.png for r in kept} | {r.weights_path for r in kept}
        for orphan in list(self.folder.glob("frame-*.png")) + list(self.folder.glob("frame-*.npz")):
            if orphan not in keep:
                orphan.unlink(missing_ok=True)

    def unreadable(self) -> list[SnapshotRecord]:
        """The snapshots whose grid image cannot be read (damaged or truncated PNG files)."""
        damaged = []
        for record in self.records():
            try:
                self.load_mosaic(record)
            except RunFolderError:
                damaged.append(record)
        return damaged

    def repair(self, record: SnapshotRecord, mosaic: np.ndarray | None) -> None:
        """Rewrite a damaged snapshot's grid image (from its weights), or drop the snapshot when it has none."""
        from vaestudio.core.store.images import save_png

        if mosaic is not None:
            try:
                save_png(mosaic, record.png)
            except VaeStudioError as exc:
                raise RunFolderError(str(exc)) from None
            return
        kept = [r for r in self.records() if r.frame != record.frame]
        self._write_index(kept)
        self._records = kept
        record.png.unlink(missing_ok=True)
        record.weights_path.unlink(missing_ok=True)

    def _write_index(self, records: list[SnapshotRecord]) -> None:
        from vaestudio.core.store.atomic import write_text_atomic

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(HEADER)
        for r in records:
            writer.writerow([r.frame, r.epoch, r.step, r.label])
        try:
            write_text_atomic(self.index_path, buffer.getvalue())
        except VaeStudioError as exc:
            raise RunFolderError(str(exc)) from None
