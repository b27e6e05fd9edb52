"""Your own image (a file, or a drawing from the pad) as the model's input, with a preview of what it sees.

The image is brought to the model's size and channels by the training data's rule (decode.py: centre
crop, bicubic resize, transparency over white, colour to grey by luma). Then the background: the mean
brightness of the image's outer frame (1/14 of the side wide: 2 pixels at 28x28) decides whether it is
light (above mid-grey, 127.5) or dark. When that differs from the training data's background (dark for
Fashion-MNIST and MNIST: a bright object on black; `Dataset.background()` tells for an image folder) the
image is inverted, so a black drawing on white paper reaches the model as a white drawing on black.
Last, the image becomes the model's input exactly as training data does (binarized at 0.5 for the
Bernoulli likelihood, grey levels otherwise), and the preview shows those values as pixels.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from vaestudio.core.architecture import Architecture
from vaestudio.core.data.dataset import border_mean, shown
from vaestudio.core.data.decode import ImageDecodeError, decode_image, read_image_file, to_pixels
from vaestudio.core.data.preprocess import preprocess
from vaestudio.core.errors import DataError

MID_GREY = 127.5
BACKGROUNDS = ("dark", "light")


@dataclass(frozen=True, eq=False)
class OwnImage:
    """An image of the user's (a file, or a drawing from the pad) ready for the encoder: the one kind of own
    image of vaestudio (the window's latent view keeps them too).

    `name` is what the user sees; `inputs` is float32 (H, W, C), what the encoder receives; `preview` is
    uint8 (H, W) grey or (H, W, 3) colour, the same values as pixels (0 or 255 when binarized); `source`
    is the file's path, or 'drawing'; `inverted` says whether a light background was turned dark.
    """

    name: str
    inputs: np.ndarray
    preview: np.ndarray
    source: str = ""
    inverted: bool = False
    label: int | None = None  # the class a conditional model encodes it with (None: the class chosen on the plane)

    @property
    def model_input(self) -> np.ndarray:
        """`inputs` as a batch of one, (1, H, W, C)."""
        return self.inputs[None]


def prepare_own_image(source: str | os.PathLike | np.ndarray, architecture: Architecture, *,
                      invert: bool | None = None, background: str = "dark") -> OwnImage:
    """The encoder's input for an image file (any size, colour, PNG/JPEG/BMP/GIF/WebP) or an array.

    Arrays (a drawing) are (H, W) grey, (H, W, 1), or (H, W, 3) colour; uint8 in 0..255, or floating
    point in [0, 1] (values outside are clipped). `invert` None decides by the border and `background`
    (the training data's: 'dark' or 'light'; see the module docstring); True or False forces it.
    DataError naming the file when a file cannot be read or decoded; ValueError for a malformed array.
    """
    if background not in BACKGROUNDS:
        raise ValueError(f"background must be 'dark' or 'light', got {background!r}")
    size, channels = architecture.image_size, architecture.channels
    if isinstance(source, np.ndarray):
        pixels, path, name = _array_pixels(source, size, channels), "drawing", "drawing"
    else:
        path = os.fsdecode(source)
        name = shown(os.path.basename(path) or path)
        try:
            data, _status = read_image_file(source)
            pixels = decode_image(data, size, channels)
        except ImageDecodeError as exc:
            raise DataError(f"{shown(path)}: {exc}") from None
    light = border_mean(pixels[None]) > MID_GREY
    inverted = (light != (background == "light")) if invert is None else bool(invert)
    if inverted:
        pixels = 255 - pixels
    model_input = preprocess(pixels[None], architecture)
    preview = np.rint(model_input[0] * 255.0).astype(np.uint8)
    if channels == 1:
        preview = preview[..., 0]
    model_input.flags.writeable = False
    preview.flags.writeable = False
    return OwnImage(name, model_input[0], preview, path, inverted)


def _array_pixels(array: np.ndarray, size: int, channels: int) -> np.ndarray:
    """A drawing as uint8 pixels of the model's size and channels."""
    from PIL import Image

    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3) or 0 in array.shape:
        raise ValueError(f"an image array must be (H, W), (H, W, 1) or (H, W, 3), got shape {array.shape}")
    if array.dtype == np.uint8:
        pixels = array
    elif np.issubdtype(array.dtype, np.floating) or array.dtype == bool:
        values = np.asarray(array, dtype=np.float32)
        if not np.isfinite(values).all():
            raise ValueError("an image array must not hold NaN or infinite values")
        pixels = np.rint(np.clip(values, 0.0, 1.0) * 255.0).astype(np.uint8)
    else:
        raise ValueError(f"an image array must be uint8 (0..255) or floating point (0..1), got {array.dtype}")
    if pixels.shape[:2] == (size, size) and (pixels.ndim == 2) == (channels == 1):
        return np.array(pixels)
    try:
        return to_pixels(Image.fromarray(np.ascontiguousarray(pixels)), size, channels)
    except ImageDecodeError as exc:
        raise ValueError(f"image array of shape {pixels.shape}: {exc}") from None
