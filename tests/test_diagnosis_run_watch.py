"""The run pipeline's collapse watch: raised once when a collapse stays for two epoch ends, recorded in
diagnosis.json with every alarm raised, cleared when the run recovers, seeded from the folder on resume."""

from __future__ import annotations

import json

from vaestudio.core.diagnosis.run_watch import RunCollapseWatch, recorded_alarms
from vaestudio.core.events import EpochEnd, HyperChanged, StepMetrics

HEALTHY, DEAD = (2.0, 3.0), (0.001, 0.002)


def _end(epoch: int, kl) -> EpochEnd:
    return EpochEnd(epoch, epoch * 10, -100.0, -90.0, sum(kl), 1.0, kl_per_dimension=kl)


def _row(epoch: int, kl) -> dict:
    return {"kind": "epoch", "epoch": epoch, "step": epoch * 10, "kl_per_dimension": list(kl)}


def _recorded(folder) -> dict:
    return json.loads((folder / "diagnosis.json").read_text())


def test_the_alarm_is_raised_once_a_collapse_stays_recorded_and_cleared_on_recovery(tmp_path):
    watch = RunCollapseWatch(tmp_path, beta=4.0)
    assert watch.observe(_end(1, HEALTHY)) is None and not (tmp_path / "diagnosis.json").exists()
    assert watch.observe(StepMetrics(2, 15, 5, 10, -100.0, -90.0, 10.0, 100.0)) is None
    watch.observe(HyperChanged(15, 1e-3, 8.0))
    assert watch.observe(_end(2, DEAD)) is None  # one collapsed epoch end: not yet
    raised = watch.observe(_end(3, DEAD))
    assert (raised.epoch, raised.step) == (3, 30) and raised.alarm.started_step == 20
    assert raised.line.startswith("ALARM posterior collapse since epoch 2, step 20")
    assert "lower beta (now 8)" in raised.line and "branch from the last healthy moment (epoch 1, step 10)" in raised.line
    assert _recorded(tmp_path)["collapse"] is True and recorded_alarms(tmp_path) == [raised]
    assert watch.observe(_end(4, DEAD)) is None  # still the same alarm: not raised again
    assert watch.observe(_end(5, HEALTHY)) is None
    recorded = _recorded(tmp_path)
    assert recorded["collapse"] is False and "epoch 5" in recorded["reason"]
    assert recorded_alarms(tmp_path) == [raised]  # a replay still shows it where it was raised
    watch.observe(_end(6, DEAD))
    again = watch.observe(_end(7, DEAD))
    assert again.step == 70 and recorded_alarms(tmp_path) == [raised, again]


def test_a_collapse_of_one_epoch_end_that_passes_raises_nothing(tmp_path):
    watch = RunCollapseWatch(tmp_path)
    assert [watch.observe(_end(e, kl)) for e, kl in enumerate((DEAD, HEALTHY, HEALTHY), 1)] == [None] * 3
    assert not (tmp_path / "diagnosis.json").exists()


def test_a_resumed_run_knows_its_alarm_and_drops_one_raised_after_its_checkpoint(tmp_path):
    first = RunCollapseWatch(tmp_path)
    for epoch, kl in enumerate((HEALTHY, DEAD, DEAD), 1):
        first.observe(_end(epoch, kl))
    rows = [_row(1, HEALTHY), _row(2, DEAD), _row(3, DEAD)]
    resumed = RunCollapseWatch(tmp_path, recorded_rows=rows, step=30)
    assert resumed.observe(_end(4, DEAD)) is None  # raised before the checkpoint: not again
    assert [a.step for a in recorded_alarms(tmp_path)] == [30]
    cut = RunCollapseWatch(tmp_path, recorded_rows=rows[:2], step=20)  # killed before epoch 3's checkpoint
    assert not (tmp_path / "diagnosis.json").exists()
    assert cut.observe(_end(3, DEAD)).step == 30


def test_warm_up_steps_are_not_watched(tmp_path):
    watch = RunCollapseWatch(tmp_path, warmup_steps=25)
    assert [watch.observe(_end(e, DEAD)) for e in (1, 2, 3)] == [None] * 3
    assert watch.observe(_end(4, DEAD)).step == 40
