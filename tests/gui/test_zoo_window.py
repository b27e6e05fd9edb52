"""Runs of the model zoo's variants (issue 19) open in the window: their snapshots are explored through the
NumPy VAE like the tutorial model's (a conditional model at class 0, numpy_vae.DEFAULT_CLASS)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("variant", ["vamp", "conditional", "tcvae"])  # tests/gui/conftest.py: ZOO_VARIANTS
def test_a_variant_run_opens_and_its_moments_are_explored(qtbot, window, zoo_run, variant):
    folder = zoo_run(variant)
    window.commands.answers["runs"] = folder
    window.open_run_action.trigger()
    history = window.studio.active
    assert history is not None and history.folder == folder, window.last_error
    qtbot.waitUntil(lambda: not window.opening.is_replaying(history), timeout=30_000)
    assert len(history.curves["test_elbo"]) == 1
    explorer = window.studio.explorer
    window.timeline.slider.setValue(0)
    qtbot.waitUntil(lambda: explorer.pictures.info is not None and explorer.pictures.info.index == 0, timeout=20_000)
    window.timeline.slider.setValue(window.timeline.slider.maximum())
    last = window.timeline.slider.maximum()
    qtbot.waitUntil(lambda: explorer.pictures.info is not None and explorer.pictures.info.index == last,
                    timeout=20_000)
    assert not window.last_error
