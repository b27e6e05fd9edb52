"""Helpers for driving the window in tests: typing values, training to the end."""

from __future__ import annotations


def set_fields(window, **values) -> None:
    """Type values into the run controls, as a user would (via setText)."""
    for name, value in values.items():
        window.controls.fields[name].setText(str(value))


def wait_idle(qtbot, window, timeout_ms: int = 60_000) -> None:
    qtbot.waitUntil(lambda: not window.studio.is_training, timeout=timeout_ms)


def train(qtbot, window, timeout_ms: int = 60_000, **values) -> None:
    """Start a run with the given field values and wait until it has ended without an error."""
    set_fields(window, **values)
    assert window.controls.start_button.isEnabled(), window.controls.errors()
    window.controls.start_button.click()
    qtbot.waitUntil(lambda: window.studio.is_training or window.last_error is not None, timeout=timeout_ms)
    wait_idle(qtbot, window, timeout_ms)
    assert window.last_error is None, window.last_error
