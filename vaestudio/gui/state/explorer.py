"""The pictures of the moment being looked at, recomputed in the background when the moment or the view changes.

Every picture is a plain function of (the snapshot's weights, some images), computed with the NumPy VAE,
never with the model in training: the grid for the chosen axes, the test images' encodings (overlay,
per-dimension KL, active units), the reconstruction strip, the own images' encodings, the interpolation
strip (what each part is: gui.state.moment_parts). Each part is its own task on the executor, so a cheap part (the grid) shows before a dearer one;
a result that arrives after the moment or the view moved on is dropped. Parts kept from an earlier visit
are published through the executor's `call_soon` when it has one (the window's: one part per turn of the
event loop, so a scrub back is not one long burst of the UI thread).

Each part has its own event, so a panel connects exactly the ones it draws: `moment_loaded` (a new moment,
or none: `info`, `vae` and `note`; every part is empty again), then, as each part arrives, `grid_changed`,
`encodings_changed`, `reconstructions_changed`, `own_changed` and `interpolation_changed`. Each carries
the whole `Pictures`, also kept as `explorer.pictures`. Qt-free: the window hands in an
executor that runs tasks on a thread pool and calls back on the UI thread; tests use `InlineExecutor`.
"""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from psygnal import Signal

from vaestudio.gui.state.latent_view import LatentView
from vaestudio.gui.state.moment_parts import OwnEncoding, part_task
from vaestudio.gui.state.run_history import RunHistory, SnapshotInfo
from vaestudio.gui.state.tasks import Executor, InlineExecutor  # noqa: F401 (tests import InlineExecutor here)

PROBE_SIZE = 1000  # test images encoded for the overlay and the KL bars
PARTS = ("grid", "encodings", "reconstructions", "own", "interpolation")
EVENTS = ("moment",) + PARTS  # what `Explorer.event_of` names: a moment loaded, then each part
# Moments whose loaded model and dearer parts (grid, encodings, reconstructions) are kept, so that going
# back to a moment already seen (scrubbing, Left/Right, a live run's earlier snapshots) shows it at once.
# A moment costs ~1 MB here (a 20x20 grid, 1000 encodings, the weights).
MOMENTS_KEPT = 48
CACHED_PARTS = ("grid", "encodings", "reconstructions")


@dataclass(frozen=True, eq=False)
class Probe:
    """The test images the window explores with: a fixed, seeded sample of the run's test set."""

    images: np.ndarray  # uint8 (N, H, W[, C])
    labels: np.ndarray  # int (N,)
    class_names: tuple[str, ...]

    @classmethod
    def from_dataset(cls, dataset, size: int = PROBE_SIZE, seed: int = 0) -> "Probe":
        count = len(dataset.test_images)
        order = np.random.default_rng(seed).permutation(count)[:size] if count > size else np.arange(count)
        order = np.sort(order)
        return cls(np.asarray(dataset.test_images)[order], np.asarray(dataset.test_labels)[order].astype(int),
                   tuple(dataset.class_names))

    def first_of_each_class(self, limit: int = 10) -> tuple[int, ...]:
        """One test image per class (the reconstruction strip's fixed images)."""
        chosen: dict[int, int] = {}
        for index, label in enumerate(self.labels):
            chosen.setdefault(int(label), index)
            if len(chosen) >= limit:
                break
        return tuple(sorted(chosen.values(), key=lambda i: self.labels[i]))

    def class_name(self, index: int) -> str:
        label = int(self.labels[index])
        return self.class_names[label] if 0 <= label < len(self.class_names) else str(label)


@dataclass(frozen=True, eq=False)
class Pictures:
    """Everything shown of one moment; parts not computed yet (or impossible) are None."""

    info: SnapshotInfo | None = None
    vae: Any = None  # NumpyVAE, or None when the snapshot was recorded without weights
    note: str = ""  # why some pictures are missing
    grid: np.ndarray | None = None  # uint8 mosaic for the view's axes and held coordinates
    grid_axes: tuple[int, int] = (0, 1)
    grid_spacing: str = "quantile"  # "linear": evenly spaced in z (the linear scale); "quantile": the tutorial's
    grid_class: int | None = None  # a conditional model's class decoded, ALL_CLASSES (one row per class); None
    means: np.ndarray | None = None  # (N, d) encoder means of the probe
    logvars: np.ndarray | None = None
    kl_per_dimension: np.ndarray | None = None  # (d,)
    active_variances: np.ndarray | None = None  # (d,) Cov_x(E_q[z_d])
    active_count: int | None = None
    reconstruction_indices: tuple[int, ...] = ()
    reconstructions: Any = None  # probes.Reconstructions
    own: tuple[OwnEncoding, ...] | None = None
    interpolation: Any = None  # probes.Interpolation
    seconds: dict[str, float] = field(default_factory=dict)


