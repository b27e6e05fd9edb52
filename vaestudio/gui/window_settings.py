"""The main window remembered between sessions: geometry and dock layout, the run controls' values, the
device and view choices (QSettings)."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSize

from vaestudio.gui.settings import read_bool

LAYOUT_VERSION = 4  # bump when docks change: an older saved layout is then ignored, not half-applied
DEFAULT_SIZE = QSize(1400, 900)


def restore_geometry(window) -> None:
    """Put back the window's remembered size and place only (its bare first frame, before the docks exist)."""
    geometry = window.settings.value("window/geometry")
    if isinstance(geometry, QByteArray):
        window.restoreGeometry(geometry)


def restore_window(window) -> None:
    """Put back what `save_window` kept (a layout of another version is ignored; a tiny window regrows)."""
    s = window.settings
    geometry = s.value("window/geometry")
    if isinstance(geometry, QByteArray):
        window.restoreGeometry(geometry)
    state = s.value("window/state")
    if isinstance(state, QByteArray) and int(s.value("window/layout_version", 0) or 0) == LAYOUT_VERSION:
        if not window.restoreState(state, LAYOUT_VERSION):
            window.restoreState(window.default_layout, LAYOUT_VERSION)
    if window.size().width() < 400 or window.size().height() < 300:
        window.resize(DEFAULT_SIZE)
    window.controls.restore_settings(s)
    window.cpu_only_action.blockSignals(True)
    window.cpu_only_action.setChecked(read_bool(s, "device/cpu_only", False))
    window.cpu_only_action.blockSignals(False)
    window.studio.view.show_overlay(read_bool(s, "view/overlay", True))
    window.overlay_action.setChecked(window.studio.view.overlay_visible)
    window.elbo.split_check.setChecked(read_bool(s, "view/split", False))


def save_window(window) -> None:
    s = window.settings
    s.setValue("window/geometry", window.saveGeometry())
    s.setValue("window/state", window.saveState(LAYOUT_VERSION))
    s.setValue("window/layout_version", LAYOUT_VERSION)
    window.controls.save_settings(s)
    s.setValue("view/overlay", window.studio.view.overlay_visible)
    s.setValue("view/split", window.elbo.split_check.isChecked())
    s.sync()
