"""A VampPrior run on the latent plane (issue 19): the prior's density as an overlay, the pseudo-inputs as
images; a run with the standard prior offers the density but no pseudo-inputs."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def vamp_run(zoo_run):
    """A VampPrior run with 5 pseudo-inputs (trained with the IWAE objective, which the prior does not see)."""
    return zoo_run("vamp")


def open_run(qtbot, window, folder):
    window.commands.answers["runs"] = folder
    window.open_run_action.trigger()
    history = window.studio.active
    assert history is not None and history.folder == folder, window.last_error
    qtbot.waitUntil(lambda: not window.opening.is_replaying(history), timeout=30_000)
    explorer = window.studio.explorer
    qtbot.waitUntil(lambda: explorer.pictures.vae is not None and explorer.pictures.grid is not None, timeout=20_000)
    return explorer


def test_the_vamp_prior_density_and_pseudo_inputs_are_shown(qtbot, window, vamp_run):
    from vaestudio.gui.panels.plane_prior import LATTICE, density_lattice

    explorer = open_run(qtbot, window, vamp_run)
    prior = window.panels["latent_plane"].prior
    assert prior.box.isVisible() and prior.pseudo_button.isVisible() and not prior.item.isVisible()
    prior.box.setChecked(True)
    assert prior.item.isVisible()
    vae = explorer.pictures.vae
    points, _rect = density_lattice(prior.geometry, explorer.pictures.grid_spacing)
    assert points.shape == (LATTICE * LATTICE, 2)
    np.testing.assert_allclose(prior.density, vae.prior_log_density(points))
    alpha = prior.item.image[..., 3]
    assert alpha.max() > 100 and alpha.min() < alpha.max()  # shaded by the density, not uniformly

    prior.pseudo_button.click()
    assert prior.dialog.isVisible()
    images = vae.pseudo_inputs()
    assert len(images) == 5
    tile = images.shape[1]
    assert prior.pseudo_sheet.shape[:2] == (tile, 5 * (tile + 1) - 1)
    np.testing.assert_array_equal(prior.pseudo_sheet[:, :tile], np.rint(images[0, ..., 0] * 255).astype(np.uint8))
    prior.dialog.close()


def test_a_standard_prior_has_no_pseudo_inputs(qtbot, window, recorded_run):
    explorer = open_run(qtbot, window, recorded_run[0])
    prior = window.panels["latent_plane"].prior
    assert prior.box.isVisible() and not prior.pseudo_button.isVisible()
    prior.box.setChecked(True)
    zero = explorer.pictures.vae.prior_log_density(np.zeros((1, 2), np.float32))[0]
    assert np.isclose(prior.density.max(), zero, atol=0.05)  # N(0, I): densest at the origin
