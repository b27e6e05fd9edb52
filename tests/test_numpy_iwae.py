"""The NumPy IWAE estimate (core/iwae.py), which `vaestudio inspect` uses: the same numbers as the TensorFlow
estimate and as a direct log-sum-exp, for both likelihoods, a VampPrior and a conditional model; the same
whatever the batching and threads; progress, cancellation, and the ETA that inspect prints."""

from __future__ import annotations

import io
import math
import subprocess
import sys

import numpy as np
import pytest

import vaestudio.core.numpy_layers as numpy_layers
from vaestudio.core import probes
from vaestudio.core.architecture import Architecture
from vaestudio.core.errors import Cancelled, DataError
from vaestudio.core.iwae import iwae_log_likelihood, iwae_noise
from vaestudio.core.numpy_vae import NumpyVAE
from random_weights import random_weights

AGREEMENT_NATS = 1e-3  # per image, against TensorFlow's float32 and a float64 NumPy computation


def inputs_for(architecture: Architecture, count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pictures = (rng.random((count, *architecture.image_shape)) * 255).astype(np.uint8)
    return probes.model_inputs(pictures, architecture)


def direct_iwae(weights, x, k: int, seed: int, labels=None) -> np.ndarray:
    """log (1/k) sum_j exp(log p(x|z_j) + log p(z_j) - log q(z_j|x)) per image, in float64 from the NumPy
    VAE's decoded logits, with the estimate's own noise."""
    vae = NumpyVAE(weights)
    mean, logvar = (a.astype(np.float64) for a in vae.encode(x, labels))
    d = weights.architecture.latent_dim
    values = []
    for i in range(len(x)):
        eps = iwae_noise(seed, i, k, d).astype(np.float64)
        z = mean[i] + eps * np.exp(0.5 * logvar[i])
        logits = vae.decode_logits(z.astype(np.float32), None if labels is None else int(labels[i]))
        log_px = probes.log_likelihood_of(weights.architecture.likelihood, x[i][None], logits)
        log_q = (-0.5 * (eps ** 2 + logvar[i] + math.log(2 * math.pi))).sum(axis=1)
        w = log_px + vae.prior_log_density(z) - log_q
        values.append(np.logaddexp.reduce(w) - math.log(k))
    return np.array(values)


@pytest.mark.parametrize("architecture", [
    Architecture(2), Architecture(2, likelihood="continuous_bernoulli"),
    Architecture(latent_dim=3, prior="vamp", pseudo_inputs=5),
], ids=["bernoulli", "continuous_bernoulli", "vampprior"])
def test_the_estimate_is_the_direct_log_sum_exp_and_tensorflows(architecture):
    tf_iwae = pytest.importorskip("vaestudio.core.tf.iwae")
    weights = random_weights(architecture, seed=1, scale=0.3)
    x = inputs_for(architecture, 5)
    result = iwae_log_likelihood(weights, x, k=40, seed=3, max_decodes=64)  # several calls and blocks
    np.testing.assert_allclose(result.per_image, direct_iwae(weights, x, 40, 3), rtol=0, atol=AGREEMENT_NATS)
    reference = tf_iwae.iwae_log_likelihood(weights, x, k=40, seed=3)
    np.testing.assert_allclose(result.per_image, reference.per_image, rtol=0, atol=AGREEMENT_NATS)
    assert abs(result.elbo - reference.elbo) < AGREEMENT_NATS
    assert result.count == 5 and result.samples == 40 and result.mean == pytest.approx(result.per_image.mean())


def test_a_conditional_models_estimate_is_log_p_x_given_its_label():
    tf_iwae = pytest.importorskip("vaestudio.core.tf.iwae")
    architecture = Architecture(3, model="conditional")  # 10 classes
    weights = random_weights(architecture, seed=4)
    x, labels = inputs_for(architecture, 6), np.array([0, 3, 9, 9, 2, 0])
    result = iwae_log_likelihood(weights, x, k=9, seed=2, labels=labels, max_decodes=20)
    np.testing.assert_allclose(result.per_image, direct_iwae(weights, x, 9, 2, labels), atol=AGREEMENT_NATS)
    reference = tf_iwae.iwae_log_likelihood(weights, x, k=9, seed=2, labels=labels)
    np.testing.assert_allclose(result.per_image, reference.per_image, atol=AGREEMENT_NATS)
    other = iwae_log_likelihood(weights, x, k=9, seed=2, labels=(labels + 1) % 10)
    assert not np.allclose(other.per_image, result.per_image)  # the label is used
    with pytest.raises(DataError, match="labels"):
        iwae_log_likelihood(weights, x, k=2)
    with pytest.raises(DataError, match="class"):
        iwae_log_likelihood(weights, x, k=2, labels=np.full(6, 10))


def test_batches_blocks_and_threads_change_nothing(monkeypatch):
    weights = random_weights(Architecture(2), seed=2)
    x = inputs_for(Architecture(2), 5)
    whole = iwae_log_likelihood(weights, x, k=30, seed=0)
    monkeypatch.setattr(numpy_layers, "DECODER_BLOCK_FLOATS", 1)  # blocks of one decode
    monkeypatch.setattr(numpy_layers, "CHUNK_FLOATS", 1)  # and of one encode
    monkeypatch.setattr(numpy_layers, "WORKERS", 3)
    split = iwae_log_likelihood(weights, x, k=30, seed=0, batch_size=2, max_decodes=7)
    monkeypatch.setattr(numpy_layers, "WORKERS", 1)
    alone = iwae_log_likelihood(NumpyVAE(weights), x, k=30, seed=0, batch_size=1)
    np.testing.assert_allclose(split.per_image, whole.per_image, rtol=1e-6)
    np.testing.assert_allclose(alone.per_image, whole.per_image, rtol=1e-6)


def test_the_bound_tightens_with_k_and_lies_above_the_elbo():
    weights = random_weights(Architecture(2), seed=3)
    x = inputs_for(Architecture(2), 12, seed=1)
    results = [iwae_log_likelihood(weights, x, k=k, seed=0) for k in (1, 5, 50)]
    assert results[0].mean < results[1].mean < results[2].mean
    assert results[0].mean == pytest.approx(results[0].elbo)  # one sample: the bound is the ELBO's estimate
    assert results[2].elbo < results[2].mean


def test_progress_counts_calls_and_a_cancel_stops_within_one():
    weights = random_weights(Architecture(2))
    x = inputs_for(Architecture(2), 4)
    calls = []
    with pytest.raises(Cancelled, match="after 1 of 4 batches"):
        iwae_log_likelihood(weights, x, k=3, batch_size=1, progress=lambda done, total: calls.append((done, total)),
                            cancelled=lambda: len(calls) >= 1)
    assert calls == [(1, 4)]
    seen = []
    iwae_log_likelihood(weights, x, k=10, max_decodes=4, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(i, 12) for i in range(1, 13)]  # 4 images x 3 calls of <= 4 samples


def test_bad_arguments_are_named():
    weights = random_weights(Architecture(2))
    with pytest.raises(DataError, match="do not fit"):
        iwae_log_likelihood(weights, np.zeros((2, 64, 64, 3), np.float32), k=2)
    with pytest.raises(DataError, match="no images"):
        iwae_log_likelihood(weights, np.zeros((0, 28, 28, 1), np.float32), k=2)
    with pytest.raises(ValueError, match="k must be"):
        iwae_log_likelihood(weights, inputs_for(Architecture(2), 1), k=0)
    single = iwae_log_likelihood(weights, inputs_for(Architecture(2), 1), k=2)
    assert single.count == 1 and math.isnan(single.standard_error)


def test_the_estimate_loads_no_tensorflow():
    code = ("import sys, vaestudio.core.iwae, vaestudio.reports; "
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_inspect_shows_the_estimates_progress_and_eta_on_a_terminal(trained_runs, monkeypatch):
    from vaestudio.cli import main

    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert main(["inspect", str(trained_runs.finished), "--iwae-k", "5", "--classifier", "none"]) == 0
    shown = terminal.getvalue()
    assert "\restimating log p(x): 1/" in shown and "ETA" in shown
    assert "log p(x) (IWAE)" in shown and "(k = 5," in shown
