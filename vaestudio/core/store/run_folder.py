"""A run folder on disk: its files, how to create one, and how to read what it holds.

    config.json        the TrainConfig (format version 2; 0.1.0 wrote version 1)
    metrics.csv        step, epoch and hyper-parameter rows (metrics_log.py)
    checkpoint.npz     the last checkpoint (checkpoint.py)
    snapshots/         grid PNG + weights per snapshot, and index.csv (snapshots.py)
    tensorboard/       TensorBoard event files, derived from the above (tensorboard.py)
    model.keras, grid_final.png, training.gif   written when a run ends
    .lock              the writer's lock (lock.py)

Only the process holding the folder's lock writes to it; anyone may read it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from vaestudio import __version__
from vaestudio.core.config import TrainConfig, read_json_object
from vaestudio.core.errors import RunFolderError, VaeStudioError
from vaestudio.core.store.lock import LOCK_NAME
from vaestudio.core.store.metrics_log import MetricsLog
from vaestudio.core.store.snapshots import SnapshotStore

CONFIG = "config.json"
METRICS = "metrics.csv"
MODEL = "model.keras"
GRID = "grid_final.png"
ANIMATION = "training.gif"
SNAPSHOTS = "snapshots"
CHECKPOINT = "checkpoint.npz"
TENSORBOARD = "tensorboard"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
FINAL_FILES = (MODEL, GRID, ANIMATION)
RUN_FACTS = "run.json"  # what the run's start found: steps per epoch, data, device; how it ended; saved_step
_NOT_RECORDED = object()


# store/atomic.py's temporary names, and Keras's own beside them (`.model.keras.XXXXXXXX.part.keras.keras`)
_LEFTOVER = re.compile(r"^\..+\.[a-z0-9_]{8}\.part(\.[A-Za-z0-9]+){0,2}$")


def is_leftover(name: str) -> bool:
    return bool(_LEFTOVER.match(name))


@dataclass(frozen=True)
class RunState:
    """What a run folder says about its run, read without changing anything."""

    config: TrainConfig
    checkpoint: object | None  # the Checkpoint, or None when the run stopped before its first one
    epochs_done: int
    step: int
    final_files_missing: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return self.epochs_done >= self.config.epochs


class RunFolder:
    """Paths, creation and reading of one run's folder."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._snapshots: SnapshotStore | None = None

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def snapshot_dir(self) -> Path:
        return self.path / SNAPSHOTS

    @property
    def snapshots(self) -> SnapshotStore:
        if self._snapshots is None:
            self._snapshots = SnapshotStore(self.snapshot_dir)
        return self._snapshots

    def metrics(self) -> MetricsLog:
        return MetricsLog(self.file(METRICS))

    def holds_run(self) -> bool:
        return self.file(CONFIG).is_file()

    # -- a new run -----------------------------------------------------------------------------------
    def check_can_create(self) -> None:
        """A new run goes only into a folder that does not exist or is empty; raise RunFolderError else."""
        path = self.path
        if not path.exists():
            if path.is_symlink():
                raise RunFolderError(f"{path}: is a dangling symbolic link; choose another folder")
            return
        if not path.is_dir():
            raise RunFolderError(f"{path}: exists and is not a folder")
        from vaestudio.core.store.lock import holder_pid

        holder = holder_pid(path)
        if holder is not None:
            raise RunFolderError(f"{path}: another vaestudio process (PID {holder if holder > 0 else 'unknown'}) "
                                 "is writing a run here")
        if self.holds_run():
            raise RunFolderError(f"{path}: already holds a run; continue it with --resume, or choose an "
                                 "empty or new folder")
        try:
            # Our own lock and the temporary files of a write that was killed do not count: a run that died
            # while writing its first config can be started again in the same folder.
            entries = sorted(p.name for p in path.iterdir()
                             if not ((p.name == LOCK_NAME and not p.is_symlink()) or is_leftover(p.name)))
        except OSError as exc:
            raise RunFolderError(f"{path}: cannot read the folder ({exc.strerror or exc})") from None
        if entries:
            shown = ", ".join(entries[:3]) + (", …" if len(entries) > 3 else "")
            raise RunFolderError(f"{path}: is not empty ({len(entries)} entries: {shown}); a new run needs "
                                 "a new or empty folder, so nothing in it is overwritten")

    def make(self) -> None:
        """Create the folder (and its parents) for a new run, clearing what a killed first attempt left."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self.remove_leftovers()
        except OSError as exc:
            raise RunFolderError(f"{self.path}: cannot create the run folder ({exc.strerror or exc})") from None

    # -- config --------------------------------------------------------------------------------------
    def write_config(self, config: TrainConfig) -> None:
        from vaestudio.core.store.atomic import write_text_atomic

        payload = {"version": FORMAT_VERSION, "vaestudio": __version__, **config.to_dict()}
        try:
            write_text_atomic(self.file(CONFIG), json.dumps(payload, indent=2, sort_keys=True) + "\n")
        except VaeStudioError as exc:
            raise RunFolderError(str(exc)) from None

    def read_config(self) -> TrainConfig:
        path = self.file(CONFIG)
        if not self.path.is_dir():
            raise RunFolderError(f"{self.path}: no such run folder")
        if not path.exists():
            raise RunFolderError(f"{self.path}: not a vaestudio run folder ({CONFIG} is missing)")
        values = read_json_object(path, RunFolderError)
        version = values.pop("version", None)
        values.pop("vaestudio", None)
        if version not in READABLE_VERSIONS:
            raise RunFolderError(f"{path}: run folder format {version!r} is not supported "
                                 f"(this vaestudio reads formats {', '.join(map(str, READABLE_VERSIONS))})")
        if version == 1 and isinstance(values.get("extra"), dict):
            values.pop("extra")  # 0.1.0 wrote an (always empty) free-form "extra" setting; nothing reads it
        try:
            config = TrainConfig.from_dict(values, source=str(path))
        except VaeStudioError as exc:
            raise RunFolderError(str(exc)) from None
        self.snapshots.architecture = config.architecture  # a snapshot of another shape is named as damaged
        return config

    # -- reading the whole state ----------------------------------------------------------------------
    def read_state(self) -> RunState:
        """Config, checkpoint and progress, all checked; raises RunFolderError naming the file at fault."""
        from vaestudio.core.store.checkpoint import load_checkpoint

        config = self.read_config()
        checkpoint = None
        if self.file(CHECKPOINT).exists():
            checkpoint = load_checkpoint(self.file(CHECKPOINT))
            if checkpoint.architecture != config.architecture:
                raise RunFolderError(f"{self.file(CHECKPOINT)}: the checkpoint is of a model of "
                                     f"{checkpoint.architecture.describe()}, but {self.file(CONFIG)} asks for "
                                     f"{config.architecture.describe()}")
        self.metrics().rows()  # a damaged metrics file is named now, not halfway through a resume
        self.snapshots.records()  # likewise the snapshot index
        epochs_done = checkpoint.epoch if checkpoint else 0
        if epochs_done > config.epochs:
            raise RunFolderError(f"{self.file(CHECKPOINT)}: has {epochs_done} epochs done, more than the "
                                 f"{config.epochs} of {self.file(CONFIG)}")
        step = checkpoint.step if checkpoint else 0
        if self.saved_step() not in (step, _NOT_RECORDED):
            missing = FINAL_FILES  # those on disk were saved at another step: a later resume never finished
        else:
            missing = tuple(name for name in FINAL_FILES if not self.file(name).is_file())
        return RunState(config, checkpoint, epochs_done, checkpoint.step if checkpoint else 0, missing)

    def saved_step(self) -> int | None | object:
        """The checkpoint step the final files (model, grid, animation) were saved at, per run.json: None
        while a run trains, _NOT_RECORDED for folders that do not record it (0.1.0, or an unreadable run.json)."""
        try:
            facts = read_json_object(self.file(RUN_FACTS), RunFolderError)
        except RunFolderError:
            return _NOT_RECORDED
        if not isinstance(facts, dict) or "saved_step" not in facts:
            return _NOT_RECORDED
        value = facts["saved_step"]
        return value if value is None or (isinstance(value, int) and not isinstance(value, bool)) else _NOT_RECORDED

    def check_writable(self) -> None:
        """Refuse, naming the place, a run folder that this process could not write to (before changing it)."""
        import os

        self.check_no_links()
        self.check_checkpoint_not_lost()
        for folder in (self.path, self.snapshot_dir):
            if folder.exists() and not os.access(folder, os.W_OK | os.X_OK):
                raise RunFolderError(f"{folder}: cannot write here (read-only or no permission)")
        for name in (METRICS, LOCK_NAME):
            path = self.file(name)
            if path.exists() and not os.access(path, os.W_OK):
                raise RunFolderError(f"{path}: cannot write to this file (read-only or no permission)")
        index = self.snapshot_dir / "index.csv"
        if index.exists() and not os.access(index, os.R_OK):
            raise RunFolderError(f"{index}: cannot read the snapshot index (no permission)")

    def check_no_links(self) -> None:
        """The symlink rule: refuse, naming it, a link where this run writes in place or removes files
        (snapshots/, tensorboard/, .lock, metrics.csv, snapshots/index.csv): it could point out of the folder."""
        from vaestudio.core.store.safe_files import refuse_link

        for path in (self.snapshot_dir, self.file(TENSORBOARD),
                     self.file(LOCK_NAME), self.file(METRICS), self.snapshot_dir / "index.csv"):
            refuse_link(path, RunFolderError)

    def check_checkpoint_not_lost(self) -> None:
        """A run without checkpoint.npz restarts from step 0, dropping every later row and snapshot; refuse that
        when the folder shows the checkpoint existed (finished epochs, or final files saved after step 0)."""
        if self.file(CHECKPOINT).exists() or self.file(CHECKPOINT).is_symlink():
            self.snapshots.refuse_unlisted_frames()  # the resume keeps snapshots up to the checkpoint
            return
        epochs = sum(1 for row in self.metrics().rows() if row["kind"] == "epoch")
        saved = self.saved_step()
        if epochs or (isinstance(saved, int) and saved > 0):
            evidence = (f"{METRICS} records {epochs} finished epoch{'s' if epochs != 1 else ''}" if epochs else
                        f"{RUN_FACTS} records a model saved at step {saved}")
            raise RunFolderError(f"{self.file(CHECKPOINT)}: is missing, but {evidence}; resuming would restart "
                                 "from step 0 and delete what the run recorded: restore the checkpoint, or "
                                 "start a new run in another folder")

    # -- leftovers --------------------------------------------------------------------------------------
    def leftovers(self) -> list[Path]:
        """Hidden temporary files a killed writer left behind (`.<name>.<random>.part<suffix>`)."""
        found: list[Path] = []
        for folder in (self.path, self.snapshot_dir):
            try:
                found += [p for p in folder.iterdir() if is_leftover(p.name) and p.is_file()]
            except OSError:
                pass
        return sorted(found)

    def remove_leftovers(self) -> int:
        """Delete them (only the lock holder may: nobody else is writing); returns how many."""
        count = 0
        for path in self.leftovers():
            try:
                path.unlink()
                count += 1
            except OSError:
                pass
        return count

    def load_frames(self):
        return self.snapshots.load_frames()
