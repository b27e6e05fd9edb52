"""The latent grid, mosaics and interpolation paths (no TensorFlow)."""

from statistics import NormalDist

import numpy as np
import pytest

from vaestudio.core.latent import (GRID_PROBABILITIES, grid_axis_values, grid_points, interpolate, mosaic, strip,
                                   to_uint8)


def test_grid_values_are_the_tutorials_normal_quantiles():
    values = grid_axis_values(20)
    assert values.dtype == np.float32 and values.shape == (20,)
    assert GRID_PROBABILITIES == (0.05, 0.95)
    assert values[0] == pytest.approx(-1.6449, abs=1e-4) and values[-1] == pytest.approx(1.6449, abs=1e-4)
    expected = [NormalDist().inv_cdf(p) for p in np.linspace(0.05, 0.95, 20)]
    np.testing.assert_allclose(values, expected, atol=1e-6)
    np.testing.assert_allclose(values, -values[::-1], atol=1e-6)
    assert np.all(np.diff(values) > 0)
    for bad in (1, 0, -3, 2.5, True):
        with pytest.raises(ValueError, match="grid size"):
            grid_axis_values(bad)


def test_grid_points_vary_the_first_axis_by_column_and_the_second_by_row():
    points = grid_points(3, 4, axes=(2, 0), held=[0.5, 0.5, 0.5, 0.5])
    values = grid_axis_values(3)
    assert points.shape == (9, 4) and points.dtype == np.float32
    np.testing.assert_allclose(points[:, 2], np.tile(values, 3))  # columns vary the x axis
    np.testing.assert_allclose(points[:, 0], np.repeat(values, 3))  # rows vary the y axis
    np.testing.assert_allclose(points[:, [1, 3]], 0.5)


def test_a_one_dimensional_latent_space_has_a_strip_of_points():
    points = grid_points(5, 1)
    assert points.shape == (5, 1)
    np.testing.assert_allclose(points[:, 0], grid_axis_values(5))
    np.testing.assert_allclose(grid_points(5, 1, axes=(0, 0)), points)
    with pytest.raises(ValueError, match="1-d"):
        grid_points(5, 1, axes=(1, 0))


@pytest.mark.parametrize("axes", [(0, 2), (1, 1), (-1, 0)])
def test_grid_points_refuse_axes_that_do_not_exist(axes):
    with pytest.raises(ValueError, match="axes"):
        grid_points(3, 2, axes=axes)


@pytest.mark.parametrize("held", [[0.0], [0.0, 1.0, 2.0], [0.0, float("nan")], [np.inf, 0.0]])
def test_grid_points_refuse_held_coordinates_that_do_not_fit(held):
    with pytest.raises(ValueError, match="held"):
        grid_points(3, 2, held=held)


def test_mosaic_reads_like_the_plane_z1_rightwards_z2_upwards():
    tiles = np.zeros((4, 28, 28), np.float32)
    tiles[1] = 1.0  # grid point 1: lowest z2, highest z1
    tiles[2, 0, :] = 1.0  # grid point 2 (highest z2, lowest z1), its top pixel row only
    picture = mosaic(tiles, 2)
    assert picture.dtype == np.uint8 and picture.shape == (56, 56)
    assert picture[28:, 28:].min() == 255 and picture[:28, 28:].max() == 0  # bottom right
    assert picture[0, :28].min() == 255 and picture[1:28, :28].max() == 0  # top left, tile upright
    assert picture[28:, :28].max() == 0
    np.testing.assert_array_equal(mosaic(tiles[..., None], 2), picture)  # (N, H, W, 1) too


def test_mosaic_of_colour_tiles_of_another_size():
    tiles = np.zeros((9, 64, 64, 3), np.uint8)
    tiles[0, ..., 0] = 200  # lowest z1 and z2: bottom left, red
    tiles[8, ..., 2] = 100  # highest z1 and z2: top right, blue
    picture = mosaic(tiles, 3)
    assert picture.shape == (192, 192, 3) and picture.dtype == np.uint8
    assert (picture[128:, :64] == [200, 0, 0]).all()
    assert (picture[:64, 128:] == [0, 0, 100]).all()
    assert picture[64:128].max() == 0


