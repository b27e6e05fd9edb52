"""The tutorial's convolutional VAE as a Keras 3 model, for any `Architecture`, saved as `.keras`.

28x28x1 is the tutorial's model, layer for layer; 64x64 images add one stride-2 stage on each side (see
architecture.py). A `.keras` file is checked before Keras reads any of it: its members and their sizes,
its config (read here, with a size cap, and validated as an `Architecture`), and the declared sizes of the
weights inside, so that a crafted or foreign file is refused in milliseconds with little memory.
"""

from __future__ import annotations

import io
import json
import math
import struct
import weakref
import zipfile
from pathlib import Path
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from vaestudio.core.architecture import Architecture
from vaestudio.core.errors import ConfigError, ModelFileError
from vaestudio.core.tf.output_layer import is_output_convolution, output_convolution
from vaestudio.core.weights import VaeWeights


CONFIG_MEMBER = "config.json"
WEIGHTS_MEMBER = "model.weights.h5"
METADATA_MEMBER = "metadata.json"
MAX_FILE_BYTES = 64 * 1024 * 1024  # the largest supported model with an optimizer is ~15 MB
MAX_JSON_BYTES = 64 * 1024  # ours are ~300 bytes
MAX_H5_OBJECTS = 512
MAX_MEMBERS = 16  # a .keras file of ours has 3 (0xFFFF, a ZIP64 archive, is refused too)
MAX_DIRECTORY_BYTES = 64 * 1024
MAX_ZIP_COMMENT = 0xFFFF
_END_RECORD = struct.Struct("<4s4H2LH")  # the zip format's end of central directory record
# The weights member may hold at most this many times the model's parameter bytes (an optimizer's
# state, should a compiled model be saved, is 2-3x), plus room for HDF5's own structures.
WEIGHTS_FACTOR = 4
WEIGHTS_SLACK_BYTES = 1024 * 1024
_CVAE_CONFIG_KEYS = {"latent_dim", "image_size", "channels", "likelihood", "prior", "pseudo_inputs", "model"}
_KERAS_CONFIG_KEYS = {"name", "trainable", "dtype"}
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def build_encoder(architecture: Architecture | int) -> keras.Sequential:
    """Image -> concatenated (mean, log-variance) of the diagonal Gaussian posterior."""
    arch = _architecture(architecture)
    height, width, channels = arch.image_shape
    return keras.Sequential(
        [keras.Input(shape=(height, width, channels + arch.classes))]  # a conditional model's label: channels
        + [keras.layers.Conv2D(filters, 3, strides=2, activation="relu") for filters in arch.encoder_filters]
        + [keras.layers.Flatten(), keras.layers.Dense(2 * arch.latent_dim)],  # no activation
        name="encoder",
    )


@keras.saving.register_keras_serializable(package="vaestudio")
class PseudoInputs(keras.layers.Layer):
    """The VampPrior's K learned pseudo-inputs, as logits (images = sigmoid(logits), in [0, 1]). An identity
    on the latent points it is given: it sits first in the decoder only to hold them (architecture.py)."""

    def __init__(self, count: int, image_shape: Sequence[int], **kwargs):
        super().__init__(**kwargs)
        self.count, self.image_shape = int(count), tuple(int(n) for n in image_shape)
        self.logits = self.add_weight(shape=(self.count, *self.image_shape), name="pseudo_input_logits",
                                      initializer=keras.initializers.RandomNormal(0.0, 0.5, seed=None),
                                      dtype="float32")

    def call(self, z):
        return z

    def images(self) -> tf.Tensor:
        """The pseudo-inputs, float32 (K, H, W, C) in [0, 1]."""
        return tf.sigmoid(tf.cast(self.logits, tf.float32))

    def get_config(self) -> dict:
        return {**super().get_config(), "count": self.count, "image_shape": list(self.image_shape)}


