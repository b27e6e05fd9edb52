"""Never lose a run in the window: every run is recorded into a run folder, closing keeps a checkpoint,
Continue run… goes on from it, Stop then Start offers to continue, and refused, damaged, dead-end and
diverged runs are explained without changing anything that was saved."""

from __future__ import annotations

import csv
import re

import imageio.v3 as iio
import numpy as np

from vaestudio.core.store.checkpoint import load_checkpoint
from window_helpers import set_fields, train, wait_idle


def rows(folder, kind):
    with open(folder / "metrics.csv", newline="") as handle:
        return [row for row in csv.DictReader(handle) if row["kind"] == kind]


def files_of(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
            and p.name != ".lock"}


def test_a_window_run_is_recorded_in_its_own_run_folder(qtbot, window, runs_dir):
    train(qtbot, window, epochs=2, batch_size=32, learning_rate=0.003)
    folder = window.studio.active.folder
    assert folder.parent == runs_dir and re.fullmatch(r"\d{8}-\d{6}-fashion_mnist", folder.name)
    for name in ("config.json", "metrics.csv", "checkpoint.npz", "model.keras", "grid_final.png", "training.gif"):
        assert (folder / name).is_file(), name
    assert [r["epoch"] for r in rows(folder, "epoch")] == ["1", "2"]
    assert len(rows(folder, "step")) == len(window.studio.active.curves["train_elbo"]) == 8
    assert load_checkpoint(folder / "checkpoint.npz").epoch == 2
    assert len(iio.imread(folder / "training.gif", index=None)) == len(window.studio.active.snapshots) == 5
    assert folder.name in window.run_label.text() and str(folder) in window.run_label.toolTip()
    assert str(folder) in window.status_text()

    train(qtbot, window, epochs=1)  # a completed run is not offered for continuing: a new folder
    assert window.commands.asked == []
    assert window.studio.active.folder != folder and window.studio.active.folder.parent == runs_dir
    assert [r["epoch"] for r in rows(folder, "epoch")] == ["1", "2"]
    assert folder in window.opening.recent()


def test_closing_mid_training_keeps_the_run_and_continue_finishes_it(qtbot, make_window):
    first = make_window()
    set_fields(first, epochs=2, batch_size=32, learning_rate=0.003)
    first.controls.start_button.click()
    qtbot.waitUntil(lambda: first.studio.live is not None and first.studio.live.last_metrics is not None,
                    timeout=60_000)
    folder = first.studio.live.folder
    first.close()
    saved = load_checkpoint(folder / "checkpoint.npz")
    assert saved.step >= 1 and saved.epoch < 2

    second = make_window()
    second.commands.answers["runs"] = folder
    second.commands.answers["continue"] = dict(epochs=3)
    second.continue_action.trigger()
    (kind, text), = second.commands.asked
    assert kind == "continue" and "of its 2 epochs" in text and "continues from its last checkpoint" in text
    qtbot.waitUntil(lambda: second.studio.is_training or second.last_error is not None, timeout=10_000)
    wait_idle(qtbot, second)
    assert second.last_error is None, second.last_error
    assert "completed" in second.status_text()
    assert [r["epoch"] for r in rows(folder, "epoch")] == ["1", "2", "3"]  # each exactly once
    assert [int(r["step"]) for r in rows(folder, "step")] == list(range(1, 13))
    assert '"epochs": 3' in (folder / "config.json").read_text()
    history = second.studio.active
    assert history.folder == folder and second.controls.fields["epochs"].text() == "3"
    # the curves hold the whole run: what was trained before the close, then the rest
    assert history.curves["train_elbo"].x == [float(s) for s in range(1, 13)]
    assert len(history.curves["test_elbo"]) == 3
    frames = iio.imread(folder / "training.gif", index=None)
    assert len(frames) == len(history.snapshots)
    assert load_checkpoint(folder / "checkpoint.npz").epoch == 3
    second.close()


def test_stop_then_start_offers_to_continue_the_stopped_run(qtbot, window, runs_dir):
    set_fields(window, epochs=3, batch_size=32, learning_rate=0.003)
    window.controls.start_button.click()
    qtbot.waitUntil(lambda: window.studio.live is not None and window.studio.live.last_metrics is not None,
                    timeout=60_000)
    folder = window.studio.live.folder
    window.controls.stop_button.click()
    wait_idle(qtbot, window)
    stopped_at = load_checkpoint(folder / "checkpoint.npz").step
    window.commands.answers["continue_or_new"] = "Continue that run"
    window.controls.start_button.click()
    assert window.commands.asked[-1][0] == "continue_or_new" and folder.name in window.commands.asked[-1][1]
    wait_idle(qtbot, window)
    assert window.last_error is None and window.studio.active.folder == folder
    assert [int(r["step"]) for r in rows(folder, "step")] == list(range(1, 13))
    assert stopped_at < 12 and sorted(p.name for p in runs_dir.iterdir()) == [folder.name]

    window.controls.fields["epochs"].setText("1")
    window.controls.start_button.click()  # completed: nothing to continue, a new run
    wait_idle(qtbot, window)
    assert len(list(runs_dir.iterdir())) == 2


