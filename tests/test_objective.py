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
