"""metrics.csv: round trip, crash-torn lines, truncation on resume, foreign files."""

from __future__ import annotations

import math

import pytest

from vaestudio.core.errors import RunFolderError
from vaestudio.core.store.metrics_log import COLUMNS, MetricsLog


def _fill(log: MetricsLog, epochs: int, steps_per_epoch: int = 2) -> None:
    step = 0
    for epoch in range(1, epochs + 1):
        for _ in range(steps_per_epoch):
            step += 1
            log.append_step(epoch, step, elbo=-200.0 + step, log_likelihood=-180.0 + step, kl=20.0,
                            images_per_second=1000.0 + step)
        log.append_epoch(epoch, step, test_elbo=-190.0 + epoch, test_log_likelihood=-170.0 + epoch,
                         test_kl=20.0, seconds=1.5 * epoch)


def _epochs(log: MetricsLog, kind: str) -> list[int]:
    return [row["epoch"] for row in log.rows() if row["kind"] == kind]


def test_round_trip_with_header_and_empty_cells(tmp_path):
    path = tmp_path / "metrics.csv"
    log = MetricsLog(path)
    assert log.rows() == []
    log.append_step(1, 5, elbo=-201.25, log_likelihood=-180.5, kl=20.75, images_per_second=1234.5)
    log.append_epoch(1, 5, test_elbo=-199.0, test_log_likelihood=-179.0, test_kl=1 / 3, seconds=12.25)
    assert path.read_text().splitlines()[0] == ",".join(COLUMNS)
    step, epoch = MetricsLog(path).rows()  # a fresh reader sees what was appended
    assert step == {"kind": "step", "epoch": 1, "step": 5, "elbo": -201.25, "log_likelihood": -180.5,
                    "kl": 20.75, "test_elbo": None, "test_log_likelihood": None, "test_kl": None,
                    "seconds": None, "images_per_second": 1234.5, "objective": None, "learning_rate": None,
                    "beta": None, "kl_per_dimension": (), "mi": None, "tc": None, "dim_kl": None}
    assert epoch["kind"] == "epoch" and epoch["test_kl"] == 1 / 3 and epoch["seconds"] == 12.25
    assert epoch["elbo"] is None and epoch["images_per_second"] is None


def test_nan_from_a_diverged_run_is_kept(tmp_path):
    log = MetricsLog(tmp_path / "metrics.csv")
    log.append_step(1, 1, elbo=float("nan"), log_likelihood=float("-inf"), kl=0.0)
    row = log.rows()[0]
    assert math.isnan(row["elbo"]) and row["log_likelihood"] == float("-inf")


def test_appending_resumes_an_existing_file(tmp_path):
    path = tmp_path / "metrics.csv"
    _fill(MetricsLog(path), epochs=1)
    log = MetricsLog(path)
    log.append_step(2, 3, elbo=-1.0, log_likelihood=-1.0, kl=0.0)
    assert [r["kind"] for r in log.rows()] == ["step", "step", "epoch", "step"]
    assert path.read_text().count(",".join(COLUMNS)) == 1


def test_torn_last_line_is_ignored_then_dropped_by_the_next_append(tmp_path):
    path = tmp_path / "metrics.csv"
    _fill(MetricsLog(path), epochs=1)
    with open(path, "a") as handle:
        handle.write("step,2,3,-19")  # the process died mid-line
    log = MetricsLog(path)
    assert len(log.rows()) == 3
    log.append_step(2, 3, elbo=-190.0, log_likelihood=-170.0, kl=20.0)
    rows = MetricsLog(path).rows()
    assert len(rows) == 4 and rows[-1]["elbo"] == -190.0
    assert "-19\n" not in path.read_text() and "-19step" not in path.read_text()


