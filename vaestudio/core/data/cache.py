"""Decoded image folders kept as uint8 arrays in the user's cache folder, so a second start is fast.

Where: `$VAESTUDIO_CACHE_DIR`, else `$XDG_CACHE_HOME/vaestudio`, else `~/.cache/vaestudio`; one file per
(folder, image size, channels) under `image-folders/`. Each file records, per image file, its path
relative to the folder, size and modification time (ns) and either the row of its pixels or why it was
skipped; a file whose size or time changed is decoded again, the rest is taken from the cache.

Layout: MAGIC, the JSON header's length (8 bytes, little-endian), the JSON header, then the pixels
(count x H x W [x 3] bytes, CRC-32 in the header). A file that is truncated, damaged, of another format,
resize rule, size or folder is ignored (and later replaced); cache files are written atomically, and the
temporary files of writes that were killed are removed at the next write (once an hour old).
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaestudio.core.data.decode import RESIZE_RULE

MAGIC = b"vaestudio image cache\n"
FORMAT = 1
CACHE_ENV = "VAESTUDIO_CACHE_DIR"
MAX_HEADER_BYTES = 512 << 20
STALE_PART_SECONDS = 3600  # a temporary file this old belongs to a write that was killed


def cache_root() -> Path:
    """The user's cache folder for vaestudio."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):  # the XDG spec says to ignore relative paths
        return Path(xdg) / "vaestudio"
    return Path.home() / ".cache" / "vaestudio"


def cache_file(folder: Path, image_size: int, channels: int, root: Path | None = None) -> Path:
    """The cache file of `folder` at this size and channel count."""
    digest = hashlib.blake2b(os.fsencode(_identity(folder)), digest_size=12).hexdigest()
    folder_of_caches = (cache_root() if root is None else Path(root)) / "image-folders"
    return folder_of_caches / f"{digest}-{image_size}px-{channels}ch.bin"


@dataclass(frozen=True)
class CacheEntry:
    size: int
    mtime_ns: int
    row: int           # the row of its pixels, -1 when the file was skipped
    reason: str | None  # why it was skipped


@dataclass
class FolderCache:
    entries: dict[str, CacheEntry]
    pixels: np.ndarray


def read_cache(path: Path, folder: Path, image_size: int, channels: int) -> FolderCache | None:
    """The cache in `path` if it is intact and belongs to this folder, size and channels; else None."""
    from vaestudio.core.errors import DataError
    from vaestudio.core.store.safe_files import open_regular_file

    try:
        with open_regular_file(path, DataError, "cache file") as handle:  # a FIFO or device: not a cache
            total = os.fstat(handle.fileno()).st_size
            if handle.read(len(MAGIC)) != MAGIC:
                return None
            header_len = int.from_bytes(handle.read(8), "little")
            if header_len > min(MAX_HEADER_BYTES, total):
                return None
            header = json.loads(handle.read(header_len).decode("utf-8"))
            shape = _pixel_shape(header, folder, image_size, channels)
            if shape is None:
                return None
            expected = int(np.prod(shape, dtype=np.int64))
            start = len(MAGIC) + 8 + header_len
            if total != start + expected:
                return None
            pixels = _mapped(handle, start, expected)
    except (OSError, ValueError, RecursionError, UnicodeDecodeError, MemoryError, DataError):
        return None
    if zlib.crc32(pixels) != header.get("crc32"):
        return None
    entries = _entries(header.get("entries"), shape[0])
    if entries is None:
        return None
    return FolderCache(entries, pixels.reshape(shape))


def _mapped(handle, start: int, count: int) -> np.ndarray:
    """`count` bytes from `start` as a read-only array mapped from the file (no copy, no fresh memory:
    the pages are the OS's file cache). Cache files are only ever replaced by renaming, never rewritten in
    place, so the mapping stays valid while a Dataset uses it."""
    if count == 0:
        return np.zeros(0, np.uint8)
    mapping = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    return np.frombuffer(mapping, dtype=np.uint8, count=count, offset=start)


def write_cache(path: Path, folder: Path, image_size: int, channels: int,
                entries: dict[str, CacheEntry], pixels: np.ndarray) -> bool:
    """Write the cache atomically; False (and nothing left behind) if the cache folder is not writable."""
    from vaestudio.core.errors import ExportError
    from vaestudio.core.store.atomic import atomic_path

    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    header = {"format": FORMAT, "rule": RESIZE_RULE, "folder": _identity(folder), "image_size": image_size,
              "channels": channels, "count": len(pixels), "crc32": zlib.crc32(pixels),
              "entries": [[name, e.size, e.mtime_ns, e.row, e.reason] for name, e in entries.items()]}
    data = json.dumps(header, separators=(",", ":")).encode("utf-8")
    remove_stale_parts(path.parent)
    try:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                handle.write(MAGIC + len(data).to_bytes(8, "little") + data)
                handle.write(memoryview(pixels).cast("B"))
    except ExportError:
        return False
    return True


def remove_stale_parts(folder: Path, older_than: float = STALE_PART_SECONDS) -> None:
    """Delete temporary files that a write killed midway left in the cache folder (never a fresh one, which
    another process may still be writing)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    now = time.time()
    for entry in entries:
        if entry.name.startswith(".") and ".part" in entry.name:
            try:
                if now - entry.stat(follow_symlinks=False).st_mtime > older_than:
                    os.unlink(entry.path)
            except OSError:
                pass


def _identity(folder: Path) -> str:
    """The folder's absolute path with links resolved, so every way of naming it shares one cache."""
    try:
        return os.fspath(folder.resolve())
    except (OSError, RuntimeError):
        return os.path.abspath(folder)


def _pixel_shape(header: object, folder: Path, image_size: int, channels: int) -> tuple[int, ...] | None:
    if not isinstance(header, dict):
        return None
    expected = {"format": FORMAT, "rule": RESIZE_RULE, "folder": _identity(folder), "image_size": image_size,
                "channels": channels}
    if any(header.get(key) != value for key, value in expected.items()):
        return None
    count = header.get("count")
    if not _is_count(count) or not isinstance(header.get("crc32"), int):
        return None
    return (count, image_size, image_size) if channels == 1 else (count, image_size, image_size, 3)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _entries(raw: object, count: int) -> dict[str, CacheEntry] | None:
    if not isinstance(raw, list):
        return None
    entries: dict[str, CacheEntry] = {}
    for item in raw:
        if not (isinstance(item, list) and len(item) == 5 and isinstance(item[0], str)):
            return None
        name, size, mtime_ns, row, reason = item
        if not (_is_count(size) and isinstance(mtime_ns, int) and isinstance(row, int)
                and not isinstance(row, bool) and -1 <= row < count
                and (reason is None) == (row >= 0) and (reason is None or isinstance(reason, str))):
            return None
        entries[name] = CacheEntry(size, mtime_ns, row, reason)
    return entries
