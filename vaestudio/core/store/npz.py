"""Read the `.npz` files vaestudio writes (checkpoints, snapshot weights) without trusting them.

Before anything is allocated, the archive's member count and unpacked size are bounded, and every
member's `.npy` header must describe a plain numeric array whose size is exactly what the member holds,
so a header that claims 4 TiB is refused by name instead of raising MemoryError. Pickles are never loaded.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from vaestudio.core.npy import NpyError, read_npy_member

MAX_MEMBERS = 10_000


def read_npz(path: Path, error: type[Exception], max_bytes: int, what: str) -> dict[str, np.ndarray]:
    """Every array of `path` by name (member name without `.npy`); `error` naming the file otherwise."""
    from vaestudio.core.store.safe_files import open_regular_file

    try:
        with open_regular_file(path, error, what, max_bytes + MAX_MEMBERS * 1024) as handle:  # no FIFO, no device
            if handle.read(4) not in (b"PK\x03\x04", b"PK\x05\x06"):
                raise error(f"{path}: not a {what} (not a .npz archive)")
            handle.seek(0)
            return _arrays(path, handle, error, max_bytes, what)
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, error):
            raise
        raise error(f"{path}: damaged {what} ({type(exc).__name__}: {str(exc)[:200]})") from None


def _arrays(path: Path, handle, error: type[Exception], max_bytes: int, what: str) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(handle) as archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS or sum(m.file_size for m in members) > max_bytes:
            raise error(f"{path}: unpacks to more than any vaestudio {what} holds")
        return {m.filename.removesuffix(".npy"): _member(path, archive, m, error) for m in members}


def _member(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, error) -> np.ndarray:
    try:
        return read_npy_member(archive, info, "fiubU").copy()  # writable
    except NpyError as exc:
        raise error(f"{path}: damaged ({info.filename}: {exc})") from None
