"""Read the `.npz` files vaestudio writes (checkpoints, snapshot weights) without trusting them.

Before anything is allocated, the archive's member count and unpacked size are bounded, and every
member's `.npy` header must describe a plain numeric array whose size is exactly what the member holds,
so a header that claims 4 TiB is refused by name instead of raising MemoryError. Pickles are never loaded.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

NPY_MAGIC = b"\x93NUMPY"
MAX_MEMBERS = 10_000


def read_npz(path: Path, error: type[Exception], max_bytes: int, what: str) -> dict[str, np.ndarray]:
    """Every array of `path` by name (member name without `.npy`); `error` naming the file otherwise."""
    try:
        with open(path, "rb") as handle:
            if handle.read(4) not in (b"PK\x03\x04", b"PK\x05\x06"):
                raise error(f"{path}: not a {what} (not a .npz archive)")
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > MAX_MEMBERS or sum(m.file_size for m in members) > max_bytes:
                raise error(f"{path}: unpacks to more than any vaestudio {what} holds")
            return {m.filename.removesuffix(".npy"): _member(path, archive, m, error) for m in members}
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, error):
            raise
        raise error(f"{path}: damaged {what} ({type(exc).__name__}: {exc})") from None


def _member(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, error) -> np.ndarray:
    name = info.filename
    with archive.open(info) as member:
        if member.read(6) != NPY_MAGIC:
            raise error(f"{path}: damaged ({name} is not a .npy array)")
        major, _minor = member.read(2)
        if major == 1:
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
        elif major in (2, 3):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise error(f"{path}: damaged ({name}: unknown .npy version {major})")
        if dtype.hasobject or dtype.kind not in "fiubU":
            raise error(f"{path}: damaged ({name} holds {dtype} values; pickled objects are never loaded)")
        count = 1
        for dim in shape:
            count *= dim
        size = info.file_size - member.tell()
        if count * dtype.itemsize != size:
            raise error(f"{path}: damaged ({name}: its header says {shape} of {dtype}, "
                        f"{count * dtype.itemsize} bytes, but it holds {size})")
        data = member.read(size)
    array = np.frombuffer(data, dtype=dtype, count=count).reshape(shape, order="F" if fortran else "C")
    return array.copy()
