"""The run pipeline's collapse watch: raised once at the epoch end that shows it, recorded in diagnosis.json,
cleared when the run recovers, and seeded from the folder when a run is resumed."""

from __future__ import annotations

import json

from vaestudio.core.diagnosis.run_watch import RunCollapseWatch, recorded_alarm
from vaestudio.core.events import EpochEnd, HyperChanged, StepMetrics

HEALTHY, DEAD = (2.0, 3.0), (0.001, 0.002)


def _end(epoch: int, kl) -> EpochEnd:
    return EpochEnd(epoch, epoch * 10, -100.0, -90.0, sum(kl), 1.0, kl_per_dimension=kl)


def _row(epoch: int, kl) -> dict:
    return {"kind": "epoch", "epoch": epoch, "step": epoch * 10, "kl_per_dimension": list(kl)}


def test_the_alarm_is_raised_once_recorded_and_cleared_on_recovery(tmp_path):
    watch = RunCollapseWatch(tmp_path, beta=4.0)
    assert watch.observe(_end(1, HEALTHY)) is None and not (tmp_path / "diagnosis.json").exists()
    assert watch.observe(StepMetrics(2, 15, 5, 10, -100.0, -90.0, 10.0, 100.0)) is None
    watch.observe(HyperChanged(15, 1e-3, 8.0))
    raised = watch.observe(_end(2, DEAD))
    assert (raised.epoch, raised.step) == (2, 20)
    assert "lower beta (now 8)" in raised.line and "branch from the last healthy moment (epoch 1, step 10)" in raised.line
    assert recorded_alarm(tmp_path).alarm == raised.alarm
    assert watch.observe(_end(3, DEAD)) is None  # still the same alarm: not raised again
    assert watch.observe(_end(4, HEALTHY)) is None
    recorded = json.loads((tmp_path / "diagnosis.json").read_text())
    assert recorded["collapse"] is False and "epoch 4" in recorded["reason"] and recorded["earlier"]["collapse"]
    assert recorded_alarm(tmp_path) is None


def test_a_resumed_run_knows_its_alarm_and_drops_one_recorded_after_its_checkpoint(tmp_path):
    first = RunCollapseWatch(tmp_path)
    first.observe(_end(1, HEALTHY))
    first.observe(_end(2, DEAD))
    resumed = RunCollapseWatch(tmp_path, recorded_rows=[_row(1, HEALTHY), _row(2, DEAD)], step=20)
    assert resumed.observe(_end(3, DEAD)) is None  # raised before the checkpoint: not again
    assert recorded_alarm(tmp_path).step == 20
    RunCollapseWatch(tmp_path, recorded_rows=[_row(1, HEALTHY)], step=10)  # killed before epoch 2's checkpoint
    assert not (tmp_path / "diagnosis.json").exists()


def test_warm_up_steps_are_not_watched(tmp_path):
    watch = RunCollapseWatch(tmp_path, warmup_steps=25)
    assert watch.observe(_end(1, DEAD)) is None and watch.observe(_end(2, DEAD)) is None
    assert watch.observe(_end(3, DEAD)).step == 30