def test_truncate_after_step_keeps_what_the_checkpoint_had_seen(tmp_path):
    path = tmp_path / "metrics.csv"
    log = MetricsLog(path)
    _fill(log, epochs=3)
    log.append_step(4, 7, elbo=-1.0, log_likelihood=-1.0, kl=0.0)  # epoch 4 was interrupted
    with open(path, "a") as handle:
        handle.write("step,4,8,-")  # and a torn line
    log.truncate_after_step(4)  # the checkpoint closing epoch 2 (two steps per epoch)
    assert _epochs(log, "epoch") == [1, 2]
    assert _epochs(log, "step") == [1, 1, 2, 2]
    assert path.read_text().endswith("\n")
    # The resumed run appends epoch 3 again: no duplicate, none missing.
    log.append_step(3, 5, elbo=-1.0, log_likelihood=-1.0, kl=0.0)
    log.append_epoch(3, 6, test_elbo=-2.0, test_log_likelihood=-1.5, test_kl=0.5, seconds=1.0)
    assert _epochs(MetricsLog(path), "epoch") == [1, 2, 3]


def test_truncate_to_zero_keeps_the_header(tmp_path):
    path = tmp_path / "metrics.csv"
    log = MetricsLog(path)
    _fill(log, epochs=2)
    log.truncate_after_step(0)
    assert log.rows() == []
    assert path.read_text() == ",".join(COLUMNS) + "\n"


def test_other_header_is_a_run_folder_error_naming_the_file(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,loss\n1,0.5\n")
    with pytest.raises(RunFolderError, match="metrics.csv"):
        MetricsLog(path)
    assert path.read_text() == "epoch,loss\n1,0.5\n"  # left as it was


def test_damaged_middle_line_is_a_run_folder_error_with_line_number(tmp_path):
    path = tmp_path / "metrics.csv"
    _fill(MetricsLog(path), epochs=1)
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(2, "step,1,x,1,1,1,,,,,\n")
    path.write_text("".join(lines))
    with pytest.raises(RunFolderError, match=r"metrics\.csv line 3"):
        MetricsLog(path).rows()


def test_unwritable_location_is_a_run_folder_error(tmp_path):
    blocker = tmp_path / "run"
    blocker.write_text("x")
    with pytest.raises(RunFolderError, match="metrics.csv"):
        MetricsLog(blocker / "metrics.csv")
    log = MetricsLog(tmp_path / "deleted_run" / "metrics.csv")  # run folder gone: not silently recreated
    with pytest.raises(RunFolderError, match="metrics.csv"):
        log.append_step(1, 1, elbo=-1.0, log_likelihood=-1.0, kl=0.0)
    assert not (tmp_path / "deleted_run").exists()


def test_hyper_rows_record_changes_and_are_cut_with_the_rest(tmp_path):
    path = tmp_path / "metrics.csv"
    log = MetricsLog(path)
    _fill(log, epochs=1)
    log.append_hyper(2, 2, learning_rate=5e-4, beta=0.5)
    log.append_step(2, 3, elbo=-1.0, log_likelihood=-0.5, kl=0.5, objective=-0.75, learning_rate=5e-4, beta=0.5)
    hyper = [row for row in MetricsLog(path).rows() if row["kind"] == "hyper"]
    assert [(r["step"], r["learning_rate"], r["beta"]) for r in hyper] == [(2, 5e-4, 0.5)]
    assert MetricsLog(path).rows()[-1]["objective"] == -0.75
    log.truncate_after_step(2)
    assert [row["kind"] for row in log.rows()][-1] == "hyper"
    log.truncate_after_step(1)
    assert "hyper" not in [row["kind"] for row in log.rows()]


def test_a_file_written_by_0_1_0_is_read_and_upgraded_on_the_next_append(tmp_path):
    path = tmp_path / "metrics.csv"
    old = ",".join(COLUMNS[:11]) + "\n" + "step,1,1,-200.0,-180.0,20.0,,,,,1000.0\n"
    path.write_text(old)
    log = MetricsLog(path)
    (row,) = log.rows()
    assert row["elbo"] == -200.0 and row["learning_rate"] is None
    log.append_step(1, 2, elbo=-199.0, log_likelihood=-179.0, kl=20.0, learning_rate=1e-3)
    assert path.read_text().splitlines()[0] == ",".join(COLUMNS)
    assert [r["step"] for r in MetricsLog(path).rows()] == [1, 2]
