"""Read IDX files (the MNIST file format), raw or gzipped, checking every size before allocating.

Layout: two zero bytes, a type byte (0x08 = unsigned byte), a dimension count, then one big-endian
uint32 per dimension, then the data. Images are magic 0x00000803 (N, rows, cols), labels 0x00000801 (N,).
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from vaestudio.core.errors import DataError

UBYTE = 0x08
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
GZIP_SIGNATURE = b"\x1f\x8b"
# Deflate cannot expand data by more than about 1032:1, so a gz file of S bytes never holds more than this.
MAX_DEFLATE_RATIO = 1032
_CHUNK = 1 << 20


def read_idx(path: str | os.PathLike, ndim: int | None = None) -> np.ndarray:
    """Return the uint8 array stored in an IDX file (gzip detected by content); raise DataError if malformed.

    `ndim` (1 for labels, 3 for images) additionally requires that magic number.
    """
    path = Path(path)
    try:
        with open(path, "rb") as raw:
            gzipped = raw.read(2) == GZIP_SIGNATURE
        if gzipped:
            return _read_gzip(path, ndim)
        return _read_raw(path, ndim)
    except DataError:
        raise
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"{path}: corrupt gzip data ({exc})") from None
    except EOFError:
        raise DataError(f"{path}: truncated gzip file (the compressed stream ends early)") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _parse_header(path: Path, head: bytes, ndim: int | None) -> tuple[int, tuple[int, ...]]:
    """Check the magic number; return (header length, shape)."""
    if len(head) < 4:
        raise DataError(f"{path}: not an IDX file (only {len(head)} bytes)")
    magic = int.from_bytes(head[:4], "big")
    if head[0] != 0 or head[1] != 0 or head[2] != UBYTE or head[3] not in (1, 3):
        raise DataError(f"{path}: not an IDX file of unsigned bytes (magic number 0x{magic:08X}, "
                        f"expected 0x{IMAGES_MAGIC:08X} for images or 0x{LABELS_MAGIC:08X} for labels)")
    if ndim is not None and head[3] != ndim:
        wanted = IMAGES_MAGIC if ndim == 3 else LABELS_MAGIC
        kind = "images" if ndim == 3 else "labels"
        raise DataError(f"{path}: magic number 0x{magic:08X} but {kind} need 0x{wanted:08X}")
    header_len = 4 + 4 * head[3]
    if len(head) < header_len:
        raise DataError(f"{path}: truncated IDX header ({len(head)} of {header_len} bytes)")
    shape = tuple(int.from_bytes(head[4 + 4 * i:8 + 4 * i], "big") for i in range(head[3]))
    return header_len, shape


def _payload_size(shape: tuple[int, ...]) -> int:
    size = 1
    for dim in shape:
        size *= dim  # Python ints: no overflow for absurd headers
    return size


def _shape_text(shape: tuple[int, ...]) -> str:
    return " x ".join(str(d) for d in shape)


def _read_raw(path: Path, ndim: int | None) -> np.ndarray:
    with open(path, "rb") as handle:
        header_len, shape = _parse_header(path, handle.read(16), ndim)
        expected = _payload_size(shape)
        actual = os.fstat(handle.fileno()).st_size - header_len
        if actual != expected:
            what = "truncated" if actual < expected else "longer than its header says"
            raise DataError(f"{path}: {what}: header says {_shape_text(shape)} = {expected} bytes of data, "
                            f"file holds {actual}")
        handle.seek(header_len)
        data = np.fromfile(handle, dtype=np.uint8, count=expected)
    if data.size != expected:  # file shrank while reading
        raise DataError(f"{path}: truncated: read {data.size} of {expected} bytes")
    return data.reshape(shape)


def _gzip_isize(path: Path) -> int | None:
    """The uncompressed size mod 2**32 that the gzip trailer records (None if the file is too short)."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() < 18:
            return None
        handle.seek(-4, os.SEEK_END)
        return int.from_bytes(handle.read(4), "little")


def _read_gzip(path: Path, ndim: int | None) -> np.ndarray:
    compressed = path.stat().st_size
    with gzip.open(path, "rb") as handle:
        header_len, shape = _parse_header(path, handle.read(16), ndim)
        expected = _payload_size(shape)
        if expected > compressed * MAX_DEFLATE_RATIO:  # fail fast, before allocating anything
            raise DataError(f"{path}: header says {_shape_text(shape)} = {expected} bytes of data, "
                            f"more than a {compressed}-byte gz file can hold")
        handle.seek(header_len)  # labels have an 8-byte header: give back the data bytes read above
        if _gzip_isize(path) != (header_len + expected) % 2**32:
            _explain_size_mismatch(path, handle, shape, expected)
        whole = _inflate_whole(path, header_len + expected)
        if whole is not None:
            return np.frombuffer(whole, dtype=np.uint8, offset=header_len).reshape(shape).copy()
        data = np.empty(expected, dtype=np.uint8)
        view = memoryview(data)
        filled = 0
        while filled < expected:
            got = handle.readinto(view[filled:filled + _CHUNK])
            if not got:
                raise DataError(f"{path}: truncated: header says {expected} bytes of data, file holds {filled}")
            filled += got
        if handle.read(1):
            raise DataError(f"{path}: longer than its header says ({_shape_text(shape)} = {expected} bytes of data)")
    return data.reshape(shape)


def _inflate_whole(path: Path, size: int) -> bytes | None:
    """The `size` bytes of a single-member gzip file, inflated in one call (which lets go of the interpreter
    all along: reading chunk by chunk beside a busy thread, such as TensorFlow's import, took ten times
    longer); None when the file holds anything else (several members, other sizes: read chunk by chunk)."""
    inflater = zlib.decompressobj(wbits=31)  # gzip framing: the CRC and the size are checked at its end
    data = inflater.decompress(path.read_bytes(), size + 1)
    if len(data) != size or not inflater.eof or inflater.unused_data:
        return None
    return data


def _explain_size_mismatch(path: Path, handle: gzip.GzipFile, shape: tuple[int, ...], expected: int) -> None:
    """The trailer disagrees with the header: decompress (never keeping more than a chunk,
    never past expected + 1 bytes) to tell a truncated file from a wrong header, and raise."""
    count = 0
    while count <= expected:
        chunk = handle.read(min(_CHUNK, expected + 1 - count))  # EOFError here: truncated gzip stream
        if not chunk:
            break
        count += len(chunk)
    if count < expected:
        raise DataError(f"{path}: truncated: header says {_shape_text(shape)} = {expected} bytes of data, "
                        f"file holds {count}")
    if count > expected:
        raise DataError(f"{path}: longer than its header says ({_shape_text(shape)} = {expected} bytes of data)")
    # Sizes agree after all (e.g. a multi-member gzip file): carry on reading normally.
    handle.seek(handle.tell() - expected)
