"""The explorer's part events, without Qt: which event fires when, in which order, and that a result
computed for a moment the user has left is dropped.

Runs are fed by hand with tiny random weights (no training, no run folder), so each test takes
milliseconds.
"""

from __future__ import annotations

import numpy as np
import pytest

from random_weights import random_weights
from vaestudio.core.architecture import Architecture
from vaestudio.core.config import TrainConfig
from vaestudio.core.events import Snapshot
from vaestudio.gui.state.explorer import EVENTS, InlineExecutor, Probe
from vaestudio.gui.state.latent_view import Endpoint, OwnImage
from vaestudio.gui.state.run_history import RunHistory
from vaestudio.gui.state.studio import Studio

GRID = 4


def live_run(latent_dim: int = 3, snapshots: int = 3, name: str = "run") -> RunHistory:
    """A run being trained, fed `snapshots` snapshots of random weights (one per step)."""
    config = TrainConfig(latent_dim=latent_dim, grid_size=GRID)
    history = RunHistory(name, config=config, live=True)
    architecture = Architecture(latent_dim=latent_dim)
    for index in range(snapshots):
        mosaic = np.zeros((GRID * 28, GRID * 28), np.uint8)
        history.feed(Snapshot(0, index, f"step {index}", mosaic, random_weights(architecture, seed=index),
                              frame=index))
    return history


def tiny_probe(count: int = 20) -> Probe:
    rng = np.random.default_rng(0)
    images = (rng.random((count, 28, 28)) > 0.7).astype(np.uint8) * 255
    return Probe(images, np.arange(count) % 10, tuple(f"class {i}" for i in range(10)))


class Recorder:
    """Which of the explorer's events fired, in order."""

    def __init__(self, explorer):
        self.names: list[str] = []
        self._slots = {}
        for part in EVENTS:
            slot = self._slots[part] = (lambda _pictures, part=part: self.names.append(part))
            explorer.event_of(part).connect(slot)


class DeferredExecutor(InlineExecutor):
    """Keeps tasks until `run_all` (a slow thread pool, under the test's control)."""

    def __init__(self):
        self.queued: list[tuple] = []

    def submit(self, fn, on_done, on_error=None, key=None) -> None:
        self.queued.append((fn, on_done, on_error, key))

    def run_all(self) -> None:
        while self.queued:
            queued, self.queued = self.queued, []
            for fn, on_done, on_error, _key in queued:
                InlineExecutor.submit(self, fn, on_done, on_error)


def explored(history: RunHistory, executor=None) -> Studio:
    studio = Studio(executor or InlineExecutor())
    studio.add_run(history)
    studio.set_probe(history, tiny_probe())
    return studio


def test_a_new_moment_loads_then_announces_each_part_once_in_order():
    history = live_run()
    studio = explored(history)
    studio.view.pick_endpoint(Endpoint.test_image(0))
    studio.view.pick_endpoint(Endpoint.test_image(3))
    seen = Recorder(studio.explorer)
    history.select(0)
    assert seen.names == ["moment", "grid", "encodings", "reconstructions", "own", "interpolation"]
    pictures = studio.explorer.pictures
    assert pictures.info.index == 0 and pictures.grid.shape == (GRID * 28, GRID * 28)
    assert pictures.means.shape == (20, 3) and pictures.interpolation is not None


def test_a_view_change_announces_only_the_parts_it_changes():
    history = live_run()
    studio = explored(history)
    seen = Recorder(studio.explorer)
    studio.view.set_axes(0, 2)
    assert seen.names == ["grid"]
    seen.names.clear()
    drawing = np.zeros((28, 28, 1), np.float32)
    drawing[8:20, 12:16] = 1.0
    studio.view.add_own_image(OwnImage("stroke", drawing, (drawing[..., 0] * 255).astype(np.uint8), "drawing"))
    assert seen.names == ["own", "interpolation"]
    seen.names.clear()
    studio.view.add_reconstruction(15)
    assert seen.names == ["reconstructions"]
    assert 15 in studio.explorer.pictures.reconstruction_indices


def test_no_moment_empties_every_part_with_one_event():
    history = live_run()
    studio = explored(history)
    seen = Recorder(studio.explorer)
    history.clear()
    assert seen.names == ["moment"]
    assert studio.explorer.pictures.info is None and studio.explorer.pictures.grid is None


def test_a_result_for_a_moment_already_left_is_dropped():
    history = live_run()
    executor = DeferredExecutor()
    studio = explored(history, executor)
    executor.run_all()
    seen = Recorder(studio.explorer)
    history.select(0)
    history.select(1)  # before moment 0 has loaded
    executor.run_all()
    assert seen.names.count("moment") == 1 and studio.explorer.pictures.info.index == 1
    assert seen.names == ["moment", "grid", "encodings", "reconstructions", "own", "interpolation"]


def test_a_part_computed_for_an_older_view_is_dropped():
    history = live_run()
    executor = DeferredExecutor()
    studio = explored(history, executor)
    executor.run_all()
    seen = Recorder(studio.explorer)
    studio.view.set_axes(0, 2)
    studio.view.set_axes(1, 2)  # both grids are queued; only the newest is shown
    executor.run_all()
    assert seen.names == ["grid"] and studio.explorer.pictures.grid_axes == (1, 2)


def test_an_unknown_part_is_named():
    studio = Studio(InlineExecutor())
    with pytest.raises(ValueError, match="'overlay'"):
        studio.explorer.event_of("overlay")
