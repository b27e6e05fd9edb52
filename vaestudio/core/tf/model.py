"""The tutorial's convolutional VAE as a Keras 3 model, for any `Architecture` (its `.keras` files:
model_file.py).

28x28x1 is the tutorial's model, layer for layer; 64x64 images add one stride-2 stage on each side (see
architecture.py). On a CPU the training's model splits its batches into parts (threads.py).
"""

from __future__ import annotations

import math
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from vaestudio.core.architecture import Architecture
from vaestudio.core.tf.output_layer import is_output_convolution, output_convolution
from vaestudio.core.tf.threads import in_parts, part_functions
from vaestudio.core.weights import VaeWeights


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
            x = in_parts(part_functions(self)[0], x, self.batch_parts)
        else:
            x = self.encoder(x)
        mean, logvar = tf.split(x, num_or_size_splits=2, axis=1)
        return mean, logvar

    def decode(self, z: tf.Tensor, apply_sigmoid: bool = False) -> tf.Tensor:
        """The decoder's logits (probabilities with `apply_sigmoid`); the same layers and weights as
        `self.decoder(z)`, its stride-1 output layer computed the faster way (`output_convolution`)."""
        if self.batch_parts > 1:
            logits = in_parts(part_functions(self)[1], z, self.batch_parts)
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


def _architecture(value: Architecture | int) -> Architecture:
    if isinstance(value, Architecture):
        return value
    return Architecture(latent_dim=value)
