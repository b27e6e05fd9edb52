"""The main window remembered between sessions: geometry and dock layout, the run controls' values, the
device and view choices (QSettings)."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QRect, QSize

from vaestudio.gui.settings import read_bool

LAYOUT_VERSION = 4  # bump when docks change: an older saved layout is then ignored, not half-applied
DEFAULT_SIZE = QSize(1400, 900)
FRAME_ROOM = QSize(16, 48)  # a window manager's borders and title bar, not counted in the window's size


def fitting_size(available: QRect) -> QSize:
    """The default size, shrunk to fit a screen's available area (its frame included)."""
    return QSize(min(DEFAULT_SIZE.width(), available.width() - FRAME_ROOM.width()),
                 min(DEFAULT_SIZE.height(), available.height() - FRAME_ROOM.height()))


def fit_to_screen(window, available: QRect | None = None) -> None:
    """Shrink and move the window into the screen's available area (a fresh profile, or a window saved on a
    larger screen); it is never made larger."""
    if available is None:
        screen = window.screen()
        if screen is None:
            return
        available = screen.availableGeometry()
    limit = fitting_size(available)
    size = window.size().boundedTo(QSize(max(limit.width(), 400), max(limit.height(), 300)))
    if size != window.size():
        window.resize(size)
    frame = window.frameGeometry()
    if not available.contains(frame):
        x = min(max(frame.x(), available.x()), available.right() + 1 - frame.width())
        y = min(max(frame.y(), available.y()), available.bottom() + 1 - frame.height())
        window.move(max(x, available.x()), max(y, available.y()))


def restore_geometry(window) -> None:
    """Put back the window's remembered size and place only (its bare first frame, before the docks exist)."""
    geometry = window.settings.value("window/geometry")
    if isinstance(geometry, QByteArray):
        window.restoreGeometry(geometry)
    fit_to_screen(window)


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
    fit_to_screen(window)
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
