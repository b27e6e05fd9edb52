"""Each loss-side variant of the model zoo (issue 19) trains from the CLI, records itself in config.json,
resumes exactly, replays, and can be branched into; the KL schedule the graph applies is the one reported."""

from __future__ import annotations

import csv
import json

import pytest

from hostile_helpers import COMMON
from vaestudio.cli import main
from vaestudio.core.config import TrainConfig
from vaestudio.core.data import synthetic_dataset
from vaestudio.core.events import EpochEnd, Finished, StepMetrics
from vaestudio.core.replay import replay
from vaestudio.core.runs import Run

VARIANTS = {
    "free-bits": ["--free-bits", "0.3", "--latent-dim", "3"],
    "cyclical": ["--kl-schedule", "cyclical", "--cycles", "2"],
    "iwae": ["--objective", "iwae", "--samples", "3"],
    "tcvae": ["--objective", "tcvae", "--beta", "3", "--latent-dim", "3"],
}
RECORDED = {"free-bits": {"free_bits": 0.3}, "cyclical": {"kl_schedule": "cyclical", "cycles": 2},
            "iwae": {"objective": "iwae", "samples": 3}, "tcvae": {"objective": "tcvae", "beta": 3.0}}


def _train(data, out, epochs, *extra):
    return main(["train", "--data", str(data), "--epochs", str(epochs), *COMMON, *extra, "--out", str(out)])


def _epoch_rows(folder):
    with open(folder / "metrics.csv", newline="") as handle:
        return [row for row in csv.DictReader(handle) if row["kind"] == "epoch"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_variant_trains_resumes_exactly_and_replays(variant, tiny_idx, tmp_path):
    whole, parted = tmp_path / "whole", tmp_path / "parted"
    assert _train(tiny_idx, whole, 2, *VARIANTS[variant]) == 0
    run = Run.new(parted, TrainConfig.load(whole / "config.json"))  # the same run, stopped after epoch 1
    for event in run.events():
        if isinstance(event, EpochEnd):
            run.stop()
    assert main(["train", "--resume", str(parted)]) == 0
    config = json.loads((whole / "config.json").read_text())
    assert {name: config[name] for name in RECORDED[variant]} == RECORDED[variant]
    assert TrainConfig.load(parted / "config.json") == TrainConfig.load(whole / "config.json")
    # resumed from its epoch-1 checkpoint, the run ends where the uninterrupted one does
    assert [row["test_elbo"] for row in _epoch_rows(parted)] == [row["test_elbo"] for row in _epoch_rows(whole)]
    events = list(replay(parted))
    metrics = [e for e in events if isinstance(e, StepMetrics)]
    assert metrics and all(e.elbo < 0 for e in metrics)
    assert [e.epoch for e in events if isinstance(e, EpochEnd)] == [1, 2]
    if variant == "iwae":  # the K-sample objective, logged beside the ELBO, is the tighter bound
        assert all(e.objective is not None and e.objective > e.elbo for e in metrics)
    if variant == "tcvae":  # beta 3 on the total correlation: the objective is under the ELBO
        assert all(e.objective is not None and e.objective < e.elbo for e in metrics)


def test_a_branch_may_change_the_objective_and_the_schedule(tiny_idx, tmp_path):
    parent, child = tmp_path / "parent", tmp_path / "child"
    assert _train(tiny_idx, parent, 1, "--objective", "iwae", "--kl-warmup", "3") == 0
    assert main(["train", "--from", str(parent), "--out", str(child), "--epochs", "2", "--objective", "tcvae",
                 "--kl-schedule", "cyclical", "--free-bits", "0"]) == 0
    config = TrainConfig.load(child / "config.json")
    assert (config.objective, config.samples, config.kl_schedule, config.kl_warmup_steps) == ("tcvae", 1, "cyclical", 0)
    assert [e.epoch for e in replay(child) if isinstance(e, EpochEnd)] == [2]


def test_resume_cannot_change_a_variant(tiny_idx, tmp_path, capsys):
    folder = tmp_path / "run"
    assert _train(tiny_idx, folder, 1) == 0
    assert main(["train", "--resume", str(folder), "--epochs", "2", "--objective", "iwae"]) == 2
    assert "--objective cannot change when resuming" in capsys.readouterr().err


def test_the_graph_applies_the_cyclical_beta_it_reports(tmp_path):
    """beta_t = (log-likelihood - objective) / KL at every step equals the schedule's value."""
    data = synthetic_dataset(n_train=64, n_test=16, seed=4)
    config = TrainConfig.from_preset("custom", epochs=2, batch_size=16, grid_size=2, metrics_every=1,
                                     steps_per_call=1, snapshot_every=0, kl_schedule="cyclical", cycles=2, beta=2.0)
    run = Run.new(tmp_path / "run", config, load_dataset=lambda _config: data)
    seen = []
    for event in run.events():
        if isinstance(event, StepMetrics):
            applied = 1.0 if event.objective is None else (event.log_likelihood - event.objective) / event.kl
            seen.append((round(applied, 3), event.beta))
        assert not isinstance(event, Finished) or event.reason == "completed"
    # 8 steps in 2 cycles of 4: beta rises over 2 steps, then stays
    assert [reported for _, reported in seen] == [1.0, 2.0, 2.0, 2.0] * 2
    assert [applied for applied, _ in seen] == pytest.approx([1.0, 2.0, 2.0, 2.0] * 2, abs=1e-2)
