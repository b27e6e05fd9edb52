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
MAX_FRAME_BYTES = 64 << 20  # a grid PNG: 40 x 40 images of 64 x 64 RGB is 19.7 MB uncompressed
MAX_FRAME_PIXELS = 40 * 64 * 40 * 64


def spread(records: list, limit: int) -> list:
    """At most `limit` of `records`, evenly spread, the first and the last always among them."""
    if len(records) <= limit:
        return list(records)
    if limit < 2:
        return list(records[-1:])
    picks = sorted({round(i * (len(records) - 1) / (limit - 1)) for i in range(limit)})
    return [records[i] for i in picks]


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
        """A weights file stands beside the grid (it may still be damaged: load_weights says so by name)."""
        return self.weights_path.exists() or self.weights_path.is_symlink()


class SnapshotStore:
    """The snapshots/ folder of a run."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._records: list[SnapshotRecord] | None = None
        self.architecture = None  # the run's Architecture once its config is read: weights must fit it

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
        from vaestudio.core.store.safe_files import read_capped

        path = self.index_path
        try:
            data = read_capped(path, MAX_INDEX_BYTES, RunFolderError, "snapshot index")
        except FileNotFoundError:
            return []
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

        from vaestudio.core.store.safe_files import open_regular_file

        try:
            with open_regular_file(record.png, RunFolderError, "snapshot image", MAX_FRAME_BYTES) as handle, \
                    Image.open(handle) as image:
                if image.width * image.height > MAX_FRAME_PIXELS:
                    raise RunFolderError(f"{record.png}: {image.width}x{image.height} pixels, larger than any "
                                         f"snapshot grid ({MAX_FRAME_PIXELS} pixels at most)")
                image.load()
                return np.asarray(image.convert("RGB" if image.mode in ("RGB", "RGBA", "P") else "L"))
        except FileNotFoundError:
            raise RunFolderError(f"{record.png}: unreadable snapshot (missing)") from None
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise RunFolderError(f"{record.png}: unreadable snapshot ({str(exc)[:200]})") from None

    def load_weights(self, record: SnapshotRecord):
        """The snapshot's VaeWeights, or None for a snapshot recorded without them (vaestudio 0.1.0)."""
        from vaestudio.core.weights import VaeWeights

        path = record.weights_path
        if not record.has_weights:
            if any(self.folder.glob("frame-*.npz")):  # the run records weights: this one was lost
                raise RunFolderError(f"{path}: the snapshot's weights file is missing (damaged run folder)")
            return None
        weights = VaeWeights.load(path, RunFolderError)
        if self.architecture is not None and weights.architecture != self.architecture:
            raise RunFolderError(f"{path}: the snapshot's weights are of a model of "
                                 f"{weights.architecture.describe()}, but its run's is of "
                                 f"{self.architecture.describe()} (damaged run folder)")
        return weights

    def load_frames(self) -> tuple[list[np.ndarray], list[str]]:
        records = self.records()
        return [self.load_mosaic(r) for r in records], [r.label for r in records]

    # -- writing (only the process holding the run's lock) ------------------------------------------------
    def add(self, snapshot: Snapshot) -> SnapshotRecord:
        """Write a snapshot's grid and weights, then list it in the index; returns its record."""
        from vaestudio.core.store.images import save_png

        records = self.records()
        frame = records[-1].frame + 1 if records else 0
        self._refuse_link()
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
        """Drop the snapshots taken after global `step` (a resumed run re-takes them).

        Only what is provably later goes: indexed snapshots after `step`, and frame files numbered after the
        last indexed frame (written by a process killed before it could list them). With a checkpoint
        (`step` ≥ 0), frame files but no index listing them is damage: refused, nothing is deleted."""
        self._refuse_link()
        records = self.records()
        on_disk = self._frame_files()
        last_listed = records[-1].frame if records else -1
        if step >= 0:
            self.refuse_unlisted_frames()
        kept = [r for r in records if r.step <= step]
        self._write_index(kept)
        self._records = kept
        keep = {r.frame for r in kept}
        for frame, path in on_disk:
            if frame not in keep and (frame > last_listed or frame in {r.frame for r in records}):
                path.unlink(missing_ok=True)

    def refuse_unlisted_frames(self) -> None:
        """RunFolderError when frame files lie here but the index lists none of them (it was deleted or
        emptied): a resume must not take them for leftovers and delete them."""
        if self.records():
            return
        frames = sorted({frame for frame, _ in self._frame_files()})
        if frames:
            state = "is missing" if not self.index_path.exists() else "lists no snapshot"
            raise RunFolderError(f"{self.index_path}: {state}, but {self.folder} holds {len(frames)} snapshot "
                                 f"frame(s) ({frames[0]}…{frames[-1]}); vaestudio will not delete them: restore "
                                 "the index, or move the frames away to continue the run without them")

    def _frame_files(self) -> list[tuple[int, Path]]:
        """(frame number, path) of every frame-NNNNN.png / .npz in the folder."""
        found = []
        for path in list(self.folder.glob("frame-*.png")) + list(self.folder.glob("frame-*.npz")):
            number = path.stem.removeprefix("frame-")
            if number.isascii() and number.isdigit():
                found.append((int(number), path))
        return found

    def _refuse_link(self) -> None:
        from vaestudio.core.store.safe_files import refuse_link

        refuse_link(self.folder, RunFolderError)
        refuse_link(self.index_path, RunFolderError)

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

        self._refuse_link()
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
