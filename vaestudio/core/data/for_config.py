"""The dataset a training config names, checked against the config: the one entry the run pipeline calls."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vaestudio.core.data.dataset import Dataset
from vaestudio.core.data.image_folder import Progress, load_image_folder
from vaestudio.core.data.published import load_dataset
from vaestudio.core.errors import ConfigError, DataError

if TYPE_CHECKING:
    from vaestudio.core.config import TrainConfig

PUBLISHED_SIZE, PUBLISHED_CHANNELS = 28, 1


def load_for_config(config: "TrainConfig", progress: Progress | None = None) -> Dataset:
    """Load `config.dataset` (with data_dir, limit, and for image folders image_size, channels,
    test_fraction and seed) and check that it fits: the config's image size and channels, at least one
    test image and at least two batches of training images. ConfigError or DataError otherwise.

    `progress(done, total)` reports decoding of an image folder (see load_image_folder).
    """
    if config.dataset == "image_folder":
        if not config.data_dir:
            raise ConfigError("dataset image_folder needs data_dir, the folder of images (--data DIR)")
        dataset = load_image_folder(config.data_dir, config.image_size, config.channels,
                                    test_fraction=config.test_fraction, seed=config.seed, limit=config.limit,
                                    progress=progress)
    else:
        if (config.image_size, config.channels) != (PUBLISHED_SIZE, PUBLISHED_CHANNELS):
            shape = f"{config.image_size}x{config.image_size} {'grey' if config.channels == 1 else 'colour'}"
            raise ConfigError(f"dataset {config.dataset} is 28x28 grey; {shape} images need an image folder "
                              f"(--dataset image_folder --data DIR)")
        dataset = load_dataset(config.dataset, data_dir=config.data_dir, limit=config.limit)
    check_fits(dataset, config.batch_size)
    return dataset


def check_fits(dataset: Dataset, batch_size: int) -> None:
    """DataError unless there is a test image and at least two batches of training images."""
    n_train, n_test = len(dataset.train_images), len(dataset.test_images)
    if n_train < 2 * batch_size:
        raise DataError(f"{dataset.describe()}: {n_train} training image{'s' if n_train != 1 else ''}, "
                        f"but two batches of {batch_size} need at least {2 * batch_size} "
                        f"(add images or lower the batch size)")
    if n_test < 1:
        raise DataError(f"{dataset.describe()}: no test images (add images or raise the test fraction)")
