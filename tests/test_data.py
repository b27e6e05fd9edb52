"""Dataset layer: finding, parsing and validating IDX/.npz files, the offline message, preprocessing, synthetic
data, the entry the run pipeline calls, and the data defects of issue 9 (permissions, non-UTF-8 paths, .npz)."""

import dataclasses
import gzip
import os
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from idx_files import idx_bytes, run_unprivileged, save_image, write_idx, write_idx_folder, write_npz

from vaestudio.core.architecture import Architecture
from vaestudio.core.config import TrainConfig
from vaestudio.core.data import (CLASS_NAMES, Dataset, load_dataset, load_for_config, preprocess, read_idx,
                                 synthetic_dataset)
from vaestudio.core.errors import ConfigError, DataError

DEBIAN = Path("/usr/share/datasets/fashion-mnist")


def _arrays(n_train=20, n_test=8, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8), rng.integers(0, 10, n_train, dtype=np.uint8),
            rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8), rng.integers(0, 10, n_test, dtype=np.uint8))


class FakeDownloader:
    """Stands in for keras.datasets.<name>.load_data(): never touches the network."""

    def __init__(self, arrays=None, error=None):
        self.arrays, self.error, self.calls = arrays, error, []

    def __call__(self, name):
        self.calls.append(name)
        if self.error is not None:
            raise self.error
        return self.arrays


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Keyword arguments that keep load_dataset away from the machine's data and the network."""
    monkeypatch.delenv("VAESTUDIO_DATA", raising=False)
    return {"debian_roots": {}, "keras_cache": tmp_path / "empty-keras-cache",
            "downloader": FakeDownloader(error=OSError("network is unreachable"))}


def _assert_same(dataset, arrays):
    for got, want in zip((dataset.train_images, dataset.train_labels, dataset.test_images, dataset.test_labels),
                         arrays):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("gz", [True, False], ids=["gzipped", "raw"])
def test_idx_folder_round_trips(tmp_path, isolated, gz):
    arrays = _arrays()
    folder = write_idx_folder(tmp_path / "idx", arrays, gz=gz)
    dataset = load_dataset("fashion_mnist", data_dir=folder, **isolated)
    _assert_same(dataset, arrays)
    assert dataset.source == str(folder)
    assert dataset.class_names == CLASS_NAMES["fashion_mnist"]
    assert isolated["downloader"].calls == []


def test_read_idx_returns_the_stored_array(tmp_path):
    images, labels = _arrays()[:2]
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "i.gz", images)), images)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "l", labels)), labels)
    # gzip is recognised by content, not by name
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "l-no-suffix", labels, gz=True)), labels)


def test_npz_in_a_folder_or_named_directly(tmp_path, isolated):
    arrays = _arrays(seed=3)
    npz = write_npz(tmp_path / "digits" / "mnist.npz", arrays)
    from_folder = load_dataset("mnist", data_dir=npz.parent, **isolated)
    from_file = load_dataset("mnist", data_dir=npz, **isolated)
    _assert_same(from_folder, arrays)
    _assert_same(from_file, arrays)
    assert from_file.source == str(npz) and from_file.class_names == tuple("0123456789")


def test_dataset_is_frozen_and_describes_itself(tmp_path, isolated):
    folder = write_idx_folder(tmp_path / "idx", _arrays(n_train=20, n_test=8))
    dataset = load_dataset(data_dir=folder, **isolated)
    assert dataset.describe() == f"Fashion-MNIST, 20 train / 8 test images from {folder}"
    with pytest.raises(dataclasses.FrozenInstanceError):
        dataset.name = "mnist"
    with pytest.raises(ValueError):
        dataset.train_images[0, 0, 0] = 1


# ---------------------------------------------------------------------------------------------- search order


@pytest.fixture
def four_places(tmp_path, monkeypatch):
    """Fashion-MNIST in all four places, told apart by their number of train images."""
    places = {
        "data_dir": write_idx_folder(tmp_path / "given", _arrays(n_train=11)),
        "env": write_idx_folder(tmp_path / "env" / "fashion-mnist", _arrays(n_train=12)),
        "debian": write_idx_folder(tmp_path / "debian", _arrays(n_train=13)),
        "keras": write_idx_folder(tmp_path / "keras" / "fashion-mnist", _arrays(n_train=14)),
    }
    monkeypatch.setenv("VAESTUDIO_DATA", str(tmp_path / "env"))
    kwargs = {"debian_roots": {"fashion_mnist": places["debian"]}, "keras_cache": tmp_path / "keras",
              "downloader": FakeDownloader(error=OSError("offline"))}
    return places, kwargs


