"""Fashion-MNIST and MNIST digits: find them on disk (or download them once) and validate them.

Search order: the `data_dir` argument, `$VAESTUDIO_DATA`, Debian's dataset-fashion-mnist package,
the Keras cache, and last Keras's own downloader. TensorFlow/Keras is imported only for that download.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from vaestudio.core.data.dataset import Dataset, frozen, shown
from vaestudio.core.data.idx import read_idx
from vaestudio.core.data.npz import read_npz
from vaestudio.core.errors import ConfigError, DataError

CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "fashion_mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    "mnist": tuple(str(d) for d in range(10)),
}

ENV_VAR = "VAESTUDIO_DATA"
# Folders a system package installs the IDX files into (Debian: `apt-get install dataset-fashion-mnist`).
DEBIAN_ROOTS: dict[str, Path] = {"fashion_mnist": Path("/usr/share/datasets/fashion-mnist")}
# Sub-folder of a data root (or of the Keras cache) that holds each dataset, and the .npz names tried.
SUBFOLDERS = {"fashion_mnist": ("fashion-mnist", "fashion_mnist"), "mnist": ("mnist",)}
NPZ_NAMES = {"fashion_mnist": ("fashion-mnist.npz", "fashion_mnist.npz"), "mnist": ("mnist.npz",)}
IDX_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
Downloader = Callable[[str], Arrays]


def default_keras_cache() -> Path:
    """Where Keras keeps downloaded datasets: $KERAS_HOME/datasets, else ~/.keras/datasets."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser() / "datasets"


def search_places(name: str, data_dir: str | os.PathLike | None = None, *,
                  debian_roots: dict[str, Path] | None = None, keras_cache: Path | None = None) -> list[Path]:
    """Folders (or .npz files) that may hold dataset `name`, in the order they are tried."""
    _check_name(name)
    places: list[Path] = []
    if data_dir is not None and os.fsdecode(data_dir) != "":
        places.append(Path(os.fsdecode(data_dir)).expanduser())
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


def _kind(path: Path) -> str | None:
    """'file', 'folder', 'other' or None (absent); an unreadable place raises DataError naming it."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise DataError(f"{shown(path)}: cannot read ({exc.strerror or exc})") from None
    return "file" if stat.S_ISREG(mode) else "folder" if stat.S_ISDIR(mode) else "other"


def _idx_files(folder: Path) -> list[Path | None]:
    """The four IDX files in `folder` (gzipped preferred, MNIST's '.idx3-' spelling accepted), None if absent."""
    found: list[Path | None] = []
    for stem in IDX_STEMS:
        names = (stem + ".gz", stem, stem.replace("-idx", ".idx") + ".gz", stem.replace("-idx", ".idx"))
        found.append(next((folder / n for n in names if _kind(folder / n) == "file"), None))
    return found


def _npz_in(folder: Path, name: str, explicit: bool) -> Path | None:
    for npz in NPZ_NAMES[name]:
        if _kind(folder / npz) == "file":
            return folder / npz
    if explicit:  # a folder the user named: any single .npz will do
        try:
            others = sorted(p for p in folder.iterdir() if p.name.endswith(".npz") and not p.name.startswith("."))
        except OSError as exc:
            raise DataError(f"{shown(folder)}: cannot read folder ({exc.strerror or exc})") from None
        if len(others) == 1:
            return others[0]
    return None


def _load_place(place: Path, name: str, explicit: bool) -> tuple[Arrays, str] | None:
    """Arrays and a source label from `place`, None if it holds no complete copy; DataError if corrupt."""
    kind = _kind(place)
    if kind == "file":
        if place.suffix == ".npz":
            return _validated(read_npz(place), [f"{shown(place)}[{k}]" for k in ("x_train", "y_train", "x_test",
                                                                               "y_test")]), str(place)
        if explicit:
            raise DataError(f"{shown(place)}: expected a folder holding the four IDX files or a Keras-style .npz file")
        return None
    if kind != "folder":
        if explicit:
            raise DataError(f"{shown(place)}: " + ("no such folder" if kind is None else "not a folder or file"))
        return None
    files = _idx_files(place)
    if all(files):
        images_train, labels_train, images_test, labels_test = (read_idx(f, ndim=3 if "images" in f.name else 1)
                                                                for f in files)  # type: ignore[union-attr]
        arrays = _validated((images_train, labels_train, images_test, labels_test), [shown(f) for f in files])
        return arrays, str(place)
    npz = _npz_in(place, name, explicit)
    if npz is not None:
        keys = ("x_train", "y_train", "x_test", "y_test")
        return _validated(read_npz(npz), [f"{shown(npz)}[{k}]" for k in keys]), str(npz)
    if explicit:
        from vaestudio.core.data.scan import holds_images

        if holds_images(place):
            raise DataError(f"{shown(place)}: this folder holds images, not the {name} files: add --dataset "
                            "image_folder (in the window: choose the dataset Image folder)")
        missing = [stem + "[.gz]" for stem, f in zip(IDX_STEMS, files) if f is None]
        raise DataError(f"{shown(place)}: missing {', '.join(missing)} (or a Keras-style .npz with x_train, y_train, "
                        "x_test, y_test)")
    return None


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
    looked = ", ".join(shown(p) for p in places)
    idx = ", ".join(stem + ".gz" for stem in IDX_STEMS)
    if name == "fashion_mnist":
        return (f"Fashion-MNIST not found (looked in {looked}) and the download failed ({reason}). "
                f"Install it with `sudo apt-get install dataset-fashion-mnist`, or pass --data DIR "
                f"(or set {ENV_VAR}=DIR) where DIR holds {idx} or a Keras-style .npz file.")
    return (f"MNIST digits not found (looked in {looked}) and the download failed ({reason}). "
            f"They are not packaged by Debian: download them once while online (`vaestudio train --dataset mnist` "
            f"or `python -c \"import keras; keras.datasets.mnist.load_data()\"` stores "
            f"{shown(default_keras_cache() / 'mnist.npz')}), or put mnist.npz or {idx} in a folder "
            f"and pass --data DIR (or set {ENV_VAR}=DIR).")


def load_dataset(name: str = "fashion_mnist", data_dir: str | os.PathLike | None = None,
                 limit: int | None = None, *, debian_roots: dict[str, Path] | None = None,
                 keras_cache: Path | None = None, downloader: Downloader | None = None) -> Dataset:
    """Load the published train/test split of `name` ('fashion_mnist' or 'mnist'); raise DataError.

    `limit` keeps the first N train and first N test images. `debian_roots`, `keras_cache` and
    `downloader` replace the system locations and Keras's downloader (tests inject them).
    """
    _check_name(name)
    check_limit(limit)
    places = search_places(name, data_dir, debian_roots=debian_roots, keras_cache=keras_cache)
    explicit = data_dir is not None and os.fsdecode(data_dir) != ""
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
    return Dataset(name, frozen(x_train), frozen(y_train), frozen(x_test), frozen(y_test),
                   shown(source), CLASS_NAMES[name])


def check_limit(limit: int | None) -> None:
    """ConfigError unless `limit` is None or a whole number of images, at least 1."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1):
        raise ConfigError(f"limit {limit!r} must be a whole number of images, at least 1")


def _check_name(name: str) -> None:
    if name not in CLASS_NAMES:
        raise DataError(f"unknown dataset {name!r}: choose one of {', '.join(CLASS_NAMES)}")
