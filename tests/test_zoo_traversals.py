"""A conditional model's traversal sheet (issue 19) decodes for the chosen class — the plane's in the
window, `render --traversals --class C` on the command line — its test images encoded with their own."""

from __future__ import annotations

import numpy as np
import pytest

from hostile_helpers import COMMON
from random_weights import random_weights
from vaestudio.cli import main
from vaestudio.core.architecture import Architecture
from vaestudio.core.diagnosis.traversals import sheet_caption, traversal_sheet
from vaestudio.core.numpy_vae import NumpyVAE

CONDITIONAL = Architecture(latent_dim=3, model="conditional")
IMAGES = (np.random.default_rng(4).random((12, 28, 28)) > 0.6).astype(np.uint8) * 255
LABELS = np.arange(12) % 10


def test_the_sheet_decodes_for_the_chosen_class():
    weights = random_weights(CONDITIONAL, seed=5)
    vae = NumpyVAE(weights)
    sheet = traversal_sheet(weights, IMAGES, labels=LABELS, label=7, steps=5)
    assert sheet.decode_class == 7 and "class 7" in sheet_caption(sheet)
    points = np.repeat(sheet.base[None, None], 3, axis=0).repeat(5, axis=1)
    for row, dim in enumerate(sheet.order):
        points[row, :, dim] = sheet.sweeps[row]
    np.testing.assert_array_equal(sheet.rows.reshape(-1, 28, 28), vae.decode_uint8(points.reshape(-1, 3), 7))
    default = traversal_sheet(weights, IMAGES, labels=LABELS, steps=5)
    assert default.decode_class == 0 and not np.array_equal(default.rows, sheet.rows)
    # the test images are encoded with their own classes (the KL of each dimension is theirs)
    means, logvars = vae.encode(IMAGES[..., None].astype(np.float32) / 255, LABELS)
    from vaestudio.core.probes import kl_per_dimension

    np.testing.assert_allclose(sheet.kl_per_dimension, kl_per_dimension(means, logvars), rtol=1e-6)


def test_a_class_is_refused_where_it_does_not_apply():
    with pytest.raises(ValueError, match="between 0 and 9"):
        traversal_sheet(random_weights(CONDITIONAL), IMAGES, labels=LABELS, label=10)
    with pytest.raises(ValueError, match="conditional"):
        traversal_sheet(random_weights(Architecture(latent_dim=2)), IMAGES, label=1)
    assert traversal_sheet(random_weights(Architecture(latent_dim=2)), IMAGES).decode_class is None


def test_render_traversals_takes_the_class(tiny_idx, tmp_path, capsys):
    import imageio.v3 as iio

    folder = tmp_path / "conditional"
    assert main(["train", "--data", str(tiny_idx), *COMMON, "--model", "conditional", "--epochs", "1",
                 "--out", str(folder)]) == 0
    pictures = []
    for label in (2, 8):
        target = tmp_path / f"class{label}.png"
        capsys.readouterr()
        assert main(["render", str(folder), "--traversals", "--class", str(label), "--out", str(target)]) == 0
        assert f"class {label})" in capsys.readouterr().out
        pictures.append(iio.imread(target))
    assert pictures[0].shape == pictures[1].shape and not np.array_equal(pictures[0], pictures[1])
    assert main(["render", str(folder), "--reconstructions", "--class", "2", "--out", str(tmp_path / "r.png")]) == 2
    assert "--class goes with --grid, --traversals or --interpolate" in capsys.readouterr().err
