"""Write synthetic IDX files (raw or gzipped) and Keras-style .npz files for the data tests."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def idx_bytes(array: np.ndarray, shape: tuple[int, ...] | None = None, magic: int | None = None) -> bytes:
    """IDX header + data; `shape`/`magic` override what the header claims."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    shape = array.shape if shape is None else shape
    magic = (0x0800 + len(shape)) if magic is None else magic
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in shape)
    return header + array.tobytes()


def write_idx(path: Path, array: np.ndarray, gz: bool | None = None, **claims) -> Path:
    """Write `array` as an IDX file; gzipped when `gz` (default: when the name ends in .gz)."""
    data = idx_bytes(array, **claims)
    gz = path.suffix == ".gz" if gz is None else gz
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def write_idx_folder(folder: Path, arrays, gz: bool = True) -> Path:
    """The four standard IDX files for (x_train, y_train, x_test, y_test) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in zip(NAMES, arrays):
        write_idx(folder / (name + (".gz" if gz else "")), array, gz=gz)
    return folder


def write_npz(path: Path, arrays) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    x_train, y_train, x_test, y_test = arrays
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path
