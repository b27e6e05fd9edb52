"""Issue 20: each export format loaded back with its own runtime gives the NumPy VAE's encodings and decodes.

The model is a snapshot of the session's tiny trained run (tests/hostile_helpers.py `trained_runs`); the
runtimes are Keras (keras.saving.load_model), TensorFlow (tf.saved_model.load), onnxruntime, the LiteRT
interpreter (ai-edge-litert), tf.keras for the TF.js layers topology, and TensorBoard's Projector plugin.
Tolerance: every mean, log-variance and pixel value within TOLERANCE of the NumPy VAE's (measured: about 1e-6;
a grey level is 1/255 = 0.004).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from random_weights import random_weights
from vaestudio.core.architecture import Architecture
from vaestudio.core.export.formats import export_model
from vaestudio.core.export.latents import encode_test_set, write_latents
from vaestudio.core.export.projector import write_projector
from vaestudio.core.export.tfjs import read_layers_weights
from vaestudio.core.numpy_vae import NumpyVAE, continuous_bernoulli_mean
from vaestudio.core.store.run_folder import RunFolder

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def snapshot(trained_runs):
    """The last snapshot's weights of the tiny trained run, and its test images as model inputs."""
    from vaestudio.core import probes
    from vaestudio.reports import test_split

    folder = RunFolder(trained_runs.finished)
    weights = folder.snapshots.load_weights(folder.snapshots.records()[-1])
    images, labels, names, _ = test_split(folder.read_config(), None)
    return weights, probes.model_inputs(images, weights.architecture), images, labels, names


@pytest.fixture(scope="module")
def points():
    return np.random.default_rng(5).normal(0, 1.5, (17, 2)).astype(np.float32)


def _compare(weights, inputs, z, encoded, pixels) -> dict[str, float]:
    """Max absolute differences from the NumPy VAE (asserted within TOLERANCE)."""
    vae = NumpyVAE(weights)
    mean, logvar = vae.encode(inputs)
    expected = vae.decode(z)
    assert np.shape(pixels) == expected.shape
    differences = {"mean": float(np.abs(np.asarray(encoded[0]) - mean).max()),
                   "logvar": float(np.abs(np.asarray(encoded[1]) - logvar).max()),
                   "pixels": float(np.abs(np.asarray(pixels) - expected).max())}
    assert max(differences.values()) < TOLERANCE, differences
    assert 0.0 <= float(np.min(pixels)) and float(np.max(pixels)) <= 1.0
    return differences


def _description(folder: Path) -> dict:
    return json.loads((folder / "vaestudio-export.json").read_text(encoding="utf-8"))


def test_keras_files_load_in_plain_keras_and_match_the_numpy_vae(snapshot, points, tmp_path):
    import keras

    weights, inputs, *_ = snapshot
    out = export_model(weights, "keras", tmp_path / "keras", "tiny run")
    encoder = keras.saving.load_model(out / "encoder.keras")  # no custom objects: built-in layers only
    decoder = keras.saving.load_model(out / "decoder.keras")
    mean, logvar = encoder(inputs)
    _compare(weights, inputs, points, (np.asarray(mean), np.asarray(logvar)), np.asarray(decoder(points)))
    assert _description(out)["decoder_output"] == "probability"


def test_a_savedmodel_has_encode_and_decode_signatures_that_match_the_numpy_vae(snapshot, points, tmp_path):
    import tensorflow as tf

    weights, inputs, *_ = snapshot
    out = export_model(weights, "savedmodel", tmp_path / "savedmodel", "tiny run")
    loaded = tf.saved_model.load(str(out))
    assert {"encode", "decode"} <= set(loaded.signatures)
    encoded = loaded.signatures["encode"](images=tf.constant(inputs))
    pixels = loaded.signatures["decode"](z=tf.constant(points))["pixels"]
    _compare(weights, inputs, points, (encoded["mean"].numpy(), encoded["logvar"].numpy()), pixels.numpy())


