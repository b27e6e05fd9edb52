"""A folder of images as a Dataset: listed (scan.py), split, decoded in threads (decode.py), cached (cache.py).

The test split: within each class, files are ranked by a seeded hash of their path relative to the
folder, and the first max(1, round(test_fraction * n)) of a class with n >= 2 files are test images (a
class of one file trains). It depends only on the paths, the seed and the class sizes, so it is the same
on every machine, and adding a file moves at most one other file of its class between train and test.
Both parts are ordered by the same hash, which mixes the classes. `limit` keeps the first N of each part
before anything is decoded. Files that cannot be decoded are skipped, and the Dataset lists them.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from vaestudio.core.data.cache import CacheEntry, FolderCache, cache_file, read_cache, write_cache
from vaestudio.core.data.dataset import Dataset, Skipped, frozen, shown
from vaestudio.core.data.decode import ImageDecodeError, decode_image, read_image_file
from vaestudio.core.data.published import check_limit
from vaestudio.core.data.scan import FolderListing, ImageFile, scan_image_folder
from vaestudio.core.errors import ConfigError, DataError

Progress = Callable[[int, int], None]
PROGRESS_INTERVAL = 0.1  # seconds between progress calls
MAX_WORKERS = 8


def load_image_folder(folder: str | os.PathLike, image_size: int = 28, channels: int = 1, *,
                      test_fraction: float = 0.1, seed: int = 0, limit: int | None = None,
                      progress: Progress | None = None, cache: bool = True, cache_root: Path | None = None,
                      workers: int | None = None) -> Dataset:
    """The images of `folder` at image_size x image_size, grey (channels 1) or colour (3), split into train
    and test; DataError when the folder cannot be read or holds no usable image.

    `progress(done, total)` is called from this thread every PROGRESS_INTERVAL seconds or so while images
    are decoded or taken from the cache, and once at the end; an exception it raises stops the loading.
    `cache` False neither reads nor writes the cache; `cache_root` replaces the user's cache folder;
    `workers` is the number of decoding threads (default: default_workers()).
    """
    if image_size not in (28, 64) or channels not in (1, 3):
        raise ConfigError(f"image size {image_size!r} and channels {channels!r}: expected 28 or 64, and 1 or 3")
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)) or not 0 < test_fraction < 1:
        raise ConfigError(f"test_fraction must be between 0 and 1, got {test_fraction!r}")
    check_limit(limit)
    listing = scan_image_folder(folder)
    if not listing.files:
        raise DataError(listing.no_images_message())
    train, test = split(listing.files, test_fraction, seed)
    if limit is not None:
        train, test = train[:limit], test[:limit]
    chosen = train + test

    where = cache_file(listing.root, image_size, channels, cache_root) if cache else None
    cached = read_cache(where, listing.root, image_size, channels) if where is not None else None
    pixels, reasons, stats, decoded = _pixels(listing.root, chosen, image_size, channels, cached, progress, workers)
    if where is not None and decoded:
        _update_cache(where, listing, image_size, channels, chosen, pixels, reasons, stats, cached)

    usable = np.array([r is None for r in reasons], dtype=bool)
    skipped = sorted(listing.skipped + [Skipped(f.relative, r) for f, r in zip(chosen, reasons) if r is not None],
                     key=lambda s: os.fsencode(s.path))
    if not usable.any():
        listing.skipped = skipped
        raise DataError(listing.no_images_message())
    labels = np.array([f.label for f in chosen], dtype=np.int32)
    parts = []
    for part in (slice(0, len(train)), slice(len(train), len(chosen))):
        keep = usable[part]
        images = pixels[part] if keep.all() else pixels[part][keep]
        parts += [frozen(images), frozen(labels[part][keep], dtype=np.int32)]
    return Dataset("image_folder", *parts, source=shown(listing.root), class_names=listing.class_names,
                   skipped=tuple(skipped))


def split(files: list[ImageFile], test_fraction: float, seed: int) -> tuple[list[ImageFile], list[ImageFile]]:
    """(train, test) by the rule in the module docstring."""
    rank = {f.relative: _hash(f.relative, seed) for f in files}
    by_class: dict[int, list[ImageFile]] = {}
    for f in files:
        by_class.setdefault(f.label, []).append(f)
    test: list[ImageFile] = []
    for members in by_class.values():
        if len(members) >= 2:
            members.sort(key=lambda f: rank[f.relative])
            test += members[:max(1, round(test_fraction * len(members)))]
    if not test and len(files) >= 2:  # every class has one file: still hold one out
        test = [min(files, key=lambda f: rank[f.relative])]
    held_out = {f.relative for f in test}
    train = sorted((f for f in files if f.relative not in held_out), key=lambda f: rank[f.relative])
    return train, sorted(test, key=lambda f: rank[f.relative])


def _hash(relative: str, seed: int) -> bytes:
    return hashlib.blake2b(os.fsencode(relative), digest_size=8, key=seed.to_bytes(8, "little")).digest()


def _pixels(root: Path, chosen: list[ImageFile], image_size: int, channels: int, cached: FolderCache | None,
            progress: Progress | None, workers: int | None
            ) -> tuple[np.ndarray, list[str | None], list[tuple[int, int]], int]:
    """Pixels of every chosen file, taken from the cache or decoded; each file's skip reason (None when
    usable), the (size, mtime_ns) its pixels belong to, and how many files were decoded."""
    shape = (image_size, image_size) if channels == 1 else (image_size, image_size, 3)
    total = len(chosen)
    reasons: list[str | None] = [None] * total
    stats = [(f.size, f.mtime_ns) for f in chosen]
    from_cache: list[int] = []
    cache_rows: list[int] = []
    to_decode: list[int] = []
    for index, f in enumerate(chosen):
        entry = cached.entries.get(f.relative) if cached is not None else None
        if entry is None or not _still_valid(f, entry):
            to_decode.append(index)
        elif entry.row < 0:
            reasons[index] = entry.reason
        else:
            from_cache.append(index)
            cache_rows.append(entry.row)

    if cached is not None and not to_decode and from_cache == cache_rows and len(cached.pixels) >= total:
        pixels = cached.pixels[:total]  # nothing changed: the cache's rows are already in this order
    else:
        pixels = np.zeros((total, *shape), dtype=np.uint8)
        if from_cache:
            pixels[from_cache] = cached.pixels[cache_rows]  # type: ignore[union-attr]
    reporter = _Reporter(progress, total, total - len(to_decode))

    def decode(index: int) -> tuple[int, str | None, tuple[int, int]]:
        f = chosen[index]
        try:
            data, status = read_image_file(root / f.relative)
            pixels[index] = decode_image(data, image_size, channels)
            return index, None, (status.st_size, status.st_mtime_ns)
        except ImageDecodeError as exc:
            return index, str(exc), stats[index]

    for index, reason, stat in _in_threads(decode, to_decode, workers, reporter):
        reasons[index], stats[index] = reason, stat
    reporter.finish()
    return pixels, reasons, stats, len(to_decode)


def _update_cache(where: Path, listing: FolderListing, image_size: int, channels: int, chosen: list[ImageFile],
                  pixels: np.ndarray, reasons: list[str | None], stats: list[tuple[int, int]],
                  cached: FolderCache | None) -> None:
    """Write this load's pixels and reasons, followed by what the old cache knew of files this load did not
    need (a load with a limit keeps the rest); files gone or changed are dropped."""
    entries = {f.relative: CacheEntry(size, mtime_ns, -1 if reason else row, reason)
               for row, (f, reason, (size, mtime_ns)) in enumerate(zip(chosen, reasons, stats))}
    extra_rows: list[int] = []
    if cached is not None:
        listed = {f.relative: f for f in listing.files}
        for name, entry in cached.entries.items():
            if name in entries or not _still_valid(listed.get(name), entry):
                continue
            if entry.row >= 0:
                extra_rows.append(entry.row)
                entry = CacheEntry(entry.size, entry.mtime_ns, len(pixels) + len(extra_rows) - 1, None)
            entries[name] = entry
    if extra_rows:
        pixels = np.concatenate([pixels, cached.pixels[extra_rows]])  # type: ignore[union-attr]
    write_cache(where, listing.root, image_size, channels, entries, pixels)


def _in_threads(work: Callable[[int], tuple], items: list[int], workers: int | None, reporter: "_Reporter"):
    """Yield work(item) for every item (in any order), at most a few items ahead of what is consumed."""
    if not items:
        return
    workers = workers or default_workers()
    if workers <= 1:
        for item in items:
            yield work(item)
            reporter.advance()
        return
    pending: set[concurrent.futures.Future] = set()
    queue = iter(items)
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="vaestudio-decode") as pool:
        try:
            for item in queue:
                pending.add(pool.submit(work, item))
                if len(pending) >= 4 * workers:
                    break
            while pending:
                done, pending = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    yield future.result()
                    reporter.advance()
                    item = next(queue, None)
                    if item is not None:
                        pending.add(pool.submit(work, item))
        finally:
            for future in pending:
                future.cancel()


def default_workers() -> int:
    """Decoding threads: one more than the CPUs this process may use (at most MAX_WORKERS). Measured on 2
    cores (benchmarks/image_folder_speed.py): 3 threads were never slower than 2, and faster whenever other
    processes competed for the CPUs or a thread waited on the GIL or the disk."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(MAX_WORKERS, cpus + 1))


class _Reporter:
    """Calls progress(done, total) at most every PROGRESS_INTERVAL seconds, and at the end."""

    def __init__(self, progress: Progress | None, total: int, done: int) -> None:
        self.progress, self.total, self.done = progress, total, done
        self.last = time.monotonic()
        if progress is not None:
            progress(done, total)

    def advance(self) -> None:
        self.done += 1
        if self.progress is not None and time.monotonic() - self.last >= PROGRESS_INTERVAL:
            self.last = time.monotonic()
            self.progress(self.done, self.total)

    def finish(self) -> None:
        if self.progress is not None:
            self.progress(self.total, self.total)


def _still_valid(f: ImageFile | None, entry: CacheEntry) -> bool:
    return f is not None and f.size == entry.size and f.mtime_ns == entry.mtime_ns
