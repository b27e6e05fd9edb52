"""A small classifier of a dataset's images, trained once per dataset and cached: it judges decoded
samples (which class do they look like) and gives the features of the Fréchet distance.

Its convolutions are the VAE encoder's stack (3x3 stride-2 convolutions with ReLU: 32, 64 [, 128]
filters), then Dense(128) + ReLU — the penultimate features — and Dense(classes). Trained with Keras
(TensorFlow imported lazily, only to train); run with the NumPy encoder, so judging samples needs neither
TensorFlow nor the UI thread. Inputs are grey levels in [0, 1] (uint8 pictures / 255, or decoded display
values), never binarized.

Cached as `<cache>/classifiers/<content hash>.npz` (<cache>: $VAESTUDIO_CACHE_DIR, else
$XDG_CACHE_HOME/vaestudio, else ~/.cache/vaestudio), keyed by a hash of the dataset's images and labels,
with its own test accuracy, so a number it produces can say how far to trust it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from vaestudio.core.architecture import MAX_LATENT_DIM, Architecture
from vaestudio.core.errors import DataError, ModelFileError
from vaestudio.core.numpy_vae import NumpyEncoder

FORMAT = 1
FEATURES = 2 * MAX_LATENT_DIM  # the encoder's dense layer, read as the penultimate features (128)
EPOCHS = 3
BATCH = 128
_MAX_BYTES = 64 << 20


@dataclass(frozen=True, eq=False)
class DatasetClassifier:
    """A trained classifier of one dataset's images (NumPy forward pass; immutable, thread-safe)."""

    architecture: Architecture  # image size and channels (latent_dim: FEATURES // 2)
    convolutions: tuple[np.ndarray, ...] = field(repr=False)  # the encoder-like arrays, Keras order
    head: tuple[np.ndarray, np.ndarray] = field(repr=False)  # Dense(classes): (FEATURES, K), (K,)
    class_names: tuple[str, ...]
    test_accuracy: float  # on the dataset's whole test split
    data_hash: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "_encoder", NumpyEncoder(self.architecture, self.convolutions))

    def features(self, images: np.ndarray) -> np.ndarray:
        """Penultimate features float32 (N, FEATURES) of uint8 pictures or grey levels in [0, 1]."""
        mean, logvar = self._encoder(_grey_inputs(images, self.architecture))
        return np.maximum(np.concatenate([mean, logvar], axis=1), 0.0)

    def logits_of_features(self, features: np.ndarray) -> np.ndarray:
        return features @ self.head[0] + self.head[1]

    def predict(self, images: np.ndarray) -> np.ndarray:
        """The class index of each image, int (N,)."""
        return self.logits_of_features(self.features(images)).argmax(axis=1)

    def save(self, path: str | Path) -> Path:
        from vaestudio.core.store.atomic import atomic_path

        meta = {"format": FORMAT, "architecture": self.architecture.to_dict(), "class_names": list(self.class_names),
                "test_accuracy": self.test_accuracy, "data_hash": self.data_hash, "arrays": len(self.convolutions)}
        arrays = {"meta": np.array(json.dumps(meta)), "head_w": self.head[0], "head_b": self.head[1]}
        arrays |= {f"conv_{i}": a for i, a in enumerate(self.convolutions)}
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> "DatasetClassifier":
        from vaestudio.core.store.npz import read_npz

        arrays = read_npz(Path(path), ModelFileError, _MAX_BYTES, "classifier file")
        try:
            meta = json.loads(str(arrays["meta"]))
            if meta.get("format") != FORMAT:
                raise ModelFileError(f"{path}: classifier format {meta.get('format')!r} is not {FORMAT}")
            convolutions = tuple(arrays[f"conv_{i}"] for i in range(int(meta["arrays"])))
            return cls(Architecture.from_dict(meta["architecture"]), convolutions,
                       (arrays["head_w"].astype(np.float32), arrays["head_b"].astype(np.float32)),
                       tuple(meta["class_names"]), float(meta["test_accuracy"]), str(meta["data_hash"]))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, ModelFileError):
                raise
            raise ModelFileError(f"{path}: damaged classifier file ({type(exc).__name__}: {exc})") from None


