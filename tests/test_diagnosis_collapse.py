"""The posterior-collapse alarm: health of a snapshot, the detector over a run's moments, the record."""

from __future__ import annotations

import json

import numpy as np
import pytest

from random_weights import random_weights
from vaestudio.core.architecture import Architecture
from vaestudio.core.data.synthetic import synthetic_dataset
from vaestudio.core.diagnosis import collapse
from vaestudio.core.store.metrics_log import MetricsLog
from vaestudio.core.weights import VaeWeights

ARCH = Architecture(latent_dim=4)
IMAGES = synthetic_dataset(64, 100).test_images


def collapsed_weights(seed: int = 0) -> VaeWeights:
    """An encoder that gives mean 0 and log-variance 0 (q(z|x) = the prior) for every image."""
    weights = random_weights(ARCH, seed)
    encoder = list(weights.encoder)
    encoder[-2] = np.zeros_like(encoder[-2])
    encoder[-1] = np.zeros_like(encoder[-1])
    return VaeWeights(ARCH, tuple(encoder), weights.decoder)


def test_a_collapsed_snapshot_has_no_active_unit_no_kl_and_no_mutual_information():
    health = collapse.health(collapsed_weights(), IMAGES, step=100, epoch=1)
    assert health.active_count == 0
    assert health.total_kl == pytest.approx(0.0, abs=1e-9)
    assert health.mutual_information == pytest.approx(0.0, abs=1e-9)
    assert "0 of 4 latent dimensions active" in health.collapse_reason()


def test_an_informative_posterior_carries_mutual_information():
    health = collapse.health(random_weights(ARCH, 1), IMAGES)
    assert health.collapse_reason() is None
    assert health.active_count >= 2
    assert health.mutual_information > 0.1


def test_mutual_information_of_well_separated_posteriors_reaches_log_n():
    mean = np.arange(50, dtype=float)[:, None] * 100.0
    logvar = np.zeros_like(mean)
    assert collapse.mutual_information(mean, logvar) == pytest.approx(np.log(50), abs=1e-6)


def moments(weights_by_step, images=IMAGES):
    return [collapse.health(w, images, step=s, epoch=s // 100) for s, w in weights_by_step]


def test_the_alarm_fires_on_a_run_that_collapses_and_says_when_and_what_to_try():
    run = [(0, random_weights(ARCH, 1)), (100, random_weights(ARCH, 2)), (200, collapsed_weights()),
           (300, collapsed_weights(3))]
    alarm = collapse.detect_collapse(moments(run), warmup_steps=50, beta=8.0)
    assert alarm is not None
    assert (alarm.started_step, alarm.started_epoch) == (200, 2)
    assert (alarm.last_healthy_step, alarm.last_healthy_epoch) == (100, 1)
    assert "\n" not in alarm.reason and "since epoch 2, step 200" in alarm.reason
    assert any("lower beta (now 8)" in a for a in alarm.advice)
    assert any("free bits" in a for a in alarm.advice)
    assert any("branch from the last healthy moment (epoch 1, step 100)" in a for a in alarm.advice)
    assert alarm.line().startswith("ALARM posterior collapse since epoch 2, step 200: ")


def test_a_healthy_run_raises_none_and_the_warm_up_is_forgiven():
    healthy = [(0, random_weights(ARCH, 1)), (100, random_weights(ARCH, 2)), (200, random_weights(ARCH, 3))]
    assert collapse.detect_collapse(moments(healthy)) is None
    still_warming = [(0, collapsed_weights()), (100, collapsed_weights(1))]
    assert collapse.detect_collapse(moments(still_warming), warmup_steps=500) is None
    recovered = [(0, random_weights(ARCH, 1)), (100, collapsed_weights()), (200, random_weights(ARCH, 2))]
    assert collapse.detect_collapse(moments(recovered)) is None


def test_a_run_collapsed_from_the_start_has_no_healthy_moment_to_branch_from():
    run = [(0, collapsed_weights()), (50, collapsed_weights(1)), (100, collapsed_weights(2))]
    alarm = collapse.detect_collapse(moments(run))
    assert alarm.started_step == 50 and alarm.last_healthy_step is None  # step 0 is the untrained model
    assert not any("branch" in a for a in alarm.advice)
    assert collapse.detect_collapse(moments(run[:1])) is None


def test_the_alarm_is_raised_live_from_metrics_csv_epoch_rows_once(tmp_path):
    log = MetricsLog(tmp_path / "metrics.csv")
    log.append_epoch(1, 100, -200.0, -190.0, 10.0, kl_per_dimension=(3.0, 4.0, 2.0, 1.0))
    log.append_epoch(2, 200, -210.0, -209.98, 0.02, kl_per_dimension=(0.02, 0.0, 0.0, 0.0))
    log.append_epoch(3, 300, -210.0, -209.99, 0.01, kl_per_dimension=(0.01, 0.0, 0.0, 0.0))
    history = collapse.health_from_metrics(log.rows())
    assert [h.active_count for h in history] == [4, 1, 0]
    assert collapse.detect_collapse(history).started_step == 200
    watch = collapse.LiveWatch(warmup_steps=0, beta=1.0)
    raised = [watch.epoch_ended(r["epoch"], r["step"], r["kl_per_dimension"]) for r in log.rows()]
    assert raised[0] is None and raised[1] is not None and raised[2] is None  # said once
    assert watch.alarm.started_step == 200


def test_the_alarm_is_recorded_in_the_run_folder(tmp_path):
    alarm = collapse.detect_collapse(moments([(0, random_weights(ARCH, 1)), (100, collapsed_weights())]))
    path = collapse.record_alarm(tmp_path, alarm)
    assert path.name == "diagnosis.json"
    recorded = json.loads(path.read_text())
    assert recorded["collapse"] is True and recorded["started"] == {"epoch": 1, "step": 100}
    assert collapse.read_alarm(tmp_path)["last_healthy"] == {"epoch": 0, "step": 0}
    collapse.record_alarm(tmp_path, None)
    assert collapse.read_alarm(tmp_path)["collapse"] is False
    assert collapse.collapse_summary(alarm)["collapsed"] is True
    assert collapse.collapse_summary(None) == {"collapsed": False, "reason": "no posterior collapse"}


def test_mutual_information_of_a_large_set_is_estimated_on_a_bounded_sample():
    mean = np.arange(5000, dtype=float)[:, None] * 100.0
    assert collapse.mutual_information(mean, np.zeros_like(mean)) == pytest.approx(np.log(collapse.MI_IMAGES))
