"""core/model_settings.py: the one rule by which `inspect` and the window's Open model find a model's data."""

from __future__ import annotations

from vaestudio.core.config import TrainConfig
from vaestudio.core.model_settings import model_settings


def test_side_car_then_the_runs_config_then_fashion_mnist(tmp_path):
    run_config = TrainConfig.from_preset("fast", dataset="mnist", latent_dim=3)
    architecture = run_config.architecture
    model = tmp_path / "run" / "model.keras"
    model.parent.mkdir()
    config, note = model_settings(model, architecture)  # nothing beside it: the data most likely trained on
    assert config.dataset == "fashion_mnist" and config.latent_dim == 3 and note == ""
    run_config.save(model.parent / "config.json")  # a run's model.keras: the run's settings
    config, note = model_settings(model, architecture)
    assert config.dataset == "mnist" and config.to_dict() == run_config.to_dict() and note == ""
    other = TrainConfig.from_preset("fast", latent_dim=5)
    other.save(model.with_suffix(".json"))  # a side-car of another model is passed over for the run's
    config, note = model_settings(model, architecture)
    assert config.dataset == "mnist"
    (model.parent / "config.json").unlink()
    config, note = model_settings(model, architecture)
    assert config.dataset == "fashion_mnist" and "describes another model" in note
    (model.with_suffix(".json")).write_text("{ not json")  # a broken side-car never blocks the model
    config, note = model_settings(model, architecture)
    assert config.dataset == "fashion_mnist" and "was not used" in note
