"""The window launched as the app prepares the training Start will run once TensorFlow is loaded (issue 22:
Start -> first step), and Start takes it."""

from __future__ import annotations

import pytest

pytest.importorskip("tensorflow")


def test_the_app_window_prepares_what_start_trains_and_start_takes_it(make_window, qtbot, monkeypatch):
    from vaestudio.core.tf import prepare
    from vaestudio.gui.main_window import MainWindow

    monkeypatch.setattr(MainWindow, "prepare_training_ahead", True, raising=False)  # as gui/app.py sets it
    window = make_window()
    qtbot.waitUntil(lambda: window.device_ready, timeout=120_000)
    config = window.training.config_to_prepare(window.controls.config)
    assert config is not None and config.grid_size == 6  # the dock's settings with the window's overrides
    pending = prepare._pending
    assert pending is not None and pending.key == prepare.preparation_key(config)
    parts = prepare.take_prepared(config)  # what Start's trainer does (waiting for it)
    assert parts is not None and parts.model.architecture == config.architecture
    assert parts.steps._train_chunk.experimental_get_tracing_count() == 1  # traced before any run
    window.close()


def test_a_window_not_launched_as_the_app_prepares_nothing(window, qtbot):
    from vaestudio.core.tf import prepare

    qtbot.waitUntil(lambda: window.device_ready, timeout=120_000)
    assert prepare._pending is None or prepare._pending.key != prepare.preparation_key(
        window.training.config_to_prepare(window.controls.config))
