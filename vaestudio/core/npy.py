"""One `.npy` member of a zip archive read without trusting it: the header must describe a plain array of
the allowed kinds whose size is exactly what the member holds, before anything is allocated. Pickles are
never loaded. Used for the `.npz` files vaestudio writes (core/store/npz.py) and for datasets (core/data/npz.py).
"""

from __future__ import annotations

import zipfile

import numpy as np

NPY_MAGIC = b"\x93NUMPY"


class NpyError(ValueError):
    """What is wrong with a member; callers add the file's name and their own error type."""


def read_npy_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, kinds: str) -> np.ndarray:
    """The array of member `info`, whose dtype kind must be one of `kinds` (e.g. "uib"); NpyError otherwise."""
    with archive.open(info) as member:
        if member.read(6) != NPY_MAGIC:
            raise NpyError("not a .npy array")
        major, _minor = member.read(2)
        if major == 1:
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
        elif major in (2, 3):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise NpyError(f"unknown .npy format version {major}")
        if dtype.hasobject or dtype.kind not in kinds:
            raise NpyError(f"holds {dtype} values" + (" (pickled objects are never loaded)" if dtype.hasobject else ""))
        count = 1
        for dim in shape:
            count *= dim
        size = info.file_size - member.tell()
        if count * dtype.itemsize != size:
            raise NpyError(f"its header says {shape} of {dtype} ({count * dtype.itemsize} bytes), but it holds {size}")
        data = member.read(size)
    return np.frombuffer(data, dtype=dtype, count=count).reshape(shape, order="F" if fortran else "C")  # read-only
