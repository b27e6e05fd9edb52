"""Grid decoding and the cursor's NumPy decoder."""

import numpy as np
import pytest

from vaestudio.core.decoding import LatentDecoder, grid_axis_values, grid_latents, to_mosaic


def test_grid_values_are_normal_quantiles_and_symmetric():
    values = grid_axis_values(20)
    assert values.shape == (20,)
    assert values[0] == pytest.approx(-1.6449, abs=1e-4) and values[-1] == pytest.approx(1.6449, abs=1e-4)
    np.testing.assert_allclose(values, -values[::-1], atol=1e-6)


def test_grid_latents_hold_other_axes_and_order_rows_by_second_axis():
    points = grid_latents(3, 4, axes=(2, 0), held=[0.5, 0.5, 0.5, 0.5])
    values = grid_axis_values(3)
    assert points.shape == (9, 4)
    np.testing.assert_allclose(points[:, 2], np.tile(values, 3))  # columns vary the x axis
    np.testing.assert_allclose(points[:, 0], np.repeat(values, 3))  # rows vary the y axis
    np.testing.assert_allclose(points[:, [1, 3]], 0.5)
    with pytest.raises(ValueError, match="axes"):
        grid_latents(3, 2, axes=(0, 2))


def test_mosaic_reads_like_the_plane_z1_rightwards_z2_upwards():
    tiles = np.zeros((4, 28, 28), np.float32)
    tiles[1] = 1.0  # grid point 1: lowest z2, highest z1
    tiles[2, 0, :] = 1.0  # grid point 2 (highest z2, lowest z1), its top pixel row only
    mosaic = to_mosaic(tiles, 2)
    assert mosaic.dtype == np.uint8 and mosaic.shape == (56, 56)
    assert mosaic[28:, 28:].min() == 255 and mosaic[:28, 28:].max() == 0  # bottom right
    assert mosaic[0, :28].min() == 255 and mosaic[1:28, :28].max() == 0  # top left, tile upright
    assert mosaic[28:, :28].max() == 0


def test_decoder_refuses_weights_of_another_shape():
    with pytest.raises(ValueError, match="do not fit a 2-d decoder"):
        LatentDecoder(2, [np.zeros((3, 1568))])


tf = pytest.importorskip("tensorflow")


@pytest.mark.parametrize("latent_dim", [2, 5])
def test_numpy_decoder_matches_keras(latent_dim):
    from vaestudio.core.tf.model import build_cvae

    rng = np.random.default_rng(latent_dim)
    model = build_cvae(latent_dim)
    model.decoder.set_weights([w + rng.normal(0, 0.1, w.shape).astype(np.float32) for w in model.decoder.get_weights()])
    decoder = LatentDecoder(latent_dim, model.decoder.get_weights())
    z = rng.normal(size=(5, latent_dim)).astype(np.float32)
    np.testing.assert_allclose(decoder.logits(z), model.decoder(z).numpy()[..., 0], atol=1e-4)
    single = decoder.decode_point(z[0])
    assert single.shape == (28, 28) and single.dtype == np.uint8
    np.testing.assert_array_equal(single, decoder.decode_points(z)[0])


def test_batched_grid_matches_the_tutorials_per_point_loop():
    import tensorflow_probability as tfp

    from vaestudio.core.decoding import decode_grid
    from vaestudio.core.tf.model import build_cvae

    rng = np.random.default_rng(1)
    model = build_cvae(2)
    model.decoder.set_weights([w + rng.normal(0, 0.2, w.shape).astype(np.float32) for w in model.decoder.get_weights()])
    n = 4
    norm = tfp.distributions.Normal(0, 1)
    grid = norm.quantile(np.linspace(0.05, 0.95, n))
    np.testing.assert_allclose(grid.numpy(), grid_axis_values(n), atol=1e-5)
    expected = np.zeros((n * 28, n * 28))
    for i, yi in enumerate(grid):  # the article's loop
        for j, xi in enumerate(grid):
            z = np.array([[xi, yi]], np.float32)
            expected[i * 28:(i + 1) * 28, j * 28:(j + 1) * 28] = tf.sigmoid(model.decoder(z))[0, ..., 0]
    mosaic = decode_grid(model, n)
    # The article's figure has z2 growing downwards; vaestudio's grows upwards, like the plane's axis.
    expected = expected.reshape(n, 28, n * 28)[::-1].reshape(n * 28, n * 28)
    assert np.abs(mosaic.astype(float) - expected * 255).max() <= 1.0
    numpy_grid = LatentDecoder(2, model.decoder.get_weights()).decode_grid(n)
    assert np.abs(numpy_grid.astype(int) - mosaic).max() <= 1  # float rounding may flip a grey level
