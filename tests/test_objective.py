"""The tfp ELBO equals the tutorial's log_normal_pdf + sigmoid cross-entropy formula."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
from vaestudio.core.tf.model import build_cvae  # noqa: E402
from vaestudio.core.tf.objective import elbo_parts  # noqa: E402


def _tutorial_elbo(model, x, eps):
    """The article's compute_loss, with its random noise replaced by `eps`, negated back to an ELBO."""

    def log_normal_pdf(sample, mean, logvar, raxis=1):
        log2pi = tf.math.log(2.0 * np.pi)
        return tf.reduce_sum(-0.5 * ((sample - mean) ** 2.0 * tf.exp(-logvar) + logvar + log2pi), axis=raxis)

    mean, logvar = model.encode(x)
    z = eps * tf.exp(logvar * 0.5) + mean
    x_logit = model.decode(z)
    cross_ent = tf.nn.sigmoid_cross_entropy_with_logits(logits=x_logit, labels=x)
    logpx_z = -tf.reduce_sum(cross_ent, axis=[1, 2, 3])
    return logpx_z + log_normal_pdf(z, 0.0, 0.0) - log_normal_pdf(z, mean, logvar)


def test_elbo_equals_the_tutorial_formula_on_fixed_tensors():
    rng = np.random.default_rng(3)
    model = build_cvae(2)
    model.encoder.set_weights([w + rng.normal(0, 0.05, w.shape).astype(np.float32) for w in model.encoder.get_weights()])
    x = (rng.random((6, 28, 28, 1)) > 0.6).astype(np.float32)
    eps = rng.normal(size=(6, 2)).astype(np.float32)
    elbo, log_likelihood, kl = elbo_parts(model, tf.constant(x), tf.constant(eps))
    expected = _tutorial_elbo(model, tf.constant(x), tf.constant(eps)).numpy()
    np.testing.assert_allclose(elbo.numpy(), expected, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose((log_likelihood - kl).numpy(), elbo.numpy(), rtol=1e-6)
    assert elbo.shape == (6,) and np.all(log_likelihood.numpy() < 0)


def test_an_untrained_model_scores_about_784_log_2_nats():
    """Logits near 0 mean p = 1/2 per pixel: the likelihood of any image is about -784 ln 2."""
    model = build_cvae(2)
    model.decoder.set_weights([np.zeros_like(w) for w in model.decoder.get_weights()])
    x = tf.constant((np.random.default_rng(0).random((4, 28, 28, 1)) > 0.5).astype(np.float32))
    _, log_likelihood, _ = elbo_parts(model, x, tf.zeros((4, 2)))
    np.testing.assert_allclose(log_likelihood.numpy(), -784 * np.log(2.0), rtol=1e-5)


def test_continuous_bernoulli_elbo_matches_the_numpy_formula():
    from vaestudio.core.architecture import Architecture
    from vaestudio.core.probes import continuous_bernoulli_log_likelihood

    rng = np.random.default_rng(5)
    model = build_cvae(Architecture(2, likelihood="continuous_bernoulli"))
    x = rng.random((4, 28, 28, 1)).astype(np.float32)  # grey levels, not binarized
    eps = rng.normal(size=(4, 2)).astype(np.float32)
    elbo, log_likelihood, kl = elbo_parts(model, tf.constant(x), tf.constant(eps))
    mean, logvar = model.encode(x)
    z = mean + eps * tf.exp(0.5 * logvar)
    expected = continuous_bernoulli_log_likelihood(x, model.decode(z).numpy())
    np.testing.assert_allclose(log_likelihood.numpy(), expected, atol=1e-4)  # ~0: a near-uniform density
    bernoulli = build_cvae(2)
    bernoulli.set_weights(model.get_weights())
    _, other, _ = elbo_parts(bernoulli, tf.constant(x), tf.constant(eps))
    assert not np.allclose(other.numpy(), log_likelihood.numpy())  # the likelihood comes from the architecture
    np.testing.assert_allclose((log_likelihood - kl).numpy(), elbo.numpy(), rtol=1e-6)


def test_analytic_kl_per_dimension_and_its_relation_to_the_sampled_kl():
    from vaestudio.core.tf.objective import elbo_terms, kl_per_dimension

    rng = np.random.default_rng(6)
    mean = rng.normal(size=(5, 3)).astype(np.float32)
    logvar = rng.normal(size=(5, 3)).astype(np.float32)
    expected = 0.5 * (mean.astype(np.float64) ** 2 + np.exp(logvar) - 1 - logvar)
    np.testing.assert_allclose(kl_per_dimension(tf.constant(mean), tf.constant(logvar)).numpy(), expected, rtol=1e-5)
    model = build_cvae(3)
    x = tf.constant((rng.random((200, 28, 28, 1)) > 0.5).astype(np.float32))
    terms = elbo_terms(model, x, tf.constant(rng.normal(size=(200, 3)).astype(np.float32)))
    assert terms.kl_per_dimension.shape == (200, 3)
    # the single-sample KL is an unbiased estimate of the analytic one
    sampled, analytic = terms.kl.numpy(), terms.kl_per_dimension.numpy().sum(axis=1)
    assert abs(sampled.mean() - analytic.mean()) < 4 * sampled.std() / np.sqrt(200) + 1e-3
    elbo, log_likelihood, kl = elbo_parts(model, x, tf.zeros((200, 3)))
    assert elbo.shape == log_likelihood.shape == kl.shape == (200,)
