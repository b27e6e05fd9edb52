"""Write a snapshot's encoder and decoder in a format other software loads (TensorFlow imported lazily).

Every format writes one folder (through target.staged_folder: complete or absent) holding the two models
and `vaestudio-export.json`, which says where they come from and what their inputs and outputs are:

    keras       encoder.keras, decoder.keras        keras.saving.load_model (plain Keras 3, no vaestudio)
    savedmodel  saved_model.pb, variables/          tf.saved_model.load: signatures "encode" and "decode"
    onnx        encoder.onnx, decoder.onnx          onnxruntime (tf2onnx converts)
    tflite      encoder.tflite, decoder.tflite      the LiteRT interpreter (TensorFlow's converter)
    tfjs        encoder/model.json, decoder/…       TensorFlow.js tf.loadLayersModel (see tfjs.py)

Encoders take `images` float32 (N, H, W, C) in [0, 1] and give `mean` and `logvar` (N, latent_dim);
decoders take `z` float32 (N, latent_dim) and give `pixels` (N, H, W, C): see models.py.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Callable

from vaestudio.core.errors import ExportError
from vaestudio.core.export import models
from vaestudio.core.export.target import MARKER, staged_folder
from vaestudio.core.weights import VaeWeights

MODEL_FORMATS = ("keras", "savedmodel", "onnx", "tflite", "tfjs")
ONNX_OPSET = 17
# The Python packages each format's converter needs, and the pip extra that installs them.
CONVERTERS = {"onnx": ("tf2onnx", "onnx")}
GRAPH_FORMATS = ("savedmodel", "onnx", "tflite")  # decoders that compute the continuous-Bernoulli mean


def missing_converter(fmt: str) -> str | None:
    """Why `fmt` cannot be written here (one line), or None when its converter is installed."""
    import importlib.util

    missing = [name for name in CONVERTERS.get(fmt, ()) if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    return (f"--format {fmt} needs the Python package{'s' if len(missing) > 1 else ''} {', '.join(missing)}, "
            f"which {'are' if len(missing) > 1 else 'is'} not installed (pip install 'vaestudio[export]')")


def export_model(weights: VaeWeights, fmt: str, out: str | Path, source: str = "",
                 progress: Callable[[str], None] | None = None) -> Path:
    """Write `weights`' encoder and decoder as `fmt` into the folder `out` (replacing an earlier export)."""
    if fmt not in MODEL_FORMATS:
        raise ExportError(f"--format {fmt!r}: unknown format (choose one of {', '.join(MODEL_FORMATS)})")
    reason = missing_converter(fmt)
    if reason:
        raise ExportError(reason)
    out = Path(out)
    with staged_folder(out) as folder:
        if fmt == "tfjs":
            from vaestudio.core.export.tfjs import write_tfjs

            write_tfjs(weights, folder)
        else:
            from vaestudio.core.tf.quiet import import_tensorflow

            import_tensorflow()
            _WRITERS[fmt](weights, folder)
        write_description(weights, fmt, folder, source)
    return out


def write_description(weights: VaeWeights, fmt: str, folder: Path, source: str) -> None:
    """vaestudio-export.json: the model's source, architecture, and each part's inputs and outputs."""
    arch = weights.architecture
    output = models.decoder_output(arch, graph=fmt in GRAPH_FORMATS)
    meaning = {models.BERNOULLI_OUTPUT: "the Bernoulli probability of each pixel (sigmoid of the logits), in [0, 1]",
               models.MEAN_OUTPUT: "the continuous Bernoulli's mean of each pixel, in [0, 1]",
               models.LOGITS_OUTPUT: "logits: the continuous Bernoulli's parameter of each pixel; its mean is "
                                     "1/(1 - exp(-x)) - 1/x (1/2 at x = 0)"}[output]
    files = {"keras": ("encoder.keras", "decoder.keras"), "savedmodel": ("signature encode", "signature decode"),
             "onnx": ("encoder.onnx", "decoder.onnx"), "tflite": ("encoder.tflite", "decoder.tflite"),
             "tfjs": ("encoder/model.json", "decoder/model.json")}[fmt]
    description = {
        "format": fmt, "source": source, "architecture": arch.to_dict(), "decoder_output": output,
        "encoder": {"file": files[0], "input": {"name": "images", "shape": [None, *arch.image_shape],
                                                "dtype": "float32", "range": [0, 1]},
                    "outputs": {"mean": [None, arch.latent_dim], "logvar": [None, arch.latent_dim]},
                    "meaning": "the diagonal Gaussian posterior q(z|x): mean and log-variance"},
        "decoder": {"file": files[1], "input": {"name": "z", "shape": [None, arch.latent_dim], "dtype": "float32"},
                    "outputs": {"pixels": [None, *arch.image_shape]}, "meaning": meaning},
        "written_by": "vaestudio export"}
    (folder / MARKER).write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")


