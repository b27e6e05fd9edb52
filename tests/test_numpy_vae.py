"""The NumPy VAE: the same numbers as Keras for every architecture, images and grids, threads, bad input."""

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import vaestudio.core.numpy_layers as numpy_layers
from vaestudio.core.architecture import Architecture
from vaestudio.core.latent import grid_axis_values, grid_points, mosaic
from vaestudio.core.numpy_vae import NumpyDecoder, NumpyVAE, continuous_bernoulli_mean, sigmoid
from vaestudio.core.weights import VaeWeights
from random_weights import random_weights


def test_light_modules_load_neither_tensorflow_nor_qt():
    code = ("import sys, vaestudio.core.latent, vaestudio.core.numpy_vae, vaestudio.core.probes; "
            "print(sorted(m for m in ('tensorflow', 'keras', 'PySide6') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_decoded_images_have_the_architectures_shape():
    for arch, image in ((Architecture(2), (28, 28)), (Architecture(3, 64, 3), (64, 64, 3)), (Architecture(1, 64, 1), (64, 64))):
        vae = NumpyVAE(random_weights(arch))
        z = np.random.default_rng(1).normal(size=(3, arch.latent_dim)).astype(np.float32)
        assert vae.decode_logits(z).shape == (3, *arch.image_shape)
        images = vae.decode_uint8(z)
        assert images.shape == (3, *image) and images.dtype == np.uint8
        assert vae.decode_uint8(z[0]).shape == (1, *image)  # one point as a vector
        mean, logvar = vae.encode(np.random.default_rng(2).random((4, *arch.image_shape)).astype(np.float32))
        assert mean.shape == logvar.shape == (4, arch.latent_dim) and mean.dtype == np.float32


def test_display_values_are_the_likelihoods_means():
    logits = np.array([-40.0, -3.0, -1e-4, 0.0, 2e-3, 0.5, 3.0, 40.0], np.float32)
    np.testing.assert_allclose(sigmoid(logits), 1 / (1 + np.exp(-logits.astype(np.float64))), atol=1e-7)
    eta = logits.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        direct = 1 / (1 - np.exp(-eta)) - 1 / eta  # the mean's closed form, undefined at 0
    direct[eta == 0] = 0.5
    direct[np.abs(eta) < 1e-2] = 0.5 + eta[np.abs(eta) < 1e-2] / 12
    mean = continuous_bernoulli_mean(logits)
    np.testing.assert_allclose(mean, direct, atol=1e-6)
    assert mean[0] == pytest.approx(1 / 40, abs=1e-6) and mean[-1] == pytest.approx(1 - 1 / 40, abs=1e-6)
    assert np.all(np.diff(mean) > 0) and mean.min() >= 0 and mean.max() <= 1
    arch = Architecture(2, likelihood="continuous_bernoulli")
    vae = NumpyVAE(random_weights(arch))
    z = np.zeros((1, 2), np.float32)
    np.testing.assert_allclose(vae.decode(z), continuous_bernoulli_mean(vae.decode_logits(z)))


def test_grid_is_the_mosaic_of_the_decoded_grid_points():
    vae = NumpyVAE(random_weights(Architecture(3)))
    picture = vae.grid(4, axes=(2, 0), held=[0.0, 0.7, 0.0])
    points = grid_points(4, 3, axes=(2, 0), held=[0.0, 0.7, 0.0])
    np.testing.assert_array_equal(picture, mosaic(vae.decode_uint8(points), 4))
    values = grid_axis_values(4)
    bottom_left = vae.decode_uint8(np.array([[values[0], 0.7, values[0]]], np.float32))[0]
    np.testing.assert_array_equal(picture[-28:, :28], bottom_left)  # lowest z3 (x) and z1 (y)
    strip = NumpyVAE(random_weights(Architecture(1))).grid(6)
    assert strip.shape == (28, 6 * 28)


def test_results_do_not_depend_on_how_the_work_is_split(monkeypatch):
    weights = random_weights(Architecture(2), seed=3)
    z = np.random.default_rng(0).normal(size=(45, 2)).astype(np.float32)
    x = np.random.default_rng(1).random((45, 28, 28, 1)).astype(np.float32)
    whole = NumpyVAE(weights)
    logits, (mean, logvar) = whole.decode_logits(z), whole.encode(x)
    monkeypatch.setattr(numpy_layers, "CHUNK_FLOATS", 1)  # one image at a time
    monkeypatch.setattr(numpy_layers, "DECODER_BLOCK_FLOATS", 1)
    single = NumpyVAE(weights)
    np.testing.assert_allclose(single.decode_logits(z), logits, atol=1e-5)
    # Blocks of 4 images: the largest layer's input and output buffers (see NumpyDecoder._buffers).
    monkeypatch.setattr(numpy_layers, "DECODER_BLOCK_FLOATS", 4 * (14 * 14 * (3 * 64 + 1) + 28 * 28 * (2 * 32 + 1)))
    split = NumpyVAE(weights)
    assert split.decoder.block_size == 4  # 45 = 11 blocks + 1 padded
    monkeypatch.setattr(numpy_layers, "WORKERS", 3)  # blocks on three threads
    np.testing.assert_allclose(split.decode_logits(z), logits, atol=1e-5)
    np.testing.assert_allclose(split.encode(x)[0], mean, atol=1e-5)
    monkeypatch.setattr(numpy_layers, "WORKERS", 1)
    np.testing.assert_allclose(split.decode_logits(z), logits, atol=1e-5)
    np.testing.assert_allclose(split.encode(x)[0], mean, atol=1e-5)
    np.testing.assert_allclose(split.encode(x)[1], logvar, atol=1e-5)
    singles = np.concatenate([whole.decode_logits(point[None]) for point in z[:5]])
    np.testing.assert_allclose(singles, logits[:5], atol=1e-5)


def test_numpy_imported_first_still_decodes_on_single_threaded_blas(tmp_path):
    """With NumPy imported before vaestudio, OpenBLAS starts with a thread per core; the NumPy VAE's own
    threads on top of those made a grid ~10x slower. Building a NumpyVAE makes OpenBLAS single-threaded
    (the results are the same)."""
    import os

    code = ("import numpy as np, vaestudio; from threadpoolctl import threadpool_info; "
            "from vaestudio.core.architecture import Architecture; from vaestudio.core.numpy_vae import NumpyVAE; "
            "from random_weights import random_weights; "
            "blas = lambda: sorted({p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas'}); "
            "before = blas(); vae = NumpyVAE(random_weights(Architecture(2), seed=3)); "
            "z = np.random.default_rng(0).normal(size=(45, 2)).astype(np.float32); "
            "np.save(os.environ['LOGITS'], vae.decode_logits(z)); print(before, blas())")
    tests = str(Path(__file__).parent)
    out = tmp_path / "logits.npy"
    env = {name: value for name, value in os.environ.items() if name != "OPENBLAS_NUM_THREADS"}
    env.update(LOGITS=str(out), PYTHONPATH=os.pathsep.join([tests, env.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-c", "import os; " + code], capture_output=True, text=True,
                            check=True, env=env)
    assert result.stdout.strip().endswith(" [1]"), result.stdout  # OpenBLAS's threads after: one
    z = np.random.default_rng(0).normal(size=(45, 2)).astype(np.float32)
    np.testing.assert_allclose(np.load(out), NumpyVAE(random_weights(Architecture(2), seed=3)).decode_logits(z),
                               atol=1e-5)


def test_decoders_that_share_a_threads_work_buffers_keep_their_own_results(monkeypatch):
    """Decoders of the same shapes reuse one set of work buffers per thread (block sizes as they come):
    each call gives what it gives on a thread that never decoded before, whatever ran before it."""
    monkeypatch.setattr(numpy_layers, "WORKERS", 1)  # all on the calling thread
    first = NumpyVAE(random_weights(Architecture(2), seed=1))
    second = NumpyVAE(random_weights(Architecture(2), seed=2))
    colour = NumpyVAE(random_weights(Architecture(2, 64, 3), seed=3))
    points = {count: np.random.default_rng(count).normal(size=(count, 2)).astype(np.float32) for count in (1, 3, 45)}

    def on_a_new_thread(vae, z):
        result = []
        thread = threading.Thread(target=lambda: result.append(vae.decode_logits(z)))
        thread.start()
        thread.join()
        return result[0]

    expected = {(name, count): on_a_new_thread(vae, z) for name, vae in (("first", first), ("second", second))
                for count, z in points.items()}
    for count in (45, 3, 1, 45, 1, 3):
        colour.decode_logits(points[3])
        for name, vae in (("second", second), ("first", first)):
            np.testing.assert_array_equal(vae.decode_logits(points[count]), expected[name, count])
    assert not np.allclose(expected["first", 45], expected["second", 45], atol=1e-2)


def test_one_instance_serves_several_threads():
    vae = NumpyVAE(random_weights(Architecture(2), seed=5))
    points = [np.random.default_rng(i).normal(size=(30, 2)).astype(np.float32) for i in range(4)]
    expected = [vae.decode_logits(p) for p in points]
    results, errors = [None] * 4, []

    def work(i):
        try:
            for _ in range(5):
                results[i] = vae.decode_logits(points[i])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got, want)


def test_the_vae_and_its_weights_cannot_be_changed():
    vae = NumpyVAE(random_weights(Architecture(2)))
    with pytest.raises(AttributeError):
        vae.architecture = Architecture(3)
    with pytest.raises(AttributeError):
        vae.extra = 1
    with pytest.raises(ValueError):
        vae.decoder._stages[0][1][0, 0] = 1.0  # read-only arrays


def test_bad_input_is_named():
    vae = NumpyVAE(random_weights(Architecture(2)))
    with pytest.raises(ValueError, match=r"latent points of shape \(4, 3\) do not fit a 2-d"):
        vae.decode_logits(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"model inputs of shape \(2, 64, 64, 3\) do not fit"):
        vae.encode(np.zeros((2, 64, 64, 3), np.float32))
    with pytest.raises(ValueError, match="do not fit a model of 28x28 grey, latent dim 3"):
        NumpyDecoder(Architecture(3), random_weights(Architecture(2)).decoder)
    with pytest.raises(TypeError, match="VaeWeights"):
        NumpyVAE([np.zeros(3)])
    with pytest.raises(ValueError, match="latent points hold NaN"):
        vae.decode_uint8(np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="inputs hold NaN"):
        vae.encode(np.full((1, 28, 28, 1), np.inf, np.float32))
    assert vae.decode_logits(np.zeros((0, 2))).shape == (0, 28, 28, 1)
    assert vae.encode(np.zeros((0, 28, 28, 1)))[0].shape == (0, 2)


tf = pytest.importorskip("tensorflow")


def keras_model(architecture: Architecture, seed: int):
    from vaestudio.core.tf.model import model_from_weights

    return model_from_weights(random_weights(architecture, seed))


@pytest.mark.parametrize("image_size, channels", [(28, 1), (64, 3)])
@pytest.mark.parametrize("latent_dim", [1, 2, 5])
def test_numpy_vae_matches_keras(image_size, channels, latent_dim):
    arch = Architecture(latent_dim, image_size, channels)
    model = keras_model(arch, seed=latent_dim)
    vae = NumpyVAE(VaeWeights.from_model(model))
    rng = np.random.default_rng(latent_dim)
    z = rng.normal(size=(7, latent_dim)).astype(np.float32)
    expected = model.decoder(z).numpy()
    assert np.abs(expected).max() > 2.0  # logits of a few units, not a test of near-zero numbers
    np.testing.assert_allclose(vae.decode_logits(z), expected, atol=1e-4)
    x = rng.random((5, *arch.image_shape)).astype(np.float32)
    mean, logvar = model.encode(x)
    got_mean, got_logvar = vae.encode(x)
    np.testing.assert_allclose(got_mean, mean.numpy(), atol=1e-4)
    np.testing.assert_allclose(got_logvar, logvar.numpy(), atol=1e-4)


def test_numpy_vae_matches_a_briefly_trained_model():
    import keras

    from vaestudio.core.data import preprocess, synthetic_dataset
    from vaestudio.core.tf.model import build_cvae
    from vaestudio.core.tf.objective import elbo_parts

    keras.utils.set_random_seed(0)
    data = synthetic_dataset(256, 16)
    x = tf.constant(preprocess(data.train_images))
    model = build_cvae(2)
    optimizer = keras.optimizers.Adam(2e-3)
    for step in range(40):
        batch = x[(step * 32) % 256:(step * 32) % 256 + 32]
        with tf.GradientTape() as tape:
            elbo, _, _ = elbo_parts(model, batch, tf.random.normal([32, 2], seed=step))
            loss = -tf.reduce_mean(elbo)
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
    vae = NumpyVAE(VaeWeights.from_model(model))
    test = preprocess(data.test_images)
    mean, logvar = model.encode(test)
    np.testing.assert_allclose(vae.encode(test)[0], mean.numpy(), atol=1e-4)
    np.testing.assert_allclose(vae.encode(test)[1], logvar.numpy(), atol=1e-4)
    z = grid_points(5, 2)
    np.testing.assert_allclose(vae.decode_logits(z), model.decoder(z).numpy(), atol=1e-4)
