"""The encoder and decoder in TensorFlow.js's layers-model format, written directly (no converter).

The `tensorflowjs` pip converter pins an older TensorFlow, NumPy and protobuf than vaestudio's, so this
module writes the documented file format itself: per model a `model.json` whose `modelTopology` is the
Keras 2 (tf.keras) functional config that `tf.loadLayersModel` reads, and whose `weightsManifest` lists
each weight (name `layer/kernel`, shape, float32) in the order its bytes follow in one little-endian
`.bin` file beside it. The layers are the same as models.py's Keras ones (built-in layers only).

    encoder/model.json  encoder/weights.bin   images (N, H, W, C) -> [mean, logvar]
    decoder/model.json  decoder/weights.bin   z (N, latent_dim) -> pixels (N, H, W, C)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from vaestudio.core.architecture import KERNEL
from vaestudio.core.export import models
from vaestudio.core.weights import VaeWeights

WEIGHTS_FILE = "weights.bin"
KERAS_VERSION = "2.15.0"  # the tf.keras config dialect the topology is written in


def write_tfjs(weights: VaeWeights, folder: Path) -> None:
    """encoder/ and decoder/ layers models of `weights` in `folder`."""
    for name, (topology, arrays) in (("encoder", encoder_model(weights)), ("decoder", decoder_model(weights))):
        write_layers_model(folder / name, name, topology, arrays)


def write_layers_model(folder: Path, name: str, topology: list[dict], arrays: list[tuple[str, np.ndarray]]) -> None:
    """model.json and weights.bin of one functional model: `topology` is its layers (config dicts with
    inbound nodes), `arrays` its weights in order as (name, array)."""
    folder.mkdir()
    inputs = [layer["name"] for layer in topology if layer["class_name"] == "InputLayer"]
    outputs = topology[-1].pop("_outputs")
    config = {"name": name, "trainable": True, "layers": topology,
              "input_layers": [[layer, 0, 0] for layer in inputs],
              "output_layers": [[layer, 0, 0] for layer in outputs]}
    manifest = [{"name": weight_name, "shape": list(array.shape), "dtype": "float32"} for weight_name, array in arrays]
    model = {"format": "layers-model", "generatedBy": "vaestudio", "convertedBy": None,
             "modelTopology": {"class_name": "Functional", "config": config, "keras_version": KERAS_VERSION,
                               "backend": "tensorflow"},
             "weightsManifest": [{"paths": [WEIGHTS_FILE], "weights": manifest}]}
    with open(folder / WEIGHTS_FILE, "wb") as handle:
        for _weight_name, array in arrays:
            handle.write(np.ascontiguousarray(array, dtype="<f4").tobytes())
    (folder / "model.json").write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")


def read_layers_weights(folder: Path) -> dict[str, np.ndarray]:
    """The weights a layers model's manifest lists, by name, read back from its .bin files."""
    model = json.loads((Path(folder) / "model.json").read_text(encoding="utf-8"))
    weights: dict[str, np.ndarray] = {}
    for group in model["weightsManifest"]:
        data = b"".join((Path(folder) / path).read_bytes() for path in group["paths"])
        offset = 0
        for entry in group["weights"]:
            count = int(np.prod(entry["shape"], dtype=np.int64))
            weights[entry["name"]] = np.frombuffer(data, "<f4", count, offset).reshape(entry["shape"])
            offset += 4 * count
        if offset != len(data):
            raise ValueError(f"{folder}: the manifest lists {offset} bytes of weights, the files hold {len(data)}")
    return weights


# -- the two models ---------------------------------------------------------------------------------------
def encoder_model(weights: VaeWeights) -> tuple[list[dict], list[tuple[str, np.ndarray]]]:
    arch = weights.architecture
    d = arch.latent_dim
    layers = [_input("images", arch.image_shape)]
    arrays: list[tuple[str, np.ndarray]] = []
    previous = "images"
    for index, filters in enumerate(arch.encoder_filters):
        name = f"conv_{index}"
        layers.append(_layer("Conv2D", name, previous, _conv(filters, 2, "valid", "relu")))
        arrays += [(f"{name}/kernel", weights.encoder[2 * index]), (f"{name}/bias", weights.encoder[2 * index + 1])]
        previous = name
    layers.append(_layer("Flatten", "flatten", previous, {"data_format": "channels_last"}))
    kernel, bias = weights.encoder[-2], weights.encoder[-1]
    for name, columns in (("mean", slice(0, d)), ("logvar", slice(d, 2 * d))):
        layers.append(_layer("Dense", name, "flatten", _dense(d, "linear")))
        arrays += [(f"{name}/kernel", kernel[:, columns]), (f"{name}/bias", bias[columns])]
    layers[-1]["_outputs"] = ["mean", "logvar"]
    return layers, arrays


def decoder_model(weights: VaeWeights) -> tuple[list[dict], list[tuple[str, np.ndarray]]]:
    arch = weights.architecture
    base = arch.decoder_base_size
    units = int(weights.decoder[1].shape[0])
    layers = [_input("z", (arch.latent_dim,)),
              _layer("Dense", "dense", "z", _dense(units, "relu")),
              _layer("Reshape", "reshape", "dense", {"target_shape": [base, base, units // (base * base)]})]
    arrays = [("dense/kernel", weights.decoder[0]), ("dense/bias", weights.decoder[1])]
    previous = "reshape"
    stages = [(f"deconv_{i}", filters, 2, "relu") for i, filters in enumerate(arch.decoder_filters)]
    for index, (name, filters, stride, activation) in enumerate(stages + [("logits", arch.channels, 1, "linear")]):
        layers.append(_layer("Conv2DTranspose", name, previous, _conv(filters, stride, "same", activation)))
        arrays += [(f"{name}/kernel", weights.decoder[2 + 2 * index]), (f"{name}/bias", weights.decoder[3 + 2 * index])]
        previous = name
    if models.decoder_output(arch, graph=False) == models.BERNOULLI_OUTPUT:
        layers.append(_layer("Activation", "pixels", previous, {"activation": "sigmoid"}))
    layers[-1]["_outputs"] = [layers[-1]["name"]]
    return layers, arrays


def _input(name: str, shape: tuple[int, ...]) -> dict:
    return {"class_name": "InputLayer", "name": name, "inbound_nodes": [],
            "config": {"batch_input_shape": [None, *shape], "dtype": "float32", "sparse": False, "ragged": False,
                       "name": name}}


def _layer(class_name: str, name: str, inbound: str, config: dict) -> dict:
    return {"class_name": class_name, "name": name, "inbound_nodes": [[[inbound, 0, 0, {}]]],
            "config": {"name": name, "trainable": True, "dtype": "float32", **config}}


def _conv(filters: int, stride: int, padding: str, activation: str) -> dict:
    return {"filters": filters, "kernel_size": [KERNEL, KERNEL], "strides": [stride, stride], "padding": padding,
            "data_format": "channels_last", "dilation_rate": [1, 1], "activation": activation, "use_bias": True,
            **_initializers()}


def _dense(units: int, activation: str) -> dict:
    return {"units": units, "activation": activation, "use_bias": True, **_initializers()}


def _initializers() -> dict:
    return {"kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
            "bias_initializer": {"class_name": "Zeros", "config": {}},
            "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
            "kernel_constraint": None, "bias_constraint": None}
