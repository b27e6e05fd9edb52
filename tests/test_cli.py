"""`vaestudio train` end to end on tiny IDX files, and its answers to bad input."""

import gzip
import json
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from vaestudio.cli import main
from vaestudio.core.data import synthetic_dataset


def _write_idx(path: Path, array: np.ndarray) -> None:
    code = 0x0803 if array.ndim == 3 else 0x0801
    header = code.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + np.ascontiguousarray(array, np.uint8).tobytes())


@pytest.fixture(scope="module")
def idx_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("idx")
    data = synthetic_dataset(n_train=128, n_test=64, seed=1)
    _write_idx(folder / "train-images-idx3-ubyte.gz", data.train_images)
    _write_idx(folder / "train-labels-idx1-ubyte.gz", data.train_labels)
    _write_idx(folder / "t10k-images-idx3-ubyte.gz", data.test_images)
    _write_idx(folder / "t10k-labels-idx1-ubyte.gz", data.test_labels)
    return folder


def test_train_writes_the_run_folder_and_prints_the_tutorials_lines(idx_folder, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--data", str(idx_folder), "--epochs", "2", "--batch-size", "32", "--lr", "1e-3",
                 "--grid", "5", "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    lines = [line for line in printed.out.splitlines() if line.startswith("Epoch:")]
    assert len(lines) == 2 and lines[0].startswith("Epoch: 1, Test set ELBO: -")
    assert "time elapse for current epoch:" in lines[0]
    assert {p.name for p in out.iterdir()} >= {"model.keras", "config.json", "metrics.csv", "grid_final.png",
                                                "training.gif"}
    config = json.loads((out / "config.json").read_text())
    assert config["epochs"] == 2 and config["data_dir"] == str(idx_folder)
    rows = (out / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("kind,epoch,step") and sum(r.startswith("epoch,") for r in rows) == 2
    frames = iio.imread(out / "training.gif", index=None)
    assert frames.shape[2] == 140 and frames.shape[1] > 140  # 5 x 28 tiles and a caption band
    assert len(frames) == 4  # before training, epoch 1 batch 1, end of epoch 1, end of epoch 2
    grid = iio.imread(out / "grid_final.png")
    assert grid.shape == (140, 140)


def test_an_existing_run_is_never_overwritten(idx_folder, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text("{}")
    assert main(["train", "--data", str(idx_folder), "--epochs", "1", "--out", str(out)]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert (out / "config.json").read_text() == "{}"


@pytest.mark.parametrize("args, words", [
    (["--lr", "-1"], "learning_rate must be between"),
    (["--latent-dim", "0"], "latent_dim must be between 1 and 64"),
    (["--epochs", "many"], "invalid int value: 'many'"),
    (["--dataset", "cifar"], "invalid choice: 'cifar'"),
])
def test_bad_arguments_give_one_line_and_exit_2(args, words, tmp_path):
    result = subprocess.run([sys.executable, "-m", "vaestudio", "train", "--out", str(tmp_path / "r"), *args],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "r").exists()


def test_a_folder_without_data_is_named_in_the_error(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["train", "--data", str(empty), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert str(empty) in err and err.count("\n") == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11/Wayland displays are Linux's")
def test_the_window_without_a_display_says_what_to_do_instead_of_aborting(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["HOME"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-m", "vaestudio"], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "no display" in lines[0] and "vaestudio train" in lines[0]
