"""Own images without Qt: files prepared on the executor and added to the view, and prepared again when a
run of another image size or colour becomes active (the studio does it, no panel needed)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from random_weights import random_weights
from test_explorer_state import live_run
from vaestudio.core.config import TrainConfig
from vaestudio.core.events import Snapshot
from vaestudio.gui.state.explorer import InlineExecutor
from vaestudio.gui.state.latent_view import OwnImage
from vaestudio.gui.state.own_images import MAX_FILES_PER_DROP, encode_image_files
from vaestudio.gui.state.run_history import RunHistory
from vaestudio.gui.state.studio import Studio


@pytest.fixture
def picture(tmp_path):
    path = tmp_path / "stroke.png"
    pixels = np.zeros((40, 40), np.uint8)
    pixels[8:32, 16:24] = 255
    Image.fromarray(pixels).save(path)
    return path


def colour_run(size: int = 64) -> RunHistory:
    config = TrainConfig(latent_dim=2, image_size=size, channels=3, grid_size=4)
    history = RunHistory("colour", config=config, live=True)
    weights = random_weights(config.architecture)
    history.feed(Snapshot(0, 0, "before training", np.zeros((4 * size, 4 * size, 3), np.uint8), weights, frame=0))
    return history


def test_files_are_prepared_for_the_model_shown_and_added_in_order(picture, tmp_path):
    studio = Studio(InlineExecutor())
    studio.add_run(live_run())
    added, errors = [], []
    not_an_image = tmp_path / "notes.txt"
    not_an_image.write_text("hello")
    count = encode_image_files(studio, [picture, not_an_image, picture], on_added=lambda i, name: added.append((i, name)),
                               on_error=errors.append)
    assert count == 3 and added == [(0, "stroke.png"), (1, "stroke.png")]
    assert len(errors) == 1 and "notes.txt" in errors[0]
    (image, _again) = studio.view.own_images
    assert image.inputs.shape == (28, 28, 1) and image.source == str(picture)
    assert [own.mean.shape for own in studio.explorer.pictures.own] == [(3,), (3,)]


def test_too_many_files_at_once_are_cut_with_one_line(picture):
    studio = Studio(InlineExecutor())
    errors = []
    count = encode_image_files(studio, [picture] * (MAX_FILES_PER_DROP + 5), on_error=errors.append)
    assert count == MAX_FILES_PER_DROP and errors == [f"{MAX_FILES_PER_DROP + 5} files dropped: only the first "
                                                      f"{MAX_FILES_PER_DROP} are encoded"]


def test_own_images_are_prepared_again_for_a_run_of_another_image_size_and_colour(picture, tmp_path):
    studio = Studio(InlineExecutor())
    studio.add_run(live_run())
    encode_image_files(studio, [picture])
    drawing = np.zeros((28, 28, 1), np.float32)
    drawing[6:22, 12:16] = 1.0
    studio.view.add_own_image(OwnImage("drawing", drawing, (drawing[..., 0] * 255).astype(np.uint8), "drawing"))
    gone = tmp_path / "gone.png"
    Image.open(picture).save(gone)
    encode_image_files(studio, [gone])
    gone.unlink()  # its file is gone: prepared again from what the model saw
    studio.add_run(colour_run())
    assert [image.name for image in studio.view.own_images] == ["stroke.png", "drawing", "gone.png"]
    assert all(image.inputs.shape == (64, 64, 3) for image in studio.view.own_images)
    assert [own.mean.shape for own in studio.explorer.pictures.own] == [(2,), (2,), (2,)]