class Explorer:
    """Keeps `pictures` current for the active run's moment and the latent view."""

    moment_loaded = Signal(object)  # Pictures: a new moment (info, vae, note), every part empty again
    grid_changed = Signal(object)  # Pictures: grid, grid_axes, grid_spacing
    encodings_changed = Signal(object)  # Pictures: means, logvars, kl_per_dimension, active units
    reconstructions_changed = Signal(object)  # Pictures: reconstructions, reconstruction_indices
    own_changed = Signal(object)  # Pictures: own (the own images' encodings)
    interpolation_changed = Signal(object)  # Pictures: interpolation
    failed = Signal(str)  # one line: a part could not be computed

    def __init__(self, view: LatentView, executor: Executor):
        self.view = view
        self.executor = executor
        self.history: RunHistory | None = None
        self.probe: Probe | None = None
        self.pictures = Pictures()
        self._generation = 0  # bumped when the moment changes: older results are dropped
        self._part_generation = {part: 0 for part in PARTS}
        self._moments: OrderedDict[tuple, dict[str, Any]] = OrderedDict()  # see MOMENTS_KEPT
        self._moment_key: tuple | None = None
        self._loading = False  # a moment's model sets the view's classes: no recomputing then
        view.events.axes.connect(self._on_axes_or_held)
        view.events.held.connect(self._on_axes_or_held)
        view.events.scale.connect(self._on_axes_or_held)
        view.events.decode_class.connect(self._on_class)
        view.events.endpoint_a.connect(self._on_interpolation_changed)
        view.events.endpoint_b.connect(self._on_interpolation_changed)
        view.events.interpolation_method.connect(self._on_interpolation_changed)
        view.events.interpolation_frames.connect(self._on_interpolation_changed)
        view.events.own_images.connect(self._on_own_images)
        view.events.reconstruction_extra.connect(self._on_reconstructions_changed)

    # -- what to show ------------------------------------------------------------------------------------
    def show(self, history: RunHistory | None, probe: Probe | None = None) -> None:
        """Explore `history` (following its moments) with the test images of `probe`."""
        if self.history is not None:
            self.history.moment_changed.disconnect(self._on_moment)
        self.history = history
        self.probe = probe
        if history is not None:
            history.moment_changed.connect(self._on_moment)
        self._on_moment(history.current if history is not None else None)

    def set_probe(self, probe: Probe | None) -> None:
        self.probe = probe
        self._on_moment(self.history.current if self.history is not None else None)

    @property
    def vae(self):
        """The NumPy VAE of the moment shown (for the cursor preview, synchronous and cheap)."""
        return self.pictures.vae

    def kept_encodings(self, history: RunHistory, info: SnapshotInfo, probe: Probe) -> tuple[Any, Any] | None:
        """(the NumPy VAE, the encoder's Posterior of every image of `probe`) of `history`'s moment `info`,
        when this explorer has them in memory; None otherwise. The Compare view takes them instead of
        encoding the same images with the same weights again (most of a column's time)."""
        entry = self._moments.get((str(history.folder), id(history), info.index, info.step))
        if entry is None or "load" not in entry or "encodings" not in entry:
            return None
        (probe_id, _classes), values = entry["encodings"]
        vae = entry["load"][0]
        if vae is None or probe_id != id(probe):
            return None
        from vaestudio.core.probes import Posterior

        return vae, Posterior(values["means"], values["logvars"])

    # -- reacting ------------------------------------------------------------------------------------------
    def _kept(self, key: tuple | None) -> dict[str, Any] | None:
        if key is None or key not in self._moments:
            return None
        self._moments.move_to_end(key)
        return self._moments[key]

    def _keep(self, key: tuple, name: str, value: Any) -> None:
        entry = self._moments.setdefault(key, {})
        entry[name] = value
        self._moments.move_to_end(key)
        while len(self._moments) > MOMENTS_KEPT:
            self._moments.popitem(last=False)

    def _signature(self, part: str) -> tuple:
        """What a cached part depends on besides the moment."""
        view, probe = self.view, self.probe
        if part == "grid":
            n = self.history.config.grid_size if self.history and self.history.config else 20
            return (n, tuple(view.axes), tuple(float(v) for v in view.held), self._spacing(), view.classes,
                    view.decode_class)
        if part == "encodings":
            return (id(probe), view.classes)
        return (id(probe), tuple(view.reconstruction_extra), view.classes)

    def _on_moment(self, info: SnapshotInfo | None) -> None:
        self._generation += 1
        generation = self._generation
        if info is None or self.history is None:
            self._moment_key = None
            self._publish(Pictures(), "moment")
            return
        history = self.history
        key = self._moment_key = (str(history.folder), id(history), info.index, info.step)

        def load():
            from vaestudio.core.numpy_vae import NumpyVAE

            started = time.perf_counter()
            weights = history.weights_at(info)
            vae = NumpyVAE(weights) if weights is not None else None
            mosaic = history.mosaic_at(info)
            return vae, mosaic, time.perf_counter() - started

        def loaded(result) -> None:
            if generation != self._generation:
                return
            vae, mosaic, seconds = result
            self._keep(key, "load", (vae, mosaic, 0.0))
            note = "" if vae is not None else ("this run was recorded without model weights (vaestudio 0.1.0): "
                                               "only its grids can be shown")
            pictures = Pictures(info=info, vae=vae, note=note, seconds={"load": seconds})
            self._loading = True
            try:
                self.view.set_classes(vae.architecture.classes if vae is not None else 0)
            finally:
                self._loading = False
            recorded_fits = self.view.axes == (0, 1) and not any(self._held_off_plane()) \
                and self.view.decode_class == 0  # the snapshot's grid is decoded for the first class
            if vae is None or (recorded_fits and self._spacing() == "quantile"):
                # The snapshot's recorded grid is the tutorial's (quantile spacing), for axes z1 x z2.
                pictures = dataclasses.replace(pictures, grid=mosaic, grid_axes=(0, 1), grid_spacing="quantile",
                                               grid_class=0 if self.view.classes else None)
            self._publish(pictures, "moment")
            if pictures.grid is not None:
                self._publish(pictures, "grid")
            if vae is not None:
                if pictures.grid is None:
                    self._compute("grid")
                for part in ("encodings", "reconstructions", "own", "interpolation"):
                    self._compute(part)

        kept = self._kept(key)
        if kept is not None and "load" in kept:
            loaded(kept["load"])  # seen before: at once
            return
        self.executor.submit(load, loaded, self._report, key="moment")

    def _spacing(self) -> str:
        """Grids are evenly spaced in z on the linear scale, and the tutorial's quantiles on the probit one."""
        return "linear" if self.view.scale == "linear" else "quantile"

    def _held_off_plane(self) -> list[float]:
        return [v for i, v in enumerate(self.view.held) if i not in self.view.axes]

    def _on_axes_or_held(self, *_args) -> None:
        if self.pictures.vae is not None:
            self._compute("grid")
        elif self.pictures.info is not None and self.view.axes != (0, 1):
            self._report("this run was recorded without model weights: other axes cannot be decoded")

    def _on_class(self, *_args) -> None:
        if self.pictures.vae is not None and not self._loading:
            for part in ("grid", "own", "interpolation"):
                self._compute(part)

    def _on_interpolation_changed(self, *_args) -> None:
        if self.pictures.vae is not None:
            self._compute("interpolation")

    def _on_own_images(self, *_args) -> None:
        if self.pictures.vae is not None:
            self._compute("own")
            self._compute("interpolation")

    def _on_reconstructions_changed(self, *_args) -> None:
        if self.pictures.vae is not None:
            self._compute("reconstructions")

    # -- computing ---------------------------------------------------------------------------------------
    def _compute(self, part: str) -> None:
        task = self._task(part)
        if task is None:
            return
        self._part_generation[part] += 1
        generation, part_generation = self._generation, self._part_generation[part]
        moment, signature = self._moment_key, (self._signature(part) if part in CACHED_PARTS else None)
        kept = self._kept(moment)
        if signature is not None and kept is not None and kept.get(part, (None,))[0] == signature:
            values = kept[part][1]

            def publish_kept() -> None:
                if generation == self._generation and part_generation == self._part_generation[part]:
                    self._publish(dataclasses.replace(self.pictures, **values,
                                                      seconds={**self.pictures.seconds, part: 0.0}), part)

            soon = getattr(self.executor, "call_soon", None)  # the window's: one part per turn of its loop
            soon(publish_kept) if soon is not None else publish_kept()
            return

        def timed():
            started = time.perf_counter()
            value = task()
            return value, time.perf_counter() - started

        def done(result) -> None:
            if generation != self._generation or part_generation != self._part_generation[part]:
                return
            values, seconds = result
            if signature is not None and moment is not None:
                self._keep(moment, part, (signature, values))
            self._publish(dataclasses.replace(self.pictures, **values,
                                              seconds={**self.pictures.seconds, part: seconds}), part)

        self.executor.submit(timed, done, self._report, key=part)

    def _task(self, part: str) -> Callable[[], dict[str, Any]] | None:
        """A function computing one part from copies of what it needs (it runs on another thread)."""
        vae, view = self.pictures.vae, self.view
        if vae is None or vae.architecture.latent_dim != view.latent_dim:
            return None  # no model, or the view is already another run's
        n = self.history.config.grid_size if self.history and self.history.config else 20
        return part_task(part, vae, self.probe, view, n, self._spacing())

    def event_of(self, part: str):
        """The signal announcing `part` ("moment" or one of PARTS)."""
        if part not in EVENTS:
            raise ValueError(f"unknown part {part!r}: not one of {', '.join(EVENTS)}")
        return getattr(self, "moment_loaded" if part == "moment" else f"{part}_changed")

    def _publish(self, pictures: Pictures, part: str) -> None:
        self.pictures = pictures
        self.event_of(part).emit(pictures)

    def _report(self, message: str) -> None:
        self.failed.emit(message)
