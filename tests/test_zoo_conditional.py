"""The class-conditional VAE (issue 19): the label as encoder channels and decoder inputs, the same in
Keras and in the NumPy VAE; its ELBO and IWAE estimate against NumPy; a run that trains, resumes, replays,
keeps its model in a branch, and renders the grid of one class."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hostile_helpers import COMMON
from random_weights import random_weights
from vaestudio.cli import main
from vaestudio.core.architecture import Architecture
from vaestudio.core.config import TrainConfig
from vaestudio.core.errors import ConfigError
from vaestudio.core.numpy_vae import NumpyVAE

CONDITIONAL = Architecture(latent_dim=3, model="conditional")


@pytest.fixture(scope="module")
def tiny():
    from vaestudio.core.tf.model import model_from_weights

    weights = random_weights(CONDITIONAL, seed=7)
    images = (np.random.default_rng(1).random((5, 28, 28, 1)) > 0.6).astype(np.float32)
    labels = np.array([0, 3, 9, 3, 5])
    return weights, model_from_weights(weights), images, labels


def _inputs(images, labels):
    """A conditional model's TensorFlow inputs: the image, then its one-hot label as channels."""
    planes = np.broadcast_to(np.eye(10, dtype=np.float32)[labels][:, None, None, :], (len(images), 28, 28, 10))
    return np.concatenate([images, planes], axis=3)


