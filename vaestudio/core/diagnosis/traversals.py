"""The traversal sheet: what each latent dimension does, one row per dimension.

Rows are sorted by the dimension's KL against N(0, I) (largest first; probes.kl_per_dimension, N(0, I)'s
whatever the prior); a row decodes a base point — the posterior mean of a chosen image, or the origin —
with that one coordinate swept across ±`span` standard deviations of the test set's posterior means in
that dimension (the spread the encoder actually uses), the other coordinates held. Dimensions that are
not active (Burda: Cov_x E_q[z_d] <= 0.01) are flagged, and the mosaic dims them. A conditional model's
sheet decodes for one chosen class (the plane's, or `--class`), its test images encoded with their own
classes. A pure function of (the snapshot's weights, the test images, their classes, the chosen class).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vaestudio.core import latent, probes
from vaestudio.core.numpy_vae import NumpyVAE
from vaestudio.core.weights import VaeWeights

STEPS = 9  # images per row
SPAN = 3.0  # the sweep reaches ±SPAN test-set standard deviations
_DIMMED_GAIN, _DIMMED_OFFSET = 0.35, 70  # an inactive row: its images pushed toward a flat grey


@dataclass(frozen=True, eq=False)
class TraversalSheet:
    """The rows of a traversal sheet, in display order (KL descending)."""

    rows: np.ndarray = field(repr=False)  # uint8 (d, steps, H, W[, 3]), row r sweeps dimension order[r]
    order: tuple[int, ...]  # the latent dimension of each row
    kl_per_dimension: np.ndarray = field(repr=False)  # float64 (d,), by dimension (not by row)
    active: tuple[bool, ...]  # per row
    sweeps: np.ndarray = field(repr=False)  # float32 (d, steps): the swept coordinate's values in each row
    base: np.ndarray = field(repr=False)  # float32 (d,): the point every row starts from
    spread: np.ndarray = field(repr=False)  # float64 (d,): std of the test posterior means, by dimension
    image_index: int | None = None  # the test image whose posterior mean is the base; None: the origin
    decode_class: int | None = None  # the class a conditional model's rows decode for; None: no classes

    def label(self, row: int) -> str:
        """e.g. 'z3  KL 2.14' or 'z1  KL 0.00 (inactive)'."""
        dim = self.order[row]
        return f"z{dim + 1}  KL {self.kl_per_dimension[dim]:.2f}" + ("" if self.active[row] else " (inactive)")


def traversal_sheet(model: NumpyVAE | VaeWeights, test_images: np.ndarray, image: int | np.ndarray | None = None,
                    steps: int = STEPS, span: float = SPAN,
                    posterior: probes.Posterior | None = None, labels=None,
                    label: int | None = None) -> TraversalSheet:
    """The sheet for `model` on `test_images`, based at test image `image` (an index), at a picture of its
    own (uint8 or model inputs, one image), or at the origin (None). `posterior`: the test images'
    posteriors when already encoded (e.g. the window's encodings), to save encoding them again. A
    conditional model's: `labels`, the test images' classes (for encoding them); `label`, the class the
    rows are decoded for (and an own picture encoded with; None: labels.DEFAULT_CLASS)."""
    from vaestudio.core.zoo.labels import DEFAULT_CLASS

    vae = probes.as_vae(model)
    classes = vae.architecture.classes
    if label is not None and not classes:
        raise ValueError("a class applies only to a conditional model's traversal sheet")
    if classes:
        label = DEFAULT_CLASS if label is None else label
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label < classes:
            raise ValueError(f"the class must be between 0 and {classes - 1}, got {label!r}")
        label = int(label)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 2:
        raise ValueError(f"steps must be a whole number of at least 2, got {steps!r}")
    if not np.isfinite(span) or span <= 0:
        raise ValueError(f"span must be a positive number of standard deviations, got {span!r}")
    if posterior is None:
        posterior = probes.encode(vae, test_images, labels if classes else None)
    mean = np.asarray(posterior.mean, np.float64)
    kl = probes.kl_per_dimension(posterior.mean, posterior.logvar)
    active = probes.active_units(mean)
    spread = mean.std(axis=0)
    dim = vae.architecture.latent_dim
    index = None
    if image is None:
        base = np.zeros(dim, np.float32)
    elif isinstance(image, (int, np.integer)) and not isinstance(image, bool):
        if not 0 <= image < len(mean):
            raise ValueError(f"image {image} is not a test image index (0..{len(mean) - 1})")
        index, base = int(image), np.asarray(posterior.mean[image], np.float32)
    else:
        base = probes.encode(vae, np.asarray(image)[None], label).mean[0]
    order = tuple(int(d) for d in np.argsort(-kl, kind="stable"))
    offsets = np.linspace(-span, span, steps)
    sweeps = np.empty((dim, steps), np.float32)
    points = np.repeat(base[None, None, :], dim, axis=0).repeat(steps, axis=1)  # (rows, steps, d)
    for row, d in enumerate(order):
        sweeps[row] = base[d] + offsets * spread[d]
        points[row, :, d] = sweeps[row]
    images = vae.decode_uint8(points.reshape(-1, dim), label)
    return TraversalSheet(images.reshape(dim, steps, *images.shape[1:]), order, kl,
                          tuple(bool(active.variances[d] > probes.ACTIVE_THRESHOLD) for d in order),
                          sweeps, base, spread, index, decode_class=label)


def sheet_mosaic(sheet: TraversalSheet, dim_inactive: bool = True) -> np.ndarray:
    """The sheet as one uint8 picture: a row of images per dimension, top row the largest KL; inactive
    rows dimmed toward grey when `dim_inactive`."""
    strips = []
    for row, images in enumerate(sheet.rows):
        picture = latent.strip(images)
        if dim_inactive and not sheet.active[row]:
            picture = (picture * _DIMMED_GAIN + _DIMMED_OFFSET).astype(np.uint8)
        strips.append(picture)
    return np.concatenate(strips, axis=0)


def sheet_caption(sheet: TraversalSheet) -> str:
    """One line: which dimension each row sweeps, and from where."""
    start = "the origin" if sheet.image_index is None else f"test image {sheet.image_index}"
    rows = ", ".join(f"z{d + 1}" + ("" if a else "*") for d, a in zip(sheet.order, sheet.active))
    decoded = "" if sheet.decode_class is None else f", class {sheet.decode_class}"
    return f"rows {rows} (* inactive), ±{_span_of(sheet):g} sd from {start}{decoded}"


def save_sheet(sheet: TraversalSheet, path: str | Path, scale: int = 2, frame_seconds: float = 0.15) -> Path:
    """Write the sheet as a PNG (the mosaic) or, for a .gif path, an animation whose frame k shows every
    row's k-th image side by side (the sweep played back and forth)."""
    from vaestudio.core.store.images import save_gif, save_png

    path = Path(path)
    caption = sheet_caption(sheet)
    if path.suffix.lower() == ".gif":
        steps = sheet.rows.shape[1]
        columns = list(range(steps)) + list(range(steps - 2, 0, -1))
        frames = []
        for k in columns:
            tiles = sheet.rows[:, k]
            frames.append(latent.strip(np.stack([t if a else (t * _DIMMED_GAIN + _DIMMED_OFFSET).astype(np.uint8)
                                                 for t, a in zip(tiles, sheet.active)])))
        return save_gif(frames, path, frame_seconds, [caption] * len(frames), scale)
    return save_png(sheet_mosaic(sheet), path, caption, scale)


def _span_of(sheet: TraversalSheet) -> float:
    row = int(np.argmax(sheet.spread[list(sheet.order)] > 0)) if np.any(sheet.spread > 0) else None
    if row is None:
        return SPAN
    d = sheet.order[row]
    return round(float((sheet.sweeps[row, -1] - sheet.base[d]) / sheet.spread[d]), 2)