def test_mosaic_of_n_images_is_a_strip_and_other_counts_are_refused():
    tiles = np.stack([np.full((28, 28), i / 4, np.float32) for i in range(5)])
    picture = mosaic(tiles, 5)
    assert picture.shape == (28, 140)
    assert [picture[0, 28 * i] for i in range(5)] == [0, 64, 128, 191, 255]  # rint(i/4 * 255)
    np.testing.assert_array_equal(strip(tiles), picture)
    with pytest.raises(ValueError, match="neither"):
        mosaic(tiles, 3)
    with pytest.raises(ValueError, match="shape"):
        mosaic(np.zeros((4, 28, 28, 2)), 2)


def test_to_uint8_rounds_and_clips():
    values = np.array([-0.5, 0.0, 0.5 / 255, 0.4, 1.0, 7.0, np.nan], np.float32)
    out = to_uint8(values[:-1])
    assert out.dtype == np.uint8
    assert out.tolist() == [0, 0, 0, 102, 255, 255]
    same = np.arange(256, dtype=np.uint8)
    assert to_uint8(same) is same


def test_linear_interpolation_is_evenly_spaced_and_exact_at_the_ends():
    a, b = np.array([1.0, -2.0, 0.5]), np.array([-3.0, 2.0, 0.5])
    path = interpolate(a, b, 5, "linear")
    assert path.shape == (5, 3) and path.dtype == np.float32
    np.testing.assert_allclose(path[0], a)
    np.testing.assert_allclose(path[-1], b)
    np.testing.assert_allclose(np.diff(path, axis=0), np.tile((b - a) / 4, (4, 1)), atol=1e-6)
    np.testing.assert_allclose(interpolate(a, b, 1), [a])


def test_spherical_interpolation_of_equal_norms_is_the_usual_slerp():
    rng = np.random.default_rng(4)
    a = rng.normal(size=6)
    b = rng.normal(size=6)
    b *= np.linalg.norm(a) / np.linalg.norm(b)
    path = interpolate(a, b, 9, "spherical").astype(np.float64)
    omega = np.arccos(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    t = np.linspace(0, 1, 9)[:, None]
    slerp = (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)  # Shoemake's formula
    np.testing.assert_allclose(path, slerp, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), np.linalg.norm(a), rtol=1e-5)
    angles = [np.arccos(np.clip(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)), -1, 1)) for u, v in zip(path, path[1:])]
    np.testing.assert_allclose(angles, omega / 8, atol=1e-4)


def test_spherical_interpolation_changes_the_norm_linearly():
    a, b = np.array([3.0, 0.0]), np.array([0.0, 1.0])
    path = interpolate(a, b, 5, "spherical")
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), np.linspace(3, 1, 5), rtol=1e-5)
    np.testing.assert_allclose(path[0], a)
    np.testing.assert_allclose(path[-1], b, atol=1e-6)


def test_spherical_interpolation_degrades_gracefully():
    # antiparallel: turns through a perpendicular direction instead of crossing the origin
    a = np.array([2.0, 0.0, 0.0])
    path = interpolate(a, -a, 5, "spherical")
    assert np.isfinite(path).all()
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), 2.0, rtol=1e-5)
    np.testing.assert_allclose(path[2] @ a, 0.0, atol=1e-5)
    np.testing.assert_allclose(path[-1], -a, atol=1e-6)
    # nearly antiparallel stays finite and on the sphere
    near = interpolate(a, -a + np.array([0.0, 1e-9, 0.0]), 5, "spherical")
    assert np.isfinite(near).all() and np.allclose(np.linalg.norm(near, axis=1), 2.0, rtol=1e-5)
    # a zero endpoint, parallel endpoints and a 1-d space give the straight line
    for z_a, z_b in (([0.0, 0.0], [1.0, 2.0]), ([1.0, 2.0], [0.0, 0.0]), ([1.0, 2.0], [2.0, 4.0]), ([-1.5], [2.0])):
        np.testing.assert_allclose(interpolate(z_a, z_b, 7, "spherical"), interpolate(z_a, z_b, 7, "linear"), atol=1e-6)


@pytest.mark.parametrize("args, match", [
    (([0.0, 1.0], [1.0], 3, "linear"), "sizes"),
    (([0.0, 1.0], [1.0, np.nan], 3, "linear"), "finite"),
    (([0.0, 1.0], [1.0, 0.0], 3, "cubic"), "interpolation"),
    (([0.0, 1.0], [1.0, 0.0], 0, "linear"), "number"),
])
def test_interpolation_refuses_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        interpolate(*args)
