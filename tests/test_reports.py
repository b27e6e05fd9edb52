"""`vaestudio inspect` and `vaestudio render` on a recorded run and on a model file."""

from __future__ import annotations

import json

import numpy as np
import pytest
from idx_files import write_idx_folder
from PIL import Image

from vaestudio.cli import main
from vaestudio.core import probes
from vaestudio.core.data import synthetic_dataset
from vaestudio.core.store.run_folder import RunFolder


@pytest.fixture(autouse=True)
def own_cache(tmp_path_factory, monkeypatch):
    """inspect trains the dataset's classifier when it is not cached: here, never in the user's cache."""
    monkeypatch.setenv("VAESTUDIO_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "reports-cache"))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    data = synthetic_dataset(n_train=192, n_test=64, seed=5)
    root = tmp_path_factory.mktemp("reports")
    idx = write_idx_folder(root / "idx", (data.train_images, data.train_labels, data.test_images, data.test_labels))
    run = root / "run"
    assert main(["train", "--data", str(idx), "--epochs", "2", "--batch-size", "32", "--lr", "3e-3", "--grid", "4",
                 "--out", str(run)]) == 0
    return run


def test_inspect_reports_the_elbo_the_iwae_bound_and_the_kl_of_each_dimension(run, capsys):
    assert main(["inspect", str(run), "--iwae-k", "20", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["images"] == 64 and report["epoch"] == 2
    assert report["iwae"]["k"] == 20 and report["iwae"]["standard_error"] > 0
    # The importance-weighted bound is tighter than the ELBO from the same samples.
    assert report["iwae"]["log_px"] >= report["elbo"]
    assert len(report["kl_per_dimension"]) == 2 and report["kl"] == pytest.approx(sum(report["kl_per_dimension"]))
    # The per-dimension KL is the analytic one of the encoder's posteriors at that snapshot.
    folder = RunFolder(run)
    weights = folder.snapshots.load_weights(folder.snapshots.records()[-1])
    data = synthetic_dataset(n_train=192, n_test=64, seed=5)
    posterior = probes.encode(weights, data.test_images)
    np.testing.assert_allclose(report["kl_per_dimension"], probes.kl_per_dimension(*posterior), rtol=1e-5)


def test_inspect_an_earlier_snapshot_and_bad_requests(run, capsys):
    assert main(["inspect", str(run), "--at", "1", "--iwae-k", "0"]) == 0
    text = capsys.readouterr().out
    assert "snapshot 'epoch 1'" in text and "Test ELBO" in text and "IWAE" not in text
    assert main(["inspect", str(run), "--at", "9"]) == 2
    assert "no snapshot at the end of epoch 9" in capsys.readouterr().err
    assert main(["inspect", str(run), "--at", "step:x"]) == 2
    assert main(["inspect", str(run / "nothing")]) == 2


def test_render_writes_reconstructions_an_interpolation_and_the_grid(run, tmp_path, capsys):
    assert main(["render", str(run), "--reconstructions", "--scale", "1", "--out", str(tmp_path / "r.png")]) == 0
    with Image.open(tmp_path / "r.png") as image:
        assert image.size == (10 * 28, 2 * 28)  # ten classes, originals above reconstructions
    assert main(["render", str(run), "--interpolate", "0", "5", "--frames", "6", "--scale", "1",
                 "--out", str(tmp_path / "i.gif")]) == 0
    with Image.open(tmp_path / "i.gif") as image:
        assert image.n_frames == 6 and image.size == (28, 28)
    assert main(["render", str(run), "--grid", "--at", "step:1", "--scale", "1", "--out", str(tmp_path / "g.png")]) == 0
    with Image.open(tmp_path / "g.png") as image:
        assert image.size == (4 * 28, 4 * 28)
    assert main(["render", str(run), "--interpolate", "0", "999", "--out", str(tmp_path / "x.png")]) == 2
    assert main(["render", str(run), "--grid", "--out", str(tmp_path / "x.jpg")]) == 2
    assert "must end in .png or .gif" in capsys.readouterr().err


def test_a_model_file_can_be_inspected_and_rendered(run, tmp_path, capsys):
    assert main(["render", str(run / "model.keras"), "--grid", "--scale", "1", "--out", str(tmp_path / "m.png")]) == 0
    assert (tmp_path / "m.png").is_file()
    assert main(["render", str(run / "model.keras"), "--at", "1", "--grid", "--out", str(tmp_path / "m.png")]) == 2