# -- the formats --------------------------------------------------------------------------------------------
def write_keras(weights: VaeWeights, folder: Path) -> None:
    models.keras_encoder(weights).save(folder / "encoder.keras")
    models.keras_decoder(weights).save(folder / "decoder.keras")


def write_savedmodel(weights: VaeWeights, folder: Path) -> None:
    """A SavedModel with two signatures, `encode` and `decode` (also callable as .encode / .decode)."""
    import keras
    import tensorflow as tf

    encode, decode = _functions(weights)
    archive = keras.export.ExportArchive()
    archive.track(encode.encoder)
    archive.track(decode.decoder)
    archive.add_endpoint("encode", encode, input_signature=[_image_spec(weights)])
    archive.add_endpoint("decode", decode, input_signature=[_latent_spec(weights)])
    with _quiet_tf(tf):
        archive.write_out(str(folder), verbose=False)


def write_onnx(weights: VaeWeights, folder: Path) -> None:
    import tensorflow as tf
    import tf2onnx

    encode, decode = _functions(weights)
    for name, fn, spec in (("encoder", encode, _image_spec(weights)), ("decoder", decode, _latent_spec(weights))):
        with _quiet_tf(tf):
            tf2onnx.convert.from_function(tf.function(fn), input_signature=[spec], opset=ONNX_OPSET,
                                          output_path=str(folder / f"{name}.onnx"))


def write_tflite(weights: VaeWeights, folder: Path) -> None:
    """TensorFlow's LiteRT converter, from a SavedModel written beside (then removed); float32 throughout."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix=".savedmodel-", dir=folder) as saved:
        write_savedmodel(weights, Path(saved))
        for name, key in (("encoder", "encode"), ("decoder", "decode")):
            with _quiet_tf(tf):
                converter = tf.lite.TFLiteConverter.from_saved_model(saved, signature_keys=[key])
                (folder / f"{name}.tflite").write_bytes(converter.convert())


_WRITERS = {"keras": write_keras, "savedmodel": write_savedmodel, "onnx": write_onnx, "tflite": write_tflite}


def _functions(weights: VaeWeights):
    """encode(images) -> {mean, logvar} and decode(z) -> {pixels}, plain functions over the Keras parts."""
    encoder = models.keras_encoder(weights)
    decoder = models.keras_decoder(weights, activation=False)
    likelihood = weights.architecture.likelihood

    def encode(images):
        mean, logvar = encoder(images, training=False)
        return {"mean": mean, "logvar": logvar}

    def decode(z):
        return {"pixels": models.pixel_values(decoder(z, training=False), likelihood)}

    encode.encoder, decode.decoder = encoder, decoder
    return encode, decode


def _image_spec(weights: VaeWeights):
    import tensorflow as tf

    return tf.TensorSpec((None, *weights.architecture.image_shape), tf.float32, name="images")


def _latent_spec(weights: VaeWeights):
    import tensorflow as tf

    return tf.TensorSpec((None, weights.architecture.latent_dim), tf.float32, name="z")


class _quiet_tf:
    """TensorFlow's Python logging at ERROR while a converter runs (tf2onnx and the converter chat at INFO)."""

    def __init__(self, tf):
        self.logger = tf.get_logger()

    def __enter__(self):
        self.level = self.logger.level
        self.logger.setLevel("ERROR")

    def __exit__(self, *exc_info):
        self.logger.setLevel(self.level)
        return False
