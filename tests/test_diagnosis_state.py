"""The diagnosis state without Qt: it follows the moment shown, computes each part in the background
(here inline, or deferred to show that stale results are dropped) and raises the collapse alarm from the
active run's epoch ends."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from random_weights import random_weights
from test_explorer_state import DeferredExecutor
from vaestudio.core.architecture import Architecture
from vaestudio.core.config import TrainConfig
from vaestudio.core.data.synthetic import synthetic_dataset
from vaestudio.core.diagnosis import classifier as classifiers
from vaestudio.core.events import EpochEnd, Snapshot
from vaestudio.gui.state.diagnosis import Diagnosis
from vaestudio.gui.state.explorer import InlineExecutor, Probe
from vaestudio.gui.state.run_history import RunHistory
from vaestudio.gui.state.studio import Studio

DATA = synthetic_dataset(120, 40)
LATENT = 3


def live_run(snapshots: int = 3, config: TrainConfig | None = None) -> RunHistory:
    history = RunHistory("run", config=config or TrainConfig(latent_dim=LATENT, grid_size=2), live=True)
    for index in range(snapshots):
        history.feed(Snapshot(index, index * 100, f"epoch {index}", np.zeros((56, 56), np.uint8),
                              random_weights(Architecture(latent_dim=LATENT), seed=index), frame=index))
    return history


class Heard:
    """Every event of a Diagnosis, in order, with its value."""

    def __init__(self, diagnosis: Diagnosis):
        self.events: list[tuple[str, object]] = []
        for name in ("traversals", "worst", "quality", "health", "alarm", "classifier"):
            getattr(diagnosis, f"{name}_changed").connect(lambda value, name=name: self.events.append((name, value)))
        diagnosis.failed.connect(lambda message: self.events.append(("failed", message)))

    def values(self, name: str) -> list:
        return [value for event, value in self.events if event == name]


def diagnosed(history: RunHistory, executor=None, dataset=DATA, with_dataset: bool = True):
    executor = executor or InlineExecutor()
    studio = Studio(executor)
    diagnosis = Diagnosis(studio, executor, worst_count=4, samples=200)
    heard = Heard(diagnosis)
    studio.add_run(history)
    studio.set_probe(history, Probe.from_dataset(dataset))
    if with_dataset:
        diagnosis.set_dataset(history, dataset)
    return studio, diagnosis, heard


def test_every_part_follows_the_moment_shown():
    history = live_run()
    studio, diagnosis, heard = diagnosed(history)
    assert diagnosis.traversals.rows.shape[:2] == (LATENT, 9)
    assert [w.index for w in diagnosis.worst.items] == list(diagnosis.worst.scores.worst(4))
    assert all(len(w.nearest_train) == 5 for w in diagnosis.worst.items)
    assert 0.0 <= diagnosis.quality.knn_accuracy <= 1.0 and diagnosis.quality.sample_classes is None
    assert diagnosis.health.step == 200 and diagnosis.health.mutual_information >= 0
    shown = diagnosis.worst.scores.elbo.copy()
    heard.events.clear()
    history.select(0)
    names = [name for name, _ in heard.events]
    assert names[:4] == ["traversals", "worst", "quality", "health"]  # emptied first (None) ...
    assert all(value is None for _, value in heard.events[:4])
    assert {"traversals", "worst", "quality", "health"} <= set(names[4:])  # ... then the new moment's
    assert diagnosis.health.step == 0
    assert not np.array_equal(diagnosis.worst.scores.elbo, shown)


def test_the_sheet_starts_from_the_chosen_image():
    studio, diagnosis, _ = diagnosed(live_run())
    diagnosis.set_traversal_image(7)
    assert diagnosis.traversals.image_index == 7
    assert np.allclose(diagnosis.traversals.base, studio.explorer.pictures.means[7])
    diagnosis.set_traversal_image(None)
    assert diagnosis.traversals.image_index is None and not diagnosis.traversals.base.any()


def test_results_for_a_moment_the_user_has_left_are_dropped():
    executor = DeferredExecutor()
    history = live_run()
    studio, diagnosis, heard = diagnosed(history, executor)
    history.select(1)
    history.select(0)
    executor.run_all()
    assert diagnosis.health.step == 0 and diagnosis.traversals is not None
    assert [value.step for value in heard.values("health") if value is not None] == [0]
    worst_results = [value for value in heard.values("worst") if value is not None]
    assert len(worst_results) == 1  # the scorings of the moments left were cancelled or dropped


def test_without_the_dataset_there_is_no_latent_quality_but_the_rest_is_there():
    studio, diagnosis, heard = diagnosed(live_run(), with_dataset=False)
    assert diagnosis.quality is None and diagnosis.traversals is not None
    assert diagnosis.worst.items and all(w.nearest_train == () for w in diagnosis.worst.items)


def epoch_end(epoch: int, kl: tuple[float, ...]) -> EpochEnd:
    return EpochEnd(epoch, epoch * 100, -200.0, -200.0 + sum(kl), sum(kl), 1.0, kl)


def test_the_alarm_is_raised_live_when_the_run_collapses_and_a_healthy_run_raises_none():
    history = live_run(config=TrainConfig(latent_dim=LATENT, grid_size=2, beta=4.0))
    studio, diagnosis, heard = diagnosed(history)
    history.feed(epoch_end(1, (2.0, 1.5, 1.0)))
    assert diagnosis.alarm is None and heard.values("alarm") == []
    history.feed(epoch_end(2, (0.02, 0.0, 0.0)))
    alarm = diagnosis.alarm
    assert alarm is not None and heard.values("alarm") == [alarm]
    assert alarm.started_epoch == 2 and alarm.last_healthy_epoch == 1
    assert any("lower beta (now 4)" in advice for advice in alarm.advice)
    history.feed(epoch_end(3, (0.01, 0.0, 0.0)))
    assert heard.values("alarm") == [alarm]  # still the same alarm: said once
    studio.activate(None)
    assert diagnosis.alarm is None and heard.values("alarm")[-1] is None


def test_a_cached_classifier_adds_the_sample_histogram_and_the_frechet_distance(tmp_path, monkeypatch):
    monkeypatch.setenv("VAESTUDIO_CACHE_DIR", str(tmp_path))
    weights = random_weights(Architecture(latent_dim=64), seed=9)
    head = np.random.default_rng(0).normal(size=(classifiers.FEATURES, 10)).astype(np.float32)
    stand_in = classifiers.DatasetClassifier(weights.architecture, weights.encoder, (head, np.zeros(10, np.float32)),
                                             DATA.class_names, 0.93, classifiers.dataset_hash(DATA))
    stand_in.save(classifiers.classifier_path(DATA))
    studio, diagnosis, heard = diagnosed(live_run())
    assert diagnosis.classifier is not None and diagnosis.classifier.test_accuracy == 0.93
    quality = diagnosis.quality
    assert set(quality.sample_classes) == set(DATA.class_names) and quality.frechet_distance > 0
    assert quality.classifier_accuracy == 0.93


def test_the_state_and_the_diagnosis_load_neither_qt_nor_tensorflow():
    code = ("import sys, vaestudio.gui.state.diagnosis, vaestudio.core.diagnosis.collapse, "
            "vaestudio.core.diagnosis.traversals, vaestudio.core.diagnosis.worst, "
            "vaestudio.core.diagnosis.latent_quality, vaestudio.core.diagnosis.classifier; "
            "print(sorted(m for m in ('tensorflow', 'keras', 'PySide6', 'pyqtgraph') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


class CountingExecutor(InlineExecutor):
    def __init__(self):
        self.keys: list[str] = []

    def submit(self, fn, on_done, on_error=None, key=None) -> None:
        self.keys.append(key)
        super().submit(fn, on_done, on_error, key)


def test_going_back_to_a_moment_already_diagnosed_shows_it_at_once():
    executor = CountingExecutor()
    history = live_run()
    studio, diagnosis, heard = diagnosed(history, executor)
    latest = (diagnosis.traversals, diagnosis.worst, diagnosis.quality, diagnosis.health)
    history.select(0)
    executor.keys.clear()
    history.select(2)
    assert not [key for key in executor.keys if key and key.startswith("diagnosis-")]
    assert (diagnosis.traversals, diagnosis.worst, diagnosis.quality, diagnosis.health) == latest
    assert len(diagnosis.quality_by_moment) == 2  # latent quality over training, one figure per moment seen


def test_training_the_classifier_runs_on_the_long_executor_and_then_judges_the_samples(tmp_path, monkeypatch):
    monkeypatch.setenv("VAESTUDIO_CACHE_DIR", str(tmp_path))
    weights = random_weights(Architecture(latent_dim=64), seed=9)
    head = np.random.default_rng(0).normal(size=(classifiers.FEATURES, 10)).astype(np.float32)
    stand_in = classifiers.DatasetClassifier(weights.architecture, weights.encoder, (head, np.zeros(10, np.float32)),
                                             DATA.class_names, 0.8, classifiers.dataset_hash(DATA))
    monkeypatch.setattr(classifiers, "train_classifier", lambda *args, **kwargs: stand_in)
    long_tasks = DeferredExecutor()
    executor = InlineExecutor()
    history = live_run()
    studio = Studio(executor)
    diagnosis = Diagnosis(studio, executor, worst_count=2, samples=100, long_executor=long_tasks)
    studio.add_run(history)
    studio.set_probe(history, Probe.from_dataset(DATA))
    diagnosis.set_dataset(history, DATA)
    assert diagnosis.quality.sample_classes is None
    diagnosis.train_classifier()
    assert [key for *_, key in long_tasks.queued] == ["diagnosis-classifier-training"]
    long_tasks.run_all()
    assert diagnosis.classifier is stand_in and diagnosis.quality.classifier_accuracy == 0.8
    assert classifiers.cached_classifier(DATA).test_accuracy == 0.8  # cached for the next time


def test_a_clicked_images_bounds_in_a_conditional_run_are_those_of_its_class():
    from vaestudio.core.diagnosis.worst import importance_bounds

    weights = random_weights(Architecture(latent_dim=LATENT, model="conditional"), seed=1)
    history = RunHistory("run", config=TrainConfig(latent_dim=LATENT, grid_size=2, model="conditional"), live=True)
    history.feed(Snapshot(0, 0, "epoch 0", np.zeros((56, 56), np.uint8), weights, frame=0))
    studio, diagnosis, _ = diagnosed(history)
    probe = studio.explorer.probe
    index = int(np.flatnonzero(probe.labels != 0)[0])
    diagnosis.bound_image(index, samples=50)
    expected = importance_bounds(weights, probe.images[index], 50, label=int(probe.labels[index]))
    assert (diagnosis.bounds.index, diagnosis.bounds.elbo, diagnosis.bounds.iwae) == (index, *expected)
    assert importance_bounds(weights, probe.images[index], 50, label=0) != expected  # class 0's is another
