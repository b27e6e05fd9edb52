"""The interpolation and the user's own images on the latent plane: the path from A to B with a dot per
frame and its two end discs, and each own image's encoding with its posterior's one-sigma ellipse.

Drawn from the explorer's pictures (and, for endpoints that are not yet part of an interpolation, from
encodings already computed); nothing here computes anything with the model.
"""

from __future__ import annotations

import numpy as np

from vaestudio.gui.panels import plane_items as items
from vaestudio.gui.panels.plane_geometry import PlaneGeometry
from vaestudio.gui.state.latent_view import Endpoint
from vaestudio.gui.state.studio import Studio


class PathAndOwnMarks:
    """The plot items of the interpolation path and of the own images, kept in step with the pictures."""

    def __init__(self, studio: Studio, geometry: PlaneGeometry):
        self.view, self.explorer, self.geometry = studio.view, studio.explorer, geometry
        self.ellipses_item = items.PosteriorEllipses()
        self.own_item = items.OwnMarkers()
        self.path_item = items.PathLine()
        self.frames_item = items.PathFrames()
        self.endpoint_items = {"a": items.EndpointMarker("A"), "b": items.EndpointMarker("B")}
        for item in self.endpoint_items.values():
            item.hide()
        self._drawn: dict[str, object] = {}  # what each part last drew from (identity), to skip redraws

    @property
    def items(self) -> tuple:
        return (self.ellipses_item, self.own_item, self.path_item, self.frames_item, *self.endpoint_items.values())

    def forget(self) -> None:
        """Draw everything again next time (the axes, scale or run changed)."""
        self._drawn.clear()

    def draw(self, pictures) -> None:
        self._draw_own(pictures)
        self._draw_interpolation(pictures)

    def _draw_own(self, pictures) -> None:
        own = pictures.own if pictures.vae is not None else None
        if self._drawn.get("own", ()) is own:
            return
        self._drawn["own"] = own
        scale = self.geometry.scale
        if not own:
            self.own_item.setData([], [])
            self.ellipses_item.set_ellipses(np.zeros((0, 2)), np.zeros((0, 2)), scale)
            return
        means = np.stack([encoding.mean for encoding in own]).astype(np.float64)
        sigmas = np.exp(0.5 * np.stack([encoding.logvar for encoding in own]).astype(np.float64))
        x, y = self.geometry.project(means)
        names = [image.name for image in self.view.own_images]
        self.own_item.setData(x=x, y=y, data=[names[i] if i < len(names) else f"own image {i + 1}"
                                              for i in range(len(own))])
        x_axis, y_axis = self.view.axes
        if self.geometry.one_d:
            self.ellipses_item.set_ellipses(np.zeros((0, 2)), np.zeros((0, 2)), scale)
        else:
            self.ellipses_item.set_ellipses(means[:, [x_axis, y_axis]], sigmas[:, [x_axis, y_axis]], scale)

    def _draw_interpolation(self, pictures) -> None:
        interpolation = pictures.interpolation if pictures.vae is not None else None
        key = (interpolation, self.view.endpoint_a, self.view.endpoint_b)
        drawn = self._drawn.get("interpolation")
        if drawn is not None and all(new is old for new, old in zip(key, drawn)):
            return
        self._drawn["interpolation"] = key
        ends = {"a": self._endpoint_z(self.view.endpoint_a), "b": self._endpoint_z(self.view.endpoint_b)}
        if interpolation is not None:
            x, y = self.geometry.project(interpolation.path)
            self.path_item.set_path(x, y)
            self.frames_item.setData(x=x, y=y)
            if ends["a"] is None:
                ends["a"] = interpolation.path[0]
            if ends["b"] is None:
                ends["b"] = interpolation.path[-1]
        else:
            self.path_item.set_path(None, None)
            self.frames_item.setData([], [])
        for which, item in self.endpoint_items.items():
            z = ends[which]
            if z is None:
                item.hide()
            else:
                item.setPos(*self.geometry.plot_position(z))
                item.show()

    def _endpoint_z(self, endpoint: Endpoint | None) -> np.ndarray | None:
        """Where an endpoint is now, from what is already computed (test and own images: their means)."""
        if endpoint is None:
            return None
        pictures = self.explorer.pictures
        if endpoint.kind == "point":
            return np.asarray(endpoint.z, np.float64) if len(endpoint.z) == self.view.latent_dim else None
        if endpoint.kind == "test" and pictures.means is not None and 0 <= endpoint.index < len(pictures.means):
            return pictures.means[endpoint.index]
        if endpoint.kind == "own" and pictures.own and 0 <= endpoint.index < len(pictures.own):
            return pictures.own[endpoint.index].mean
        return None

    def endpoints_changed(self, *_args) -> None:
        self._draw_interpolation(self.explorer.pictures)
