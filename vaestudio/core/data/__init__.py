"""Datasets: published (Fashion-MNIST, MNIST), image folders, synthetic shapes; preprocessing; own images.

Modules, one job each: dataset (the Dataset every source yields), published (search, IDX and .npz),
idx, npz, image_folder (split, threads, cache use) with scan, decode and cache, synthetic, preprocess,
own_image, and for_config (`load_for_config`, what the run pipeline calls). Importing this package loads
neither Pillow nor TensorFlow.
"""

from vaestudio.core.data.dataset import Dataset, Skipped
from vaestudio.core.data.for_config import load_for_config
from vaestudio.core.data.idx import read_idx
from vaestudio.core.data.image_folder import load_image_folder
from vaestudio.core.data.own_image import OwnImage, prepare_own_image
from vaestudio.core.data.preprocess import preprocess
from vaestudio.core.data.published import CLASS_NAMES, DEBIAN_ROOTS, ENV_VAR, load_dataset, search_places
from vaestudio.core.data.synthetic import synthetic_dataset

__all__ = ["CLASS_NAMES", "Dataset", "Skipped", "load_dataset", "load_for_config", "load_image_folder",
           "read_idx", "preprocess", "prepare_own_image", "OwnImage", "synthetic_dataset", "search_places",
           "DEBIAN_ROOTS", "ENV_VAR"]
