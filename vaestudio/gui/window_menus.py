"""The main window's menus (File, Run, View, Settings, Help). Each action is kept as an attribute of the
window (`window.start_action`, …): window_status.py enables them and tests trigger them."""

from __future__ import annotations

from typing import Callable

from PySide6.QtGui import QAction, QKeySequence

from vaestudio.gui.devices_menu import DevicesMenu


def add_action(window, menu, text: str, slot: Callable, shortcut=None, checkable: bool = False,
               tip: str = "") -> QAction:
    """An action of `window` in `menu`: `slot` gets triggered (or toggled, if checkable)."""
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.setCheckable(checkable)
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(tip)
    (action.toggled if checkable else action.triggered).connect(slot)
    menu.addAction(action)
    return action


def build_menus(window) -> None:
    """The menu bar of a MainWindow whose panels, studio and controllers exist."""
    w = window

    def act(menu, text: str, slot: Callable, shortcut=None, checkable: bool = False, tip: str = "") -> QAction:
        return add_action(w, menu, text, slot, shortcut, checkable, tip)

    bar = w.menuBar()
    file_menu = bar.addMenu("&File")
    w.new_run_action = act(file_menu, "&New run / Start", w.controls.start)
    w.open_run_action = act(file_menu, "&Open run… (read-only)", w.commands.ask_open_run, QKeySequence.StandardKey.Open)
    w.recent_menu = file_menu.addMenu("&Recent runs")
    w.continue_action = act(file_menu, "&Continue run…", w.commands.ask_continue_run,
                            tip="Resume a run folder: more epochs, a new learning rate or β")
    file_menu.addSeparator()
    w.open_model_action = act(file_menu, "Open &model…", w.commands.ask_open_model, "Ctrl+Shift+O")
    w.save_action = act(file_menu, "&Save model…", w.commands.ask_save_model, QKeySequence.StandardKey.Save,
                        tip="Save the model of the moment shown as .keras")
    w.encode_action = act(file_menu, "&Encode image…", w.commands.ask_encode_image, "Ctrl+I")
    file_menu.addSeparator()
    w.export_animation_action = act(file_menu, "&Export training animation…", w.exports.ask_animation, "Ctrl+E")
    w.export_png_action = act(file_menu, "Export grid as &PNG…", w.exports.ask_png)
    w.export_model_action = act(file_menu, "E&xport…", w.exports.ask_snapshot)  # model, codes
    w.export_report_action = act(file_menu, "Export &report…", w.exports.ask_html_report)
    file_menu.addSeparator()
    w.quit_action = act(file_menu, "&Quit", w.close, "Ctrl+Q")

    run_menu = bar.addMenu("&Run")
    w.start_action = act(run_menu, "&Start", w.controls.start, "Ctrl+Return")
    w.pause_action = act(run_menu, "&Pause / Resume", w.training.toggle_pause, "Space")
    w.stop_action = act(run_menu, "S&top", w.training.stop, "Ctrl+.")
    run_menu.addSeparator()
    w.back_action = act(run_menu, "Previous snapshot", lambda: w.timeline.step(-1), "Alt+Left")
    w.forward_action = act(run_menu, "Next snapshot", lambda: w.timeline.step(+1), "Alt+Right")
    w.live_action = act(run_menu, "Follow training (&Live)", w.timeline.follow, "Alt+End")
    run_menu.addSeparator()
    w.record_action = act(run_menu, "&Record morph", w.recorder.set_recording, "Ctrl+R", checkable=True)

    w.view_menu = bar.addMenu("&View")
    for dock in w.docks.values():
        w.view_menu.addAction(dock.toggleViewAction())
    w.view_menu.addSeparator()
    w.overlay_action = act(w.view_menu, "Test images on the &plane", w.studio.view.show_overlay, "Ctrl+L",
                           checkable=True)
    w.studio.view.events.overlay_visible.connect(w._on_overlay_changed)
    w.split_action = act(w.view_menu, "ELBO &split (log-likelihood / KL)", w.elbo.split_check.setChecked,
                         checkable=True)
    w.elbo.split_check.toggled.connect(w.split_action.setChecked)
    w.compare_action = act(w.view_menu, "&Compare runs…", w.studio.comparison.request_view, "Ctrl+Shift+C",
                           tip="The ticked runs side by side at one point of training")
    w.view_menu.addSeparator()
    act(w.view_menu, "Reset &layout", w.reset_layout)

    settings_menu = bar.addMenu("Se&ttings")
    w.cpu_only_action = act(settings_menu, "Use &CPU only (applies on restart)", w._on_cpu_only, checkable=True)
    w.devices_menu = DevicesMenu(w.studio, w.settings, w.training, w)
    w.devices_group = w.devices_menu.group
    settings_menu.addMenu(w.devices_menu)
    act(settings_menu, "&Devices…", w.show_devices)
    help_menu = bar.addMenu("&Help")
    act(help_menu, "&Keyboard shortcuts", w.show_shortcuts, QKeySequence.StandardKey.HelpContents)
    act(help_menu, "&About vaestudio", w.show_about)
    w._fill_recent_menu()
