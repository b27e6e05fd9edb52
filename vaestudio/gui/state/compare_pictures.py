"""A Compare column's pictures, computed on a worker thread from its snapshot's NumPy VAE (gui.state.compare
places the columns and schedules this): the z1 x z2 grid (the one the run recorded when it fits), the
reconstructions of the same test images in every column, their KL per latent dimension, the cursor decoded."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from vaestudio.gui.state.run_history import RunHistory, SnapshotInfo

RECONSTRUCTED = 6  # test images reconstructed per column (one per class, the same in every column)
KL_IMAGES = 500  # test images whose KL per dimension each column shows

__all__ = ["ComparedMoment", "column_pictures", "cursor_image", "fits", "KL_IMAGES", "RECONSTRUCTED"]


@dataclass(frozen=True, eq=False)
class ComparedMoment:
    """One column: a run's snapshot at the shared point, and its pictures once computed."""

    history: RunHistory
    info: SnapshotInfo | None  # None: the run has no snapshot at or before the point
    position: float | None = None  # the snapshot's place in the alignment unit
    loaded: bool = False  # the pictures below are computed (or cannot be)
    vae: Any = None  # core.numpy_vae.NumpyVAE of the snapshot
    grid: np.ndarray | None = None  # uint8: z1 x z2, the other coordinates at 0, the tutorial's quantiles
    originals: np.ndarray | None = None  # uint8 test images reconstructed
    reconstructions: Any = None  # core.probes.Reconstructions of `originals`
    kl_per_dimension: np.ndarray | None = None
    note: str = ""  # why a picture is missing


def cursor_image(vae, cursor: np.ndarray) -> np.ndarray | None:
    """The cursor decoded by `vae` (a run of another latent size: the cursor's first coordinates, else 0)."""
    if vae is None:
        return None
    z = np.zeros(vae.architecture.latent_dim, np.float32)
    z[:min(len(z), len(cursor))] = cursor[:len(z)]
    return vae.decode_uint8(z[None])[0]


def fits(probe, arch) -> bool:
    """The probe's images are of the model's size and colour, and a conditional model knows their classes."""
    return (probe.images.shape[1:3] == (arch.image_size, arch.image_size)
            and (probe.images.ndim == 3) == (arch.channels == 1)
            and (not arch.classes or not len(probe.labels) or int(np.max(probe.labels)) < arch.classes))


def _recorded_grid(moment: ComparedMoment, grid_size: int, arch) -> np.ndarray | None:
    """The grid the run recorded with the snapshot, when it is the column's (the tutorial's quantiles over
    z1 x z2, the other coordinates at 0, a conditional model's first class, `grid_size` tiles a side): the
    explorer shows the same one, and decoding it again was most of a column's time."""
    mosaic = moment.history.mosaic_at(moment.info)
    height, width, _channels = arch.image_shape
    rows = grid_size if arch.latent_dim > 1 else 1
    if mosaic is None or mosaic.shape[:2] != (rows * height, grid_size * width):
        return None
    return mosaic


def column_pictures(task, moment: ComparedMoment, grid_size: int, probes: list, kept: tuple | None = None
                    ) -> ComparedMoment:
    """A column's pictures from its snapshot's weights (a worker thread; checked between parts). `kept`:
    (probe, NumPy VAE, Posterior of the probe's images) the explorer computed of this moment, taken as they are."""
    from vaestudio.core import probes as probe_functions
    from vaestudio.core.numpy_vae import NumpyVAE
    from vaestudio.core.zoo.labels import conditional_labels

    if kept is not None:
        vae = kept[1]
    else:
        weights = moment.history.weights_at(moment.info)
        if weights is None:
            return dataclasses.replace(moment, loaded=True, grid=moment.history.mosaic_at(moment.info),
                                       note="recorded without model weights: only its grid can be shown")
        vae = NumpyVAE(weights)
    arch = vae.architecture
    task.check()
    grid = _recorded_grid(moment, grid_size, arch)
    if grid is None:
        grid = vae.grid(grid_size, (0, 1) if arch.latent_dim > 1 else (0, 0), np.zeros(arch.latent_dim, np.float32),
                        "quantile")
    task.check()
    probe = next((p for p in probes if fits(p, arch)), None)
    if probe is None:
        return dataclasses.replace(moment, loaded=True, vae=vae, grid=grid,
                                   note="test images not loaded: no reconstructions or KL")
    indices = list(probe.first_of_each_class()[:RECONSTRUCTED])
    originals = probe.images[indices]
    # a conditional model encodes and reconstructs each test image with its own class
    reconstructions = probe_functions.reconstruct(vae, originals,
                                                  labels=conditional_labels(vae, probe.labels[indices]))
    task.check()
    if kept is not None and kept[0] is probe:
        means, logvars = kept[2].mean[:KL_IMAGES], kept[2].logvar[:KL_IMAGES]
    else:
        means, logvars = probe_functions.encode(vae, probe.images[:KL_IMAGES],
                                                conditional_labels(vae, probe.labels[:KL_IMAGES]))
    kl = probe_functions.kl_per_dimension(means, logvars)
    return dataclasses.replace(moment, loaded=True, vae=vae, grid=grid, originals=originals,
                               reconstructions=reconstructions, kl_per_dimension=kl)
