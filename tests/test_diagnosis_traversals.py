"""The traversal sheet: rows in KL order, inactive dimensions flagged, what a row shows."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from random_weights import random_weights
from vaestudio.core import probes
from vaestudio.core.architecture import Architecture
from vaestudio.core.data.synthetic import synthetic_dataset
from vaestudio.core.diagnosis.traversals import save_sheet, sheet_mosaic, traversal_sheet
from vaestudio.core.weights import VaeWeights

ARCH = Architecture(latent_dim=4)
IMAGES = synthetic_dataset(16, 60).test_images


def shaped_weights() -> VaeWeights:
    """Encoder means scaled per dimension (KL order z3, z1, z4, z2) with z2 silenced (mean 0, logvar 0: inactive);
    a decoder that ignores z4."""
    weights = random_weights(ARCH, 0)
    encoder, decoder = list(weights.encoder), list(weights.decoder)
    kernel, bias = encoder[-2].copy(), encoder[-1].copy()
    for dim, gain in zip(range(4), (1.0, 0.0, 3.0, 0.5)):
        kernel[:, dim] *= gain
        bias[dim] *= gain
    kernel[:, 4:] = 0.0  # log-variances 0 everywhere
    bias[4:] = 0.0
    encoder[-2], encoder[-1] = kernel, bias
    dense = decoder[0].copy()
    dense[3] = 0.0
    decoder[0] = dense
    return VaeWeights(ARCH, tuple(encoder), tuple(decoder))


def test_rows_follow_kl_order_and_inactive_dimensions_are_flagged():
    sheet = traversal_sheet(shaped_weights(), IMAGES, steps=7)
    kl = sheet.kl_per_dimension
    assert list(kl[list(sheet.order)]) == sorted(kl, reverse=True)
    assert sheet.order == (2, 0, 3, 1)
    assert sheet.active == (True, True, True, False)
    assert sheet.rows.shape == (4, 7, 28, 28) and sheet.rows.dtype == np.uint8
    assert "inactive" in sheet.label(3) and sheet.label(0).startswith("z3")


def test_a_row_sweeps_its_dimension_across_three_test_set_deviations_and_holds_the_others():
    weights = shaped_weights()
    sheet = traversal_sheet(weights, IMAGES, image=5, steps=5)
    means = probes.encode(weights, IMAGES).mean
    base = means[5]
    assert np.allclose(sheet.base, base)
    spread = means.astype(np.float64).std(axis=0)
    first = sheet.order[0]
    assert sheet.sweeps[0] == pytest.approx(base[first] + np.linspace(-3, 3, 5) * spread[first], rel=1e-5)
    point = base.copy()
    point[first] = sheet.sweeps[0, 1]
    assert np.array_equal(sheet.rows[0, 1], probes.as_vae(weights).decode_uint8(point[None])[0])


def test_a_dimension_the_decoder_ignores_gives_identical_images_along_its_row():
    sheet = traversal_sheet(shaped_weights(), IMAGES, image=3)
    row = sheet.order.index(3)  # z4: the decoder's dense row is zero
    assert np.ptp(sheet.sweeps[row]) > 0
    assert all(np.array_equal(sheet.rows[row, 0], image) for image in sheet.rows[row])
    assert not all(np.array_equal(sheet.rows[0, 0], image) for image in sheet.rows[0])


def test_the_origin_is_the_default_base_and_the_sheet_saves_as_png_and_gif(tmp_path):
    sheet = traversal_sheet(shaped_weights(), IMAGES)
    assert sheet.image_index is None and not sheet.base.any()
    picture = sheet_mosaic(sheet)
    assert picture.shape == (4 * 28, 9 * 28)
    assert picture[3 * 28:].max() < 255 * 0.35 + 71  # the inactive row is dimmed
    png = save_sheet(sheet, tmp_path / "sheet.png", scale=1)
    assert Image.open(png).size[0] == 9 * 28
    gif = save_sheet(sheet, tmp_path / "sheet.gif", scale=1)
    with Image.open(gif) as animation:
        assert animation.n_frames == 9 + 7


def test_bad_choices_are_named():
    with pytest.raises(ValueError, match="image 99"):
        traversal_sheet(shaped_weights(), IMAGES, image=99)
    with pytest.raises(ValueError, match="steps"):
        traversal_sheet(shaped_weights(), IMAGES, steps=1)
