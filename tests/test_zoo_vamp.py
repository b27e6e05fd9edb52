"""The VampPrior (issue 19): its log-density in TensorFlow and in the NumPy VAE against a direct mixture
computation, the ELBO and the IWAE estimate under it, its files, and a run that trains, resumes, replays
and refuses to change its prior in a branch."""

from __future__ import annotations

import json
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
from vaestudio.core.weights import VaeWeights

VAMP = Architecture(latent_dim=3, prior="vamp", pseudo_inputs=5)


def _direct_log_density(weights: VaeWeights, z: np.ndarray) -> np.ndarray:
    """log (1/K) sum_k N(z; mean_k, var_k), the components the encoder gives the sigmoid of the logits."""
    logits = np.asarray(weights.decoder[0], np.float64)
    images = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
    means, logvars = (a.astype(np.float64) for a in NumpyVAE(weights).encode(images))
    densities = np.exp(-0.5 * ((z[:, None] - means) ** 2 / np.exp(logvars) + logvars + math.log(2 * math.pi)))
    return np.log(densities.prod(axis=2).mean(axis=1))


@pytest.fixture(scope="module")
def vamp_weights():
    return random_weights(VAMP, seed=2, scale=0.3)


def test_the_vamp_log_density_is_the_mixture_of_the_pseudo_inputs_posteriors(vamp_weights):
    from vaestudio.core.tf.model import model_from_weights

    z = np.random.default_rng(0).normal(0, 1.5, (8, 3))
    expected = _direct_log_density(vamp_weights, z)
    np.testing.assert_allclose(NumpyVAE(vamp_weights).prior_log_density(z), expected, rtol=1e-5)
    model = model_from_weights(vamp_weights)
    np.testing.assert_allclose(model.prior_log_prob(z.astype(np.float32)).numpy(), expected, rtol=1e-4, atol=1e-4)
    # the standard prior's log-density is N(0, I)'s
    standard = NumpyVAE(random_weights(Architecture(latent_dim=3)))
    np.testing.assert_allclose(standard.prior_log_density(z), (-0.5 * z ** 2 - 0.5 * math.log(2 * math.pi)).sum(1))
    # prior samples come from the mixture: near the components' means
    samples = NumpyVAE(vamp_weights).sample_prior(2000, seed=1)
    from vaestudio.core.zoo import numpy_prior

    means, _ = numpy_prior.components(NumpyVAE(vamp_weights))
    np.testing.assert_allclose(samples.mean(axis=0), means.mean(axis=0), atol=0.15)


def test_the_elbo_and_the_iwae_estimate_use_the_vampprior(vamp_weights):
    import tensorflow as tf

    from vaestudio.core.tf.iwae import iwae_log_likelihood, iwae_noise
    from vaestudio.core.tf.model import model_from_weights
    from vaestudio.core.tf.objective import elbo_terms

    vae = NumpyVAE(vamp_weights)
    x = (np.random.default_rng(3).random((3, 28, 28, 1)) > 0.6).astype(np.float32)
    mean, logvar = (a.astype(np.float64) for a in vae.encode(x))

    def log_weights(eps):  # (N, d) -> log p(x|z) + log p_vamp(z) - log q(z|x)
        z = mean + eps * np.exp(0.5 * logvar)
        logits = vae.decode_logits(z.astype(np.float32)).astype(np.float64)
        log_px = (x * logits - np.logaddexp(0, logits)).reshape(len(x), -1).sum(1)
        log_q = (-0.5 * (eps ** 2 + logvar + math.log(2 * math.pi))).sum(1)
        return log_px + _direct_log_density(vamp_weights, z) - log_q

    eps = np.random.default_rng(4).standard_normal((3, 3)).astype(np.float32)
    terms = elbo_terms(model_from_weights(vamp_weights), tf.constant(x), tf.constant(eps))
    np.testing.assert_allclose(terms.elbo.numpy(), log_weights(eps.astype(np.float64)), rtol=1e-5, atol=1e-2)
    result = iwae_log_likelihood(vamp_weights, x, k=6, seed=9)
    per_sample = np.stack([log_weights(np.stack([iwae_noise(9, i, 6, 3)[j] for i in range(3)]).astype(np.float64))
                           for j in range(6)], axis=1)
    peak = per_sample.max(axis=1)
    expected = peak + np.log(np.exp(per_sample - peak[:, None]).mean(axis=1))
    np.testing.assert_allclose(result.per_image, expected, rtol=1e-5, atol=1e-2)


