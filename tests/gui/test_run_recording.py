"""Never lose a run in the window: every run is recorded into a run folder, closing keeps a checkpoint,
File → Resume run… continues it, and damaged folders and divergence are reported clearly."""

from __future__ import annotations

import csv
import re

import imageio.v3 as iio
import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from vaestudio.core.store.checkpoint import load_checkpoint
from vaestudio.gui import run_controls as rc


def set_fields(window, **values) -> None:
    for name, value in values.items():
        window.controls.fields[name].setText(str(value))


def wait_until_idle(qtbot, window, timeout_ms: int = 60_000) -> None:
    qtbot.waitUntil(lambda: not window.is_training(), timeout=timeout_ms)


def train(qtbot, window, **values) -> None:
    set_fields(window, **values)
    window.controls.start_button.click()
    qtbot.waitUntil(lambda: window.session.started is not None or window.last_error is not None, timeout=60_000)
    wait_until_idle(qtbot, window)
    assert window.last_error is None, window.last_error


def rows(folder, kind):
    with open(folder / "metrics.csv", newline="") as handle:
        return [row for row in csv.DictReader(handle) if row["kind"] == kind]


def test_a_window_run_is_recorded_in_its_own_run_folder(qtbot, window, runs_dir):
    train(qtbot, window, epochs=2, batch_size=32, learning_rate=0.003)
    folder = window.run_folder
    assert folder.parent == runs_dir and re.fullmatch(r"\d{8}-\d{6}-fashion_mnist", folder.name)
    for name in ("config.json", "metrics.csv", "checkpoint.npz", "model.keras", "grid_final.png", "training.gif"):
        assert (folder / name).is_file(), name
    assert [r["epoch"] for r in rows(folder, "epoch")] == ["1", "2"]
    assert len(rows(folder, "step")) == len(window.session.train_elbo.x) == 8
    assert load_checkpoint(folder / "checkpoint.npz").epoch == 2
    assert len(iio.imread(folder / "training.gif", index=None)) == len(window.session.frame_labels) == 5
    assert folder.name in window.run_label.text() and str(folder) in window.run_label.toolTip()
    assert str(folder) in window.statusBar().currentMessage()

    train(qtbot, window, epochs=1)  # a second run gets a folder of its own
    assert window.run_folder != folder and window.run_folder.parent == runs_dir
    assert [r["epoch"] for r in rows(folder, "epoch")] == ["1", "2"]


def test_closing_mid_training_keeps_the_run_and_resume_finishes_it(qtbot, make_window, monkeypatch):
    first = make_window()
    set_fields(first, epochs=2, batch_size=32, learning_rate=0.003)
    first.controls.start_button.click()
    first.pause_training()  # the trainer waits before its first step...
    worker = first._current_worker()
    # ...then takes exactly one step: the worker pauses itself as it reports it (in its own thread).
    worker.metrics.connect(lambda _event: worker.pause(), Qt.ConnectionType.DirectConnection)
    qtbot.waitUntil(lambda: first.session.frame_labels == ["before training"], timeout=60_000)
    first.resume_training()
    qtbot.waitUntil(lambda: first.session.last_metrics is not None, timeout=30_000)
    folder = first.run_folder
    thread = first.training.thread
    first.close()
    assert not thread.isRunning() and first.training is None
    saved = load_checkpoint(folder / "checkpoint.npz")
    assert (saved.epoch, saved.step, saved.epoch_step) == (0, 1, 1)
    assert (folder / "model.keras").is_file() and (folder / "training.gif").is_file()

    second = make_window()
    set_fields(second, epochs=3)  # more than the run was set for: the window offers to go on to 3
    asked = []
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args, **kw: str(folder))
    monkeypatch.setattr(QMessageBox, "question",
                        lambda parent, title, text, *args: asked.append(text) or QMessageBox.StandardButton.Yes)
    second.resume_action.trigger()
    assert asked and "2 epochs" in asked[0] and "3 epochs" in asked[0]
    qtbot.waitUntil(lambda: second.session.started is not None or second.last_error is not None, timeout=60_000)
    assert second.session.started is not None, second.last_error
    assert second.session.started.start_epoch == 1
    assert second.controls.fields["epochs"].text() == "3" and second.controls.state != rc.IDLE
    wait_until_idle(qtbot, second)
    assert second.last_error is None, second.last_error
    assert "completed" in second.statusBar().currentMessage() or "Saved" in second.statusBar().currentMessage()

    assert [r["epoch"] for r in rows(folder, "epoch")] == ["1", "2", "3"]  # each exactly once
    assert [int(r["step"]) for r in rows(folder, "step")] == list(range(1, 13))
    assert '"epochs": 3' in (folder / "config.json").read_text()
    assert second.run_folder == folder
    assert len(second.session.test_elbo.x) == 3 and len(second.session.train_elbo.x) == 12
    frames = iio.imread(folder / "training.gif", index=None)
    # as an uninterrupted run: before training, batches 1 and 3 of epoch 1, then each epoch
    assert len(frames) == len(second.session.frame_labels) == 6
    assert load_checkpoint(folder / "checkpoint.npz").epoch == 3
    second.close()


def test_a_damaged_or_finished_run_folder_is_reported_and_the_window_keeps_working(qtbot, window, tmp_path,
                                                                                    monkeypatch):
    train(qtbot, window, epochs=1, batch_size=32, learning_rate=0.003)
    folder = window.run_folder
    model_bytes = (folder / "model.keras").read_bytes()

    window.resume_run(folder)  # all its epochs are done
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=30_000)
    wait_until_idle(qtbot, window)
    assert str(folder) in window.last_error and "trained all its 1 epochs" in window.last_error

    window.last_error = None
    (folder / "checkpoint.npz").write_bytes(b"PK\x03\x04 torn")
    window.resume_run(folder, epochs=2)
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=30_000)
    wait_until_idle(qtbot, window)
    assert "checkpoint.npz" in window.last_error and "damaged" in window.last_error
    assert (folder / "model.keras").read_bytes() == model_bytes  # nothing saved was overwritten

    window.last_error = None
    not_a_run = tmp_path / "holiday-photos"
    not_a_run.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args, **kw: str(not_a_run))
    window.resume_action.trigger()
    assert window.last_error is not None and str(not_a_run) in window.last_error
    assert "config.json" in window.last_error
    assert not window.is_training() and window.controls.state == rc.IDLE

    assert window.isVisible() and window.controls.start_button.isEnabled()
    window.last_error = None
    train(qtbot, window, epochs=1)  # and it still trains
    assert window.run_folder != folder and (window.run_folder / "model.keras").is_file()


def test_divergence_is_explained_and_the_good_weights_are_saved(qtbot, window):
    set_fields(window, epochs=40, batch_size=32, learning_rate=100)
    window.controls.start_button.click()
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=120_000)
    wait_until_idle(qtbot, window)
    assert "diverged" in window.statusBar().currentMessage()
    assert "learning rate 100" in window.last_error and "lower" in window.last_error
    assert str(window.run_folder) in window.last_error
    from vaestudio.core.tf.model import load_model

    model = load_model(window.run_folder / "model.keras")
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())
    assert window.model is not None and window.controls.start_button.isEnabled()
