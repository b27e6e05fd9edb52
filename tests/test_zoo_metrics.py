"""What the zoo's objectives record (issue 19): beta-TCVAE's MI / TC / dimension-wise KL and the IWAE or
beta-TCVAE objective land in metrics.csv, come back on replay, and earlier metrics files still read."""

from __future__ import annotations

import math

import pytest

from vaestudio.core.store.metrics_log import COLUMNS, MetricsLog


def tiny_data():
    from vaestudio.core.data import synthetic_dataset

    return synthetic_dataset(n_train=128, n_test=32, seed=0)


@pytest.fixture(scope="module")
def zoo_runs(tmp_path_factory):
    from vaestudio.core.config import TrainConfig
    from vaestudio.core.runs import Run

    data = tiny_data()
    folders = {}
    for name, settings in {"tcvae": dict(objective="tcvae", beta=2.0),
                           "iwae": dict(objective="iwae", samples=3)}.items():
        config = TrainConfig.from_preset("custom", epochs=1, batch_size=32, learning_rate=3e-3, grid_size=4,
                                         metrics_every=1, snapshot_every=2, seed=1, **settings)
        run = Run.new(tmp_path_factory.mktemp("zoo-metrics") / name, config, load_dataset=lambda _config: data)
        list(run.events())
        folders[name] = run.path
    return folders


def test_tcvae_terms_and_the_objective_are_recorded_and_replayed(zoo_runs):
    from vaestudio.core.events import StepMetrics
    from vaestudio.core.replay import replay as replay_events

    steps = [row for row in MetricsLog(zoo_runs["tcvae"] / "metrics.csv").rows() if row["kind"] == "step"]
    assert steps
    for row in steps:
        assert math.isclose(row["mi"] + row["tc"] + row["dim_kl"], row["kl"], rel_tol=1e-3, abs_tol=1e-2)
        assert row["objective"] is not None and row["objective"] != row["elbo"]
    replayed = [event for event in replay_events(zoo_runs["tcvae"]) if isinstance(event, StepMetrics)]
    assert [event.terms for event in replayed] == [{name: row[name] for name in ("mi", "tc", "dim_kl")}
                                                   for row in steps]
    assert [event.objective for event in replayed] == [row["objective"] for row in steps]

    iwae = [row for row in MetricsLog(zoo_runs["iwae"] / "metrics.csv").rows() if row["kind"] == "step"]
    assert all(row["objective"] is not None and row["mi"] is None for row in iwae)
    assert all(event.terms is None for event in replay_events(zoo_runs["iwae"]) if isinstance(event, StepMetrics))


def test_a_resumed_tcvae_run_keeps_recording_its_terms(zoo_runs, tmp_path):
    import shutil

    from vaestudio.core.runs import ResumeChanges, Run

    folder = tmp_path / "resumed"
    shutil.copytree(zoo_runs["tcvae"], folder)
    data = tiny_data()
    list(Run.resuming(folder, ResumeChanges(epochs=2), load_dataset=lambda _config: data).events())
    steps = [row for row in MetricsLog(folder / "metrics.csv").rows() if row["kind"] == "step"]
    assert {row["epoch"] for row in steps} == {1, 2} and all(row["tc"] is not None for row in steps)


def test_a_metrics_file_of_vaestudio_0_2_0_reads_and_takes_new_rows(tmp_path):
    path = tmp_path / "metrics.csv"
    earlier = ",".join(COLUMNS[:15]) + "\n" + "step,1,1,-200.0,-180.0,20.0,,,,,1000.0,-210.0,0.001,1.5,\n"
    path.write_text(earlier)
    log = MetricsLog(path)
    (row,) = log.rows()
    assert row["objective"] == -210.0 and row["beta"] == 1.5 and row["mi"] is None and row["dim_kl"] is None
    log.append_step(1, 2, -190.0, -175.0, 15.0, objective=-200.0, terms={"mi": 5.0, "tc": 4.0, "dim_kl": 6.0})
    assert path.read_text().splitlines()[0] == ",".join(COLUMNS)
    first, second = MetricsLog(path).rows()
    assert first["objective"] == -210.0 and first["tc"] is None
    assert (second["mi"], second["tc"], second["dim_kl"]) == (5.0, 4.0, 6.0)
