"""Files for the data tests: synthetic IDX files (raw or gzipped), Keras-style .npz files, image files
(including a hand-made 16-bit PNG), and running Python where file permissions apply, even as root."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest

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


# ---------------------------------------------------------------------------------------------- images


def save_image(path: Path | bytes, pixels, fmt: str = "PNG", mode: str | None = None, **options) -> Path | bytes:
    """Write `pixels` (an array, or an (mode, size, colour) tuple for a solid image) as an image file."""
    from PIL import Image

    if isinstance(pixels, tuple):
        image = Image.new(*pixels)
    else:
        image = Image.fromarray(np.asarray(pixels), mode) if mode else Image.fromarray(np.asarray(pixels))
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(buffer.getvalue())
    return path


def png_16bit(width: int, height: int, colour_type: int, sample: tuple[int, ...]) -> bytes:
    """A PNG of 16 bits per sample (colour type 0 grey, 2 RGB, 4 grey+alpha, 6 RGBA) filled with `sample`."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\0" + struct.pack(f">{len(sample)}H", *sample) * width
    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(row * height))
            + chunk(b"IEND", b""))


# ---------------------------------------------------------------------------------------------- permissions


def run_unprivileged(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run `args` so that file permissions apply: as root (which reads any file whatever its mode) without
    the capabilities that bypass them (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, dropped by util-linux's
    setpriv); skip when that is impossible. Output is captured as text."""
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot make file permissions apply")
        args = [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--", *args]
        locked = Path(tempfile.mkdtemp(prefix="vaestudio-perm-"))
        try:
            locked.chmod(0)
            probe = subprocess.run([*args[:3], sys.executable, "-c", f"import os; os.listdir({str(locked)!r})"],
                                   capture_output=True, text=True)
        finally:
            locked.chmod(0o700)
            locked.rmdir()
        if "PermissionError" not in probe.stderr:
            pytest.skip(f"file permissions do not apply even without capabilities: {probe.stderr.strip()[-200:]}")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), **kwargs.pop("env", {})}
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=120, **kwargs)
