"""Your own image: any file or drawing becomes exactly what the model sees, light backgrounds inverted."""

from __future__ import annotations

import os

import numpy as np
import pytest
from idx_files import save_image

from vaestudio.core.architecture import Architecture
from vaestudio.core.data import prepare_own_image, preprocess, synthetic_dataset
from vaestudio.core.errors import DataError

TUTORIAL = Architecture()
GREY_LEVELS = Architecture(likelihood="continuous_bernoulli")
COLOUR_64 = Architecture(image_size=64, channels=3, likelihood="continuous_bernoulli")


def _ink_on_paper(height=200, width=300, ink=0, paper=255, channels=None):
    """A thick plus sign of `ink` on `paper` (arms 0.3 and strokes 0.075 of the shorter side from the centre),
    like a photo of a drawing."""
    shape = (height, width) if channels is None else (height, width, channels)
    pixels = np.full(shape, paper, np.uint8)
    cy, cx, side = height // 2, width // 2, min(height, width)
    arm, stroke = int(0.3 * side), max(1, int(0.075 * side))
    pixels[cy - arm:cy + arm, cx - stroke:cx + stroke] = ink
    pixels[cy - stroke:cy + stroke, cx - arm:cx + arm] = ink
    return pixels


def test_a_photo_of_black_ink_on_white_paper_reaches_the_model_as_white_on_black(tmp_path):
    path = save_image(tmp_path / "drawing.jpg", _ink_on_paper(channels=3), "JPEG")
    own = prepare_own_image(path, TUTORIAL)
    assert own.inverted and own.source == str(path)
    assert own.model_input.shape == (1, 28, 28, 1) and own.model_input.dtype == np.float32
    assert set(np.unique(own.model_input).tolist()) == {0.0, 1.0}  # binarized like the training data
    assert own.preview.shape == (28, 28) and own.preview.dtype == np.uint8
    np.testing.assert_array_equal(own.preview, own.model_input[0, ..., 0] * 255)  # the preview is the input
    assert own.preview[14, 14] == 255 and own.preview[1, 1] == 0  # bright plus, dark border
    assert own.preview[:, 13:15].sum() > own.preview[:, :4].sum()


def test_a_drawing_from_the_pad_is_used_as_drawn(tmp_path):
    drawing = np.zeros((28, 28), np.float32)
    drawing[6:22, 12:16] = 1.0
    drawing[10, 3] = 0.4  # a grey stroke below the threshold disappears, like in training data
    own = prepare_own_image(drawing, TUTORIAL)
    assert not own.inverted and own.source == "drawing"
    np.testing.assert_array_equal(own.model_input, preprocess(np.rint(drawing * 255).astype(np.uint8)[None]))
    assert own.preview[10, 3] == 0 and own.preview[10, 13] == 255
    as_bytes = prepare_own_image((drawing * 255).astype(np.uint8)[..., None], TUTORIAL)
    np.testing.assert_array_equal(as_bytes.model_input, own.model_input)


def test_grey_levels_stay_for_the_continuous_likelihood():
    drawing = np.zeros((28, 28), np.uint8)
    drawing[8:20, 8:20] = 100
    own = prepare_own_image(drawing, GREY_LEVELS)
    np.testing.assert_allclose(own.model_input[0, 10, 10, 0], 100 / 255, rtol=1e-6)
    assert own.preview[10, 10] == 100


def test_any_size_becomes_the_models_size_and_colour(tmp_path):
    path = save_image(tmp_path / "wide.png", np.dstack([_ink_on_paper(90, 400, ink=200, paper=0)] * 3))
    own = prepare_own_image(path, COLOUR_64)
    assert own.model_input.shape == (1, 64, 64, 3) and own.preview.shape == (64, 64, 3)
    assert not own.inverted
    grey = prepare_own_image(np.dstack([_ink_on_paper(50, 50)] * 3), TUTORIAL)  # colour array, grey model
    assert grey.preview.shape == (28, 28) and grey.inverted


def test_background_rule_follows_the_training_data_and_can_be_forced():
    dark_drawing = _ink_on_paper(28, 28, ink=255, paper=0)
    assert not prepare_own_image(dark_drawing, TUTORIAL).inverted
    assert prepare_own_image(dark_drawing, TUTORIAL, background="light").inverted  # data of dark ink on white
    assert not prepare_own_image(_ink_on_paper(28, 28), TUTORIAL, invert=False).inverted
    forced = prepare_own_image(dark_drawing, TUTORIAL, invert=True)
    assert forced.inverted and forced.preview[1, 1] == 255
    assert synthetic_dataset(n_train=20, n_test=10).background() == "dark"


def test_transparent_images_are_on_white_and_so_inverted(tmp_path):
    pixels = np.zeros((40, 40, 4), np.uint8)
    pixels[10:30, 18:22] = (0, 0, 0, 255)  # a black stroke on a transparent sheet
    own = prepare_own_image(save_image(tmp_path / "stroke.png", pixels, mode="RGBA"), TUTORIAL)
    assert own.inverted and own.preview[14, 14] == 255 and own.preview[2, 2] == 0


def test_results_are_read_only():
    own = prepare_own_image(np.zeros((28, 28), np.uint8), TUTORIAL)
    with pytest.raises(ValueError):
        own.preview[0, 0] = 1
    with pytest.raises(ValueError):
        own.model_input[0, 0, 0, 0] = 1


BAD_FILES = {
    "text": (lambda p: p.write_text("hello"), "not a PNG, JPEG, BMP, GIF or WebP image"),
    "missing": (lambda p: None, "vanished or a broken link"),
    "folder": (lambda p: p.mkdir(), "a folder, not a regular file"),
    "FIFO": (lambda p: os.mkfifo(p), "a FIFO, not a regular file"),
    "truncated": (lambda p: p.write_bytes(save_image(p, np.random.default_rng(0).integers(
        0, 256, (64, 64), dtype=np.uint8)).read_bytes()[:-40]), "truncated image file"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_files_are_a_data_error_naming_the_file(tmp_path, case):
    make, reason = BAD_FILES[case]
    path = tmp_path / "mine.png"
    make(path)
    with pytest.raises(DataError) as caught:
        prepare_own_image(path, TUTORIAL)
    assert str(caught.value) == f"{path}: {reason}"


def test_non_utf8_file_name(tmp_path):
    path = os.fsencode(tmp_path) + b"/\xff.png"
    save_image(path, _ink_on_paper())
    assert prepare_own_image(os.fsdecode(path), TUTORIAL).inverted
    with pytest.raises(DataError, match=r"\\xfe\.png: vanished"):
        prepare_own_image(os.fsencode(tmp_path) + b"/\xfe.png", TUTORIAL)


@pytest.mark.parametrize("array,message", [
    (np.zeros((28,), np.uint8), "must be"), (np.zeros((28, 28, 2), np.uint8), "must be"),
    (np.zeros((0, 28), np.uint8), "must be"), (np.full((28, 28), np.nan), "NaN"),
    (np.zeros((28, 28), np.int64), "uint8"),
])
def test_malformed_arrays_are_programming_errors(array, message):
    with pytest.raises(ValueError, match=message):
        prepare_own_image(array, TUTORIAL)
