"""Fashion-MNIST and MNIST digits: find them on disk (or download them once), validate, preprocess.

Search order: the `data_dir` argument, `$VAESTUDIO_DATA`, Debian's dataset-fashion-mnist package,
the Keras cache, and last Keras's own downloader. TensorFlow/Keras is imported only for that download.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from vaestudio.core.errors import ConfigError, DataError
from vaestudio.core.data.idx import read_idx

__all__ = ["CLASS_NAMES", "Dataset", "load_dataset", "read_idx", "preprocess", "synthetic_dataset",
           "search_places", "DEBIAN_ROOTS", "ENV_VAR"]

CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "fashion_mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    "mnist": tuple(str(d) for d in range(10)),
}
TITLES = {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST digits", "synthetic": "Synthetic shapes"}
SYNTHETIC_CLASS_NAMES = ("Top bar", "Left bar", "Square", "Disc", "Ring",
                         "Diagonal", "Cross", "Triangle", "Two dots", "Frame")

ENV_VAR = "VAESTUDIO_DATA"
# Folders a system package installs the IDX files into (Debian: `apt-get install dataset-fashion-mnist`).
DEBIAN_ROOTS: dict[str, Path] = {"fashion_mnist": Path("/usr/share/datasets/fashion-mnist")}
# Sub-folder of a data root (or of the Keras cache) that holds each dataset, and the .npz names tried.
SUBFOLDERS = {"fashion_mnist": ("fashion-mnist", "fashion_mnist"), "mnist": ("mnist",)}
NPZ_NAMES = {"fashion_mnist": ("fashion-mnist.npz", "fashion_mnist.npz"), "mnist": ("mnist.npz",)}
IDX_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
Downloader = Callable[[str], Arrays]


@dataclass(frozen=True)
class Dataset:
    """Images uint8 (N, 28, 28) in 0..255 and labels uint8 (N,) in 0..9, as published (train / test)."""

    name: str
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str
    class_names: tuple[str, ...]

    def describe(self) -> str:
        """One line, e.g. 'Fashion-MNIST, 60000 train / 10000 test images from /usr/share/datasets/...'."""
        title = TITLES.get(self.name, self.name)
        return f"{title}, {len(self.train_images)} train / {len(self.test_images)} test images from {self.source}"


# ---------------------------------------------------------------------------------------------- search


def default_keras_cache() -> Path:
    """Where Keras keeps downloaded datasets: $KERAS_HOME/datasets, else ~/.keras/datasets."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser() / "datasets"


def search_places(name: str, data_dir: str | os.PathLike | None = None, *,
                  debian_roots: dict[str, Path] | None = None, keras_cache: Path | None = None) -> list[Path]:
    """Folders (or .npz files) that may hold dataset `name`, in the order they are tried."""
    _check_name(name)
    places: list[Path] = []
    if data_dir is not None and str(data_dir) != "":
        places.append(Path(data_dir).expanduser())
    env = os.environ.get(ENV_VAR)
    if env:
        root = Path(env).expanduser()
        places += [root / sub for sub in SUBFOLDERS[name]] + [root]
    debian = (DEBIAN_ROOTS if debian_roots is None else debian_roots).get(name)
    if debian is not None:
        places.append(Path(debian))
    cache = default_keras_cache() if keras_cache is None else Path(keras_cache)
    places += [cache / sub for sub in SUBFOLDERS[name]] + [cache / npz for npz in NPZ_NAMES[name]]
    return places


def _idx_files(folder: Path) -> list[Path | None]:
    """The four IDX files in `folder` (gzipped preferred, MNIST's '.idx3-' spelling accepted), None if absent."""
    found: list[Path | None] = []
    for stem in IDX_STEMS:
        names = (stem + ".gz", stem, stem.replace("-idx", ".idx") + ".gz", stem.replace("-idx", ".idx"))
        found.append(next((folder / n for n in names if (folder / n).is_file()), None))
    return found


def _npz_in(folder: Path, name: str, explicit: bool) -> Path | None:
    for npz in NPZ_NAMES[name]:
        if (folder / npz).is_file():
            return folder / npz
    if explicit:  # a folder the user named: any single .npz will do
        others = sorted(folder.glob("*.npz"))
        if len(others) == 1:
            return others[0]
    return None


def _load_place(place: Path, name: str, explicit: bool) -> tuple[Arrays, str] | None:
    """Arrays and a source label from `place`, None if it holds no complete copy; DataError if corrupt."""
    if place.is_file():
        if place.suffix == ".npz":
            return _read_npz(place), str(place)
        if explicit:
            raise DataError(f"{place}: expected a folder holding the four IDX files or a Keras-style .npz file")
        return None
    if not place.is_dir():
        if explicit:
            raise DataError(f"{place}: no such folder")
        return None
    files = _idx_files(place)
    if all(files):
        images_train, labels_train, images_test, labels_test = (read_idx(f, ndim=3 if "images" in f.name else 1)
                                                                for f in files)  # type: ignore[union-attr]
        arrays = _validated((images_train, labels_train, images_test, labels_test), [str(f) for f in files])
        return arrays, str(place)
    npz = _npz_in(place, name, explicit)
    if npz is not None:
        return _read_npz(npz), str(npz)
    if explicit:
        missing = [stem + "[.gz]" for stem, f in zip(IDX_STEMS, files) if f is None]
        raise DataError(f"{place}: missing {', '.join(missing)} (or a Keras-style .npz with x_train, y_train, "
                        "x_test, y_test)")
    return None


