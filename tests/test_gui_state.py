"""The window's Qt-free state: a run's history and time machine, the latent view, the explorer's pictures.

No window and no Qt: these objects are driven the way panels drive them, with a real recorded run.
"""

from __future__ import annotations

import numpy as np
import pytest

from vaestudio.core.config import TrainConfig
from vaestudio.core.data import synthetic_dataset
from vaestudio.core.events import Snapshot
from vaestudio.core.runs import Run, replay
from vaestudio.gui.state.explorer import InlineExecutor, Probe
from vaestudio.gui.state.latent_view import Endpoint, LatentView, OwnImage
from vaestudio.gui.state.run_history import RunHistory
from vaestudio.gui.state.studio import Studio


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset(n_train=128, n_test=40, seed=3)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, data):
    config = TrainConfig.from_preset("custom", epochs=2, batch_size=32, learning_rate=3e-3, grid_size=5,
                                     metrics_every=2, snapshot_every=2, latent_dim=3, seed=2)
    run = Run.new(tmp_path_factory.mktemp("runs") / "run", config, load_dataset=lambda _: data)
    list(run.events())
    return run.path, config


def opened(path, config) -> RunHistory:
    history = RunHistory(folder=path, config=config)
    for event in replay(path):
        history.feed(event)
    return history


def test_a_replayed_history_has_the_runs_curves_snapshots_and_follows_the_newest(recorded):
    path, config = recorded
    history = opened(path, config)
    assert len(history.snapshots) >= 5 and history.snapshots[0].label == "before training"
    assert len(history.curves["test_elbo"]) == 2
    assert history.following and history.current == history.snapshots[-1]
    moments = []
    history.moment_changed.connect(moments.append)
    history.step(-1)
    assert not history.following and history.current == history.snapshots[-2] and moments == [history.current]
    history.select(0)
    assert history.current.label == "before training"
    history.step(-1)  # already at the start: nothing changes
    assert len(moments) == 2
    history.follow()
    assert history.following and history.current == history.snapshots[-1]
    assert history.index_at_step(history.snapshots[2].step) == 2


def test_the_explorer_draws_every_picture_of_the_moment_from_its_weights(recorded, data):
    path, config = recorded
    studio = Studio(InlineExecutor())
    history = opened(path, config)
    studio.add_run(history)
    studio.set_probe(history, Probe.from_dataset(data))
    pictures = studio.explorer.pictures
    assert pictures.vae is not None and pictures.info == history.current
    assert pictures.grid.shape == (5 * 28, 5 * 28)
    assert pictures.means.shape == (40, 3) and pictures.kl_per_dimension.shape == (3,)
    assert pictures.active_count is not None and 0 <= pictures.active_count <= 3
    assert len(pictures.reconstruction_indices) == 10  # one per class
    assert pictures.reconstructions.images.shape == (10, 28, 28)
    # Going back in time redraws from that snapshot's own weights.
    latest_means = pictures.means
    history.select(0)
    assert studio.explorer.pictures.info.label == "before training"
    assert not np.allclose(studio.explorer.pictures.means, latest_means)


def test_view_changes_recompute_only_what_they_affect(recorded, data):
    path, config = recorded
    studio = Studio(InlineExecutor())
    history = opened(path, config)
    studio.add_run(history)
    studio.set_probe(history, Probe.from_dataset(data))
    view = studio.view
    # The linear scale shows a grid evenly spaced in z; the probit scale shows the tutorial's recorded one.
    assert view.scale == "linear" and studio.explorer.pictures.grid_spacing == "linear"
    view.set_scale("probit")
    assert studio.explorer.pictures.grid_spacing == "quantile"
    view.set_scale("linear")
    grid = studio.explorer.pictures.grid
    view.set_axes(0, 2)
    assert studio.explorer.pictures.grid_axes == (0, 2) and not np.array_equal(studio.explorer.pictures.grid, grid)
    view.set_held(1, 1.5)
    assert view.cursor[1] == 1.5
    view.pick_endpoint(Endpoint.test_image(0))
    assert studio.explorer.pictures.interpolation is None
    view.pick_endpoint(Endpoint.point((2.0, -1.0, 0.0)))
    view.set_interpolation(method="spherical", frames=7)
    interpolation = studio.explorer.pictures.interpolation
    assert interpolation.frames.shape == (7, 28, 28)
    np.testing.assert_allclose(interpolation.path[0], studio.explorer.pictures.means[0], atol=1e-5)
    np.testing.assert_allclose(interpolation.path[-1], (2.0, -1.0, 0.0), atol=1e-5)
    drawing = np.zeros((28, 28, 1), np.float32)
    drawing[8:20, 12:16] = 1.0
    view.add_own_image(OwnImage("stroke", drawing, (drawing[..., 0] * 255).astype(np.uint8), "drawing"))
    (own,) = studio.explorer.pictures.own
    assert own.mean.shape == (3,) and own.reconstruction.shape == (28, 28)