def test_vamp_weights_and_models_keep_their_prior(vamp_weights, tmp_path):
    from vaestudio.core.tf.model import model_from_weights
    from vaestudio.core.tf.model_file import load_model, save_model

    path = vamp_weights.save(tmp_path / "w.npz")
    loaded = VaeWeights.load(path)
    assert loaded.architecture == VAMP
    np.testing.assert_array_equal(loaded.decoder[0], vamp_weights.decoder[0])
    model = load_model(save_model(model_from_weights(vamp_weights), tmp_path / "m.keras"))
    assert model.architecture == VAMP
    np.testing.assert_allclose(model.pseudo_inputs().numpy(), NumpyVAE(vamp_weights).pseudo_inputs(), rtol=1e-6)
    # a standard model's files say nothing of a prior, as before
    assert "prior" not in Architecture(latent_dim=3).to_dict()


@pytest.mark.parametrize("values, named", [
    (dict(prior="vamp", pseudo_inputs=0), "pseudo_inputs"), (dict(prior="vamp", pseudo_inputs=10**6), "pseudo_inputs"),
    (dict(pseudo_inputs=5), "pseudo_inputs"), (dict(prior="gauss"), "prior"),
    (dict(prior="vamp", free_bits=0.5), "free_bits"), (dict(prior="vamp", objective="tcvae"), "tcvae"),
])
def test_absurd_prior_settings_are_refused_by_name(values, named):
    with pytest.raises(ConfigError) as error:
        TrainConfig.from_preset("custom", **values)
    assert named in str(error.value)


def test_a_vamp_run_trains_resumes_replays_and_keeps_its_prior_in_a_branch(tiny_idx, tmp_path, capsys):
    from vaestudio.core.events import EpochEnd, Snapshot
    from vaestudio.core.replay import replay

    folder = tmp_path / "vamp"
    args = ["train", "--data", str(tiny_idx), *COMMON, "--prior", "vamp", "--pseudo-inputs", "4"]
    assert main([*args, "--epochs", "1", "--objective", "iwae", "--samples", "2", "--out", str(folder)]) == 0
    assert main(["train", "--resume", str(folder), "--epochs", "2"]) == 0
    config = json.loads((folder / "config.json").read_text())
    assert (config["prior"], config["pseudo_inputs"]) == ("vamp", 4)
    events = list(replay(folder))
    assert [e.epoch for e in events if isinstance(e, EpochEnd)] == [1, 2]
    last = [e for e in events if isinstance(e, Snapshot)][-1]
    assert last.weights.architecture.prior == "vamp"
    pseudo_inputs = NumpyVAE(last.weights).pseudo_inputs()
    assert pseudo_inputs.shape == (4, 28, 28, 1)
    # they started at training images (binarized) and are still recognisably those after two short epochs
    from vaestudio.core.data import load_dataset, preprocess

    training = preprocess(load_dataset("fashion_mnist", data_dir=tiny_idx).train_images)
    for image in pseudo_inputs > 0.5:
        assert (training == image).all(axis=(1, 2, 3)).any()
    capsys.readouterr()
    assert main(["train", "--from", str(folder), "--out", str(tmp_path / "child"), "--epochs", "3",
                 "--prior", "standard"]) == 2
    assert "--prior cannot change in a branch" in capsys.readouterr().err
    assert main(["train", "--from", str(folder), "--out", str(tmp_path / "child"), "--epochs", "3",
                 "--objective", "elbo"]) == 0


def test_the_windows_prior_samples_come_from_the_vampprior(vamp_weights):
    from vaestudio.core import probes

    samples = probes.sample_prior(vamp_weights, 6, seed=2)
    np.testing.assert_array_equal(samples.z, NumpyVAE(vamp_weights).sample_prior(6, seed=2))
    standard = random_weights(Architecture(latent_dim=3))
    expected = np.random.default_rng(2).standard_normal((6, 3), dtype=np.float32)  # as before the VampPrior
    np.testing.assert_array_equal(probes.sample_prior(standard, 6, seed=2).z, expected)


