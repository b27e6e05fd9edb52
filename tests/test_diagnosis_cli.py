"""Issue 18 from the command line: the collapse alarm of `vaestudio train` (printed, recorded in
diagnosis.json, replayed), `inspect --json`'s diagnosis figures and `--worst N`, `render --traversals`."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hostile_helpers import copy_run, train_args
from PIL import Image

from vaestudio.cli import main
from vaestudio.core.diagnosis import worst
from vaestudio.core.events import CollapseAlarm, EpochEnd
from vaestudio.core.replay import replay
from vaestudio.core.store.run_folder import RunFolder

COLLAPSING = ("--beta", "100", "--latent-dim", "4")  # beta 100 on tiny synthetic data: the KL dies in epoch 1


@pytest.fixture(autouse=True)
def own_cache(tmp_path_factory, monkeypatch):
    """The dataset classifier is cached here, never in the user's cache (trained once for the module)."""
    monkeypatch.setenv("VAESTUDIO_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "diagnosis-cli-cache"))


@pytest.fixture(scope="module")
def collapsed(tiny_idx, tmp_path_factory):
    """A run that collapses, and what `vaestudio train` printed while training it."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("collapse") / "run"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(train_args(tiny_idx, out, 2, *COLLAPSING)) == 0
    return out, printed.getvalue()


def _inspect_json(capsys, *args: str) -> dict:
    assert main(["inspect", *args, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_a_collapsing_run_prints_one_alarm_line_and_records_it(collapsed):
    run, printed = collapsed
    lines = printed.splitlines()
    alarms = [i for i, line in enumerate(lines) if line.startswith("ALARM")]
    # Raised once the collapse stays (a second epoch end), right after that epoch's line; it began at epoch 1.
    assert len(alarms) == 1 and lines[alarms[0] - 1].startswith("Epoch: 2,")
    assert "posterior collapse since epoch 1" in lines[alarms[0]] and "lower beta (now 100)" in lines[alarms[0]]
    recorded = json.loads((run / "diagnosis.json").read_text())
    assert recorded["collapse"] is True and recorded["started"]["epoch"] == 1
    assert recorded["reason"] in lines[alarms[0]]


def test_replaying_a_collapsed_run_yields_its_alarm_after_the_epoch_end_that_raised_it(collapsed):
    events = [e for e in replay(collapsed[0]) if isinstance(e, (EpochEnd, CollapseAlarm))]
    assert [type(e).__name__ for e in events] == ["EpochEnd", "EpochEnd", "CollapseAlarm"]
    alarm = events[2]
    assert (alarm.epoch, alarm.step) == (events[1].epoch, events[1].step)
    assert (alarm.alarm.started_epoch, alarm.alarm.started_step) == (events[0].epoch, events[0].step)
    assert alarm.line.startswith("ALARM posterior collapse since epoch 1")


def test_a_healthy_run_raises_no_alarm(trained_runs):
    assert not (trained_runs.finished / "diagnosis.json").exists()
    assert not any(isinstance(e, CollapseAlarm) for e in replay(trained_runs.finished))


def test_resuming_a_collapsed_run_does_not_raise_its_alarm_twice(collapsed, tmp_path, capsys):
    run = copy_run(collapsed[0], tmp_path / "run")
    assert main(["train", "--resume", str(run), "--epochs", "3"]) == 0
    assert "ALARM" not in capsys.readouterr().out
    assert json.loads((run / "diagnosis.json").read_text())["started"]["epoch"] == 1
    assert sum(isinstance(e, CollapseAlarm) for e in replay(run)) == 1


def test_inspect_json_has_the_diagnosis_figures_with_sane_values(trained_runs, capsys):
    report = _inspect_json(capsys, str(trained_runs.finished), "--iwae-k", "0", "--worst", "5")
    assert report["collapse"] == {"collapsed": False, "reason": "no posterior collapse"}
    assert 0 <= report["mutual_information"] <= math.log(report["images"])
    assert 0 <= report["knn_accuracy"] <= 1 and 0 <= report["probe_accuracy"] <= 1
    assert report["chance_accuracy"] == pytest.approx(0.1)
    assert 0 < report["classifier_test_accuracy"] <= 1  # trained once, as the default asks
    assert sum(report["sample_classes"].values()) == pytest.approx(1.0)
    assert report["frechet_distance"] >= 0 and "not Inception FID" in report["frechet_distance_is"]
    assert {"encode_test_images", "mutual_information", "knn_accuracy", "probe_accuracy",
            "sample_classes_and_frechet"} <= set(report["diagnosis_seconds"])


def test_inspect_worst_lists_the_n_lowest_per_image_elbos_with_their_nearest_training_images(trained_runs, capsys):
    report = _inspect_json(capsys, str(trained_runs.finished), "--iwae-k", "0", "--worst", "4",
                           "--classifier", "none")
    folder = RunFolder(trained_runs.finished)
    weights = folder.snapshots.load_weights(folder.snapshots.records()[-1])
    from vaestudio.core.runs import default_dataset_loader

    data = default_dataset_loader(folder.read_config())
    scores = worst.per_image_elbo(weights, data.test_images)
    listed = report["worst"]
    assert [item["index"] for item in listed] == list(np.argsort(scores.elbo, kind="stable")[:4])
    assert [item["elbo"] for item in listed] == sorted(item["elbo"] for item in listed)
    assert max(item["elbo"] for item in listed) <= np.sort(scores.elbo)[4]
    for item in listed:
        assert item["elbo"] == pytest.approx(item["log_likelihood"] - item["kl"])
        assert len(item["nearest_train"]) == worst.NEAREST
        assert all(0 <= i < len(data.train_images) for i in item["nearest_train"])
    assert report["sample_classes"] is None  # --classifier none


def test_inspect_text_and_json_of_a_collapsed_snapshot(collapsed, capsys):
    run = str(collapsed[0])
    report = _inspect_json(capsys, run, "--iwae-k", "0", "--classifier", "none")
    assert report["collapse"]["collapsed"] is True and report["collapse"]["started"]["epoch"] == 1
    assert main(["inspect", run, "--iwae-k", "0", "--worst", "2", "--classifier", "none"]) == 0
    text = capsys.readouterr().out
    assert "Posterior collapse  ALARM posterior collapse since epoch 1" in text
    assert "I(x; z)" in text and "kNN (k=5)" in text and "linear probe" in text
    assert text.count(" ELBO ") >= 2 and "nearest training images" in text
    assert main(["inspect", run, "--worst", "0"]) == 2
    assert "--worst must be between 1 and the 64 test images" in capsys.readouterr().err


def test_render_traversals_draws_one_row_per_latent_dimension(collapsed, tmp_path, capsys):
    run = str(collapsed[0])
    assert main(["render", run, "--traversals", "--image", "3", "--scale", "2", "--out", str(tmp_path / "t.png")]) == 0
    assert "4 rows, one per latent dimension, from test image 3" in capsys.readouterr().out
    with Image.open(tmp_path / "t.png") as image:
        width, height = image.size
    assert width == 9 * 28 * 2 and height // (28 * 2) == 4  # 4 rows of 9, and a caption band under them
    assert main(["render", run, "--traversals", "--out", str(tmp_path / "t.gif")]) == 0
    with Image.open(tmp_path / "t.gif") as image:
        assert image.n_frames > 2
    assert main(["render", run, "--traversals", "--image", "64", "--out", str(tmp_path / "x.png")]) == 2
    assert "--image 64: no such test image (0..63)" in capsys.readouterr().err
    assert main(["render", run, "--grid", "--image", "3", "--out", str(tmp_path / "x.png")]) == 2
