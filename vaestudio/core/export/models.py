"""A snapshot's encoder and decoder as two plain Keras 3 models, the source of every model format.

Neither needs vaestudio to be loaded: only built-in layers.
- encoder: `images` float32 (N, H, W, C) in [0, 1] -> [`mean`, `logvar`], each (N, latent_dim): the diagonal
  Gaussian posterior. The training model's last dense layer (2 * latent_dim units) is split into two dense
  layers of latent_dim units, the same numbers.
- decoder: `z` float32 (N, latent_dim) -> `pixels` (N, H, W, C) in [0, 1]: the Bernoulli probability of
  each pixel (the sigmoid of the logits), what the window shows. A continuous-Bernoulli model's pixel mean is
  no built-in layer: its Keras and TF.js decoders give the logits (`decoder_output` in the export's JSON
  says which), and the graph formats (SavedModel, ONNX, LiteRT) compute the mean, see `pixel_values`.
"""

from __future__ import annotations

from vaestudio.core.architecture import KERNEL, Architecture
from vaestudio.core.weights import VaeWeights

BERNOULLI_OUTPUT = "probability"  # sigmoid(logits): the pixel's Bernoulli probability in [0, 1]
MEAN_OUTPUT = "continuous_bernoulli_mean"  # the continuous Bernoulli's mean in [0, 1]
LOGITS_OUTPUT = "logits"  # the decoder's raw logits (continuous-Bernoulli models in the layer formats)
SERIES_BELOW = 0.1  # |logit| under which the mean uses its series (float32 cancels in the closed form)


def decoder_output(architecture: Architecture, graph: bool) -> str:
    """What the exported decoder's `pixels` are: graph formats compute the continuous Bernoulli's mean."""
    if architecture.likelihood != "continuous_bernoulli":
        return BERNOULLI_OUTPUT
    return MEAN_OUTPUT if graph else LOGITS_OUTPUT


def keras_encoder(weights: VaeWeights):
    """The encoder as a functional Keras model with outputs [mean, logvar], holding the snapshot's weights."""
    import keras

    arch = weights.architecture
    d = arch.latent_dim
    f32 = {"dtype": "float32"}  # whatever the process's dtype policy (mixed precision while training)
    images = keras.Input(shape=arch.image_shape, name="images")
    h = images
    for index, filters in enumerate(arch.encoder_filters):
        h = keras.layers.Conv2D(filters, KERNEL, strides=2, activation="relu", name=f"conv_{index}", **f32)(h)
    h = keras.layers.Flatten(name="flatten", **f32)(h)
    mean = keras.layers.Dense(d, name="mean", **f32)(h)
    logvar = keras.layers.Dense(d, name="logvar", **f32)(h)
    model = keras.Model(images, [mean, logvar], name="encoder")
    arrays = list(weights.encoder)
    kernel, bias = arrays[-2], arrays[-1]
    model.set_weights(arrays[:-2] + [kernel[:, :d], bias[:d], kernel[:, d:], bias[d:]])
    return model


def keras_decoder(weights: VaeWeights, activation: bool = True):
    """The decoder as a Keras model z -> pixels (a sigmoid on the logits for Bernoulli models when
    `activation`; logits otherwise), holding the snapshot's weights."""
    import keras

    arch = weights.architecture
    base = arch.decoder_base_size
    dense_units = weights.decoder[1].shape[0]
    f32 = {"dtype": "float32"}  # whatever the process's dtype policy (mixed precision while training)
    z = keras.Input(shape=(arch.latent_dim,), name="z")
    h = keras.layers.Dense(dense_units, activation="relu", name="dense", **f32)(z)
    h = keras.layers.Reshape((base, base, dense_units // (base * base)), name="reshape", **f32)(h)
    for index, filters in enumerate(arch.decoder_filters):
        h = keras.layers.Conv2DTranspose(filters, KERNEL, strides=2, padding="same", activation="relu",
                                         name=f"deconv_{index}", **f32)(h)
    h = keras.layers.Conv2DTranspose(arch.channels, KERNEL, strides=1, padding="same", name="logits", **f32)(h)
    if activation and decoder_output(arch, graph=False) == BERNOULLI_OUTPUT:
        h = keras.layers.Activation("sigmoid", name="pixels", **f32)(h)
    model = keras.Model(z, h, name="decoder")
    model.set_weights(list(weights.decoder))
    return model


def pixel_values(logits, likelihood: str):
    """TensorFlow ops: the pixel values in [0, 1] for `logits` (Bernoulli probability or continuous-Bernoulli
    mean, as core/numpy_vae.py display_values)."""
    import tensorflow as tf

    if likelihood != "continuous_bernoulli":
        return tf.sigmoid(logits)
    small = tf.abs(logits) < SERIES_BELOW
    safe = tf.where(small, tf.ones_like(logits), logits)
    closed = 1.0 / (1.0 - tf.exp(-safe)) - 1.0 / safe
    series = 0.5 + logits / 12.0 - logits ** 3 / 720.0 + logits ** 5 / 30240.0
    return tf.clip_by_value(tf.where(small, series, closed), 0.0, 1.0)