def build_decoder(architecture: Architecture | int) -> keras.Sequential:
    """Latent point -> logits of an image (Bernoulli or continuous-Bernoulli parameters per pixel); with a
    VampPrior, its pseudo-inputs first (an identity layer)."""
    arch = _architecture(architecture)
    base = arch.decoder_base_size
    prior = [PseudoInputs(arch.pseudo_inputs, arch.image_shape, name="pseudo_inputs")] if arch.vamp else []
    return keras.Sequential(
        [keras.Input(shape=(arch.latent_dim + arch.classes,)), *prior,  # a conditional model's label after z
         keras.layers.Dense(base * base * 32, activation="relu"),
         keras.layers.Reshape((base, base, 32))]
        + [keras.layers.Conv2DTranspose(filters, 3, strides=2, padding="same", activation="relu")
           for filters in arch.decoder_filters]
        + [keras.layers.Conv2DTranspose(arch.channels, 3, strides=1, padding="same")],  # logits
        name="decoder",
    )


@keras.saving.register_keras_serializable(package="vaestudio")
class CVAE(keras.Model):
    """Convolutional variational autoencoder: `encode` gives (mean, logvar), `decode` gives logits."""

    def __init__(self, latent_dim: int = 2, image_size: int = 28, channels: int = 1,
                 likelihood: str = "bernoulli", prior: str = "standard", pseudo_inputs: int = 0, model: str = "vae",
                 **kwargs):
        super().__init__(**kwargs)
        self.architecture = Architecture(latent_dim, image_size, channels, likelihood, prior, pseudo_inputs, model)
        self.latent_dim = self.architecture.latent_dim
        self.encoder = build_encoder(self.architecture)
        self.decoder = build_decoder(self.architecture)

    # Into how many parts `encode` and `decode` split a batch: independent chains of single-thread operations
    # on a CPU (core/tf/threads.py). Set by the training's builder; 1 (whole batches) for any other model.
    batch_parts = 1

    def encode(self, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        if self.batch_parts > 1:
            x = in_parts(_part_functions(self)[0], x, self.batch_parts)
        else:
            x = self.encoder(x)
        mean, logvar = tf.split(x, num_or_size_splits=2, axis=1)
        return mean, logvar

    def decode(self, z: tf.Tensor, apply_sigmoid: bool = False) -> tf.Tensor:
        """The decoder's logits (probabilities with `apply_sigmoid`); the same layers and weights as
        `self.decoder(z)`, its stride-1 output layer computed the faster way (`output_convolution`)."""
        if self.batch_parts > 1:
            logits = in_parts(_part_functions(self)[1], z, self.batch_parts)
        else:
            logits = self.decoder_logits(z)
        return tf.sigmoid(logits) if apply_sigmoid else logits

    def decoder_logits(self, z: tf.Tensor) -> tf.Tensor:
        """The decoder's layers on `z`, the output layer as `output_convolution`."""
        logits = z
        for layer in self.decoder.layers:
            logits = output_convolution(layer, logits) if is_output_convolution(layer) else layer(logits)
        return logits

    def prior_log_prob(self, z: tf.Tensor) -> tf.Tensor:
        """log p(z) in float32 over the last axis of `z` (..., d): the standard normal's, or the VampPrior's
        log (1/K) sum_k N(z; mean_k, var_k) at the encoder's posteriors of the pseudo-inputs."""
        z = tf.cast(z, tf.float32)
        if not self.architecture.vamp:
            return tf.reduce_sum(-0.5 * tf.square(z) - _HALF_LOG_2PI, axis=-1)
        from vaestudio.core.tf.variants import vamp_components

        means, logvars = vamp_components(self)  # (K, d) float32, the pseudo-inputs encoded in chunks
        per_component = tf.reduce_sum(-0.5 * (tf.square(z[..., None, :] - means) * tf.exp(-logvars) + logvars)
                                      - _HALF_LOG_2PI, axis=-1)  # (..., K)
        return tf.reduce_logsumexp(per_component, axis=-1) - math.log(self.architecture.pseudo_inputs)

    def pseudo_inputs(self) -> tf.Tensor:
        """The VampPrior's pseudo-inputs, float32 (K, H, W, C) in [0, 1] (a model with a VampPrior only)."""
        return self.decoder.get_layer("pseudo_inputs").images()

    def call(self, x: tf.Tensor) -> tf.Tensor:
        """Deterministic reconstruction logits (decodes the posterior mean). A conditional model's inputs
        carry the label as channels after the image's (see objective.split_condition)."""
        from vaestudio.core.tf.objective import conditioned, split_condition

        mean, _ = self.encode(x)
        return self.decode(conditioned(mean, split_condition(self, x)[1]))

    def build(self, input_shape=None) -> None:
        height, width, channels = self.architecture.image_shape
        classes = self.architecture.classes
        self.encoder.build((None, height, width, channels + classes))
        self.decoder.build((None, self.latent_dim + classes))
        super().build((None, height, width, channels + classes))

    def get_config(self) -> dict:
        return {**self.architecture.to_dict(), "name": self.name}


_PART_FUNCTIONS: "weakref.WeakKeyDictionary[CVAE, tuple]" = weakref.WeakKeyDictionary()


def _part_functions(model: CVAE) -> tuple:
    """The model's encoder and decoder as compiled functions of one part of a batch, traced once each (per
    dtype) and called for every part by every graph that encodes or decodes: the parts cost no extra tracing."""
    functions = _PART_FUNCTIONS.get(model)
    if functions is None:
        functions = (tf.function(model.encoder.__call__, autograph=False, reduce_retracing=True),
                     tf.function(model.decoder_logits, autograph=False, reduce_retracing=True))
        _PART_FUNCTIONS[model] = functions
    return functions


def in_parts(function, inputs: tf.Tensor, parts: int) -> tf.Tensor:
    """`function(inputs)` for a function that treats each image of a batch on its own, computed on `parts`
    equal slices of the batch and concatenated: independent chains of operations, which TensorFlow runs at
    once on its inter-op threads (threads.py). The batch is padded with zeros to a multiple of `parts`, at
    least one image each (oneDNN's convolutions refuse an empty batch); the padding's outputs are dropped,
    so it adds nothing to any gradient."""
    if parts < 2:
        return function(inputs)
    count = tf.shape(inputs)[0]
    size = tf.maximum((count + parts - 1) // parts, 1)
    paddings = tf.concat([[[0, size * parts - count]], tf.zeros([len(inputs.shape) - 1, 2], tf.int32)], 0)
    padded = tf.pad(inputs, paddings)
    outputs = [function(padded[part * size:(part + 1) * size]) for part in range(parts)]
    return tf.concat(outputs, 0)[:count]


def build_cvae(architecture_or_latent_dim: Architecture | int = 2) -> CVAE:
    """A freshly initialised, built CVAE (an int is the latent size of the tutorial's 28x28 model)."""
    arch = _architecture(architecture_or_latent_dim)
    model = CVAE(**arch.to_dict(), name="cvae")
    model.build()
    return model


def model_from_weights(weights: VaeWeights) -> CVAE:
    """A float32 Keras CVAE holding a snapshot's weights."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        model = build_cvae(weights.architecture)
    finally:
        keras.config.set_dtype_policy(previous)
    model.encoder.set_weights(list(weights.encoder))
    model.decoder.set_weights(list(weights.decoder))
    return model


def decode_grid(model: CVAE, n: int, axes: tuple[int, int] = (0, 1), held: Sequence[float] | None = None) -> np.ndarray:
    """The latent grid from a Keras CVAE in one batched decoder call, as a uint8 mosaic (latent.mosaic)."""
    from vaestudio.core.latent import grid_points, mosaic
    from vaestudio.core.numpy_vae import display_values

    from vaestudio.core.numpy_vae import one_hot

    arch = getattr(model, "architecture", None) or Architecture(model.latent_dim)
    points = grid_points(n, arch.latent_dim, axes, held)
    if arch.classes:  # a conditional model's grid is decoded for numpy_vae.DEFAULT_CLASS
        points = np.concatenate([points, one_hot(None, len(points), arch.classes)], axis=1)
    logits = tf.cast(model.decoder(points, training=False), tf.float32).numpy()
    return mosaic(display_values(logits, arch.likelihood), n)


# -- files --------------------------------------------------------------------------------------------------
def save_model(model: CVAE, path: str | Path) -> Path:
    """Save as `.keras`, atomically (a failed save leaves any previous file untouched)."""
    from vaestudio.core.store.atomic import atomic_path

    path = Path(path)
    if path.suffix != ".keras":
        raise ModelFileError(f"{path}: a model file must end in .keras")
    with atomic_path(path) as tmp:
        keras_tmp = tmp.with_name(tmp.name + ".keras")
        try:
            model.save(keras_tmp)
            keras_tmp.replace(tmp)
        finally:
            keras_tmp.unlink(missing_ok=True)
    return path


def load_model(path: str | Path, expected: Architecture | None = None) -> CVAE:
    """Load a `.keras` file saved by vaestudio (0.1.0's too); anything else raises ModelFileError naming
    the file. `expected`: refuse a model of another architecture than this one."""
    path = Path(path)
    architecture = check_model_file(path)
    if expected is not None and architecture != expected:
        raise ModelFileError(f"{path}: a model of {architecture.describe()}, not of {expected.describe()}")
    try:
        model = keras.saving.load_model(path, custom_objects={"CVAE": CVAE, "PseudoInputs": PseudoInputs},
                                        compile=False, safe_mode=True)
    except Exception as exc:  # keras raises many types for foreign or damaged files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{path}: not a vaestudio model ({reason[:200]})") from None
    if not isinstance(model, CVAE):
        raise ModelFileError(f"{path}: a Keras model of another architecture ({type(model).__name__}), not a vaestudio CVAE")
    if model.architecture != architecture:
        raise ModelFileError(f"{path}: the model built is not the one its config describes")
    return model


def check_model_file(path: str | Path) -> Architecture:
    """The architecture a `.keras` file holds, checked without letting Keras read it: ModelFileError
    (naming the file) for anything that is not a vaestudio model or asks for more than one can hold."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such model file") from None
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not path.is_file():
        raise ModelFileError(f"{path}: not a file")
    if size > MAX_FILE_BYTES:
        raise ModelFileError(f"{path}: {size} bytes, larger than any vaestudio model file")
    try:
        with open(path, "rb") as handle:
            if not zipfile.is_zipfile(handle):
                raise ModelFileError(f"{path}: not a .keras model file (it is not a zip archive)")
            _check_directory(path, handle, size)
            handle.seek(0)
            with zipfile.ZipFile(handle) as archive:
                return _check_archive(path, archive)
    except ModelFileError:
        raise
    except (OSError, EOFError, zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError) as exc:
        raise ModelFileError(f"{path}: damaged model file ({type(exc).__name__}: {exc})") from None


def _check_directory(path: Path, handle, size: int) -> None:
    """Refuse archives whose central directory lists more members than a model has, before zipfile
    reads it (a directory of a million empty members costs ZipFile hundreds of megabytes)."""
    tail_size = min(size, MAX_ZIP_COMMENT + _END_RECORD.size)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + _END_RECORD.size > len(tail):
        raise ModelFileError(f"{path}: damaged model file (no zip directory)")
    fields = _END_RECORD.unpack_from(tail, at)
    members, directory_bytes = fields[4], fields[5]
    if members > MAX_MEMBERS or directory_bytes > MAX_DIRECTORY_BYTES:
        raise ModelFileError(f"{path}: not a vaestudio model ({members} archive members)")


def _check_archive(path: Path, archive: zipfile.ZipFile) -> Architecture:
    members = {info.filename: info for info in archive.infolist()}
    unexpected = sorted(set(members) - {CONFIG_MEMBER, WEIGHTS_MEMBER, METADATA_MEMBER})
    if unexpected:
        raise ModelFileError(f"{path}: not a vaestudio model (unexpected member {unexpected[0][:100]!r})")
    if len(archive.infolist()) != len(members):
        raise ModelFileError(f"{path}: damaged model file (a member appears twice)")
    for name in (CONFIG_MEMBER, WEIGHTS_MEMBER):
        if name not in members:
            raise ModelFileError(f"{path}: not a .keras model file (no {name})")
    for name in (CONFIG_MEMBER, METADATA_MEMBER):
        if name in members and members[name].file_size > MAX_JSON_BYTES:
            raise ModelFileError(f"{path}: its {name} unpacks to {members[name].file_size} bytes, far more than "
                                 f"a vaestudio model's")
    architecture = _architecture_from_config(path, archive.read(members[CONFIG_MEMBER]))
    limit = WEIGHTS_FACTOR * 4 * architecture.parameter_count() + WEIGHTS_SLACK_BYTES
    weights = members[WEIGHTS_MEMBER]
    if weights.file_size > limit:
        raise ModelFileError(f"{path}: its weights unpack to {weights.file_size} bytes, more than a model of "
                             f"{architecture.describe()} holds")
    _check_weights(path, archive.read(weights), limit)
    return architecture


def _architecture_from_config(path: Path, raw: bytes) -> Architecture:
    def refuse_constant(name: str):
        raise ModelFileError(f"{path}: its config holds {name}, not a number")

    try:
        config = json.loads(raw.decode("utf-8"), parse_constant=refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise ModelFileError(f"{path}: damaged model config ({type(exc).__name__})") from None
    if not isinstance(config, dict):
        raise ModelFileError(f"{path}: not a Keras model config")
    class_name = config.get("class_name")
    ours = config.get("registered_name") == "vaestudio>CVAE" or (
        class_name == "CVAE" and str(config.get("module", "")).startswith("vaestudio."))
    if not ours:
        raise ModelFileError(f"{path}: a Keras model of another architecture ({str(class_name)[:80]}), "
                             f"not a vaestudio CVAE")
    values = config.get("config")
    if not isinstance(values, dict):
        raise ModelFileError(f"{path}: its config has no model settings")
    unknown = sorted(set(values) - _CVAE_CONFIG_KEYS - _KERAS_CONFIG_KEYS)
    if unknown:
        raise ModelFileError(f"{path}: unknown model setting {str(unknown[0])[:80]!r}")
    try:  # 0.1.0 saved only latent_dim: the rest default to the tutorial's
        return Architecture.from_dict({key: values[key] for key in _CVAE_CONFIG_KEYS if key in values},
                                      source="model config")
    except ConfigError as exc:
        raise ModelFileError(f"{path}: {exc}") from None


def _check_weights(path: Path, raw: bytes, limit: int) -> None:
    """Walk the HDF5 weights (already in memory, size-checked): refuse datasets whose unpacked size
    exceeds `limit` in total (compressed HDF5 bombs), external or virtual storage, and too many objects."""
    import h5py

    total = 0
    objects = 0
    try:
        with h5py.File(io.BytesIO(raw), "r") as h5:
            pending = [h5]
            while pending:
                group = pending.pop()
                for name in group:
                    objects += 1
                    if objects > MAX_H5_OBJECTS:
                        raise ModelFileError(f"{path}: its weights file holds more than {MAX_H5_OBJECTS} objects")
                    link = group.get(name, getlink=True)
                    if isinstance(link, h5py.ExternalLink):
                        raise ModelFileError(f"{path}: its weights refer to data outside the file")
                    if not isinstance(link, h5py.HardLink):
                        continue  # soft links name objects reached anyway
                    item = group[name]
                    if isinstance(item, h5py.Group):
                        pending.append(item)
                    elif isinstance(item, h5py.Dataset):
                        if item.external or item.is_virtual:
                            raise ModelFileError(f"{path}: its weights refer to data outside the file")
                        total += math.prod(item.shape or ()) * item.dtype.itemsize
                        if total > limit:
                            raise ModelFileError(f"{path}: its weights unpack to more than a model of this "
                                                 f"architecture holds")
    except ModelFileError:
        raise
    except Exception as exc:  # h5py raises OSError, KeyError, ValueError, TypeError for damaged files
        raise ModelFileError(f"{path}: damaged weights ({type(exc).__name__})") from None


def _architecture(value: Architecture | int) -> Architecture:
    if isinstance(value, Architecture):
        return value
    return Architecture(latent_dim=value)