def test_search_order_data_dir_env_debian_keras(four_places, monkeypatch):
    places, kwargs = four_places
    assert len(load_dataset(data_dir=places["data_dir"], **kwargs).train_images) == 11
    assert len(load_dataset(**kwargs).train_images) == 12
    monkeypatch.delenv("VAESTUDIO_DATA")
    assert len(load_dataset(**kwargs).train_images) == 13
    kwargs["debian_roots"] = {}
    dataset = load_dataset(**kwargs)
    assert len(dataset.train_images) == 14 and dataset.source == str(places["keras"])
    assert kwargs["downloader"].calls == []


def test_env_folder_may_hold_the_files_directly(tmp_path, isolated, monkeypatch):
    folder = write_idx_folder(tmp_path / "flat", _arrays(n_train=15))
    monkeypatch.setenv("VAESTUDIO_DATA", str(folder))
    assert len(load_dataset(**isolated).train_images) == 15


def test_keras_cache_layout_for_mnist_is_an_npz(tmp_path, isolated):
    write_npz(tmp_path / "cache" / "mnist.npz", _arrays(n_train=16))
    dataset = load_dataset("mnist", **{**isolated, "keras_cache": tmp_path / "cache"})
    assert len(dataset.train_images) == 16 and dataset.source == str(tmp_path / "cache" / "mnist.npz")


def test_a_given_data_dir_without_the_files_is_an_error_not_a_fallback(four_places, tmp_path):
    places, kwargs = four_places
    partial = tmp_path / "partial"
    write_idx_folder(partial, _arrays())
    (partial / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"partial.*missing t10k-labels-idx1-ubyte"):
        load_dataset(data_dir=partial, **kwargs)
    with pytest.raises(DataError, match="no such folder"):
        load_dataset(data_dir=tmp_path / "nowhere", **kwargs)


def test_download_is_the_last_resort(isolated):
    arrays = _arrays(n_train=17)
    downloader = FakeDownloader(arrays=arrays)
    dataset = load_dataset("mnist", **{**isolated, "downloader": downloader})
    assert downloader.calls == ["mnist"]
    _assert_same(dataset, arrays)


# ---------------------------------------------------------------------------------------------- offline message


def test_offline_fashion_message_says_how_to_install(isolated):
    with pytest.raises(DataError) as caught:
        load_dataset("fashion_mnist", **isolated)
    message = str(caught.value)
    assert "\n" not in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "--data DIR" in message and "VAESTUDIO_DATA" in message
    assert "network is unreachable" in message


def test_offline_mnist_message_says_to_download_once(isolated):
    with pytest.raises(DataError) as caught:
        load_dataset("mnist", **isolated)
    message = str(caught.value)
    assert "\n" not in message
    assert "not packaged by Debian" in message and "online" in message
    assert "mnist.npz" in message and "--data DIR" in message and "VAESTUDIO_DATA" in message
    assert "apt-get" not in message


def test_unknown_dataset_name(isolated):
    with pytest.raises(DataError, match="'cifar'"):
        load_dataset("cifar", **isolated)


# ---------------------------------------------------------------------------------------------- corrupt files


