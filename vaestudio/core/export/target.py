"""Where an export goes: checked before anything is computed, written under a temporary name, then renamed.

A folder output (every model format, the projector files) is written into a hidden temporary sibling folder
and renamed into place once complete; a file output (the latents) through `atomic_path`. A failure (a
read-only folder, a full disk) removes what was staged and leaves any previous export untouched. `--out`
is refused, in one line naming it, when it is a symbolic link, a FIFO, a device or another kind of thing than
the export writes, or a folder that holds something other than an earlier export of the same kind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Iterator

from vaestudio.core.errors import ExportError
from vaestudio.core.store.safe_files import kind_of

MARKER = "vaestudio-export.json"  # in every model export's folder; the projector's is its config


def check_folder_target(path: str | Path, marker: str = MARKER, only: frozenset[str] | None = None) -> Path:
    """`path` may become an export folder: it does not exist, or is an empty folder or an earlier export
    (a folder holding `marker`, and nothing but the names in `only` when given), which is replaced once the
    new one is complete."""
    path = Path(path)
    info = _lstat(path)
    if info is None:
        _check_parent(path)
        return path
    if stat.S_ISLNK(info.st_mode):
        raise ExportError(f"{path}: is a symbolic link; give the path of a new folder to export into")
    if not stat.S_ISDIR(info.st_mode):
        kind = "a file" if stat.S_ISREG(info.st_mode) else kind_of(info.st_mode)
        raise ExportError(f"{path}: is {kind}, not a folder to export into")
    try:
        entries = [entry.name for entry in os.scandir(path)]
    except OSError as exc:
        raise ExportError(f"{path}: cannot read the folder ({exc.strerror or exc})") from None
    if entries and (marker not in entries or (only is not None and not set(entries) <= only)):
        raise ExportError(f"{path}: a folder holding other files than an earlier export ({len(entries)} "
                          f"entries); give a new folder")
    _check_parent(path)
    return path


def check_file_target(path: str | Path, suffixes: tuple[str, ...]) -> Path:
    """`path` may become an export file: its suffix is one of `suffixes`, and it is absent or a regular
    file (replaced atomically)."""
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise ExportError(f"{path}: the file must end in {' or '.join(suffixes)}")
    info = _lstat(path)
    if info is not None:
        if stat.S_ISLNK(info.st_mode):
            raise ExportError(f"{path}: is a symbolic link; give the path of a new file")
        if not stat.S_ISREG(info.st_mode):
            raise ExportError(f"{path}: is {kind_of(info.st_mode)}, not a file to write")
    _check_parent(path)
    return path


@contextlib.contextmanager
def staged_folder(path: str | Path, marker: str = MARKER, only: frozenset[str] | None = None) -> Iterator[Path]:
    """Yield an empty hidden folder beside `path`; once the block succeeds it becomes `path` (an earlier
    export there is replaced). On any failure nothing is left behind and `path` is untouched."""
    path = check_folder_target(path, marker, only)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        yield staging
        _sync_tree(staging)
        os.chmod(staging, 0o777 & ~_umask())
        _move_into_place(staging, path)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_into_place(staging: Path, path: Path) -> None:
    if _lstat(path) is None:
        os.rename(staging, path)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
    os.rename(path, old / path.name)
    try:
        os.rename(staging, path)
    except OSError:
        os.rename(old / path.name, path)  # put the earlier export back
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def _sync_tree(folder: Path) -> None:
    """fsync every file written, so that a rename never publishes data still only in memory."""
    for root, _dirs, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _check_parent(path: Path) -> None:
    parent = path.parent
    info = _lstat(parent) if str(parent) not in ("", ".") else os.lstat(".")
    if info is None:
        raise ExportError(f"{path}: its folder {parent} does not exist")
    if not stat.S_ISDIR(os.stat(parent).st_mode):
        raise ExportError(f"{path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ExportError(f"cannot write {path}: its folder {parent} is read-only")


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ExportError(f"{path}: cannot be examined ({exc.strerror or exc})") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
