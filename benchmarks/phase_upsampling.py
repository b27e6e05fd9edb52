"""A rejected lever (issue 22 item 6), kept to measure it again: the decoder's stride-2 transposed
convolutions (3x3, 'same') computed as matrix products on output phases, with a tf.custom_gradient whose
forward and backward passes are each plain matrix products (no autodiff through slices or pads).

    python benchmarks/train_levers.py --only b64,b64-phaseup    # whole training steps, interleaved
    python benchmarks/step_parts.py --only conv-T               # the layers alone

A 3x3 stride-2 'same' transposed convolution sends input pixel (i, j) through tap (ky, kx) to output pixel
(2i + ky, 2j + kx) (those past the edge are dropped). Each of the four output phases (row and column parity)
is therefore a sum of taps, some shifted by one input pixel: tap 2 of an axis lands on phase 0 of the next
pixel. The forward pass is one matrix product (N*H*W, C_in) x (C_in, 9*C_out) and shifted sums; the backward
pass gathers the output gradient's phases into the same nine columns (G, N*H*W x 9*C_out) and takes two
products, G x kernel^T for the input and input^T x G for the kernel. Same weights and values as Keras'
layer (outputs and gradients within ~1e-6 relative).

Measured 2026-12-07 (Zen 4, 2 cores, load 4-6): slower. The three products alone take about what oneDNN's
three convolution kernels take (64->32 at batch 64: 9.2 against 11.5 ms at best), and the phase
bookkeeping (shifted sums, the phases' interleave, building G) adds ~9 ms; the whole training step x0.72.
"""

from __future__ import annotations

import keras
import tensorflow as tf

# The nine taps (ky, kx) in the order of the product's column groups: the four unshifted taps in phase order
# (py, px) = 00, 01, 10, 11; then ky = 2 (phase py 0 of the next row) for px 0, 1; kx = 2 (phase px 0 of the
# next column) for py 0, 1; then (2, 2).
TAPS = ((0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1), (0, 2), (1, 2), (2, 2))


def is_stride2_convolution(layer) -> bool:
    """A 3x3 stride-2 'same' transposed convolution with bias, channels last (the decoder's upsampling)."""
    return (isinstance(layer, keras.layers.Conv2DTranspose) and tuple(layer.strides) == (2, 2)
            and tuple(layer.kernel_size) == (3, 3) and layer.padding == "same" and tuple(layer.dilation_rate) == (1, 1)
            and layer.data_format == "channels_last" and layer.use_bias and layer.output_padding is None)


def stride2_convolution(layer: keras.layers.Conv2DTranspose, x: tf.Tensor) -> tf.Tensor:
    """`layer(x)` for a layer `is_stride2_convolution` accepts: the same sums in another order."""
    dtype = layer.compute_dtype
    x = tf.cast(x, dtype)
    outputs = _transposed_conv_3x3_stride2(x, tf.cast(layer.kernel, dtype)) + tf.cast(layer.bias, dtype)
    return layer.activation(outputs)


def _columns(kernel: tf.Tensor) -> tf.Tensor:
    """Kernel (3, 3, C_out, C_in) -> (C_in, 9 * C_out), column groups in TAPS order."""
    taps = tf.stack([kernel[ky, kx] for ky, kx in TAPS])  # (9, C_out, C_in)
    return tf.reshape(tf.transpose(taps, [2, 0, 1]), [tf.shape(kernel)[3], -1])


def _kernel(columns: tf.Tensor, outputs: int) -> tf.Tensor:
    """The inverse of `_columns`: (C_in, 9 * C_out) -> (3, 3, C_out, C_in)."""
    taps = tf.transpose(tf.reshape(columns, [tf.shape(columns)[0], 9, outputs]), [1, 2, 0])  # (9, C_out, C_in)
    by_tap = dict(zip(TAPS, tf.unstack(taps)))
    return tf.stack([tf.stack([by_tap[(ky, kx)] for kx in range(3)]) for ky in range(3)])


def _down(a: tf.Tensor) -> tf.Tensor:
    """a moved one pixel down (row i takes row i - 1; row 0 zero), NHWC."""
    return tf.pad(a[:, :-1], [[0, 0], [1, 0], [0, 0], [0, 0]])


def _right(a: tf.Tensor) -> tf.Tensor:
    return tf.pad(a[:, :, :-1], [[0, 0], [0, 0], [1, 0], [0, 0]])


@tf.custom_gradient
def _transposed_conv_3x3_stride2(x: tf.Tensor, kernel: tf.Tensor):
    """tf.nn.conv2d_transpose(x, kernel, output (N, 2H, 2W, C_out), stride 2, 'SAME'), kernel (3, 3, C_out, C_in)."""
    batch, height, width, channels = tf.shape(x)[0], x.shape[1], x.shape[2], x.shape[3]
    outputs = kernel.shape[2]
    columns = _columns(kernel)
    taps = tf.reshape(tf.matmul(tf.reshape(x, [-1, channels]), columns), [-1, height, width, 9 * outputs])

    def group(index: int, count: int = 1) -> tf.Tensor:
        return taps[..., index * outputs:(index + count) * outputs]

    p00 = group(0) + _down(group(4)) + _right(group(6)) + _down(_right(group(8)))
    p01 = group(1) + _down(group(5))
    p10 = group(2) + _right(group(7))
    p11 = group(3)
    phases = tf.stack([tf.stack([p00, p01], axis=3), tf.stack([p10, p11], axis=3)], axis=2)  # (N, H, 2, W, 2, C)
    total = tf.reshape(phases, [batch, 2 * height, 2 * width, outputs])

    def gradient(upstream):
        # the output gradient's phases, one pixel of zeros past the bottom and right edges: (N, H+1, W+1, 2, 2, C)
        padded = tf.pad(upstream, [[0, 0], [0, 2], [0, 2], [0, 0]])
        q = tf.transpose(tf.reshape(padded, [batch, height + 1, 2, width + 1, 2, outputs]), [0, 1, 3, 2, 4, 5])
        flat = [tf.reshape(q[:, :height, :width], [batch, height, width, 4 * outputs]),
                tf.reshape(q[:, 1:, :width, 0], [batch, height, width, 2 * outputs]),
                tf.reshape(q[:, :height, 1:, :, 0], [batch, height, width, 2 * outputs]),
                q[:, 1:, 1:, 0, 0]]
        g = tf.reshape(tf.concat(flat, axis=-1), [-1, 9 * outputs])
        d_input = tf.reshape(tf.matmul(g, columns, transpose_b=True), tf.shape(x))
        d_columns = tf.matmul(tf.reshape(x, [-1, channels]), g, transpose_a=True)
        return d_input, _kernel(d_columns, outputs)

    return total, gradient


def decode_with_phases(model, z: tf.Tensor) -> tf.Tensor:
    """CVAE.decode's logits with the stride-2 layers computed here (a stand-in for CVAE.decode)."""
    from vaestudio.core.tf.output_layer import is_output_convolution, output_convolution

    logits = z
    for layer in model.decoder.layers:
        if is_output_convolution(layer):
            logits = output_convolution(layer, logits)
        elif is_stride2_convolution(layer):
            logits = stride2_convolution(layer, logits)
        else:
            logits = layer(logits)
    return logits
