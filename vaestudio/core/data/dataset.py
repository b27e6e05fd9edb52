"""`Dataset`: the train/test images and labels every source (published, image folder, synthetic) yields."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

TITLES = {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST digits", "synthetic": "Synthetic shapes",
          "image_folder": "Image folder"}
# How many skipped files a one-line description names.
NAMED_SKIPS = 3


def shown(path: str | os.PathLike | bytes) -> str:
    """A path as one line of text that can always be printed: undecodable bytes (b'\\xff') appear as
    '\\xff', control and line-separating characters as escapes ('\\n', '\\u2028')."""
    text = os.fsdecode(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def frozen(array: np.ndarray, dtype: type | None = np.uint8) -> np.ndarray:
    """A contiguous read-only array (of `dtype` unless None)."""
    array = np.ascontiguousarray(array, dtype=dtype)
    array.flags.writeable = False
    return array


@dataclass(frozen=True)
class Skipped:
    """A file that was not used, and why ('truncated image file', 'a FIFO, not a regular file', ...)."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{shown(self.path)} ({self.reason})"


@dataclass(frozen=True)
class Dataset:
    """Train and test images with their labels.

    Images are uint8 in 0..255, (N, H, W) grey or (N, H, W, 3) colour; labels are integers (N,) indexing
    `class_names`. `source` says where the images came from; `skipped` lists the files that could not be
    used (image folders only), in path order.
    """

    name: str
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str
    class_names: tuple[str, ...]
    skipped: tuple[Skipped, ...] = field(default=())

    def __post_init__(self) -> None:
        for images, labels, part in ((self.train_images, self.train_labels, "train"),
                                     (self.test_images, self.test_labels, "test")):
            if images.dtype != np.uint8 or images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[3] != 3):
                raise ValueError(f"{part} images must be uint8 (N, H, W) or (N, H, W, 3), got {images.dtype} "
                                 f"{images.shape}")
            if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
                raise ValueError(f"{part} labels must be integers of shape ({len(images)},), got {labels.dtype} "
                                 f"{labels.shape}")
        if self.train_images.shape[1:] != self.test_images.shape[1:]:
            raise ValueError(f"train images {self.train_images.shape[1:]} and test images "
                             f"{self.test_images.shape[1:]} differ in size")

    @property
    def image_size(self) -> int:
        return int(self.train_images.shape[1])

    @property
    def channels(self) -> int:
        return 1 if self.train_images.ndim == 3 else int(self.train_images.shape[3])

    def describe(self) -> str:
        """One line, e.g. 'Fashion-MNIST, 60000 train / 10000 test images from /usr/share/datasets/...'."""
        title = TITLES.get(self.name, self.name)
        counts = f"{len(self.train_images)} train / {len(self.test_images)} test images"
        if self.name != "image_folder":
            return f"{title}, {counts} from {self.source}"
        colour = "grey" if self.channels == 1 else "colour"
        classes = len(self.class_names)
        line = (f"{title}, {counts} ({self.image_size}x{self.image_size} {colour}, {classes} "
                f"class{'es' if classes != 1 else ''}) from {shown(self.source)}")
        if self.skipped:
            named = ", ".join(str(s) for s in self.skipped[:NAMED_SKIPS])
            more = f" and {len(self.skipped) - NAMED_SKIPS} more" if len(self.skipped) > NAMED_SKIPS else ""
            line += f"; skipped {len(self.skipped)} file{'s' if len(self.skipped) != 1 else ''}: {named}{more}"
        return line

    def background(self) -> str:
        """'dark' when the training images' borders are dark on average (Fashion-MNIST, MNIST), else 'light'."""
        sample = self.train_images[:1000]
        return "light" if len(sample) and border_mean(sample) > 127.5 else "dark"


def border_mean(images: np.ndarray) -> float:
    """Mean brightness (0..255) of the outer frames of images (N, H, W) or (N, H, W, C), each frame 1/14 of
    the side wide (2 pixels at 28x28, 4 at 64x64); a colour pixel counts as the mean of its channels."""
    images = np.asarray(images)
    height, width = images.shape[1:3]
    band = max(1, min(height, width) // 14)
    inner = np.zeros((height, width), dtype=bool)
    inner[band:height - band, band:width - band] = True
    frame = images[:, ~inner]
    return float(frame.mean(dtype=np.float64)) if frame.size else 0.0
