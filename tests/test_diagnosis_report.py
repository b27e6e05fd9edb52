"""The CLI's diagnosis glue: inspect --json's fields, render --traversals, the alarm from metrics.csv."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from random_weights import random_weights
from vaestudio.core.architecture import Architecture
from vaestudio.core.data.synthetic import synthetic_dataset
from vaestudio.core.diagnosis import report
from vaestudio.core.store.metrics_log import MetricsLog

DATA = synthetic_dataset(200, 60)
WEIGHTS = random_weights(Architecture(latent_dim=2), 3)


def test_inspect_fields_name_every_figure_and_are_json(tmp_path, monkeypatch):
    monkeypatch.setenv("VAESTUDIO_CACHE_DIR", str(tmp_path))  # no classifier cached: its figures are null
    fields = report.inspect_fields(WEIGHTS, DATA, worst_count=3)
    assert set(fields) >= {"collapse", "mutual_information", "knn_accuracy", "probe_accuracy", "sample_classes",
                           "frechet_distance", "worst"}
    assert fields["collapse"] == {"collapsed": False, "reason": "no posterior collapse"}
    assert fields["sample_classes"] is None and fields["frechet_distance"] is None
    assert len(fields["worst"]) == 3 and fields["worst"][0]["elbo"] <= fields["worst"][2]["elbo"]
    json.dumps(fields)


def test_the_run_alarm_reads_metrics_csv_up_to_the_snapshot(tmp_path):
    log = MetricsLog(tmp_path / "metrics.csv")
    log.append_epoch(1, 100, -200.0, -190.0, 10.0, kl_per_dimension=(3.0, 4.0))
    log.append_epoch(2, 200, -210.0, -209.99, 0.01, kl_per_dimension=(0.01, 0.0))
    fields = report.inspect_fields(WEIGHTS, DATA, folder=tmp_path, step=300, epoch=3, classifier="none")
    assert fields["collapse"]["collapsed"] is False  # the snapshot itself is healthy again
    collapsed = np.zeros(2)
    from vaestudio.core.diagnosis.collapse import Health

    alarm = report.run_alarm(tmp_path, Health(300, 3, collapsed, 0), up_to_step=300)
    assert alarm.started_step == 200 and alarm.last_healthy_step == 100


def test_render_traversals_writes_the_sheet(tmp_path):
    path = report.render_traversals(WEIGHTS, DATA.test_images, tmp_path / "t.png", image=2)
    width, height = Image.open(path).size
    assert width == 9 * 28 * 2 and height > 2 * 28 * 2  # 2 rows of 9, scaled 2x, and a caption under them