def test_stop_then_start_a_new_run_or_cancel(qtbot, window, runs_dir):
    set_fields(window, epochs=3, batch_size=32, learning_rate=0.003)
    window.controls.start_button.click()
    qtbot.waitUntil(lambda: window.studio.live is not None and window.studio.live.last_metrics is not None,
                    timeout=60_000)
    window.controls.stop_button.click()
    wait_idle(qtbot, window)
    window.commands.answers["continue_or_new"] = None  # the question is cancelled: nothing starts
    assert not window.controls.start()
    assert not window.studio.is_training and len(list(runs_dir.iterdir())) == 1
    window.commands.answers["continue_or_new"] = "Start a new run"
    window.controls.fields["epochs"].setText("1")
    window.controls.start_button.click()
    wait_idle(qtbot, window)
    assert len(list(runs_dir.iterdir())) == 2 and window.studio.active.snapshots[0].label == "before training"
    assert "Start a new run" in window.commands.asked[-1][1] or "start a new run" in window.commands.asked[-1][1]


def test_a_finished_run_explains_itself_and_a_refused_continuation_changes_nothing(qtbot, window, tmp_path):
    train(qtbot, window, epochs=1, batch_size=32, learning_rate=0.003)
    history = window.studio.active
    folder = history.folder
    title, before = window.windowTitle(), files_of(folder)
    snapshots = len(history.snapshots)
    window.commands.answers["runs"] = folder
    window.commands.answers["continue"] = None  # the user reads the dialog and cancels
    window.continue_action.trigger()
    (kind, text), = window.commands.asked
    assert "It is finished: to continue it, ask for more epochs" in text
    # Asking for no more epochs than were done is refused, with the reason; nothing changes anywhere.
    assert not window.training.continue_run(folder, epochs=1)
    assert "already trained 1 epochs" in window.last_error and "Training failed" not in window.status_text()
    assert window.studio.active is history and len(history.snapshots) == snapshots
    assert window.windowTitle() == title and not window.studio.is_training
    assert files_of(folder) == before
    qtbot.waitUntil(lambda: window.studio.explorer.pictures.grid is not None, timeout=10_000)  # the plane still shows


def test_a_damaged_or_foreign_folder_is_reported_and_the_window_keeps_working(qtbot, window, tmp_path):
    train(qtbot, window, epochs=1, batch_size=32, learning_rate=0.003)
    folder = window.studio.active.folder
    model_bytes = (folder / "model.keras").read_bytes()
    (folder / "checkpoint.npz").write_bytes(b"PK\x03\x04 torn")
    assert not window.training.continue_run(folder, epochs=2)
    assert "checkpoint.npz" in window.last_error and "damaged" in window.last_error
    assert (folder / "model.keras").read_bytes() == model_bytes

    window.last_error = None
    not_a_run = tmp_path / "holiday-photos"
    not_a_run.mkdir()
    window.commands.answers["runs"] = not_a_run
    window.continue_action.trigger()
    assert window.last_error is not None and str(not_a_run) in window.last_error and "config.json" in window.last_error
    window.last_error = None
    window.open_run_action.trigger()
    assert str(not_a_run) in window.last_error and not window.studio.is_training
    assert window.isVisible() and window.controls.start_button.isEnabled()
    window.last_error = None
    train(qtbot, window, epochs=1)  # and it still trains
    assert (window.studio.active.folder / "model.keras").is_file()


def test_a_dead_end_folder_is_offered_and_continues_from_step_zero(qtbot, window, tmp_path, tiny_data):
    from vaestudio.core.config import TrainConfig
    from vaestudio.core.store.run_folder import RunFolder

    config = TrainConfig.from_preset("custom", epochs=1, batch_size=32, learning_rate=3e-3, grid_size=6,
                                     metrics_every=1, snapshot_every=2)
    folder = tmp_path / "dead-end"
    run_folder = RunFolder(folder)
    run_folder.make()
    run_folder.write_config(config)  # killed before its first checkpoint: config only
    window.commands.answers["runs"] = folder
    window.commands.answers["continue"] = dict(epochs=1)
    window.continue_action.trigger()
    (_, text), = window.commands.asked
    assert "stopped before its first checkpoint" in text and "from step 0" in text
    qtbot.waitUntil(lambda: window.studio.is_training or window.last_error is not None, timeout=10_000)
    wait_idle(qtbot, window)
    assert window.last_error is None, window.last_error
    assert load_checkpoint(folder / "checkpoint.npz").epoch == 1 and (folder / "model.keras").is_file()
    assert window.studio.active.snapshots[0].label == "before training"


def test_divergence_is_explained_and_the_good_weights_are_saved(qtbot, window):
    set_fields(window, epochs=40, batch_size=32, learning_rate=100)
    window.controls.start_button.click()
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=120_000)
    wait_idle(qtbot, window)
    assert "diverged" in window.status_text().lower()
    title, text = window.errors[-1]
    assert title == "Training diverged" and "learning rate 100" in text and "lower" in text
    folder = window.studio.active.folder
    assert str(folder) in text
    from vaestudio.core.tf.model_file import load_model

    model = load_model(folder / "model.keras")
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())
    assert window.controls.start_button.isEnabled()
