"""One image file (or a Pillow image) to uint8 pixels of the model's size and channels.

The resize rule: the largest centred square is cut out of the image (a centre crop: nothing is stretched
and no border is invented; the sides of a wide image, or the top and bottom of a tall one, are lost) and
resized to image_size x image_size with Pillow's bicubic filter, which smooths when it shrinks.

Pixels are made 8-bit once: the EXIF orientation is applied; palettes are expanded; anything transparent
(RGBA, LA, a palette or grey image with a transparent colour) is composited over white; 16-bit grey is
scaled to 8 bits; CMYK, YCbCr and other modes become RGB; 1-bit becomes 0/255. Colour becomes grey by
Pillow's ITU-R 601 luma; grey becomes colour by repeating it. GIF and WebP give their first frame.

Only PNG, JPEG, BMP, GIF and WebP are decoded, whatever the file name says. A file is opened only if it
is a regular file (a FIFO would block forever), read at most MAX_FILE_BYTES, and decoded only if it has
at most Pillow's `Image.MAX_IMAGE_PIXELS` pixels and its decoded pixels take at most MAX_DECODED_BYTES (a
small 16-bit PNG can claim 9400 x 9400 pixels: 177 MB decoded; JPEGs are measured after libjpeg's
reduction while decoding). Files are identified through Pillow's registry of
format openers (`Image.OPEN`) rather than `Image.open`, whose decompression-bomb check warns through
Python's process-wide warning filters: here a huge image is refused before any warning can be printed,
from any thread.
"""

from __future__ import annotations

import io
import os
import stat
from typing import Any

import numpy as np

# The formats decoded, and the file name endings that mark an image file in a folder.
FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP")
FORMAT_NAMES = "PNG, JPEG, BMP, GIF or WebP"
EXTENSIONS = (".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".bmp", ".dib", ".gif", ".webp")
# Part of every cache key: change it whenever the pixels this module produces change.
RESIZE_RULE = "centre-crop bicubic v2"
MAX_FILE_BYTES = 256 << 20
MAX_DECODED_BYTES = 128 << 20  # a 24-megapixel RGB photo decodes to 72 MB
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "LA": 2, "La": 2, "PA": 2, "RGB": 3, "YCbCr": 3, "LAB": 3, "HSV": 3,
                    "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}  # the rest: 4 (RGBA, CMYK, I, F, …)
DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's default limit, used when Image.MAX_IMAGE_PIXELS is None
WHITE = 255

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


class ImageDecodeError(Exception):
    """Why one image cannot be used, in a few words ('truncated image file'); the caller names the file."""


def is_image_name(name: str) -> bool:
    """Whether a file name ends like an image this module decodes (case-insensitive)."""
    return name.lower().endswith(EXTENSIONS) and not name.startswith(".")


def read_image_file(path: str | os.PathLike) -> tuple[bytes, os.stat_result]:
    """A regular file's bytes and its status, read without blocking on FIFOs or devices.

    ImageDecodeError for special files, empty or oversized files and read errors.
    """
    try:
        mode = os.stat(path).st_mode  # never open a device: opening some has effects (a tape rewinds)
        if not stat.S_ISREG(mode):
            raise ImageDecodeError(f"{file_kind(mode)}, not a regular file")
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise ImageDecodeError(_os_reason(exc)) from None
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):  # replaced between the two looks
            raise ImageDecodeError(f"{file_kind(status.st_mode)}, not a regular file")
        if status.st_size == 0:
            raise ImageDecodeError("empty file")
        if status.st_size > MAX_FILE_BYTES:
            raise ImageDecodeError(f"{status.st_size} bytes, more than the {MAX_FILE_BYTES >> 20} MB an image may have")
        with open(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ImageDecodeError(f"grew past {MAX_FILE_BYTES >> 20} MB while being read")
        return data, status
    except OSError as exc:
        raise ImageDecodeError(_os_reason(exc)) from None
    finally:
        os.close(fd)


def decode_image(data: bytes, image_size: int, channels: int) -> np.ndarray:
    """Decode an image file's bytes to uint8 (image_size, image_size) grey or (..., 3) colour.

    ImageDecodeError (a short reason) for anything that is not a decodable image of a sane size.
    """
    try:
        with _open(data) as image:
            if image.format == "JPEG":  # let libjpeg scale down by 1/2, 1/4 or 1/8 while decoding
                image.draft("L" if channels == 1 else "RGB", (image_size, image_size))
            return to_pixels(image, image_size, channels)
    except ImageDecodeError:
        raise
    except MemoryError:
        raise ImageDecodeError("too large to decode in the memory available") from None
    except Exception as exc:  # Pillow raises OSError, ValueError, SyntaxError, struct.error... for damaged files
        raise ImageDecodeError(_decoder_reason(exc)) from None


def _open(data: bytes) -> Any:
    """A lazily decoding Pillow image of one of FORMATS, identified by content, of at most the pixel limit."""
    import struct

    from PIL import BmpImagePlugin, GifImagePlugin, Image, JpegImagePlugin, PngImagePlugin  # noqa: F401 (register)
    from PIL import WebPImagePlugin  # noqa: F401

    _quiet_exif_warnings()  # opening a JPEG reads its EXIF block already
    prefix = data[:16]
    failure = None
    for name in FORMATS:
        factory, accept = Image.OPEN[name]
        verdict = accept(prefix) if accept is not None else True
        if not verdict or isinstance(verdict, str):  # a string: recognised, but cannot be read here
            continue
        try:
            image = factory(io.BytesIO(data), "")
        except (SyntaxError, IndexError, TypeError, struct.error, EOFError) as exc:  # what Image.open tolerates
            failure = exc
            continue
        try:
            _check_pixels(image.size)
        except ImageDecodeError:
            image.close()
            raise
        return image
    if failure is not None:
        raise ImageDecodeError(_decoder_reason(failure))
    raise ImageDecodeError(f"not a {FORMAT_NAMES} image")


def to_pixels(image: Any, image_size: int, channels: int) -> np.ndarray:
    """A Pillow image (any mode) to uint8 pixels by this module's rule (see the module docstring)."""
    from PIL import Image, ImageOps

    _check_pixels(image.size, image.mode)
    _quiet_exif_warnings()
    try:
        orientation = image.getexif().get(0x0112)
    except Exception:  # a damaged EXIF block: the pixels are still good, only the orientation is unknown
        orientation = None
    if orientation in (2, 3, 4, 5, 6, 7, 8):
        image = ImageOps.exif_transpose(image)
    flat = _eight_bit(image)
    width, height = flat.size
    side = min(width, height)
    if side < 1:
        raise ImageDecodeError(f"has no pixels ({width} x {height})")
    left, top = (width - side) // 2, (height - side) // 2
    if (width, height) != (side, side):  # cut first: resizing with a box would blend in pixels beyond it
        flat = flat.crop((left, top, left + side, top + side))
    resized = flat.resize((image_size, image_size), Image.Resampling.BICUBIC, reducing_gap=2.0)
    target = "L" if channels == 1 else "RGB"
    if resized.mode != target:
        resized = resized.convert(target)
    return np.asarray(resized, dtype=np.uint8).copy()


def _quiet_exif_warnings() -> None:
    """Pillow warns "Possibly corrupt EXIF data", "Tag data larger than file"… (with its own source line) for
    a damaged EXIF block; the pixels are good and only the orientation is lost, so vaestudio keeps the picture
    and prints nothing. (Only the EXIF block is read by Pillow's TIFF code here: TIFF is not a format decoded.)"""
    import warnings

    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.TiffImagePlugin")
    warnings.filterwarnings("ignore", message="(?i).*corrupt exif", category=UserWarning)


def _eight_bit(image: Any) -> Any:
    """The image as 'L' or 'RGB', 8 bits per channel, transparency composited over white."""
    from PIL import Image

    mode = image.mode
    if mode.startswith("I;16") or mode == "I":
        levels = np.asarray(image)
        if levels.dtype != np.uint16:  # 32-bit integers: clipped to 16 bits first
            levels = np.clip(levels, 0, 65535).astype(np.uint16)
        table = ((np.arange(65536, dtype=np.int64) * 255 + 32767) // 65535).astype(np.uint8)
        return Image.fromarray(table[levels], "L")  # a look-up: no 64-bit copy of a large image
    if mode == "F":
        values = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0)
        high = 1.0 if values.size and values.max() <= 1.0 else 255.0
        return Image.fromarray(np.clip(np.rint(values * (255.0 / high)), 0, 255).astype(np.uint8), "L")
    if mode == "1":
        return image.convert("L")
    transparent = mode in ("RGBA", "RGBa", "LA", "La", "PA") or image.has_transparency_data
    if transparent:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (WHITE, WHITE, WHITE))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if mode in ("L", "RGB"):
        return image
    return image.convert("RGB")  # P, CMYK, YCbCr, LAB, HSV, RGBX, ...


