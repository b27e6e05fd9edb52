"""TensorBoard Projector files of the test set's latent codes, so `tensorboard --logdir DIR` shows them with
their images (the Projector tab reads `projector_config.pbtxt` at the log folder's top; no checkpoint needed
when the embedding names its tensor file).

    DIR/projector_config.pbtxt  one embedding: tensor_path, metadata_path and the sprite
    DIR/tensors.tsv             one row per image: its posterior mean, tab-separated
    DIR/metadata.tsv            a header `index	label	class`, then one row per image
    DIR/sprite.png              the images in a square grid, row by row, in the rows' order

At most `limit` images (the first of the test set), and never more than fit a sprite of 8192 x 8192 pixels,
the Projector's largest.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from vaestudio.core.errors import ConfigError
from vaestudio.core.export.latents import Codes
from vaestudio.core.export.target import staged_folder

CONFIG = "projector_config.pbtxt"
DEFAULT_LIMIT = 10_000
MAX_SPRITE_SIDE = 8192
TENSOR_NAME = "vae_posterior_mean"
FILES = frozenset({CONFIG, "tensors.tsv", "metadata.tsv", "sprite.png"})  # a folder holding more is not replaced


def projector_limit(image_size: int, limit: int | None = None) -> int:
    """How many images the projector files hold: `limit` (default 10 000), capped by the sprite's size."""
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {limit}")
    per_side = MAX_SPRITE_SIDE // image_size
    return min(DEFAULT_LIMIT if limit is None else limit, per_side * per_side)


def write_projector(codes: Codes, folder: str | Path, limit: int | None = None) -> tuple[Path, int]:
    """The four files in `folder` (replacing an earlier projector export there); (folder, images written)."""
    count = min(len(codes.mean), projector_limit(codes.pictures.shape[1], limit))
    side = codes.pictures.shape[1]
    with staged_folder(folder, marker=CONFIG, only=FILES) as staging:
        rows = "".join("\t".join(repr(float(v)) for v in mean) + "\n" for mean in codes.mean[:count])
        (staging / "tensors.tsv").write_text(rows, encoding="utf-8")
        lines = ["index\tlabel\tclass"] + [f"{i}\t{int(label)}\t{_tsv(codes.class_of(int(label)))}"
                                           for i, label in enumerate(codes.labels[:count])]
        (staging / "metadata.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        _save_sprite(sprite(codes.pictures[:count]), staging / "sprite.png")
        (staging / CONFIG).write_text(projector_config(side), encoding="utf-8")
    return Path(folder), count


def projector_config(image_side: int) -> str:
    return (f'embeddings {{\n  tensor_name: "{TENSOR_NAME}"\n  tensor_path: "tensors.tsv"\n'
            f'  metadata_path: "metadata.tsv"\n  sprite {{\n    image_path: "sprite.png"\n'
            f"    single_image_dim: {image_side}\n    single_image_dim: {image_side}\n  }}\n}}\n")


def sprite(pictures: np.ndarray) -> np.ndarray:
    """`pictures` (N, H, W[, C]) as one uint8 image: a ceil(sqrt(N)) square grid, filled row by row."""
    images = _uint8(pictures)
    if images.ndim == 3:
        images = images[..., None]
    count, height, width, channels = images.shape
    per_row = max(1, math.ceil(math.sqrt(count)))
    rows = math.ceil(count / per_row)
    grid = np.zeros((rows * height, per_row * width, channels), np.uint8)
    for index, image in enumerate(images):
        row, column = divmod(index, per_row)
        grid[row * height:(row + 1) * height, column * width:(column + 1) * width] = image
    return grid[..., 0] if channels == 1 else grid


def _uint8(pictures: np.ndarray) -> np.ndarray:
    array = np.asarray(pictures)
    if array.dtype == np.uint8:
        return array
    return np.clip(np.rint(array.astype(np.float32) * 255), 0, 255).astype(np.uint8)


def _save_sprite(image: np.ndarray, path: Path) -> None:
    from PIL import Image

    Image.fromarray(image).save(path, format="PNG")


def _tsv(text: str) -> str:
    """A metadata field: tabs and line breaks would split it."""
    return " ".join(str(text).split())