def test_numpy_and_keras_agree_on_the_conditional_model(tiny):
    weights, model, images, labels = tiny
    vae = NumpyVAE(weights)
    mean, logvar = vae.encode(images, labels)
    keras_mean, keras_logvar = model.encode(_inputs(images, labels))
    np.testing.assert_allclose(mean, keras_mean.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(logvar, keras_logvar.numpy(), rtol=1e-4, atol=1e-4)
    z = np.random.default_rng(2).standard_normal((5, 3)).astype(np.float32)
    keras_logits = model.decode(np.concatenate([z, np.eye(10, dtype=np.float32)[labels]], axis=1)).numpy()
    np.testing.assert_allclose(vae.decode_logits(z, labels), keras_logits, rtol=1e-4, atol=1e-3)
    # the label matters, and one class for all points is allowed
    assert not np.allclose(vae.decode_logits(z, 1), vae.decode_logits(z, 2))
    np.testing.assert_allclose(vae.decode_logits(z, 3), vae.decode_logits(z, np.full(5, 3)))
    with pytest.raises(ValueError, match="between 0 and 9"):
        vae.decode_logits(z, 10)


def test_the_conditional_elbo_and_iwae_match_numpy(tiny):
    import tensorflow as tf

    from vaestudio.core.tf.iwae import iwae_log_likelihood, iwae_noise
    from vaestudio.core.tf.objective import elbo_terms

    weights, model, images, labels = tiny
    vae = NumpyVAE(weights)
    mean, logvar = (a.astype(np.float64) for a in vae.encode(images, labels))

    def log_weights(eps):
        z = mean + eps * np.exp(0.5 * logvar)
        logits = vae.decode_logits(z.astype(np.float32), labels).astype(np.float64)
        log_px = (images * logits - np.logaddexp(0, logits)).reshape(len(images), -1).sum(1)
        log_pz = (-0.5 * (z ** 2 + math.log(2 * math.pi))).sum(1)
        log_q = (-0.5 * (eps ** 2 + logvar + math.log(2 * math.pi))).sum(1)
        return log_px + log_pz - log_q

    eps = np.random.default_rng(4).standard_normal((5, 3)).astype(np.float32)
    terms = elbo_terms(model, tf.constant(_inputs(images, labels)), tf.constant(eps))
    np.testing.assert_allclose(terms.elbo.numpy(), log_weights(eps.astype(np.float64)), rtol=1e-5, atol=1e-2)
    result = iwae_log_likelihood(weights, images, k=4, seed=3, labels=labels)
    per_sample = np.stack([log_weights(np.stack([iwae_noise(3, i, 4, 3)[j] for i in range(5)]).astype(np.float64))
                           for j in range(4)], axis=1)
    peak = per_sample.max(axis=1)
    np.testing.assert_allclose(result.per_image, peak + np.log(np.exp(per_sample - peak[:, None]).mean(axis=1)),
                               rtol=1e-5, atol=1e-2)


@pytest.mark.parametrize("values, named", [
    (dict(model="cvae"), "model"), (dict(model="conditional", prior="vamp"), "vamp"),
    (dict(model="conditional", dataset="image_folder", data_dir="/nowhere"), "image_folder"),
])
def test_absurd_conditional_settings_are_refused_by_name(values, named):
    with pytest.raises(ConfigError) as error:
        TrainConfig.from_preset("custom", **values)
    assert named in str(error.value)


def test_a_conditional_run_trains_resumes_replays_and_renders_a_class(tiny_idx, tmp_path, capsys):
    import imageio.v3 as iio

    from vaestudio.core.events import EpochEnd, Snapshot
    from vaestudio.core.replay import replay

    folder = tmp_path / "conditional"
    assert main(["train", "--data", str(tiny_idx), *COMMON, "--model", "conditional", "--epochs", "1",
                 "--out", str(folder)]) == 0
    assert main(["train", "--resume", str(folder), "--epochs", "2"]) == 0
    assert TrainConfig.load(folder / "config.json").model == "conditional"
    events = list(replay(folder))
    assert [e.epoch for e in events if isinstance(e, EpochEnd)] == [1, 2]
    assert [e for e in events if isinstance(e, Snapshot)][-1].weights.architecture.classes == 10
    pictures = []
    for label in (1, 7):
        target = tmp_path / f"class{label}.png"
        assert main(["render", str(folder), "--grid", "--class", str(label), "--out", str(target)]) == 0
        pictures.append(iio.imread(target))
    assert pictures[0].shape == pictures[1].shape and not np.array_equal(pictures[0], pictures[1])
    capsys.readouterr()
    assert main(["train", "--from", str(folder), "--out", str(tmp_path / "child"), "--epochs", "3",
                 "--model", "vae"]) == 2
    assert "--model cannot change in a branch" in capsys.readouterr().err


def test_class_needs_a_conditional_model(trained_runs, tmp_path, capsys):
    assert main(["render", str(trained_runs.finished), "--grid", "--class", "1", "--out", str(tmp_path / "g.png")]) == 2
    assert "--class needs a conditional model" in capsys.readouterr().err


def test_inspect_and_the_html_report_of_a_conditional_run_encode_each_test_image_with_its_class(
        tiny_idx, tmp_path, capsys):
    import json

    from vaestudio.core import probes
    from vaestudio.core.data import load_dataset
    from vaestudio.core.store.run_folder import RunFolder

    folder = tmp_path / "conditional"
    assert main(["train", "--data", str(tiny_idx), *COMMON, "--model", "conditional", "--epochs", "1",
                 "--out", str(folder)]) == 0
    capsys.readouterr()
    assert main(["inspect", str(folder), "--iwae-k", "1", "--classifier", "none", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    runs = RunFolder(folder)
    weights = runs.snapshots.load_weights(runs.snapshots.records()[-1])
    data = load_dataset("fashion_mnist", data_dir=tiny_idx)
    own = probes.encode(weights, data.test_images, data.test_labels)
    np.testing.assert_allclose(report["kl_per_dimension"], probes.kl_per_dimension(*own), rtol=1e-5)
    assert report["kl"] == pytest.approx(probes.kl_per_dimension(*own).sum(), rel=1e-6)
    assert main(["report", str(folder), "--iwae-k", "1", "--out", str(tmp_path / "run.html")]) == 0
    assert "Test ELBO" in (tmp_path / "run.html").read_text()