def dataset_hash(dataset) -> str:
    """A hash of a Dataset's images, labels and class names (what the classifier learned from)."""
    digest = hashlib.blake2b(digest_size=12)
    for array in (dataset.train_images, dataset.train_labels, dataset.test_images, dataset.test_labels):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(memoryview(array).cast("B"))
    digest.update(json.dumps([FORMAT, list(dataset.class_names)]).encode())
    return digest.hexdigest()


def classifier_path(dataset, root: str | Path | None = None) -> Path:
    """Where the classifier of `dataset` is cached."""
    from vaestudio.core.data.cache import cache_root

    return (cache_root() if root is None else Path(root)) / "classifiers" / f"{dataset_hash(dataset)}.npz"


def cached_classifier(dataset, root: str | Path | None = None) -> DatasetClassifier | None:
    """The cached classifier of `dataset`, or None (not trained yet, or its file is damaged)."""
    path = classifier_path(dataset, root)
    if not path.is_file():
        return None
    try:
        return DatasetClassifier.load(path)
    except ModelFileError:
        return None


def classifier_for(dataset, root: str | Path | None = None, epochs: int = EPOCHS, seed: int = 0,
                   progress: Callable[[int, int], None] | None = None) -> DatasetClassifier:
    """The cached classifier of `dataset`, trained (with TensorFlow) and cached first when missing."""
    found = cached_classifier(dataset, root)
    if found is not None:
        return found
    trained = train_classifier(dataset, epochs, seed, progress)
    trained.save(classifier_path(dataset, root))
    return trained


def train_classifier(dataset, epochs: int = EPOCHS, seed: int = 0,
                     progress: Callable[[int, int], None] | None = None) -> DatasetClassifier:
    """Train the classifier on the dataset's train split (Adam, batch 128); its accuracy is measured on the
    whole test split. progress(epoch, epochs) after each epoch."""
    labels = np.asarray(dataset.train_labels).astype(np.int64)
    classes = max(len(dataset.class_names), int(labels.max()) + 1)
    if classes < 2:
        raise DataError(f"{dataset.name}: a classifier needs at least 2 classes, the dataset has {classes}")
    architecture = Architecture(MAX_LATENT_DIM, dataset.image_size, dataset.channels)
    from vaestudio.core.tf.quiet import import_tensorflow

    tf = import_tensorflow()
    keras = tf.keras
    tf.random.set_seed(seed)
    layers = [keras.Input(architecture.image_shape)]
    layers += [keras.layers.Conv2D(f, 3, strides=2, activation="relu") for f in architecture.encoder_filters]
    layers += [keras.layers.Flatten(), keras.layers.Dense(FEATURES, activation="relu"), keras.layers.Dense(classes)]
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = _grey_inputs(dataset.train_images, architecture)
    callbacks = []
    if progress is not None:
        callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=lambda e, _logs: progress(e + 1, epochs)))
    model.fit(x, labels, batch_size=BATCH, epochs=epochs, shuffle=True, verbose=0, callbacks=callbacks)
    weights = [np.asarray(w, np.float32) for w in model.get_weights()]
    classifier = DatasetClassifier(architecture, tuple(weights[:-2]), (weights[-2], weights[-1]),
                                   tuple(dataset.class_names) or tuple(map(str, range(classes))), 0.0,
                                   dataset_hash(dataset))
    accuracy = float(np.mean(classifier.predict(dataset.test_images) == np.asarray(dataset.test_labels)))
    return dataclasses.replace(classifier, test_accuracy=accuracy)


def _grey_inputs(images: np.ndarray, architecture: Architecture) -> np.ndarray:
    array = np.asarray(images)
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4 or tuple(array.shape[1:]) != architecture.image_shape:
        raise DataError(f"images of shape {np.shape(images)} do not fit a classifier of "
                        f"{architecture.image_size}x{architecture.image_size}x{architecture.channels} images")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / np.float32(255.0)
    return np.clip(np.asarray(array, np.float32), 0.0, 1.0)
