"""Save decoded latent mosaics as PNG images and looping GIF animations.

Grey mosaics are written as 8-bit greyscale, so every grey level survives the round trip (a GIF of a
binary mosaic holds exactly 0 and 255, no dithering); colour mosaics as RGB PNGs and palette GIFs.
GIFs may use fewer grey levels (`levels`) to be much smaller. Files are written atomically through
file handles this module owns, so a full disk or an encoder error leaves the file already at the
target as it was, and no half-closed writer complains later.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vaestudio.core.store.atomic import atomic_path
from vaestudio.core.errors import ExportError

_BAND_GRAY = 40  # background of the caption strip
_TEXT_GRAY = 255
_FONT_PX = 11  # caption font size at scale 1
_MIN_FONT_PX = 6


def to_rgb_frame(mosaic: np.ndarray, caption: str | None = None, scale: int = 1) -> np.ndarray:
    """Return `mosaic` (uint8, grey or RGB) as an RGB uint8 frame, upscaled by `scale`, captioned below."""
    image = _compose(mosaic, caption, scale)
    return image if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2)


def save_png(mosaic: np.ndarray, path: str | Path, caption: str | None = None, scale: int = 1) -> Path:
    """Write `mosaic` as a grayscale PNG at `path` (atomically) and return the path."""
    path = Path(path)
    try:
        gray = _compose(mosaic, caption, scale)
    except ExportError as exc:
        raise ExportError(f"cannot export {path}: {exc}") from None
    _write(path, lambda handle: Image.fromarray(gray).save(handle, format="PNG", compress_level=6))
    return path


def save_gif(
    frames: Iterable[np.ndarray],
    path: str | Path,
    frame_seconds: float = 0.1,
    captions: Sequence[str | None] | None = None,
    scale: int = 1,
    loop: int = 0,
    levels: int = 256,
) -> Path:
    """Write the mosaics `frames` as an animated GIF at `path` (atomically) and return the path.

    Each frame shows for `frame_seconds` (GIF timing has 0.01 s resolution); `loop=0` repeats
    forever, `loop=n` plays n extra times. `captions`, if given, has one entry (or None) per frame.
    `levels` (2..256) grey levels per frame: 256 keeps every level; 16 roughly halves a training GIF
    and still reads well.
    """
    path = Path(path)
    frames = list(frames)
    try:
        stack = _gif_stack(frames, captions, scale)
        duration_ms = _duration_ms(frame_seconds)
        if isinstance(loop, bool) or not isinstance(loop, int) or not 0 <= loop <= 65535:
            raise ExportError(f"loop must be an integer from 0 (forever) to 65535, got {loop!r}")
        if isinstance(levels, bool) or not isinstance(levels, int) or not 2 <= levels <= 256:
            raise ExportError(f"levels must be an integer from 2 to 256, got {levels!r}")
    except ExportError as exc:
        raise ExportError(f"cannot export {path}: {exc}") from None
    pictures = [_gif_frame(frame, levels) for frame in stack]

    def write(handle) -> None:
        pictures[0].save(handle, format="GIF", save_all=True, append_images=pictures[1:], duration=duration_ms,
                         loop=loop, optimize=False, disposal=1)

    _write(path, write)
    return path


def _gif_frame(frame: np.ndarray, levels: int) -> Image.Image:
    """A grey frame with `levels` evenly spaced greys, or a palette image for a colour frame."""
    if frame.ndim == 3:
        return Image.fromarray(frame).quantize(colors=min(levels, 256), method=Image.Quantize.MEDIANCUT)
    if levels < 256:
        step = 255.0 / (levels - 1)
        frame = (np.rint(np.rint(frame / step) * step)).astype(np.uint8)
    return Image.fromarray(frame, mode="L")


def _write(path: Path, writer) -> None:
    """Run `writer(handle)` on a temporary file inside an atomic write; any failure becomes ExportError
    naming `path`. The handle is closed here whatever happens (no writer left to fail at exit)."""
    try:
        with atomic_path(path) as tmp:
            handle = open(tmp, "wb")
            try:
                writer(handle)
            finally:
                try:
                    handle.close()
                except OSError:
                    pass  # the write already failed and says why
    except ExportError:
        raise
    except Exception as exc:  # Pillow raises OSError, ValueError, KeyError, ... for encoder trouble
        raise ExportError(f"cannot write {path}: {exc}") from None


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
    colour = image.ndim == 3 and image.shape[2] == 3
    if image.dtype != np.uint8 or not (image.ndim == 2 or colour) or image.size == 0:
        raise ExportError(f"expected a non-empty uint8 mosaic (grey or RGB), got {image.dtype} array of shape "
                          f"{image.shape}")
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or not 1 <= scale <= 64:
        raise ExportError(f"scale must be an integer from 1 to 64, got {scale!r}")
    scale = int(scale)
    if scale > 1:
        image = np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)
    if caption is None:
        return np.ascontiguousarray(image)
    band = _caption_band(str(caption), image.shape[1], scale)
    if colour:
        band = np.repeat(band[:, :, None], 3, axis=2)
    return np.concatenate([image, band], axis=0)


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
