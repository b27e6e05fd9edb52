"""The settings of a `.keras` model file: its side-car `.json` (or, for a run's model.keras, the run's
config.json) when valid and fitting, else the data it was most likely trained on (Fashion-MNIST for 28x28 grey models). `vaestudio inspect` and the window's
Open model use this one rule, so both show the same test images."""

from __future__ import annotations

from pathlib import Path

from vaestudio.core.config import TrainConfig


def model_settings(path: str | Path, architecture) -> tuple[TrainConfig, str]:
    """(settings, a note on why the side-car was not used or "") of the model at `path` of `architecture`."""
    path = Path(path)
    note = ""
    # its side-car, else the config.json of the run folder it is the model.keras of
    for side_car in (path.with_suffix(".json"), path.parent / "config.json"):
        if not side_car.is_file():
            continue
        try:
            config = TrainConfig.load(side_car)
        except Exception as exc:  # a bad side-car never blocks a good model
            note = note or f"its settings file was not used: {exc}"
        else:
            if config.architecture == architecture:
                return config, ""
            note = note or f"its settings file {side_car.name} describes another model and was not used"
    grey_28 = architecture.image_size == 28 and architecture.channels == 1
    return TrainConfig(latent_dim=architecture.latent_dim, image_size=architecture.image_size,
                       channels=architecture.channels, likelihood=architecture.likelihood, preset="custom",
                       dataset="fashion_mnist" if grey_28 else "image_folder"), note