class CountingExecutor(InlineExecutor):
    """Runs tasks at once and counts them by key."""

    def __init__(self):
        self.keys: list[str] = []

    def submit(self, fn, on_done, on_error=None, key=None) -> None:
        self.keys.append(key)
        super().submit(fn, on_done, on_error, key)


def test_going_back_to_a_moment_already_seen_shows_it_without_computing_again(recorded, data):
    """Scrubbing: a moment seen before (and the same view) comes back at once from what was kept."""
    path, config = recorded
    executor = CountingExecutor()
    studio = Studio(executor)
    history = opened(path, config)
    studio.add_run(history)
    studio.set_probe(history, Probe.from_dataset(data))
    history.select(1)
    first = studio.explorer.pictures
    history.select(2)
    executor.keys.clear()
    history.select(1)
    again = studio.explorer.pictures
    dear = [key for key in executor.keys if key in ("moment", "grid", "encodings", "reconstructions")]
    assert dear == [], executor.keys
    assert again.info == first.info and again.grid is first.grid and again.means is first.means
    assert again.reconstructions is first.reconstructions
    # Another view of the same moment is computed (and is not the kept one).
    studio.view.set_axes(0, 2)
    assert "grid" in executor.keys and studio.explorer.pictures.grid_axes == (0, 2)
    assert not np.array_equal(studio.explorer.pictures.grid, first.grid)


def test_the_latent_view_refuses_what_makes_no_sense():
    view = LatentView()
    view.reset(3)
    with pytest.raises(ValueError):
        view.set_axes(1, 1)
    with pytest.raises(ValueError):
        view.move_cursor_on_plane(float("nan"), 0)
    view.move_cursor_on_plane(100.0, -0.5)
    assert view.cursor == (6.0, -0.5, 0.0)  # clamped to the plane's range
    with pytest.raises(ValueError):
        view.set_interpolation(frames=1)
    seen = []
    view.events.cursor.connect(seen.append)
    view.move_cursor((0.1, 0.2, 0.3))
    assert seen == [(0.1, 0.2, 0.3)]


def test_a_run_recorded_without_weights_still_shows_its_grids(recorded, tmp_path):
    import shutil

    path, config = recorded
    old = tmp_path / "old"
    shutil.copytree(path, old)
    for weights in (old / "snapshots").glob("frame-*.npz"):
        weights.unlink()
    studio = Studio(InlineExecutor())
    history = opened(old, config)
    assert all(not info.has_weights for info in history.snapshots)
    studio.add_run(history)
    pictures = studio.explorer.pictures
    assert pictures.vae is None and pictures.grid is not None and "without model weights" in pictures.note


def test_live_snapshots_are_shown_without_reading_the_folder(data):
    from vaestudio.core.latent import mosaic
    from vaestudio.core.weights import VaeWeights
    from vaestudio.core.architecture import Architecture

    architecture = Architecture(latent_dim=2)
    rng = np.random.default_rng(0)
    weights = VaeWeights(architecture, tuple(rng.normal(0, 0.05, s).astype(np.float32)
                                             for s in architecture.encoder_shapes()),
                         tuple(rng.normal(0, 0.05, s).astype(np.float32) for s in architecture.decoder_shapes()))
    history = RunHistory(config=TrainConfig(), live=True)
    studio = Studio(InlineExecutor())
    studio.add_run(history)
    grid = mosaic(np.zeros((400, 28, 28)), 20)
    history.feed(Snapshot(0, 0, "before training", grid, weights, frame=0))
    assert studio.explorer.pictures.vae is not None
    assert studio.explorer.pictures.info.label == "before training"
