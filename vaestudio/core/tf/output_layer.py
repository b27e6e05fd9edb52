"""The decoder's output layer, a 3x3 stride-1 transposed convolution, computed faster than TensorFlow does.

CVAE.decode uses it in training and evaluation; the layer itself (a keras Conv2DTranspose, its weights and
files) is unchanged, and `model.decoder(z)` still runs Keras' own implementation: both give the same
logits within float32 rounding (~1e-6).
"""

from __future__ import annotations

import keras
import tensorflow as tf

# False: CVAE.decode runs Keras' own layer (benchmarks/train_engines.py's `vaestudio-keras` measures both).
ENABLED = True


def is_output_convolution(layer) -> bool:
    """The decoder's last layer: a 3x3 stride-1 'same' transposed convolution without activation."""
    return ENABLED and (isinstance(layer, keras.layers.Conv2DTranspose) and tuple(layer.strides) == (1, 1)
            and tuple(layer.kernel_size) == (3, 3) and layer.padding == "same" and tuple(layer.dilation_rate) == (1, 1)
            and layer.data_format == "channels_last" and layer.activation is keras.activations.linear
            and layer.use_bias)


def output_convolution(layer: keras.layers.Conv2DTranspose, x: tf.Tensor) -> tf.Tensor:
    """`layer(x)` for the decoder's output layer, the same sums in another order (float32: within ~1e-6).

    TensorFlow runs a stride-1 transposed convolution with few output channels (the image's 1 or 3) as the
    input gradient of a convolution, which oneDNN does slowly on this shape: 28x28x32 -> 28x28x1 took ~2.6x
    the time of this (forward and gradients, batch 64, Zen 4). Here each of the 9 taps is one column of a
    single matrix product (N*H*W, C_in) x (C_in, 9*C_out), and the output the sum of the 9 shifted columns;
    the gradients are TensorFlow's own for the transposed convolution (a convolution for the input, a filter
    gradient for the kernel)."""
    dtype = layer.compute_dtype
    x = tf.cast(x, dtype)
    kernel = tf.cast(layer.kernel, dtype)
    return _transposed_conv_3x3_same(x, kernel) + tf.cast(layer.bias, dtype)


@tf.custom_gradient
def _transposed_conv_3x3_same(x: tf.Tensor, kernel: tf.Tensor):
    """tf.nn.conv2d_transpose(x, kernel, stride 1, 'SAME') for a 3x3 kernel (3, 3, C_out, C_in), NHWC."""
    height, width, channels = x.shape[1], x.shape[2], x.shape[3]
    outputs = kernel.shape[2]
    columns = tf.reshape(tf.transpose(kernel, [3, 0, 1, 2]), [channels, 9 * outputs])  # (C_in, (ky, kx, C_out))
    taps = tf.matmul(tf.reshape(x, [-1, channels]), columns)
    taps = tf.pad(tf.reshape(taps, [-1, height, width, 9 * outputs]), [[0, 0], [1, 1], [1, 1], [0, 0]])
    # output[y, x] = sum over (ky, kx) of input[y + 1 - ky, x + 1 - kx] . kernel[ky, kx]
    total = None
    for ky in range(3):
        for kx in range(3):
            first = (ky * 3 + kx) * outputs
            tap = taps[:, 2 - ky:2 - ky + height, 2 - kx:2 - kx + width, first:first + outputs]
            total = tap if total is None else total + tap

    def gradient(upstream):
        d_input = tf.nn.conv2d(upstream, kernel, 1, "SAME")
        d_kernel = tf.compat.v1.nn.conv2d_backprop_filter(upstream, tf.shape(kernel), x, [1, 1, 1, 1], "SAME")
        return d_input, d_kernel

    return total, gradient
