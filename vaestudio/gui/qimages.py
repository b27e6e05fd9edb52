"""NumPy pictures as Qt images: the one converter every panel uses."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap


def to_qimage(image: np.ndarray, copy: bool = True) -> QImage:
    """A uint8 grey (H, W) or (H, W, 1) or colour (H, W, 3) array, or uint32 (H, W) 0xffRRGGBB words, as a
    QImage. `copy` False shares the array's memory (keep the array alive while the image is in use)."""
    words = np.asarray(image).dtype == np.uint32
    array = np.ascontiguousarray(image, dtype=np.uint32 if words else np.uint8)
    if array.ndim == 3 and array.shape[2] == 1:
        array = np.ascontiguousarray(array[..., 0])
    if not copy and not np.may_share_memory(array, image):
        raise ValueError(f"an image of shape {np.shape(image)} and dtype {np.asarray(image).dtype} cannot share "
                         "its memory with a QImage: pass a C-contiguous array")
    height, width = array.shape[:2]
    if words and array.ndim == 2:
        picture = QImage(array.data, width, height, 4 * width, QImage.Format.Format_RGB32)
    elif not words and array.ndim == 2:
        picture = QImage(array.data, width, height, width, QImage.Format.Format_Grayscale8)
    elif not words and array.ndim == 3 and array.shape[2] == 3:
        picture = QImage(array.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    else:
        raise ValueError(f"an image must be (H, W) or (H, W, 3) uint8 or (H, W) uint32, got shape {array.shape} "
                         f"{array.dtype}")
    return picture.copy() if copy else picture  # a copy owns its pixels (detached from the NumPy buffer)


def to_pixmap(image: np.ndarray, size: int | None = None) -> QPixmap:
    """`image` (see `to_qimage`) as a pixmap, scaled to fit `size` pixels a side with sharp pixels."""
    picture = to_qimage(image)
    if size is not None:
        picture = picture.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                 Qt.TransformationMode.FastTransformation)
    return QPixmap.fromImage(picture)