def _gz_truncated(path, arrays):
    full = gzip.compress(idx_bytes(arrays[0]), mtime=0)
    path.write_bytes(full[: len(full) // 2])


def _gz_corrupt(path, arrays):
    full = bytearray(gzip.compress(idx_bytes(arrays[0]), mtime=0))
    full[40:60] = b"\xff" * 20
    path.write_bytes(bytes(full))


def _gz_header_claims_more(path, arrays):
    write_idx(path, arrays[0], shape=(len(arrays[0]) + 5, 28, 28))


def _gz_header_claims_fewer(path, arrays):
    write_idx(path, arrays[0], shape=(len(arrays[0]) - 5, 28, 28))


def _wrong_magic(path, arrays):
    write_idx(path, arrays[0], magic=0x00000D03)


def _labels_magic_for_images(path, arrays):
    write_idx(path, arrays[0].reshape(-1), magic=0x00000801)


def _not_28_by_28(path, arrays):
    write_idx(path, arrays[0][:, :27, :])


def _empty_file(path, arrays):
    path.write_bytes(b"")


CORRUPTIONS = {
    "truncated gzip": (_gz_truncated, "truncated"),
    "corrupt gzip": (_gz_corrupt, "gzip"),
    "header claims more images": (_gz_header_claims_more, "truncated"),
    "header claims fewer images": (_gz_header_claims_fewer, "longer than its header"),
    "wrong magic": (_wrong_magic, "magic number 0x00000D03"),
    "labels magic in images file": (_labels_magic_for_images, "magic number 0x00000801"),
    "27 x 28 images": (_not_28_by_28, "28 x 28"),
    "empty file": (_empty_file, "not an IDX file"),
}


@pytest.mark.parametrize("case", CORRUPTIONS)
def test_corrupt_train_images_give_one_line_naming_the_file(tmp_path, isolated, case):
    make, what = CORRUPTIONS[case]
    arrays = _arrays()
    folder = write_idx_folder(tmp_path / "idx", arrays)
    bad = folder / "train-images-idx3-ubyte.gz"
    make(bad, arrays)
    with pytest.raises(DataError) as caught:
        load_dataset(data_dir=folder, **isolated)
    message = str(caught.value)
    assert message.startswith(str(bad)) and what in message and "\n" not in message
    assert isolated["downloader"].calls == []  # nothing half-loaded, and no silent fallback


@pytest.mark.parametrize("extra", [-7, 5], ids=["truncated", "trailing bytes"])
def test_raw_file_of_the_wrong_size(tmp_path, extra):
    labels = _arrays()[1]
    raw = idx_bytes(labels)
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(raw[:extra] if extra < 0 else raw + b"\0" * extra)
    with pytest.raises(DataError, match=f"^{path}: .*(truncated|longer than its header)"):
        read_idx(path)


def test_label_count_must_match_image_count(tmp_path, isolated):
    arrays = list(_arrays())
    arrays[3] = arrays[3][:-1]
    folder = write_idx_folder(tmp_path / "idx", arrays)
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz: 7 labels for 8 images"):
        load_dataset(data_dir=folder, **isolated)


def test_labels_must_be_0_to_9(tmp_path, isolated):
    arrays = list(_arrays())
    arrays[1] = arrays[1].copy()
    arrays[1][3] = 10
    folder = write_idx_folder(tmp_path / "idx", arrays)
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte\.gz: label 10 is outside 0\.\.9"):
        load_dataset(data_dir=folder, **isolated)


def test_npz_missing_a_key_or_not_a_zip(tmp_path, isolated):
    bad = tmp_path / "mnist.npz"
    np.savez(bad, x_train=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(DataError, match=f"^{bad}: .*missing y_train"):
        load_dataset("mnist", data_dir=bad, **isolated)
    bad.write_bytes(b"this is not a zip file")
    with pytest.raises(DataError, match=f"^{bad}: not a .npz \\(zip\\) file$"):
        load_dataset("mnist", data_dir=bad, **isolated)


def test_npy_named_npz_and_pickled_objects_are_called_what_they_are(tmp_path, isolated):
    single = tmp_path / "one.npz"
    with open(single, "wb") as handle:
        np.save(handle, np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(DataError, match=f"^{single}: a single .npy array, not a .npz \\(zip\\) file"):
        load_dataset("mnist", data_dir=single, **isolated)
    pickled = tmp_path / "pickled.npz"
    arrays = dict(zip(("x_train", "y_train", "x_test", "y_test"), _arrays()))
    arrays["y_train"] = np.array([object()] * 20, dtype=object)
    np.savez(pickled, **arrays)
    with pytest.raises(DataError, match=r"pickled\.npz\[y_train\]: holds object values.*never loaded"):
        load_dataset("mnist", data_dir=pickled, **isolated)


def test_npz_whose_array_header_lies_about_its_size_is_refused_before_allocating(tmp_path):
    npz = write_npz(tmp_path / "mnist.npz", _arrays())
    with zipfile.ZipFile(npz) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    header = members["x_train.npy"]
    members["x_train.npy"] = header.replace(b"(20, 28, 28)", b"(99, 28, 28)", 1)  # same length, 5x the data
    lying = tmp_path / "lying" / "mnist.npz"
    lying.parent.mkdir()
    with zipfile.ZipFile(lying, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    peak, message = _peak_bytes(lambda: load_dataset("mnist", data_dir=lying, debian_roots={},
                                                     keras_cache=tmp_path / "none", downloader=FakeDownloader()))
    assert peak < 5_000_000
    assert message.startswith(f"{lying}[x_train]: its header says (99, 28, 28)")


def _peak_bytes(action):
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as caught:
            action()
        return tracemalloc.get_traced_memory()[1], str(caught.value)
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("gz", [True, False], ids=["gzipped", "raw"])
def test_absurd_header_fails_without_allocating(tmp_path, gz):
    path = write_idx(tmp_path / "huge", np.zeros((3, 28, 28), np.uint8), gz=gz, shape=(2**32 - 1, 28, 28))  # the most a header can claim: 3.4e12 bytes
    peak, message = _peak_bytes(lambda: read_idx(path))
    assert peak < 1_000_000
    assert message.startswith(str(path)) and f"{2**32 - 1} x 28 x 28" in message


def test_header_bigger_than_the_data_is_not_preallocated(tmp_path):
    # Plausible for its compressed size (random data barely compresses), but 20x the real content.
    images = np.random.default_rng(0).integers(0, 256, (1000, 28, 28), dtype=np.uint8)
    path = write_idx(tmp_path / "big.gz", images, shape=(20000, 28, 28))
    peak, message = _peak_bytes(lambda: read_idx(path))
    assert peak < 20000 * 784 / 4
    assert "truncated" in message


def test_gzip_bomb_is_not_decompressed_past_the_header_size(tmp_path):
    path = tmp_path / "bomb.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(idx_bytes(np.zeros((1, 28, 28), np.uint8)))
        zeros = bytes(1 << 20)
        for _ in range(64):  # 64 MiB of zeros behind a header that promises one image
            handle.write(zeros)
    peak, message = _peak_bytes(lambda: read_idx(path))
    assert peak < 8 << 20
    assert message.startswith(str(path)) and "longer than its header" in message


# ---------------------------------------------------------------------------------------------- limit


def test_limit_keeps_the_first_n_train_and_test_images(tmp_path, isolated):
    arrays = _arrays(n_train=20, n_test=8)
    folder = write_idx_folder(tmp_path / "idx", arrays)
    dataset = load_dataset(data_dir=folder, limit=5, **isolated)
    _assert_same(dataset, [a[:5] for a in arrays])
    assert dataset.describe().startswith("Fashion-MNIST, 5 train / 5 test images")
    assert len(load_dataset(data_dir=folder, limit=12, **isolated).test_images) == 8
    with pytest.raises(ConfigError, match="limit 0"):
        load_dataset(data_dir=folder, limit=0, **isolated)


# ---------------------------------------------------------------------------------------------- preprocess


def _tutorial_preprocess(images):
    images = images.reshape((images.shape[0], 28, 28, 1)) / 255.
    return np.where(images > .5, 1.0, 0.0).astype("float32")


def test_preprocess_matches_the_tutorial_for_every_byte_value():
    images = np.resize(np.arange(256, dtype=np.uint8), (4, 28, 28))
    assert set(np.unique(images)) == set(range(256))
    got = preprocess(images)
    assert got.dtype == np.float32 and got.shape == (4, 28, 28, 1)
    np.testing.assert_array_equal(got, _tutorial_preprocess(images))


def test_preprocess_accepts_nhwc_and_rejects_other_sizes():
    images = _arrays()[0]
    np.testing.assert_array_equal(preprocess(images[..., None]), _tutorial_preprocess(images))
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        preprocess(np.zeros((2, 32, 32), np.uint8))


def test_preprocess_keeps_grey_levels_for_the_continuous_bernoulli():
    images = np.resize(np.arange(256, dtype=np.uint8), (4, 28, 28))
    got = preprocess(images, Architecture(likelihood="continuous_bernoulli"))
    assert got.dtype == np.float32 and got.shape == (4, 28, 28, 1)
    np.testing.assert_array_equal(got[..., 0], images.astype(np.float32) / np.float32(255))
    floats = preprocess(images.astype(np.float64) * 2, Architecture(likelihood="continuous_bernoulli"))
    assert floats.max() == 1.0 and floats.dtype == np.float32


def test_preprocess_for_64_pixels_and_colour():
    rng = np.random.default_rng(1)
    colour = rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    binary = preprocess(colour, Architecture(image_size=64, channels=3))
    assert binary.shape == (3, 64, 64, 3)
    np.testing.assert_array_equal(binary, (colour > 127).astype(np.float32))
    grey = rng.integers(0, 256, (3, 64, 64), dtype=np.uint8)
    assert preprocess(grey, Architecture(image_size=64)).shape == (3, 64, 64, 1)
    with pytest.raises(ValueError, match=r"\(N, 64, 64, 3\), got \(3, 64, 64\)"):
        preprocess(grey, Architecture(image_size=64, channels=3))
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        preprocess(grey)


@pytest.mark.parametrize("likelihood", ["bernoulli", "continuous_bernoulli"])
def test_preprocess_makes_no_float64_copy(likelihood):
    images = np.zeros((500, 64, 64, 3), np.uint8)
    output_bytes = images.size * 4
    tracemalloc.start()
    try:
        preprocess(images, Architecture(image_size=64, channels=3, likelihood=likelihood))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < output_bytes * 1.5  # the float32 result, a byte mask at most, never 8 bytes per pixel


# ---------------------------------------------------------------------------------------------- synthetic


def test_synthetic_dataset_shapes_dtypes_and_determinism():
    first = synthetic_dataset(n_train=100, n_test=30, seed=4)
    assert first.name == "synthetic" and len(first.class_names) == 10
    assert first.train_images.shape == (100, 28, 28) and first.test_images.shape == (30, 28, 28)
    assert first.train_images.dtype == np.uint8 and first.train_labels.dtype == np.uint8
    assert set(first.train_labels.tolist()) == set(range(10))
    again = synthetic_dataset(n_train=100, n_test=30, seed=4)
    np.testing.assert_array_equal(first.train_images, again.train_images)
    np.testing.assert_array_equal(first.test_labels, again.test_labels)
    other = synthetic_dataset(n_train=100, n_test=30, seed=5)
    assert not np.array_equal(first.train_images, other.train_images)


def test_synthetic_classes_are_distinct_shapes():
    dataset = synthetic_dataset()
    binary = preprocess(dataset.train_images)[..., 0]
    means = np.stack([binary[dataset.train_labels == c].mean(axis=0) for c in range(10)])
    assert (means.sum(axis=(1, 2)) > 30).all()  # every class draws something visible after binarizing
    distances = np.abs(means[:, None] - means[None]).sum(axis=(2, 3))
    off_diagonal = distances[~np.eye(10, dtype=bool)]
    assert off_diagonal.min() > 20


# ---------------------------------------------------------------------------------------------- real files


@pytest.mark.dataset
@pytest.mark.skipif(not DEBIAN.is_dir(), reason="dataset-fashion-mnist is not installed")
def test_real_debian_fashion_mnist(monkeypatch):
    monkeypatch.delenv("VAESTUDIO_DATA", raising=False)
    dataset = load_dataset("fashion_mnist", debian_roots={"fashion_mnist": DEBIAN},
                           downloader=FakeDownloader(error=AssertionError("must not download")))
    assert dataset.train_images.shape == (60000, 28, 28) and dataset.test_images.shape == (10000, 28, 28)
    assert np.bincount(dataset.train_labels).tolist() == [6000] * 10
    assert dataset.source == str(DEBIAN)
    assert dataset.describe() == f"Fashion-MNIST, 60000 train / 10000 test images from {DEBIAN}"



# ---------------------------------------------------------------------------------------------- load_for_config


def _folder_of_images(root, count=40):
    rng = np.random.default_rng(0)
    for i in range(count):
        save_image(root / ("a" if i % 2 else "b") / f"{i}.png", rng.integers(0, 256, (20, 30, 3), dtype=np.uint8))
    return root


def test_load_for_config_dispatches_and_checks_the_fit(tmp_path, monkeypatch):
    monkeypatch.setenv("VAESTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    folder = _folder_of_images(tmp_path / "images")
    config = TrainConfig.from_preset("tutorial", dataset="image_folder", data_dir=str(folder), image_size=64,
                                     channels=3, batch_size=8, test_fraction=0.2)
    dataset = load_for_config(config)
    assert dataset.train_images.shape == (32, 64, 64, 3) and len(dataset.test_images) == 8
    assert dataset.class_names == ("a", "b")
    config.batch_size = 17
    with pytest.raises(DataError, match=r"32 training images, but two batches of 17 need at least 34"):
        load_for_config(config)
    config.batch_size, config.limit = 4, 8
    limited = load_for_config(config)
    assert len(limited.train_images) == 8 and len(limited.test_images) == 8
    config.limit = 5
    with pytest.raises(DataError, match=r"5 training images, but two batches of 4 need at least 8"):
        load_for_config(config)


def test_published_data_with_another_shape_needs_an_image_folder(tmp_path):
    folder = write_idx_folder(tmp_path / "idx", _arrays(n_train=64))
    config = TrainConfig.from_preset("tutorial", dataset="fashion_mnist", data_dir=str(folder), batch_size=8)
    assert len(load_for_config(config).train_images) == 64
    for change in ({"image_size": 64}, {"channels": 3}):
        bad = dataclasses.replace(config, **change)
        with pytest.raises(ConfigError, match=r"fashion_mnist is 28x28 grey; .* need an image folder "
                                              r"\(--dataset image_folder --data DIR\)"):
            load_for_config(bad)


def test_dataset_checks_its_arrays_and_describes_an_image_folder():
    images = np.zeros((3, 8, 8, 3), np.uint8)
    labels = np.zeros(3, np.int32)
    with pytest.raises(ValueError, match="labels must be integers of shape"):
        Dataset("x", images, labels[:2], images, labels, "s", ("a",))
    with pytest.raises(ValueError, match="uint8"):
        Dataset("x", images.astype(np.float32), labels, images, labels, "s", ("a",))
    from vaestudio.core.data import Skipped

    dataset = Dataset("image_folder", images, labels, images[:1], labels[:1], "/pics", ("a",),
                      (Skipped("x.png", "truncated image file"),))
    assert dataset.describe() == ("Image folder, 3 train / 1 test images (8x8 colour, 1 class) from /pics; "
                                  "skipped 1 file: x.png (truncated image file)")
    assert dataset.image_size == 8 and dataset.channels == 3 and dataset.background() == "dark"


def test_public_names_stay_importable():
    import vaestudio.core.data as data

    for name in ("Dataset", "load_dataset", "preprocess", "synthetic_dataset", "CLASS_NAMES", "read_idx",
                 "search_places", "DEBIAN_ROOTS", "ENV_VAR", "load_for_config", "load_image_folder",
                 "prepare_own_image", "OwnImage"):
        assert hasattr(data, name), name


# ---------------------------------------------------------------------------------------------- issue 9: data defects


def test_a_data_folder_without_search_permission_is_a_data_error_exit_2(tmp_path):
    """#11: a PermissionError used to escape as exit 1; the CLI fails before TensorFlow or the run folder."""
    folder = write_idx_folder(tmp_path / "idx", _arrays())
    images = _folder_of_images(tmp_path / "images", count=4)
    out = tmp_path / "run"
    code = ("import sys; from vaestudio.core.data import load_image_folder\n"
            "try: load_image_folder(sys.argv[1])\n"
            "except Exception as e: print(type(e).__name__, e)")
    for locked in (folder, images):
        locked.chmod(0o600)  # readable, but no search permission
    try:
        cli = run_unprivileged([sys.executable, "-m", "vaestudio", "train", "--data", str(folder), "--out", str(out)])
        direct = run_unprivileged([sys.executable, "-c", code, str(images)])
    finally:
        for locked in (folder, images):
            locked.chmod(0o755)
    assert cli.returncode == 2, cli.stderr
    assert cli.stderr.strip().splitlines() == [f"vaestudio: error: {folder}/train-images-idx3-ubyte.gz: "
                                               "cannot read (Permission denied)"]
    assert not out.exists()
    assert direct.stdout.strip() == f"DataError {images}: cannot read folder (Permission denied)"


def test_non_utf8_data_paths_load_and_errors_print(tmp_path, isolated):
    """#12: a --data path holding the byte 0xff."""
    odd = os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9-\xff")
    arrays = _arrays()
    write_idx_folder(Path(odd), arrays)
    _assert_same(load_dataset(data_dir=odd, **isolated), arrays)
    with pytest.raises(DataError) as caught:
        load_dataset(data_dir=odd + "-missing", **isolated)
    message = str(caught.value)
    assert message.encode("utf-8") and "caf\\xe9-\\xff-missing: no such folder" in message
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    missing = os.fsencode(odd) + b"-missing"
    result = subprocess.run([sys.executable, "-m", "vaestudio", "train", "--data", missing,
                             "--out", os.fsencode(tmp_path) + b"/run-\xff"], capture_output=True, env=env)
    assert result.returncode == 2
    assert result.stderr.decode("utf-8").strip().endswith("caf\\xe9-\\xff-missing: no such folder")
    assert not os.path.exists(os.fsencode(tmp_path) + b"/run-\xff")