def _read_npz(path: Path) -> Arrays:
    keys = ("x_train", "y_train", "x_test", "y_test")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in keys if k not in npz.files]
            if missing:
                raise DataError(f"{path}: not a Keras-style dataset file (missing {', '.join(missing)})")
            arrays = tuple(np.asarray(npz[k]) for k in keys)
    except DataError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, ValueError, OSError, EOFError, ...
        raise DataError(f"{path}: unreadable .npz file ({type(exc).__name__}: {exc})") from None
    return _validated(arrays, [f"{path}[{k}]" for k in keys])  # type: ignore[arg-type]


def _validated(arrays: Sequence[np.ndarray], labels: Sequence[str]) -> Arrays:
    """Check shapes, dtypes, counts and label range; return uint8 arrays. `labels` name each array's origin."""
    x_train, y_train, x_test, y_test = arrays
    for images, where in ((x_train, labels[0]), (x_test, labels[2])):
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise DataError(f"{where}: images must be 28 x 28, found shape {images.shape}")
    for values, where in zip(arrays, labels):
        if values.dtype != np.uint8:
            if not np.issubdtype(values.dtype, np.integer) or values.size and (values.min() < 0 or values.max() > 255):
                raise DataError(f"{where}: expected unsigned bytes, found {values.dtype}")
    for images, labels_, i_where, l_where in ((x_train, y_train, labels[0], labels[1]),
                                              (x_test, y_test, labels[2], labels[3])):
        if labels_.ndim != 1:
            raise DataError(f"{l_where}: labels must be one number per image, found shape {labels_.shape}")
        if len(images) != len(labels_):
            raise DataError(f"{l_where}: {len(labels_)} labels for {len(images)} images in {i_where}")
        if len(images) == 0:
            raise DataError(f"{i_where}: holds no images")
        if labels_.size and labels_.max() > 9:
            raise DataError(f"{l_where}: label {int(labels_.max())} is outside 0..9")
    return tuple(np.asarray(a, dtype=np.uint8) for a in arrays)  # type: ignore[return-value]


def keras_download(name: str) -> Arrays:
    """Download (or take from Keras's cache) with keras.datasets.<name>.load_data(); needs the internet once."""
    import importlib

    module = importlib.import_module(f"keras.datasets.{name}")
    (x_train, y_train), (x_test, y_test) = module.load_data()
    return x_train, y_train, x_test, y_test


def _not_found_message(name: str, places: Sequence[Path], reason: str) -> str:
    looked = ", ".join(str(p) for p in places)
    idx = ", ".join(stem + ".gz" for stem in IDX_STEMS)
    if name == "fashion_mnist":
        return (f"Fashion-MNIST not found (looked in {looked}) and the download failed ({reason}). "
                f"Install it with `sudo apt-get install dataset-fashion-mnist`, or pass --data DIR "
                f"(or set {ENV_VAR}=DIR) where DIR holds {idx} or a Keras-style .npz file.")
    return (f"MNIST digits not found (looked in {looked}) and the download failed ({reason}). "
            f"They are not packaged by Debian: download them once while online (`vaestudio train --dataset mnist` "
            f"or `python -c \"import keras; keras.datasets.mnist.load_data()\"` stores "
            f"{default_keras_cache() / 'mnist.npz'}), or put mnist.npz or {idx} in a folder "
            f"and pass --data DIR (or set {ENV_VAR}=DIR).")


def load_dataset(name: str = "fashion_mnist", data_dir: str | os.PathLike | None = None,
                 limit: int | None = None, *, debian_roots: dict[str, Path] | None = None,
                 keras_cache: Path | None = None, downloader: Downloader | None = None) -> Dataset:
    """Load the published train/test split of `name` ('fashion_mnist' or 'mnist'); raise DataError.

    `limit` keeps the first N train and first N test images. `debian_roots`, `keras_cache` and
    `downloader` replace the system locations and Keras's downloader (tests inject them).
    """
    _check_name(name)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1):
        raise ConfigError(f"limit {limit!r} must be a whole number of images, at least 1")
    places = search_places(name, data_dir, debian_roots=debian_roots, keras_cache=keras_cache)
    explicit = data_dir is not None and str(data_dir) != ""
    found = None
    for index, place in enumerate(places):
        found = _load_place(place, name, explicit=explicit and index == 0)
        if found is not None:
            break
    if found is None:
        try:
            arrays = (downloader or keras_download)(name)
        except Exception as exc:  # offline, no keras, server error, ...
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataError(_not_found_message(name, places, reason)) from None
        labels = [f"downloaded {name} {k}" for k in ("x_train", "y_train", "x_test", "y_test")]
        found = _validated([np.asarray(a) for a in arrays], labels), "a Keras download"
    (x_train, y_train, x_test, y_test), source = found
    if limit is not None:
        x_train, y_train, x_test, y_test = (a[:limit].copy() for a in (x_train, y_train, x_test, y_test))
    return Dataset(name, _frozen(x_train), _frozen(y_train), _frozen(x_test), _frozen(y_test),
                   source, CLASS_NAMES[name])