def test_pseudo_inputs_start_at_distinct_training_images_chosen_by_the_seed():
    from vaestudio.core.data import preprocess
    from vaestudio.core.zoo.vamp import MARGIN, initial_pseudo_input_logits

    images = np.random.default_rng(0).integers(0, 256, (50, 28, 28), dtype=np.uint8)
    architecture = Architecture(latent_dim=2, prior="vamp", pseudo_inputs=20)
    logits = initial_pseudo_input_logits(images, architecture, seed=1)
    assert logits.shape == (20, 28, 28, 1) and logits.dtype == np.float32
    pixels = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    np.testing.assert_allclose(np.sort(np.unique(pixels.round(6))), [MARGIN, 1.0 - MARGIN], rtol=1e-5)
    binarized = preprocess(images)
    chosen = [np.flatnonzero((binarized == image).all(axis=(1, 2, 3)))[0] for image in pixels > 0.5]
    assert len(set(chosen)) == 20  # distinct images
    np.testing.assert_array_equal(initial_pseudo_input_logits(images, architecture, seed=1), logits)
    assert not np.array_equal(initial_pseudo_input_logits(images, architecture, seed=2), logits)
    # fewer training images than pseudo-inputs: some repeat; none at all is refused by name
    assert initial_pseudo_input_logits(images[:3], architecture, seed=1).shape == (20, 28, 28, 1)
    with pytest.raises(ValueError, match="0 training images"):
        initial_pseudo_input_logits(images[:0], architecture, seed=1)


def test_the_pseudo_inputs_encoded_in_chunks_give_the_mixture_of_one_batch():
    from vaestudio.core.tf.model import model_from_weights
    from vaestudio.core.tf.variants import PSEUDO_INPUT_CHUNK, vamp_components

    count = 2 * PSEUDO_INPUT_CHUNK + 30  # two whole chunks and a part
    weights = random_weights(Architecture(latent_dim=2, prior="vamp", pseudo_inputs=count), seed=4, scale=0.3)
    model = model_from_weights(weights)
    means, logvars = vamp_components(model)
    whole_means, whole_logvars = model.encode(model.pseudo_inputs())
    np.testing.assert_allclose(means.numpy(), whole_means.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logvars.numpy(), whole_logvars.numpy(), rtol=1e-5, atol=1e-6)
    z = np.random.default_rng(3).normal(0, 1.5, (6, 2))
    np.testing.assert_allclose(model.prior_log_prob(z.astype(np.float32)).numpy(),
                               _direct_log_density(weights, z), rtol=1e-4, atol=1e-4)


def test_inspect_splits_a_vamp_runs_elbo_with_the_kl_against_its_prior(tiny_idx, tmp_path, capsys):
    from vaestudio.core import probes
    from vaestudio.core.data import load_dataset
    from vaestudio.core.store.run_folder import RunFolder

    folder = tmp_path / "vamp"
    args = ["train", "--data", str(tiny_idx), *COMMON, "--prior", "vamp", "--pseudo-inputs", "4", "--epochs", "1"]
    assert main([*args, "--out", str(folder)]) == 0
    capsys.readouterr()
    assert main(["inspect", str(folder), "--iwae-k", "2", "--worst", "3", "--classifier", "none", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    # the KL of the snapshot's test posteriors against its mixture, written out from 2000 draws of q per image
    runs = RunFolder(folder)
    weights = runs.snapshots.load_weights(runs.snapshots.records()[-1])
    images = load_dataset("fashion_mnist", data_dir=tiny_idx).test_images
    mean, logvar = (a.astype(np.float64) for a in probes.encode(weights, images))
    draws = np.random.default_rng(4).standard_normal((len(images), 2000, mean.shape[1]))
    z = mean[:, None] + draws * np.exp(0.5 * logvar)[:, None]
    log_q = (-0.5 * (draws ** 2 + logvar[:, None] + math.log(2 * math.pi))).sum(axis=2)
    gaps = log_q - _direct_log_density(weights, z.reshape(-1, mean.shape[1])).reshape(z.shape[:2])
    per_image = gaps.mean(axis=1)
    errors = gaps.std(axis=1) / math.sqrt(probes.KL_SAMPLES)  # of inspect's estimate of each image's KL
    tolerance = 5 * math.sqrt(np.sum(errors ** 2)) / len(images) + 0.01
    assert report["kl"] == pytest.approx(per_image.mean(), abs=tolerance)
    assert report["log_likelihood_term"] == pytest.approx(report["elbo"] + report["kl"])
    assert abs(report["kl"] - sum(report["kl_per_dimension"])) > tolerance  # the bars' N(0, I) KL is not it
    for item in report["worst"]:
        assert item["elbo"] == pytest.approx(item["log_likelihood"] - item["kl"])
        assert item["kl"] == pytest.approx(per_image[item["index"]], abs=5 * errors[item["index"]] + 0.01)