def test_onnx_models_run_in_onnxruntime_and_match_the_numpy_vae(snapshot, points, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    weights, inputs, *_ = snapshot
    out = export_model(weights, "onnx", tmp_path / "onnx", "tiny run")
    encoder = ort.InferenceSession(str(out / "encoder.onnx"), providers=["CPUExecutionProvider"])
    decoder = ort.InferenceSession(str(out / "decoder.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in encoder.get_inputs()] == ["images"] and [i.name for i in decoder.get_inputs()] == ["z"]
    mean, logvar = encoder.run(["mean", "logvar"], {"images": inputs})
    (pixels,) = decoder.run(["pixels"], {"z": points})
    _compare(weights, inputs, points, (mean, logvar), pixels)


def test_tflite_models_run_in_the_litert_interpreter_and_match_the_numpy_vae(snapshot, points, tmp_path):
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    weights, inputs, *_ = snapshot
    out = export_model(weights, "tflite", tmp_path / "tflite", "tiny run")
    encode = litert.Interpreter(str(out / "encoder.tflite")).get_signature_runner("encode")
    decode = litert.Interpreter(str(out / "decoder.tflite")).get_signature_runner("decode")
    encoded = encode(images=inputs)
    _compare(weights, inputs, points, (encoded["mean"], encoded["logvar"]), decode(z=points)["pixels"])


def test_tfjs_layers_models_hold_the_snapshot_weights_and_a_topology_keras_2_reads(snapshot, points, tmp_path):
    """TF.js itself loads them in the report's browser test; here: the files' structure, the weights in the
    .bin files equal to the snapshot's, and the topology read by tf.keras (the dialect tf.loadLayersModel
    reads) computing the NumPy VAE's numbers."""
    import tf_keras

    weights, inputs, *_ = snapshot
    out = export_model(weights, "tfjs", tmp_path / "tfjs", "tiny run")
    d = weights.architecture.latent_dim
    stored = {}
    for part in ("encoder", "decoder"):
        model = json.loads((out / part / "model.json").read_text(encoding="utf-8"))
        assert model["format"] == "layers-model" and model["modelTopology"]["class_name"] == "Functional"
        (group,) = model["weightsManifest"]
        assert group["paths"] == ["weights.bin"] and all(w["dtype"] == "float32" for w in group["weights"])
        stored[part] = read_layers_weights(out / part)
        assert (out / part / "weights.bin").stat().st_size == 4 * sum(a.size for a in stored[part].values())
    kernel, bias = weights.encoder[-2], weights.encoder[-1]
    np.testing.assert_array_equal(stored["encoder"]["conv_0/kernel"], weights.encoder[0])
    np.testing.assert_array_equal(stored["encoder"]["mean/kernel"], kernel[:, :d])
    np.testing.assert_array_equal(stored["encoder"]["logvar/bias"], bias[d:])
    assert [a.tobytes() for a in stored["decoder"].values()] == [a.tobytes() for a in weights.decoder]
    outputs = []
    for part, x in (("encoder", inputs), ("decoder", points)):
        topology = json.loads((out / part / "model.json").read_text(encoding="utf-8"))["modelTopology"]
        model = tf_keras.models.model_from_json(json.dumps(topology))
        model.set_weights([stored[part][w.name.removesuffix(":0")] for w in model.weights])
        outputs.append(model.predict(x, verbose=0))
    _compare(weights, inputs, points, outputs[0], outputs[1])


def test_a_continuous_bernoulli_decoder_gives_its_mean_in_onnx_and_says_logits_in_keras(points, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    weights = random_weights(Architecture(2, 28, 1, "continuous_bernoulli"), seed=4)
    out = export_model(weights, "onnx", tmp_path / "onnx")
    (pixels,) = ort.InferenceSession(str(out / "decoder.onnx")).run(["pixels"], {"z": points})
    logits = NumpyVAE(weights).decode_logits(points)
    assert np.abs(pixels - continuous_bernoulli_mean(logits)).max() < TOLERANCE
    assert _description(out)["decoder_output"] == "continuous_bernoulli_mean"
    tfjs = export_model(weights, "tfjs", tmp_path / "tfjs")
    assert _description(tfjs)["decoder_output"] == "logits"
    assert '"pixels"' not in (tfjs / "decoder" / "model.json").read_text(encoding="utf-8")


def test_the_latent_table_holds_each_test_image_posterior_and_label(snapshot, tmp_path):
    weights, inputs, images, labels, names = snapshot
    codes = encode_test_set(weights, images, labels, names)
    mean, logvar = NumpyVAE(weights).encode(inputs)
    with np.load(write_latents(codes, tmp_path / "codes.npz")) as npz:
        np.testing.assert_array_equal(npz["mean"], mean)
        np.testing.assert_allclose(npz["std"], np.exp(0.5 * logvar), rtol=1e-6)
        np.testing.assert_array_equal(npz["label"], labels)
        assert tuple(npz["class_names"]) == tuple(names)
    with open(write_latents(codes, tmp_path / "codes.csv"), newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(images) and list(rows[0])[:5] == ["index", "label", "class", "mean_0", "mean_1"]
    assert rows[3]["class"] == names[labels[3]] and float(rows[3]["std_1"]) == pytest.approx(codes.std[3, 1])
    np.testing.assert_array_equal(np.array([[float(r["mean_0"]), float(r["mean_1"])] for r in rows], np.float32),
                                  mean)


def test_tensorboard_projector_serves_the_codes_labels_and_sprite(snapshot, tmp_path):
    """TensorBoard's own Projector plugin, pointed at the folder as `tensorboard --logdir DIR` would."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.projector.projector_plugin import ProjectorPlugin
    from werkzeug.test import Client

    weights, _inputs, images, labels, names = snapshot
    codes = encode_test_set(weights, images, labels, names)
    folder, count = write_projector(codes, tmp_path / "projector", limit=50)
    assert count == 50
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(folder))
    plugin = ProjectorPlugin(base_plugin.TBContext(logdir=str(folder), data_provider=provider,
                                                   multiplexer=multiplexer))
    apps = plugin.get_plugin_apps()
    assert json.loads(Client(apps["/runs"]).get("/runs").get_data()) == ["."]
    config = json.loads(Client(apps["/info"]).get("/info?run=.").get_data())
    (embedding,) = config["embeddings"]
    query = f"?run=.&name={embedding['tensorName']}&num_rows=100000"
    tensor = np.frombuffer(Client(apps["/tensor"]).get("/tensor" + query).get_data(), np.float32).reshape(count, -1)
    np.testing.assert_allclose(tensor, codes.mean[:count], rtol=1e-6)
    metadata = Client(apps["/metadata"]).get("/metadata" + query).get_data(as_text=True).splitlines()
    assert metadata[0] == "index\tlabel\tclass" and metadata[7] == f"6\t{labels[6]}\t{names[labels[6]]}"
    sprite = Client(apps["/sprite_image"]).get("/sprite_image" + query)
    assert sprite.status_code == 200 and sprite.get_data()[:8] == b"\x89PNG\r\n\x1a\n"
    assert embedding["sprite"]["singleImageDim"] == [28, 28]


def test_tfjs_topology_fits_a_colour_64_pixel_model(tmp_path):
    """The larger architecture (one more stride-2 stage each side, 3 channels, continuous Bernoulli: logits)."""
    import tf_keras

    weights = random_weights(Architecture(3, 64, 3, "continuous_bernoulli"), seed=2)
    out = export_model(weights, "tfjs", tmp_path / "tfjs")
    rng = np.random.default_rng(1)
    inputs, z = rng.random((4, 64, 64, 3), dtype=np.float32), rng.normal(size=(5, 3)).astype(np.float32)
    results = []
    for part, x in (("encoder", inputs), ("decoder", z)):
        topology = json.loads((out / part / "model.json").read_text(encoding="utf-8"))["modelTopology"]
        model = tf_keras.models.model_from_json(json.dumps(topology))
        stored = read_layers_weights(out / part)
        model.set_weights([stored[w.name.removesuffix(":0")] for w in model.weights])
        results.append(model.predict(x, verbose=0))
    vae = NumpyVAE(weights)
    mean, logvar = vae.encode(inputs)
    assert np.abs(results[0][0] - mean).max() < TOLERANCE and np.abs(results[0][1] - logvar).max() < TOLERANCE
    assert np.abs(results[1] - vae.decode_logits(z)).max() < TOLERANCE
