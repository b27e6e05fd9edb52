"""Read a Keras-style dataset `.npz` (x_train, y_train, x_test, y_test) without trusting it.

The file must be a zip archive (checked by its first bytes, so a text file named `.npz` is called what it
is); each member's `.npy` header must describe a plain numeric array whose size agrees with the member's
size before anything is allocated, and pickles are never loaded.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from vaestudio.core.data.dataset import shown
from vaestudio.core.errors import DataError
from vaestudio.core.npy import NPY_MAGIC, NpyError, read_npy_member

KEYS = ("x_train", "y_train", "x_test", "y_test")
ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or an empty archive's end record
# Fashion-MNIST unpacks to 55 MB; a dataset file asking for more than this is not one vaestudio can train on.
MAX_NPZ_BYTES = 4 << 30


def read_npz(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The four arrays of a Keras-style `.npz`; DataError naming the file if it is anything else."""
    from vaestudio.core.store.safe_files import open_regular_file

    try:
        handle = open_regular_file(path, DataError, "dataset file", MAX_NPZ_BYTES + (1 << 20))  # no FIFO/device
        head = handle.read(6)
    except FileNotFoundError:
        raise DataError(f"{shown(path)}: no such file") from None
    except OSError as exc:
        raise DataError(f"{shown(path)}: cannot read ({exc.strerror or exc})") from None
    with handle:
        if head[:4] not in ZIP_SIGNATURES:
            if head == NPY_MAGIC:
                raise DataError(f"{shown(path)}: a single .npy array, not a .npz (zip) file of {', '.join(KEYS)}")
            raise DataError(f"{shown(path)}: not a .npz (zip) file")
        handle.seek(0)
        return _read_arrays(path, handle)


def _read_arrays(path: Path, handle) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    try:
        with zipfile.ZipFile(handle) as archive:
            members = {info.filename: info for info in archive.infolist()}
            missing = [k for k in KEYS if k + ".npy" not in members]
            if missing:
                raise DataError(f"{shown(path)}: not a Keras-style dataset file (missing {', '.join(missing)})")
            total = sum(members[k + ".npy"].file_size for k in KEYS)
            if total > MAX_NPZ_BYTES:
                raise DataError(f"{shown(path)}: its arrays unpack to {total} bytes, more than {MAX_NPZ_BYTES}")
            arrays = tuple(_read_member(path, archive, members[k + ".npy"], k) for k in KEYS)
    except DataError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, ValueError, OSError, EOFError, zlib.error, ...
        raise DataError(f"{shown(path)}: unreadable .npz file ({type(exc).__name__}: {str(exc)[:200]})") from None
    return arrays  # type: ignore[return-value]


def _read_member(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, key: str) -> np.ndarray:
    """One member's array, after checking that its header describes an integer array of the member's size."""
    try:
        return read_npy_member(archive, info, "uib")
    except NpyError as exc:
        raise DataError(f"{shown(path)}[{key}]: {exc}") from None

