"""The tutorial's convolutional VAE as a Keras 3 model that saves to and loads from `.keras`."""

from __future__ import annotations

import zipfile
from pathlib import Path

import keras
import tensorflow as tf

from vaestudio.core.architecture import Architecture
from vaestudio.core.errors import ModelFileError

IMAGE_SHAPE = (28, 28, 1)


def build_encoder(latent_dim: int) -> keras.Sequential:
    """Image -> concatenated (mean, log-variance) of the diagonal Gaussian posterior."""
    return keras.Sequential(
        [
            keras.Input(shape=IMAGE_SHAPE),
            keras.layers.Conv2D(32, 3, strides=2, activation="relu"),
            keras.layers.Conv2D(64, 3, strides=2, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(2 * latent_dim),  # no activation
        ],
        name="encoder",
    )


def build_decoder(latent_dim: int) -> keras.Sequential:
    """Latent point -> Bernoulli logits of a 28x28 image."""
    return keras.Sequential(
        [
            keras.Input(shape=(latent_dim,)),
            keras.layers.Dense(7 * 7 * 32, activation="relu"),
            keras.layers.Reshape((7, 7, 32)),
            keras.layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu"),
            keras.layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu"),
            keras.layers.Conv2DTranspose(1, 3, strides=1, padding="same"),  # logits
        ],
        name="decoder",
    )


@keras.saving.register_keras_serializable(package="vaestudio")
class CVAE(keras.Model):
    """Convolutional variational autoencoder: `encode` gives (mean, logvar), `decode` gives logits."""

    def __init__(self, latent_dim: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.encoder = build_encoder(self.latent_dim)
        self.architecture = Architecture(latent_dim=self.latent_dim)
        self.decoder = build_decoder(self.latent_dim)

    def encode(self, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        mean, logvar = tf.split(self.encoder(x), num_or_size_splits=2, axis=1)
        return mean, logvar

    def decode(self, z: tf.Tensor, apply_sigmoid: bool = False) -> tf.Tensor:
        logits = self.decoder(z)
        return tf.sigmoid(logits) if apply_sigmoid else logits

    def call(self, x: tf.Tensor) -> tf.Tensor:
        """Deterministic reconstruction logits (decodes the posterior mean)."""
        mean, _ = self.encode(x)
        return self.decode(mean)

    def build(self, input_shape=None) -> None:
        self.encoder.build((None, *IMAGE_SHAPE))
        self.decoder.build((None, self.latent_dim))
        super().build((None, *IMAGE_SHAPE))

    def get_config(self) -> dict:
        return {"latent_dim": self.latent_dim, "name": self.name}


def build_cvae(latent_dim: int = 2) -> CVAE:
    """A freshly initialised, built CVAE."""
    model = CVAE(latent_dim, name="cvae")
    model.build()
    return model


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


def load_model(path: str | Path) -> CVAE:
    """Load a `.keras` file saved by vaestudio; anything else raises ModelFileError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: not a .keras model file (it is not a zip archive)")
    try:
        model = keras.saving.load_model(path, custom_objects={"CVAE": CVAE}, compile=False, safe_mode=True)
    except Exception as exc:  # keras raises many types for foreign or damaged files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{path}: not a vaestudio model ({reason[:200]})") from None
    if not isinstance(model, CVAE):
        raise ModelFileError(f"{path}: a Keras model of another architecture ({type(model).__name__}), not a vaestudio CVAE")
    return model
