"""Issue 17: `vaestudio train --data FOLDER` on a folder of images (one subfolder per class) says what to add."""

from __future__ import annotations

import numpy as np
from PIL import Image

from vaestudio.cli import main


def _image_folder(root, classes=("cats", "dogs")):
    for name in classes:
        (root / name).mkdir(parents=True)
        for index in range(3):
            Image.fromarray(np.full((8, 8), 40 * index, np.uint8)).save(root / name / f"{index}.png")
    return root


def test_a_folder_of_class_subfolders_of_images_asks_for_the_image_folder_dataset(tmp_path, capsys):
    folder = _image_folder(tmp_path / "pets")
    code = main(["train", "--data", str(folder), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert str(folder) in err and "holds images" in err and "--dataset image_folder" in err
    assert "train-images-idx3-ubyte" not in err and not (tmp_path / "run").exists()


def test_loose_images_are_recognised_too_and_an_empty_folder_still_names_the_idx_files(tmp_path, capsys):
    folder = tmp_path / "loose"
    folder.mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(folder / "one.png")
    assert main(["train", "--data", str(folder), "--out", str(tmp_path / "run")]) == 2
    assert "--dataset image_folder" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["train", "--data", str(empty), "--out", str(tmp_path / "run2")]) == 2
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte" in err and "image_folder" not in err
