"""What each part of a moment's pictures is (gui.state.explorer schedules them): a function of the moment's
NumPy VAE, the test images and the latent view's settings, returned ready to run on a worker thread with
copies of what it needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from vaestudio.core.zoo.labels import conditional_labels as _labels, own_image_labels as _own_labels
from vaestudio.gui.state.latent_view import ALL_CLASSES, Endpoint, LatentView

if TYPE_CHECKING:
    from vaestudio.gui.state.explorer import Probe


@dataclass(frozen=True, eq=False)
class OwnEncoding:
    mean: np.ndarray  # (d,)
    logvar: np.ndarray  # (d,)
    reconstruction: np.ndarray  # uint8 image



def part_task(part: str, vae, probe: "Probe | None", view: LatentView, grid_size: int, spacing: str
              ) -> Callable[[], dict[str, Any]] | None:
    """A function computing `part` of the moment (one of explorer.PARTS) as the Pictures fields it sets;
    None when it cannot be computed (no test images). `spacing`: the grid's ("linear" or "quantile")."""
    from vaestudio.core import probes

    if part == "grid":
        n, axes, held = grid_size, view.axes, np.asarray(view.held, np.float32)
        chosen = view.decode_class if view.classes else None
        if chosen == ALL_CLASSES:
            from vaestudio.core.zoo.class_grid import class_rows

            return lambda: {"grid": class_rows(vae, n, axes[0], held, spacing), "grid_axes": axes,
                            "grid_spacing": spacing, "grid_class": chosen}
        return lambda: {"grid": vae.grid(n, axes if vae.architecture.latent_dim > 1 else (0, 0), held, spacing,
                                         chosen), "grid_axes": axes, "grid_spacing": spacing, "grid_class": chosen}
    if part == "encodings":
        if probe is None:
            return None

        def encodings():
            posterior = probes.encode(vae, probe.images, _labels(vae, probe.labels))
            active = probes.active_units(posterior.mean)
            return {"means": posterior.mean, "logvars": posterior.logvar,
                    "kl_per_dimension": probes.kl_per_dimension(posterior.mean, posterior.logvar),
                    "active_variances": active.variances, "active_count": active.count}

        return encodings
    if part == "reconstructions":
        if probe is None:
            return None
        indices = probe.first_of_each_class() + tuple(i for i in view.reconstruction_extra
                                                      if 0 <= i < len(probe.images))
        images, labels = probe.images[list(indices)], _labels(vae, probe.labels[list(indices)])
        return lambda: {"reconstructions": probes.reconstruct(vae, images, labels=labels),
                        "reconstruction_indices": indices}
    if part == "own":
        own, label = view.own_images, view.single_label
        if not own:
            return lambda: {"own": ()}

        def encode_own():
            inputs = np.stack([image.inputs for image in own])
            labels = _own_labels(vae, own, label)
            mean, logvar = vae.encode(inputs, labels)
            recon = vae.decode_uint8(mean, labels)
            return {"own": tuple(OwnEncoding(mean[i], logvar[i], recon[i]) for i in range(len(own)))}

        return encode_own
    if part == "interpolation":
        ends = (view.endpoint_a, view.endpoint_b)
        if any(end is None for end in ends):
            return lambda: {"interpolation": None}
        method, frames, own = view.interpolation_method, view.interpolation_frames, view.own_images
        label = view.single_label

        def interpolation():  # endpoints are encoded here, off the UI thread (a drawing updates often)
            z = [_endpoint_z(vae, end, probe, own, label) for end in ends]
            if any(v is None for v in z):
                return {"interpolation": None}
            return {"interpolation": probes.interpolate(vae, z[0], z[1], frames, method, label)}

        return interpolation
    raise ValueError(f"unknown part {part!r}")


def _endpoint_z(vae, endpoint: Endpoint, probe: Probe | None, own_images, label: int | None = None
                ) -> np.ndarray | None:
    """An endpoint's latent point at this moment: test and own images are encoded by this moment's model
    (a conditional model's test image with its true class, an own image with its class or `label`)."""
    from vaestudio.core import probes

    if endpoint.kind == "point":
        return np.asarray(endpoint.z, np.float32)
    if endpoint.kind == "test" and probe is not None and 0 <= endpoint.index < len(probe.images):
        chosen = slice(endpoint.index, endpoint.index + 1)
        return probes.encode(vae, probe.images[chosen], _labels(vae, probe.labels[chosen])).mean[0]
    if endpoint.kind == "own" and 0 <= endpoint.index < len(own_images):
        image = own_images[endpoint.index]
        return vae.encode(image.inputs[None], _own_labels(vae, (image,), label))[0][0]
    return None

