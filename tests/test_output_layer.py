"""The decoder's output layer computed the faster way (core/tf/output_layer.py) is the same model: the same
logits and gradients as Keras' Conv2DTranspose, for the tutorial's 28x28 grey model and a 64x64 colour one,
in float32 and mixed bfloat16."""

import numpy as np
import pytest

from vaestudio.core.architecture import Architecture

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
from vaestudio.core.tf import output_layer  # noqa: E402
from vaestudio.core.tf.model import build_cvae  # noqa: E402


@pytest.mark.parametrize("architecture", [Architecture(2), Architecture(3, 64, 3, "continuous_bernoulli")],
                         ids=["tutorial", "64x64-colour"])
def test_decode_matches_keras_layers_and_their_gradients(architecture):
    keras.utils.set_random_seed(1)
    model = build_cvae(architecture)
    assert output_layer.is_output_convolution(model.decoder.layers[-1])
    z = tf.random.normal([6, architecture.latent_dim])
    variables = model.decoder.trainable_variables
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(z)
        fast = model.decode(z)
        keras_logits = model.decoder(z)
        fast_loss, keras_loss = (tf.reduce_sum(tf.sin(3.0 * logits)) for logits in (fast, keras_logits))
    np.testing.assert_allclose(fast.numpy(), keras_logits.numpy(), atol=1e-5)
    for mine, theirs in zip(tape.gradient(fast_loss, [z, *variables]), tape.gradient(keras_loss, [z, *variables])):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), atol=1e-4 * (np.abs(theirs.numpy()).max() + 1))


def test_mixed_bfloat16_decode_matches_keras():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        keras.utils.set_random_seed(2)
        model = build_cvae(2)
        z = tf.random.normal([4, 2])
        fast, keras_logits = model.decode(z), model.decoder(z)
    finally:
        keras.config.set_dtype_policy(previous)
    assert fast.dtype == keras_logits.dtype == tf.bfloat16
    np.testing.assert_allclose(tf.cast(fast, tf.float32).numpy(), tf.cast(keras_logits, tf.float32).numpy(),
                               atol=0.05 * (np.abs(tf.cast(keras_logits, tf.float32).numpy()).max() + 1))
