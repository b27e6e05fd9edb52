"""Issue 17's defects seen by a new user, driven through the real window as a user would."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def plain_model(tmp_path_factory, recorded_run):
    """A `.keras` model of the recorded 2-d run with no side-car settings (a model file handed to a user)."""
    from vaestudio.core.store.run_folder import RunFolder
    from vaestudio.core.tf.model import model_from_weights, save_model

    path, _config = recorded_run
    store = RunFolder(path).snapshots
    model_path = tmp_path_factory.mktemp("models") / "plain.keras"
    save_model(model_from_weights(store.load_weights(store.records()[-1])), model_path)
    assert not model_path.with_suffix(".json").exists()
    return model_path


def test_an_opened_model_shows_test_points_kl_reconstructions_and_log_likelihood(qtbot, window, plain_model):
    window.commands.answers["models"] = plain_model
    window.open_model_action.trigger()
    qtbot.waitUntil(lambda: window.studio.active is not None and window.studio.active.title() == "plain.keras"
                    or window.last_error is not None, timeout=60_000)
    assert window.last_error is None, window.last_error
    explorer = window.studio.explorer
    # the test images of the data the model was trained on (as `vaestudio inspect`): points, KL, reconstructions
    qtbot.waitUntil(lambda: explorer.pictures.means is not None and explorer.pictures.reconstructions is not None,
                    timeout=30_000)
    assert len(explorer.pictures.means) == len(explorer.probe.images) > 0
    kl = window.panel("kl")
    qtbot.waitUntil(lambda: kl.kl is not None, timeout=10_000)
    assert "active" in kl.summary.text()
    assert "not loaded" not in window.status_text()
    elbo = window.panel("elbo")
    elbo.refresh()
    assert "Waiting" not in elbo.readout.text() and "no training curves" in elbo.readout.text()
    quality = window.panel("quality")
    quality.images.setValue(16)
    quality.samples.setValue(4)
    quality.estimate_button.click()
    qtbot.waitUntil(lambda: "log p(x) ≈" in quality.result.text(), timeout=60_000)
