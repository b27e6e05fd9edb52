"""The chosen snapshot's decoder as the page's script builds it with TensorFlow.js layers (tf.layers.dense,
reshape, conv2dTranspose): the layer settings and each weight array as base64 of little-endian float32, in
Keras's get_weights() order (TensorFlow.js's conv2dTranspose kernels are (rows, columns, out, in) too)."""

from __future__ import annotations

import base64

import numpy as np

from vaestudio.core.architecture import DECODER_BASE_CHANNELS, KERNEL


def decoder_spec(weights) -> dict:
    """What report.js's buildDecoder() needs: sizes, filters, likelihood and the weights."""
    architecture = weights.architecture
    arrays = [np.ascontiguousarray(a, dtype="<f4") for a in weights.decoder]
    return {
        "latent_dim": architecture.latent_dim,
        "base": architecture.decoder_base_size,
        "base_channels": DECODER_BASE_CHANNELS,
        "filters": list(architecture.decoder_filters),
        "channels": architecture.channels,
        "kernel": KERNEL,
        "image_size": architecture.image_size,
        "likelihood": architecture.likelihood,
        "weights": [{"shape": list(a.shape), "data": base64.b64encode(a.tobytes()).decode("ascii")}
                    for a in arrays],
    }
