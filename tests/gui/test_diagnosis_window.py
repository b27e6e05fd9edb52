"""The diagnosis in the real main window (issue 18): a recorded run opened as a user opens it, each
diagnosis dock shown and driven; a run trained with a huge β raises the collapse banner and marks the
timeline and the ELBO plot where it started, a healthy run does not."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

LATENT = 4


def record(folder, tiny_data, beta: float):
    from vaestudio.core.config import TrainConfig
    from vaestudio.core.runs import Run

    config = TrainConfig.from_preset("custom", epochs=3, batch_size=32, learning_rate=3e-3, grid_size=6,
                                     metrics_every=1, snapshot_every=2, seed=1, latent_dim=LATENT, beta=beta)
    run = Run.new(folder, config, load_dataset=lambda _config: tiny_data)
    list(run.events())
    return run.path


@pytest.fixture(scope="module")
def healthy_run(tmp_path_factory, tiny_data):
    return record(tmp_path_factory.mktemp("diagnosis") / "healthy", tiny_data, beta=1.0)


@pytest.fixture(scope="module")
def collapsed_run(tmp_path_factory, tiny_data):
    return record(tmp_path_factory.mktemp("diagnosis") / "collapsed", tiny_data, beta=100.0)


def open_read(qtbot, window, folder):
    """Open a run folder and wait until it is read and its dataset is in the diagnosis."""
    history = window.opening.open_run(folder)
    assert history is not None, window.last_error
    qtbot.waitUntil(lambda: not window.opening.is_replaying(history) and history.snapshots
                    and id(history) in window.diagnosis.datasets, timeout=60_000)
    return history


def show_dock(qtbot, window, key: str):
    dock = window.docks[key]
    dock.show()
    dock.raise_()
    qtbot.waitUntil(lambda: dock.widget().isVisible())
    return dock.widget()


def test_the_diagnosis_docks_show_a_recorded_run(qtbot, window, healthy_run):
    for key in ("traversals", "worst_images", "latent_quality"):
        assert key in window.docks and window.docks[key].toggleViewAction() in window.view_menu.actions()
    history = open_read(qtbot, window, healthy_run)
    diagnosis = window.diagnosis
    assert not diagnosis.wanted and diagnosis.worst is None  # docks tabbed away cost nothing

    traversals = show_dock(qtbot, window, "traversals")
    qtbot.waitUntil(lambda: traversals.sheet is not None, timeout=30_000)
    sheet = traversals.sheet
    assert len(sheet.order) == LATENT and sheet.rows.shape[0] == LATENT  # one row per latent dimension
    kl = [sheet.kl_per_dimension[dim] for dim in sheet.order]
    assert kl == sorted(kl, reverse=True)  # largest KL on top
    assert not traversals.picture.pixmap().isNull() and traversals.legend.text().count("KL") == LATENT

    worst = show_dock(qtbot, window, "worst_images")
    qtbot.waitUntil(lambda: worst.result is not None and worst.result.train_indices is not None, timeout=60_000)
    result = worst.result
    lowest = np.argsort(result.scores.elbo, kind="stable")[:len(result.items)]
    assert [item.index for item in result.items] == list(lowest)
    assert len(worst.strip.tiles) == len(result.items) and "worst of 32" in worst.header.text()
    QTest.mouseClick(worst.strip.canvas, Qt.MouseButton.LeftButton, pos=worst.strip.tile_rect(1).center())
    chosen = result.items[1]
    assert window.studio.view.inspected_test_image == chosen.index  # the plane shows it
    assert f"Test image {chosen.index}" in worst.detail.text() and "±" in worst.detail.text()
    qtbot.waitUntil(lambda: "IWAE bound" in worst.bounds.text() and "Estimating" not in worst.bounds.text(),
                    timeout=30_000)
    bounds = diagnosis.bounds
    assert bounds.index == chosen.index and bounds.iwae >= bounds.elbo
    assert len(worst.neighbours.tiles) == 5  # its nearest training images

    quality = show_dock(qtbot, window, "latent_quality")
    qtbot.waitUntil(lambda: diagnosis.quality is not None, timeout=60_000)
    assert "kNN accuracy" in quality.figures.text()
    assert "worst" not in diagnosis.wanted  # its tab is behind Latent quality's now
    history.select(0)  # a second moment seen: the accuracies are plotted over training
    def plotted_steps() -> list:
        steps = quality.knn_curve.getData()[0]
        return [] if steps is None else list(steps)

    qtbot.waitUntil(lambda: len(plotted_steps()) >= 2, timeout=60_000)
    assert quality.plot.isVisible() and plotted_steps() == sorted(plotted_steps())

    assert diagnosis.alarm is None and not window.banner.isVisible()  # a healthy run raises no alarm
    assert window.timeline.slider.mark is None and not window.elbo.alarm_line.isVisible()
    window.reset_layout()
    assert all(window.docks[key].isVisible() for key in ("traversals", "worst_images", "latent_quality"))


def test_a_collapsed_run_shows_the_banner_and_marks_where_it_started(qtbot, window, collapsed_run):
    history = open_read(qtbot, window, collapsed_run)
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=30_000)
    alarm = window.diagnosis.alarm
    assert "Posterior collapse" in window.banner.text.text() and "lower beta" in window.banner.text.text()
    # No run trains: the banner offers to branch (tests/gui/test_branching_window.py follows the button).
    assert window.banner.branch.isEnabled() and "not in the window yet" not in window.banner.branch.toolTip()
    started = history.index_at_step(alarm.started_step)
    assert window.timeline.alarm_index == started and window.timeline.slider.mark == started
    assert window.elbo.alarm_line.isVisible()
    assert window.elbo.alarm_line.value() == window.elbo.x_of(history, [alarm.started_step])[0]
    history.select(len(history.snapshots) - 1)
    QTest.mouseClick(window.banner.show_start, Qt.MouseButton.LeftButton)
    assert history.current.index == started


def test_stepping_between_moments_seen_keeps_the_plots_still_and_the_docks_filled(qtbot, window, healthy_run):
    """Going back and forth between two moments already seen (scrubbing): the texts above and below the
    plots change, the plots keep their size (a resize redraws their axes and re-lays the window out), and
    the diagnosis docks are never blanked to 'Measuring…' in between (issue 22)."""
    from PySide6.QtCore import QEvent, QObject

    from vaestudio.gui.selftest import moment_settled

    history = open_read(qtbot, window, healthy_run)
    kl = show_dock(qtbot, window, "kl")
    show_dock(qtbot, window, "elbo")
    quality = show_dock(qtbot, window, "latent_quality")
    assert kl.isVisible() and window.elbo.isVisible()
    first, last = 0, history.snapshots[-1].index
    for index in (first, last, first, last):  # both moments measured (and kept)
        history.select(index)
        qtbot.waitUntil(lambda: moment_settled(window, index) and window.diagnosis.quality is not None,
                        timeout=60_000)
    qtbot.wait(200)

    class Resizes(QObject):
        count = 0

        def eventFilter(self, watched, event) -> bool:  # noqa: N802
            if event.type() == QEvent.Type.Resize:
                self.count += 1
            return False

    resizes = Resizes()
    plots = (quality.plot, kl.plot_widget, window.elbo.plot)
    for plot in plots:
        plot.installEventFilter(resizes)
    published = []
    window.diagnosis.quality_changed.connect(published.append)
    texts = set()
    try:
        for index in (first, last) * 3:
            history.select(index)
            qtbot.waitUntil(lambda: moment_settled(window, index) and window.diagnosis.quality is not None,
                            timeout=30_000)
            qtbot.wait(20)  # posted layout requests and paints are handled
            texts.add(quality.figures.text())
    finally:
        window.diagnosis.quality_changed.disconnect(published.append)
        for plot in plots:
            plot.removeEventFilter(resizes)
    assert len(texts) == 2 and all("kNN accuracy" in text for text in texts)  # each moment's own figures
    assert published and None not in published
    assert resizes.count == 0
