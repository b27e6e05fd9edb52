"""What the window works out without widgets: where latent points sit on the plane (plane_geometry) and what
the title and the menus say (window_status), from a studio, a latent view and a run history."""

from __future__ import annotations

import numpy as np
import pytest

from vaestudio.core.config import TrainConfig
from vaestudio.gui import axes
from vaestudio.gui.panels.plane_geometry import PlaneGeometry
from vaestudio.gui.state.latent_view import LatentView
from vaestudio.gui.state.run_history import RunHistory
from vaestudio.gui.state.studio import IDLE, TRAINING, Studio
from vaestudio.gui.state.explorer import InlineExecutor
from vaestudio.gui.window_status import enabled_actions, window_title


def geometry(latent_dim: int, scale: str = axes.LINEAR, grid_size: int = 10) -> PlaneGeometry:
    view = LatentView()
    view.reset(latent_dim)
    view.set_scale(scale)
    return PlaneGeometry(view, lambda: TrainConfig.from_preset("custom", grid_size=grid_size))


@pytest.mark.parametrize("scale", [axes.LINEAR, axes.PROBIT])
def test_a_point_drawn_on_the_plane_reads_back_as_the_same_latent_point(scale):
    plane = geometry(4, scale)
    plane.view.set_axes(2, 0)
    plane.view.set_held(1, 0.5)
    z = np.array([0.3, 0.5, -1.2, 0.0])
    x, y = plane.plot_position(z)
    np.testing.assert_allclose(plane.latent_point(x, y), z, atol=1e-9)  # shown axes from (x, y), the rest held
    px, py = plane.project(z[None])
    assert (float(px[0]), float(py[0])) == pytest.approx((x, y))


def test_a_one_d_space_is_a_strip_whose_points_are_spread_but_keep_their_z():
    plane = geometry(1)
    points = np.linspace(-2, 2, 9)[:, None]
    x, y = plane.project(points)
    np.testing.assert_allclose(x, points[:, 0])
    assert len(set(np.round(y, 6))) > 1  # spread out so that they can be seen
    assert plane.cursor_text(np.array([0.25])) == "z1 +0.25"
    assert plane.readout(0.5, 99.0) == "under the mouse: z1 = +0.50"


def test_tiles_a_side_come_from_the_grid_or_the_image_size():
    plane = geometry(2, grid_size=10)
    assert plane.tiles_per_side(np.zeros((280, 280), np.uint8)) == 10
    assert plane.tiles_per_side(np.zeros((6 * 28, 6 * 28), np.uint8)) == 6  # a grid of another size
    (x0, x1), (y0, y1) = plane.whole_grid_range("linear", None)
    assert x0 < 0 < x1 and (y0, y1) == (x0, x1)


def test_the_title_and_the_menus_follow_the_studio(tmp_path):
    studio = Studio(InlineExecutor())
    assert window_title(studio)[0] == "vaestudio: watch a VAE learn"
    actions = enabled_actions(studio)
    assert actions["start_action"] and not actions["stop_action"] and not actions["save_action"]
    history = RunHistory(folder=tmp_path / "run-1", config=TrainConfig.from_preset("fast"))
    studio.add_run(history)
    title, label, tooltip = window_title(studio)
    assert title == f"vaestudio: {history.title()} (read-only)" and tooltip == f"Shown: {tmp_path / 'run-1'}"
    studio.set_training(TRAINING)
    actions = enabled_actions(studio)
    assert not actions["start_action"] and actions["stop_action"] and actions["pause_action"]
    studio.set_training(IDLE)
    assert enabled_actions(studio)["continue_action"]
