"""The diagnosis docks driven as a user drives them, each built with a Studio and its Diagnosis (not the
main window): the traversal sheet, the worst-images gallery, latent quality and the collapse banner.
Runs are a few snapshots of random weights on drawn shapes (no training, no TensorFlow)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QVBoxLayout, QWidget

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from random_weights import random_weights  # noqa: E402

from vaestudio.core.architecture import Architecture  # noqa: E402
from vaestudio.core.config import TrainConfig  # noqa: E402
from vaestudio.core.data.synthetic import synthetic_dataset  # noqa: E402
from vaestudio.core.events import EpochEnd, Snapshot  # noqa: E402
from vaestudio.gui.panels.collapse_banner import CollapseBanner  # noqa: E402
from vaestudio.gui.panels.latent_quality import LatentQualityPanel  # noqa: E402
from vaestudio.gui.panels.traversals import TraversalsPanel  # noqa: E402
from vaestudio.gui.panels.worst_images import WorstImagesPanel  # noqa: E402
from vaestudio.gui.state.diagnosis import Diagnosis  # noqa: E402
from vaestudio.gui.state.explorer import InlineExecutor, Probe  # noqa: E402
from vaestudio.gui.state.run_history import RunHistory  # noqa: E402
from vaestudio.gui.state.studio import Studio  # noqa: E402

DATA = synthetic_dataset(120, 40, seed=2)
LATENT = 3


@pytest.fixture
def diagnosed():
    config = TrainConfig(latent_dim=LATENT, grid_size=2, beta=2.0)
    history = RunHistory("run", config=config, live=True)
    for index in range(3):
        history.feed(Snapshot(index, index * 100, f"epoch {index}", np.zeros((56, 56), np.uint8),
                              random_weights(Architecture(latent_dim=LATENT), seed=index), frame=index))
    studio = Studio(InlineExecutor())
    diagnosis = Diagnosis(studio, InlineExecutor(), worst_count=5, samples=100)
    studio.add_run(history)
    studio.set_probe(history, Probe.from_dataset(DATA))
    diagnosis.set_dataset(history, DATA)
    return studio, diagnosis, history


def shown(qtbot, widget):
    qtbot.addWidget(widget)
    widget.resize(700, 500)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_the_traversal_sheet_follows_the_timeline_and_the_inspected_image(qtbot, diagnosed):
    studio, diagnosis, history = diagnosed
    panel = shown(qtbot, TraversalsPanel(studio, diagnosis))
    assert not panel.picture.pixmap().isNull()
    assert panel.legend.text().count("KL") == LATENT and "the origin" in panel.header.text()
    before = panel.sheet
    history.select(0)
    assert panel.sheet is not before and panel.sheet is diagnosis.traversals
    studio.view.inspect_test_image(4)
    panel.from_inspected.setChecked(True)
    assert "test image 4" in panel.header.text() and panel.sheet.image_index == 4
    studio.view.inspect_test_image(6)
    assert panel.sheet.image_index == 6
    panel.from_inspected.setChecked(False)
    assert panel.sheet.image_index is None


def test_the_worst_gallery_shows_the_lowest_elbo_and_a_click_inspects_one(qtbot, diagnosed):
    studio, diagnosis, history = diagnosed
    panel = shown(qtbot, WorstImagesPanel(studio, diagnosis))
    result = diagnosis.worst
    assert len(panel.strip.tiles) == 5 and "worst of 40" in panel.header.text()
    assert panel.strip.tiles[0].captions[0] == f"#{result.items[0].index}"
    assert [w.index for w in result.items] == list(np.argsort(result.scores.elbo, kind="stable")[:5])
    QTest.mouseClick(panel.strip.canvas, Qt.MouseButton.LeftButton, pos=panel.strip.tile_rect(1).center())
    assert studio.view.inspected_test_image == result.items[1].index
    assert panel.chosen == 1 and len(panel.neighbours.tiles) == 5
    assert f"Test image {result.items[1].index}" in panel.detail.text()
    history.select(1)
    assert panel.result is diagnosis.worst and panel.chosen is None and panel.neighbours.tiles == ()


def test_latent_quality_shows_accuracies_against_chance_and_offers_the_classifier(qtbot, diagnosed):
    studio, diagnosis, history = diagnosed
    panel = shown(qtbot, LatentQualityPanel(studio, diagnosis))
    quality = diagnosis.quality
    assert f"{quality.knn_accuracy:.1%}" in panel.figures.text() and "chance 10%" in panel.figures.text()
    assert f"of {LATENT}" in panel.health.text() and "I(x;z)" in panel.health.text()
    assert panel.train_button.isVisible()  # no classifier cached for this dataset
    assert "classifier exists" in panel.samples.text()
    assert panel.over_training.text() == ""  # one moment seen
    history.select(0)
    assert "step 0:" in panel.over_training.text() and "step 200:" in panel.over_training.text()
    diagnosis.datasets.clear()  # the dataset is gone: training is refused, and the button offered again
    QTest.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    assert panel.train_button.isEnabled() and "could not be trained" in panel.samples.text()


def test_the_banner_appears_when_the_run_collapses_and_leads_to_its_start(qtbot, diagnosed):
    studio, diagnosis, history = diagnosed
    window = QWidget()  # the banner sits above the panels, hidden while the run is healthy
    banner = CollapseBanner(studio, diagnosis, can_branch=True)
    plain = CollapseBanner(studio, diagnosis)  # as the window builds it: branching does not exist yet
    QVBoxLayout(window).addWidget(banner)
    window.layout().addWidget(plain)
    shown(qtbot, window)
    assert not banner.isVisible()
    history.feed(EpochEnd(1, 100, -200.0, -190.0, 4.0, 1.0, (2.0, 1.5, 0.5)))
    assert not banner.isVisible()
    history.feed(EpochEnd(2, 200, -210.0, -209.99, 0.01, 1.0, (0.01, 0.0, 0.0)))
    assert banner.isVisible()
    assert "Posterior collapse since epoch 2" in banner.text.text() and "free bits" in banner.text.text()
    with qtbot.waitSignal(banner.branch_requested) as asked:
        QTest.mouseClick(banner.branch, Qt.MouseButton.LeftButton)
    assert asked.args == [100]
    assert plain.isVisible() and not plain.branch.isEnabled() and "not in the window yet" in plain.branch.toolTip()
    assert "branch" not in plain.text.text() and "free bits" in plain.text.text()
    history.select(0)
    QTest.mouseClick(banner.show_start, Qt.MouseButton.LeftButton)
    assert history.current.step == 200


def test_a_clicked_images_iwae_bound_is_above_its_elbo_and_the_elbo_agrees_with_the_gallerys():
    from vaestudio.core.diagnosis.worst import per_image_elbo
    from vaestudio.core.numpy_vae import NumpyVAE
    from vaestudio.core.diagnosis.worst import importance_bounds

    vae = NumpyVAE(random_weights(Architecture(latent_dim=LATENT), seed=1))
    image = DATA.test_images[3]
    elbo, iwae = importance_bounds(vae, image, samples=2000)
    assert iwae >= elbo
    scored = per_image_elbo(vae, image[None], samples=2000).elbo[0]  # analytic KL, its own samples
    assert abs(elbo - scored) < 0.01 * abs(scored) + 0.5


def test_while_the_run_trains_the_panels_say_which_moment_their_scan_is_of(qtbot):
    """Paced scans (gui/state/pacing.py): a new snapshot keeps the last scan, and the panels name its moment."""
    from vaestudio.gui.state.studio import TRAINING

    history = RunHistory("run", config=TrainConfig(latent_dim=LATENT, grid_size=2), live=True)
    history.feed(Snapshot(0, 0, "before training", np.zeros((56, 56), np.uint8),
                          random_weights(Architecture(latent_dim=LATENT), seed=0), frame=0))
    studio = Studio(InlineExecutor())
    retries: list = []
    diagnosis = Diagnosis(studio, InlineExecutor(), worst_count=5, samples=100, on_demand=True,
                          later=lambda seconds, fn: retries.append(fn))
    for part in ("worst", "quality"):
        diagnosis.want(part, True)
    studio.add_run(history)
    studio.set_live(history)
    studio.set_training(TRAINING)
    studio.set_probe(history, Probe.from_dataset(DATA))
    diagnosis.set_dataset(history, DATA)
    worst = shown(qtbot, WorstImagesPanel(studio, diagnosis))
    quality = shown(qtbot, LatentQualityPanel(studio, diagnosis))
    assert "worst of 40" in worst.header.text() and worst.scan_note.isHidden()
    for index in (1, 2):  # two snapshots in quick succession: the scan right after the last is not due yet
        history.feed(Snapshot(index, index * 100, f"epoch {index}", np.zeros((56, 56), np.uint8),
                              random_weights(Architecture(latent_dim=LATENT), seed=index), frame=index))
    assert history.current.label == "epoch 2"
    assert "worst of 40" in worst.header.text()  # the last scan stays ...
    older = diagnosis.older_scan("worst")
    assert older is not None and f"Of {older.label}" in worst.scan_note.text()  # ... and says which moment it is
    assert worst.scan_note.isVisible()
    if diagnosis.older_scan("quality") is not None:
        assert quality.scan_note.isVisible() and "Of " in quality.scan_note.text()
    studio.set_training("paused")
    assert worst.scan_note.isHidden() and quality.scan_note.isHidden()
    assert "worst of 40" in worst.header.text()
