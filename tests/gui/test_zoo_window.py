"""Runs of the model zoo's variants (issue 19) open in the window: their snapshots are explored through the
NumPy VAE like the tutorial model's (a conditional model at class 0, numpy_vae.DEFAULT_CLASS)."""

from __future__ import annotations

import pytest

VARIANTS = {"vamp": dict(prior="vamp", pseudo_inputs=3, objective="iwae", samples=2),
            "conditional": dict(model="conditional"), "tcvae": dict(objective="tcvae", beta=2.0)}


@pytest.fixture(scope="module")
def zoo_runs(tmp_path_factory, tiny_data):
    from vaestudio.core.config import TrainConfig
    from vaestudio.core.runs import Run

    folders = {}
    for name, settings in VARIANTS.items():
        config = TrainConfig.from_preset("custom", epochs=1, batch_size=32, learning_rate=3e-3, grid_size=4,
                                         metrics_every=1, snapshot_every=2, seed=1, **settings)
        run = Run.new(tmp_path_factory.mktemp("zoo") / name, config, load_dataset=lambda _config: tiny_data)
        list(run.events())
        folders[name] = run.path
    return folders


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_variant_run_opens_and_its_moments_are_explored(qtbot, window, zoo_runs, variant):
    folder = zoo_runs[variant]
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
