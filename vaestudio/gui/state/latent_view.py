"""How the latent space is being looked at: axes, held coordinates, cursor, interpolation endpoints, own images.

Qt-free and evented (psygnal): every field emits `view.events.<field>(new_value)` when it changes, so
panels subscribe to what they show and send user actions back through the methods here. Every field is
checked when it is assigned (`view.axes = (5, 5)` raises a ValueError naming the value), whether through
a method or directly. Endpoints and own images are described by what they are (a test image, an own image, a point),
not by a latent vector, so they follow the model when the moment of training changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from psygnal import evented

from vaestudio.core.data.own_image import OwnImage

SCALES = ("linear", "probit")
METHODS = ("linear", "spherical")
MAX_FRAMES = 64
ALL_CLASSES = -1  # a conditional model's grid decoded for every class: one row per class
MAX_CLASSES = 1000
Z_LIMIT = 6.0  # the cursor and held coordinates stay within ±6 (the prior puts 1e-9 of its mass beyond)


@dataclass(frozen=True)
class Endpoint:
    """One end of an interpolation: a test image or an own image (encoded at the current moment), or a
    fixed latent point (picked on the plane)."""

    kind: str  # "test", "own" or "point"
    index: int = -1  # test image index, or own image position
    z: tuple[float, ...] = ()  # for "point"
    label: str = ""

    @classmethod
    def test_image(cls, index: int, label: str = "") -> "Endpoint":
        return cls("test", int(index), (), label or f"test image {index}")

    @classmethod
    def own_image(cls, index: int, label: str = "") -> "Endpoint":
        return cls("own", int(index), (), label or f"own image {index + 1}")

    @classmethod
    def point(cls, z) -> "Endpoint":
        z = tuple(float(v) for v in np.asarray(z, dtype=float).ravel())
        return cls("point", -1, z, "(" + ", ".join(f"{v:+.2f}" for v in z[:4]) + (", …)" if len(z) > 4 else ")"))


@evented
@dataclass
class LatentView:
    """The view of the latent space shared by the plane, the preview and the explorer panels."""

    latent_dim: int = 2
    axes: tuple[int, int] = (0, 1)
    held: tuple[float, ...] = (0.0, 0.0)  # every coordinate's value off the plane (those on it are ignored)
    cursor: tuple[float, ...] = (0.0, 0.0)  # the full latent point under the cursor
    scale: str = "linear"  # the plane's axes: linear in z, or probit (the grid's quantiles evenly spaced)
    overlay_visible: bool = True
    endpoint_a: Endpoint | None = None
    endpoint_b: Endpoint | None = None
    interpolation_method: str = "linear"
    interpolation_frames: int = 10
    own_images: tuple[OwnImage, ...] = ()
    reconstruction_extra: tuple[int, ...] = ()  # test images the user added to the reconstruction strip
    inspected_test_image: int | None = None  # the test image last clicked on the overlay
    dimension_order: tuple[int, ...] = field(default=(0, 1))  # dimensions by KL, most informative first
    classes: int = 0  # a conditional model's number of classes (0: the model takes no class)
    decode_class: int = 0  # the class the plane, grid and preview decode for, or ALL_CLASSES (grid rows)

    # -- changes, checked ---------------------------------------------------------------------------------
    def reset(self, latent_dim: int) -> None:
        """A model of `latent_dim` dimensions: axes z1/z2, everything at the origin, endpoints cleared."""
        d = int(latent_dim)
        if not 1 <= d <= 64:
            raise ValueError(f"latent_dim must be between 1 and 64, got {latent_dim!r}")
        with self.events.paused():
            self.latent_dim = d
            self.axes = (0, 1 if d > 1 else 0)
            self.held = (0.0,) * d
            self.cursor = (0.0,) * d
            self.endpoint_a = None
            self.endpoint_b = None
            self.inspected_test_image = None
            self.dimension_order = tuple(range(d))

    def set_axes(self, x_axis: int, y_axis: int) -> None:
        """Show z[x_axis] horizontally and z[y_axis] vertically; the cursor keeps its full position."""
        self.axes = (x_axis, y_axis)

    def set_held(self, dimension: int, value: float) -> None:
        """The value of a coordinate off the plane (a held-coordinate slider); the cursor follows it."""
        if not 0 <= dimension < self.latent_dim:
            raise ValueError(f"no latent dimension {dimension}")
        value = _clamped(value)
        held = list(self.held)
        held[dimension] = value
        cursor = list(self.cursor)
        if dimension not in self.axes:
            cursor[dimension] = value
        with self.events.paused():  # one event each, after both are consistent
            self.held = tuple(held)
            self.cursor = tuple(cursor)

    def move_cursor_on_plane(self, x: float, y: float) -> None:
        """The cursor moved to (x, y) on the plane: the two shown coordinates change, the rest are held."""
        cursor = list(self.held)
        x_axis, y_axis = self.axes
        cursor[x_axis] = _clamped(x)
        if self.latent_dim > 1:
            cursor[y_axis] = _clamped(y)
        self.cursor = tuple(cursor)

    def move_cursor(self, z) -> None:
        """Put the cursor at a full latent point (e.g. an encoded image)."""
        z = np.asarray(z, dtype=float).ravel()
        if z.size != self.latent_dim:
            raise ValueError(f"a point of {z.size} coordinates in a {self.latent_dim}-d latent space")
        self.cursor = tuple(_clamped(v) for v in z)

    def set_endpoint(self, which: str, endpoint: Endpoint | None) -> None:
        if which not in ("a", "b"):
            raise ValueError(f"endpoint {which!r} is not 'a' or 'b'")
        if endpoint is not None and endpoint.kind == "point" and len(endpoint.z) != self.latent_dim:
            raise ValueError(f"an endpoint of {len(endpoint.z)} coordinates in a {self.latent_dim}-d space")
        setattr(self, f"endpoint_{which}", endpoint)

    def pick_endpoint(self, endpoint: Endpoint) -> str:
        """Fill A first, then B, then replace A and B in turn (clicking two points picks a pair)."""
        if self.endpoint_a is None or (self.endpoint_b is not None):
            if self.endpoint_b is not None:
                self.set_endpoint("b", None)
            self.set_endpoint("a", endpoint)
            return "a"
        self.set_endpoint("b", endpoint)
        return "b"

    def set_interpolation(self, method: str | None = None, frames: int | None = None) -> None:
        if method is not None:
            if method not in METHODS:
                raise ValueError(f"interpolation {method!r} is not one of {', '.join(METHODS)}")
            self.interpolation_method = method
        if frames is not None:
            if isinstance(frames, bool) or not 2 <= int(frames) <= MAX_FRAMES:
                raise ValueError(f"frames must be between 2 and {MAX_FRAMES}, got {frames!r}")
            self.interpolation_frames = int(frames)

    def set_scale(self, scale: str) -> None:
        self.scale = scale

    def show_overlay(self, visible: bool) -> None:
        """Show or hide the test-set overlay on the plane."""
        self.overlay_visible = bool(visible)

    def inspect_test_image(self, index: int | None) -> None:
        """The test image clicked on the overlay (None: nothing inspected)."""
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
                raise ValueError(f"a test image index must be a whole number of at least 0, got {index!r}")
            index = int(index)
        self.inspected_test_image = index

    def add_own_image(self, image: OwnImage) -> int:
        self.own_images = self.own_images + (image,)
        return len(self.own_images) - 1

    def replace_own_image(self, index: int, image: OwnImage) -> None:
        """Update one own image in place (the drawing pad, as the user draws)."""
        images = list(self.own_images)
        images[index] = image
        self.own_images = tuple(images)

    def remove_own_image(self, index: int) -> None:
        images = list(self.own_images)
        del images[index]
        with self.events.paused():
            self.own_images = tuple(images)
            for which in ("a", "b"):
                endpoint = getattr(self, f"endpoint_{which}")
                if endpoint is not None and endpoint.kind == "own":
                    if endpoint.index == index:
                        setattr(self, f"endpoint_{which}", None)
                    elif endpoint.index > index:
                        setattr(self, f"endpoint_{which}", Endpoint.own_image(endpoint.index - 1, endpoint.label))

    def add_reconstruction(self, test_index: int) -> None:
        if test_index not in self.reconstruction_extra:
            self.reconstruction_extra = self.reconstruction_extra + (int(test_index),)

    def remove_reconstruction(self, test_index: int) -> None:
        """Take a test image the user added back out of the reconstruction strip (the fixed ones stay)."""
        if test_index not in self.reconstruction_extra:
            raise ValueError(f"test image {test_index} was not added to the reconstructions")
        self.reconstruction_extra = tuple(i for i in self.reconstruction_extra if i != test_index)

    def set_classes(self, classes: int) -> None:
        """The model shown takes `classes` classes (0: not conditional); the chosen class is kept when it
        still exists, else the first class is chosen."""
        classes = _whole(classes, "the number of classes", 0, MAX_CLASSES)
        with self.events.paused():
            if self.decode_class != ALL_CLASSES and self.decode_class >= max(classes, 1):
                self.decode_class = 0
            if self.decode_class == ALL_CLASSES and not classes:
                self.decode_class = 0
            self.classes = classes

    def choose_class(self, decode_class: int) -> None:
        """Decode for one class (0..classes-1), or ALL_CLASSES: the grid shows one row per class."""
        self.decode_class = decode_class

    @property
    def single_label(self) -> int | None:
        """The class a single decode (the preview, an interpolation) uses: None for a model without
        classes; the first class when all classes are shown."""
        if not self.classes:
            return None
        return 0 if self.decode_class == ALL_CLASSES else self.decode_class

    def set_dimension_order(self, order) -> None:
        self.dimension_order = tuple(order)

    @property
    def cursor_array(self) -> np.ndarray:
        return np.asarray(self.cursor, dtype=np.float32)

    def __setattr__(self, name: str, value) -> None:
        check = _CHECKS.get(name)
        object.__setattr__(self, name, check(self, value) if check is not None else value)


# -- what each field accepts (checked on every assignment; a check returns the value as stored) -------------
def _whole(value, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low \
            or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{name} must be a whole number {bounds}, got {value!r}")
    return int(value)


def _point(view: "LatentView", value, name: str) -> tuple[float, ...]:
    try:
        point = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of numbers, got {value!r}") from None
    if len(point) != view.latent_dim:
        raise ValueError(f"{name} {value!r}: {len(point)} coordinates in a {view.latent_dim}-d latent space")
    if not all(math.isfinite(v) for v in point):
        raise ValueError(f"{name} {value!r}: a latent coordinate must be a finite number")
    return point


def _check_axes(view: "LatentView", value) -> tuple[int, int]:
    d = view.latent_dim
    try:
        x_axis, y_axis = (_whole(v, "an axis", 0) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"axes {value!r} are not two coordinates of a {d}-d space") from None
    if not (x_axis < d and y_axis < d) or (x_axis == y_axis and d > 1):
        raise ValueError(f"axes {value!r} are not two different coordinates of a {d}-d space")
    return (x_axis, y_axis)


def _check_choice(choices: tuple[str, ...], name: str):
    def check(_view, value) -> str:
        if value not in choices:
            raise ValueError(f"{name} {value!r} is not one of {', '.join(choices)}")
        return value
    return check


def _check_endpoint(view: "LatentView", value) -> Endpoint | None:
    if value is None:
        return None
    if not isinstance(value, Endpoint) or value.kind not in ("test", "own", "point"):
        raise ValueError(f"an endpoint must be a test image, an own image or a point, got {value!r}")
    if value.kind == "point" and len(value.z) != view.latent_dim:
        raise ValueError(f"an endpoint of {len(value.z)} coordinates in a {view.latent_dim}-d space")
    return value


def _check_own_images(_view, value) -> tuple[OwnImage, ...]:
    images = tuple(value)
    if not all(isinstance(image, OwnImage) for image in images):
        raise ValueError(f"own images must be OwnImage objects, got {value!r}")
    return images


def _check_order(view: "LatentView", value) -> tuple[int, ...]:
    order = tuple(value)
    if sorted(order) != list(range(view.latent_dim)) or any(isinstance(i, bool) for i in order):
        raise ValueError(f"{value!r} is not an order of the {view.latent_dim} latent dimensions")
    return tuple(int(i) for i in order)


def _check_held(view: "LatentView", value) -> tuple[float, ...]:
    held = _point(view, value, "held coordinates")
    if any(abs(v) > Z_LIMIT for v in held):
        raise ValueError(f"held coordinates {value!r} must lie within ±{Z_LIMIT:g}")
    return held


def _check_decode_class(view: "LatentView", value) -> int:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value == ALL_CLASSES \
            and view.classes:
        return ALL_CLASSES
    if not view.classes:
        return _whole(value, "the class (this model takes no class)", 0, 0)
    return _whole(value, f"the class (or {ALL_CLASSES}: all classes)", 0, view.classes - 1)


_CHECKS = {
    "latent_dim": lambda _view, value: _whole(value, "latent_dim", 1, 64),
    "axes": _check_axes,
    "held": _check_held,
    "cursor": lambda view, value: _point(view, value, "the cursor"),
    "scale": _check_choice(SCALES, "scale"),
    "overlay_visible": lambda _view, value: bool(value),
    "endpoint_a": _check_endpoint,
    "endpoint_b": _check_endpoint,
    "interpolation_method": _check_choice(METHODS, "interpolation"),
    "interpolation_frames": lambda _view, value: _whole(value, "frames", 2, MAX_FRAMES),
    "own_images": _check_own_images,
    "reconstruction_extra": lambda _view, value: tuple(_whole(i, "a test image index", 0) for i in value),
    "inspected_test_image": lambda _view, value: None if value is None else _whole(value, "a test image index", 0),
    "dimension_order": _check_order,
    "classes": lambda _view, value: _whole(value, "the number of classes", 0, MAX_CLASSES),
    "decode_class": _check_decode_class,
}


def _clamped(value: float) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"a latent coordinate must be a finite number, got {value!r}")
    return min(max(value, -Z_LIMIT), Z_LIMIT)