def _check_name(name: str) -> None:
    if name not in CLASS_NAMES:
        raise DataError(f"unknown dataset {name!r}: choose one of {', '.join(CLASS_NAMES)}")


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array, dtype=np.uint8)
    array.flags.writeable = False
    return array


# ---------------------------------------------------------------------------------------------- preprocess


def preprocess(images: np.ndarray) -> np.ndarray:
    """The tutorial's preprocessing: scale to [0, 1], binarize at 0.5, float32 NHWC (N, 28, 28, 1).

    For uint8 input `x / 255 > 0.5` is exactly `x > 127`, which needs no float64 copy of the data.
    """
    images = np.asarray(images)
    if images.shape[1:] not in ((28, 28), (28, 28, 1)):
        raise ValueError(f"preprocess expects images of shape (N, 28, 28), got {images.shape}")
    if images.dtype == np.uint8:
        on = images > 127
    else:
        on = images.astype(np.float32) / np.float32(255.0) > np.float32(0.5)
    return on.astype(np.float32).reshape(images.shape[0], 28, 28, 1)


# ---------------------------------------------------------------------------------------------- synthetic


def _shape_mask(label: int, yy: np.ndarray, xx: np.ndarray, size: int) -> np.ndarray:
    """A filled shape for class `label` on a 28 x 28 grid whose coordinates are already shifted."""
    c = 13.5
    if label == 0:
        return (yy >= 3) & (yy < 8) & (xx >= 4) & (xx < 24)            # bar at the top
    if label == 1:
        return (xx >= 3) & (xx < 8) & (yy >= 4) & (yy < 24)            # bar on the left
    if label == 2:
        return (abs(yy - c) <= size) & (abs(xx - c) <= size)           # square in the middle
    if label == 3:
        return (yy - c) ** 2 + (xx - c) ** 2 <= (size + 1) ** 2         # disc
    if label == 4:
        r2 = (yy - c) ** 2 + (xx - c) ** 2
        return (r2 <= (size + 3) ** 2) & (r2 >= (size + 0.5) ** 2)      # ring
    if label == 5:
        return (abs(yy - xx) <= 2) & (yy >= 3) & (yy < 25)              # diagonal
    if label == 6:
        return ((abs(yy - c) <= 2) | (abs(xx - c) <= 2)) & (abs(yy - c) <= 10) & (abs(xx - c) <= 10)  # cross
    if label == 7:
        return (yy >= 6) & (yy <= 22) & (abs(xx - c) <= (yy - 6) * 0.6)  # triangle
    if label == 8:
        return ((yy - 8) ** 2 + (xx - 8) ** 2 <= 12) | ((yy - 19) ** 2 + (xx - 19) ** 2 <= 12)  # two dots
    return ((yy >= 3) & (yy < 25) & (xx >= 3) & (xx < 25)) & ~((yy >= 7) & (yy < 21) & (xx >= 7) & (xx < 21))


def _draw(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    grid_y, grid_x = np.mgrid[0:28, 0:28].astype(np.float32)
    images = np.zeros((len(labels), 28, 28), dtype=np.uint8)
    shifts = rng.integers(-2, 3, size=(len(labels), 2))
    sizes = rng.integers(4, 8, size=len(labels))
    brightness = rng.integers(180, 256, size=len(labels))
    for i, label in enumerate(labels):
        mask = _shape_mask(int(label), grid_y - shifts[i, 0], grid_x - shifts[i, 1], int(sizes[i]))
        images[i][mask] = brightness[i]
    noise = rng.random(images.shape) < 0.01  # a few stray pixels, so no two images are identical
    images[noise] = rng.integers(0, 256, size=int(noise.sum()), dtype=np.uint8)
    return images


def synthetic_dataset(n_train: int = 256, n_test: int = 64, seed: int = 0) -> Dataset:
    """A tiny deterministic dataset of drawn shapes (10 classes) for tests and the self-test."""
    if n_train < 1 or n_test < 1:
        raise ValueError(f"synthetic_dataset needs at least one train and one test image, got {n_train}, {n_test}")
    rng = np.random.default_rng(seed)
    arrays = []
    for count in (n_train, n_test):
        labels = rng.permutation(np.arange(count) % 10).astype(np.uint8)
        arrays += [_draw(labels, rng), labels]
    x_train, y_train, x_test, y_test = (_frozen(a) for a in arrays)
    return Dataset("synthetic", x_train, y_train, x_test, y_test, f"generated shapes (seed {seed})",
                   SYNTHETIC_CLASS_NAMES)
