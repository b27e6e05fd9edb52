"""Image-folder loading speed: first start (decode, then write the cache) against second start (the cache).

    python benchmarks/image_folder_speed.py                 # 2000 mixed files to 64x64 colour, 3 rounds
    python benchmarks/image_folder_speed.py --count 500     # a quick look

A folder of real-world-like files is generated once: JPEG photos of 200 to 1600 pixels (colour and grey),
PNG in RGB, palette, RGBA and 16-bit grey, WebP, GIF and BMP, in three classes. Each round runs every
contender once, interleaved, so that load from other processes falls on all alike: the first start with
1, 2, 3 and 4 decoding threads (an empty cache folder each time: decoding plus writing the cache), and the
second start (the cache written by the previous contender). The files are in the OS page cache for all
contenders (a first start from a cold disk is slower by however long the disk takes to read them).
Printed: the machine, and the median images/s of each contender with its ratio to one thread and the CPU
seconds it used per second (above 1: more than one core busy; below its thread count: waiting or contended).
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image, features  # noqa: E402

from vaestudio.core.data import load_image_folder  # noqa: E402

KINDS = (  # (share of files, name) -- roughly what a folder of downloaded pictures holds
    (0.30, "jpeg photo"), (0.10, "grey jpeg"), (0.15, "png rgb"), (0.10, "png palette"), (0.10, "png rgba"),
    (0.08, "png 16-bit grey"), (0.10, "webp"), (0.04, "gif"), (0.03, "bmp"),
)


def cpu_model() -> str:
    from vaestudio.core.machine import cpu_info

    return cpu_info().model


def cpu_flags() -> str:
    from vaestudio.core.machine import cpu_info

    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_tile")
    return " ".join(f for f in wanted if f in cpu_info().flags) or "none of avx2/avx512f/avx512_bf16/amx_tile"


def picture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Smooth shading, a few shapes and sensor noise: compresses like a photo, not like random bytes."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = rng.uniform(40, 200, 3)
    tilt = rng.uniform(-0.3, 0.3, (2, 3))
    image = base + yy[..., None] * tilt[0] * 200 / height + xx[..., None] * tilt[1] * 200 / width
    for _ in range(3):
        cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(0.1, 0.4) * min(height, width)
        image[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(0, 255, 3)
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def write_file(path: Path, kind: str, rng: np.random.Generator) -> Path:
    big = kind in ("jpeg photo", "grey jpeg")
    height, width = (int(v) for v in rng.integers(200, 1600 if big else 600, 2))
    rgb = picture(rng, height, width)
    buffer = io.BytesIO()
    if kind == "jpeg photo":
        Image.fromarray(rgb).save(buffer, "JPEG", quality=90)
    elif kind == "grey jpeg":
        Image.fromarray(rgb).convert("L").save(buffer, "JPEG", quality=90)
    elif kind == "png rgb":
        Image.fromarray(rgb).save(buffer, "PNG")
    elif kind == "png palette":
        Image.fromarray(rgb).quantize(64).save(buffer, "PNG")
    elif kind == "png rgba":
        alpha = np.full((height, width, 1), 255, np.uint8)
        alpha[: height // 4] = 0
        Image.fromarray(np.concatenate([rgb, alpha], axis=2), "RGBA").save(buffer, "PNG")
    elif kind == "png 16-bit grey":
        Image.fromarray(rgb.mean(axis=2).astype(np.uint16) * 257).save(buffer, "PNG")
    elif kind == "webp":
        Image.fromarray(rgb).save(buffer, "WEBP", quality=85)
    elif kind == "gif":
        Image.fromarray(rgb).quantize(128).save(buffer, "GIF")
    else:
        Image.fromarray(rgb).save(buffer, "BMP")
    suffixes = {"jpeg photo": ".jpg", "grey jpeg": ".jpeg", "webp": ".webp", "gif": ".gif", "bmp": ".bmp"}
    suffix = suffixes.get(kind, ".png")
    path = path.with_suffix(suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return path


def make_folder(root: Path, count: int, seed: int = 0) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    shares = np.array([share for share, _ in KINDS])
    kinds = rng.choice(len(KINDS), size=count, p=shares / shares.sum())
    tally: dict[str, int] = {}
    for i, k in enumerate(kinds):
        name = KINDS[k][1]
        write_file(root / f"class{i % 3}" / f"img{i:05d}", name, rng)
        tally[name] = tally.get(name, 0) + 1
    return tally


def timed(**kwargs) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds of this process (all threads), and images loaded."""
    started, cpu = time.perf_counter(), time.process_time()
    dataset = load_image_folder(**kwargs)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return seconds, cpu, len(dataset.train_images) + len(dataset.test_images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="image files to generate (default 2000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of all contenders (default 3)")
    parser.add_argument("--size", type=int, default=64, choices=(28, 64))
    parser.add_argument("--channels", type=int, default=3, choices=(1, 3))
    args = parser.parse_args()

    print(f"CPU: {cpu_model()} ({len(os.sched_getaffinity(0))} available to this process; {cpu_flags()})")
    print(f"Python {platform.python_version()}, NumPy {np.__version__}, Pillow {Image.__version__} "
          f"(libjpeg-turbo {features.version('libjpeg_turbo') or 'no'}, zlib {features.version('zlib')}, "
          f"libwebp {features.version('webp')})")
    work = Path(tempfile.mkdtemp(prefix="vaestudio-bench-"))
    try:
        folder = work / "images"
        started = time.perf_counter()
        tally = make_folder(folder, args.count)
        megabytes = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6
        print(f"Folder: {args.count} files, {megabytes:.0f} MB ({', '.join(f'{n} {k}' for k, n in tally.items())}), "
              f"made in {time.perf_counter() - started:.0f} s; target {args.size}x{args.size}x{args.channels}")
        common = dict(folder=folder, image_size=args.size, channels=args.channels)
        load_before = f"{os.getloadavg()[0]:.1f}"
        rates: dict[str, list[float]] = {}
        busy: dict[str, list[float]] = {}

        def record(name: str, seconds: float, cpu: float, images: int) -> None:
            rates.setdefault(name, []).append(images / seconds)
            busy.setdefault(name, []).append(cpu / seconds)

        for round_ in range(args.rounds):
            for workers in (1, 2, 3, 4):
                cache = work / f"cache-{round_}-{workers}"
                record(f"first start, {workers} thread{'s' if workers > 1 else ''}",
                       *timed(**common, workers=workers, cache_root=cache))
                if workers == 2:
                    record("second start (cache)", *timed(**common, workers=workers, cache_root=cache))
                shutil.rmtree(cache)
            print(f"round {round_ + 1}: " + ", ".join(f"{name} {values[-1]:.0f}/s" for name, values in rates.items()),
                  flush=True)
        reference = statistics.median(rates["first start, 1 thread"])
        print(f"\nMedian of {args.rounds} rounds ({len(list(folder.rglob('*.*')))} files; load average before and "
              f"after: {load_before}, {os.getloadavg()[0]:.1f}):")
        for name, values in rates.items():
            median = statistics.median(values)
            print(f"  {name:<28} {median:8.0f} images/s  x{median / reference:.2f} of one thread "
                  f"(range {min(values):.0f}-{max(values):.0f}); CPU busy {statistics.median(busy[name]):.2f} "
                  f"s per s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
