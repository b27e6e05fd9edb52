"""Save decoded latent mosaics as PNG images and looping GIF animations.

Frames are written as 8-bit grayscale, so every gray level of a mosaic survives the round trip
(a GIF of a binary mosaic holds exactly 0 and 255, no dithering). Files are written atomically:
on any failure the file already at the target is left as it was.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vaestudio.core.store.atomic import atomic_path
from vaestudio.core.errors import ExportError

_BAND_GRAY = 40  # background of the caption strip
_TEXT_GRAY = 255
_FONT_PX = 11  # caption font size at scale 1
_MIN_FONT_PX = 6


def to_rgb_frame(mosaic: np.ndarray, caption: str | None = None, scale: int = 1) -> np.ndarray:
    """Return `mosaic` (uint8, 2-D) as an RGB uint8 frame, upscaled by `scale`, captioned below."""
    gray = _compose(mosaic, caption, scale)
    return np.repeat(gray[:, :, None], 3, axis=2)


def save_png(mosaic: np.ndarray, path: str | Path, caption: str | None = None, scale: int = 1) -> Path:
    """Write `mosaic` as a grayscale PNG at `path` (atomically) and return the path."""
    path = Path(path)
    try:
        gray = _compose(mosaic, caption, scale)
    except ExportError as exc:
        raise ExportError(f"cannot export {path}: {exc}") from None
    _write(path, lambda tmp: iio.imwrite(tmp, gray, plugin="pillow", extension=".png"))
    return path


def save_gif(
    frames: Iterable[np.ndarray],
    path: str | Path,
    frame_seconds: float = 0.1,
    captions: Sequence[str | None] | None = None,
    scale: int = 1,
    loop: int = 0,
) -> Path:
    """Write the mosaics `frames` as an animated GIF at `path` (atomically) and return the path.

    Each frame shows for `frame_seconds` (GIF timing has 0.01 s resolution); `loop=0` repeats
    forever, `loop=n` plays n extra times. `captions`, if given, has one entry (or None) per frame.
    """
    path = Path(path)
    frames = list(frames)
    try:
        stack = _gif_stack(frames, captions, scale)
        duration_ms = _duration_ms(frame_seconds)
        if isinstance(loop, bool) or not isinstance(loop, int) or not 0 <= loop <= 65535:
            raise ExportError(f"loop must be an integer from 0 (forever) to 65535, got {loop!r}")
    except ExportError as exc:
        raise ExportError(f"cannot export {path}: {exc}") from None

    def write(tmp: Path) -> None:
        # imageio's pillow plugin hands `duration` (milliseconds per frame) and `loop` to Pillow.
        iio.imwrite(
            tmp, stack, plugin="pillow", extension=".gif", is_batch=True, duration=duration_ms, loop=loop
        )

    _write(path, write)
    return path


def _write(path: Path, writer) -> None:
    """Run `writer(tmp)` inside an atomic write; any failure becomes ExportError naming `path`."""
    try:
        with atomic_path(path) as tmp:
            writer(tmp)
    except ExportError:
        raise
    except Exception as exc:  # Pillow/imageio raise ValueError, KeyError, ... for encoder trouble
        raise ExportError(f"cannot write {path}: {exc}") from exc


def _gif_stack(frames: list[np.ndarray], captions: Sequence[str | None] | None, scale: int) -> np.ndarray:
    if not frames:
        raise ExportError("no frames to write")
    if captions is None:
        captions = [None] * len(frames)
    elif len(captions) != len(frames):
        raise ExportError(f"{len(captions)} captions given for {len(frames)} frames")
    first_shape = np.shape(frames[0])
    composed = []
    for index, (frame, caption) in enumerate(zip(frames, captions)):
        if np.shape(frame) != first_shape:
            raise ExportError(
                f"frame {index} has shape {np.shape(frame)}, expected {first_shape} like frame 0"
            )
        try:
            composed.append(_compose(frame, caption, scale))
        except ExportError as exc:
            raise ExportError(f"frame {index}: {exc}") from None
    return np.stack(composed, axis=0)


def _duration_ms(frame_seconds: float) -> int:
    try:
        seconds = float(frame_seconds)
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0.01:
        raise ExportError(f"frame_seconds must be at least 0.01, got {frame_seconds!r}")
    return int(round(seconds * 1000))


def _compose(mosaic: np.ndarray, caption: str | None, scale: int) -> np.ndarray:
    """Upscale a uint8 2-D mosaic and add the caption strip; returns uint8 2-D grayscale."""
    image = np.asarray(mosaic)
    if image.dtype != np.uint8 or image.ndim != 2 or image.size == 0:
        raise ExportError(f"expected a non-empty 2-D uint8 mosaic, got {image.dtype} array of shape {image.shape}")
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or not 1 <= scale <= 64:
        raise ExportError(f"scale must be an integer from 1 to 64, got {scale!r}")
    scale = int(scale)
    if scale > 1:
        image = np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)
    if caption is None:
        return np.ascontiguousarray(image)
    return np.concatenate([image, _caption_band(str(caption), image.shape[1], scale)], axis=0)


def _caption_band(text: str, width: int, scale: int) -> np.ndarray:
    """A strip `width` wide with `text` centred; its height depends only on `scale`."""
    font_px = _FONT_PX * scale
    height = int(round(font_px * 1.6))
    band = Image.new("L", (width, height), _BAND_GRAY)
    size = font_px
    font = ImageFont.load_default(size=size)
    # Shrink the font until the caption fits (narrow single-garment images); the band keeps its height.
    while size > _MIN_FONT_PX and font.getlength(text) > width - 4:
        size -= 1
        font = ImageFont.load_default(size=size)
    draw = ImageDraw.Draw(band)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    origin = ((width - (right - left)) / 2 - left, (height - (bottom - top)) / 2 - top)
    draw.text(origin, text, fill=_TEXT_GRAY, font=font)
    return np.asarray(band, dtype=np.uint8)