def _max_pixels() -> int:
    from PIL import Image

    return int(Image.MAX_IMAGE_PIXELS or DEFAULT_MAX_PIXELS)


def _check_pixels(size: tuple[int, int], mode: str | None = None) -> None:
    """Refuse, before decoding, more pixels than Pillow's limit, or (given the mode) more decoded bytes than
    MAX_DECODED_BYTES."""
    width, height = size
    if width * height > _max_pixels():
        raise ImageDecodeError(f"too large ({width} x {height} pixels, more than {_max_pixels()})")
    if mode is not None:
        decoded = width * height * _BYTES_PER_PIXEL.get(mode, 4)
        if decoded > MAX_DECODED_BYTES:
            raise ImageDecodeError(f"too large to decode ({width} x {height} pixels of {mode}: {decoded >> 20} MB, "
                                   f"more than {MAX_DECODED_BYTES >> 20} MB)")


def file_kind(mode: int) -> str:
    """"a FIFO", "a folder", ... for a file mode that is not a regular file."""
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "a special file"


def _os_reason(exc: OSError) -> str:
    import errno

    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if exc.errno == errno.ENOENT:
        return "vanished or a broken link"
    return f"cannot read ({exc.strerror or exc})"


def _decoder_reason(exc: Exception) -> str:
    text = str(exc).splitlines()[0].strip() if str(exc).strip() else ""
    if "truncated" in text.lower():
        return "truncated image file"
    text = text[:120] + ("…" if len(text) > 120 else "")
    return f"cannot decode ({type(exc).__name__}: {text})" if text else f"cannot decode ({type(exc).__name__})"
