"""The main window: lays out the panels in docks (menus: window_menus.py), and little else.

The central area is the collapse banner, the latent plane and the timeline; run controls and runs on the left;
the cursor preview, own images, drawing pad, latent dimensions and traversals on the right; ELBO, reconstructions,
interpolation, quality, worst images and latent quality below (tabs where space is short; docks.py builds them).
Menu actions go to the controllers (`TrainingController`, `RunOpener`), to `Commands` (the File menu's dialogs and
files), `Exports` and the status bar (status_bar.py); what is shown comes from the `Studio`, the title and which
actions are enabled from window_status.py; window_settings.py remembers the window between sessions.
`MainWindow(build=False)` is the bare window (title, size, place) that `app.run` shows first; `build()` fills it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent, QShowEvent
from PySide6.QtWidgets import QApplication, QDockWidget, QMainWindow, QMessageBox, QWidget

from vaestudio.gui.docks import (BOTTOM, DIAGNOSIS_PARTS, DOCKED_PANELS, LEFT, UiPost, add_dock, column,
                                 compare_while_shown, configure_pyqtgraph, diagnose_while_shown, dockable,
                                 hide_stale_tab_bars, name_tabs, optional_panel, refresh_while_shown, scrolled,
                                 size_docks)
from vaestudio.gui.settings import open_settings
from vaestudio.gui.window_settings import (DEFAULT_SIZE, LAYOUT_VERSION, fitting_size, restore_geometry, restore_window,
                                          save_window)


def _import_contents() -> None:
    """The contents' modules (NumPy, pyqtgraph, the studio, the panels): imported when the window is built,
    which `app.run` does after the first frame is up (a bare window shows ~4x sooner than the whole one)."""
    global help_texts, Commands, Exports, RunOpener, ElboPanel, RunControlsPanel, RunsPanel
    global TimelinePanel, morph_recorder, FAILED, READY, Studio, StatusBar, TensorFlowLoader, QtExecutor
    global RunOutcome, TrainingController, enabled_actions, window_title, build_menus
    from vaestudio.gui import help_texts
    from vaestudio.gui.commands import Commands
    from vaestudio.gui.exports import Exports
    from vaestudio.gui.opening import RunOpener
    from vaestudio.gui.panels.elbo import ElboPanel
    from vaestudio.gui.panels.run_controls import RunControlsPanel
    from vaestudio.gui.panels.runs import RunsPanel
    from vaestudio.gui.panels.timeline import TimelinePanel
    from vaestudio.gui.recording import morph_recorder
    from vaestudio.gui.state.studio import FAILED, READY, Studio
    from vaestudio.gui.status_bar import StatusBar
    from vaestudio.gui.tensorflow import TensorFlowLoader
    from vaestudio.gui.threads import QtExecutor
    from vaestudio.gui.training import RunOutcome, TrainingController
    from vaestudio.gui.window_menus import build_menus
    from vaestudio.gui.window_status import enabled_actions, window_title


# TensorFlow's import starts this long after the window first shows (at once if something needs it
# sooner): started at the show event, it held the interpreter while the window was still being drawn and
# the window took 33 s to appear on a loaded 2-core machine instead of 3 s (benchmarks/startup.py).
LOADER_DELAY_MS = 2000


class MainWindow(QMainWindow):
    """The vaestudio window."""

    def __init__(self, parent: QWidget | None = None, build: bool = True):
        """build=False: a bare window of the remembered size and place, whose contents `build()` adds."""
        super().__init__(parent)
        self.settings = open_settings()
        self.built = False
        self.setWindowTitle("vaestudio")
        if build:
            self.build()
        else:  # sized before any dock exists only when bare (docks added to a sized window leave stray tab bars)
            self.resize(fitting_size(self.screen().availableGeometry()) if self.screen() else DEFAULT_SIZE)
            restore_geometry(self)

    def build(self) -> None:
        """Add the studio, the panels, the menus (window_menus.py) and the status bar (once)."""
        if self.built:
            return
        _import_contents()
        configure_pyqtgraph()
        from vaestudio.gui.state.diagnosis import SCAN_KEYS

        self.executor = QtExecutor(self, threads=2, background_keys=SCAN_KEYS)  # the scans: threads of their own
        self.studio = Studio(self.executor)
        ui = UiPost(self)
        self.diagnosis = self.studio.start_diagnosis(self.executor, ui.post, later=ui.later)  # issue 18's docks
        self.studio.comparison.pace_previews(ui.later)
        self.loader = TensorFlowLoader(self.studio, self)
        self.loader.settings = lambda: (self.cpu_only_action.isChecked(), self.devices_menu.split_for_start())
        self.training = TrainingController(self.studio, self.loader, self)
        self.loader.training_config = lambda: (self.training.config_to_prepare(self.controls.config)
                                               if getattr(self, "prepare_training_ahead", False) else None)
        self.opening = RunOpener(self.studio, self.loader, self.executor, self.settings, self)
        self.commands = Commands(self.studio, self.settings, self)
        self.commands.training, self.commands.opening = self.training, self.opening
        self.commands.encode_files = self.encode_image_files
        self.recorder = morph_recorder(self.studio)  # the one recording: the menu and the preview's button
        self.last_error: str | None = None
        self.errors: list[tuple[str, str]] = []
        self.docks: dict[str, QDockWidget] = {}
        self.panels: dict[str, QWidget] = {}
        self._shut_down = False
        self.setAcceptDrops(True)
        self.status = StatusBar(self.studio, self)
        self.setStatusBar(self.status)
        self.message_label, self.run_label = self.status.message_label, self.status.run_label
        self.device_label, self.open_folder_button = self.status.device_label, self.status.open_folder_button
        self.exports = Exports(self.studio, self.commands, self.settings, self.recorder, self.report_error,
                               self.show_message, self)
        self.export_animation, self.export_png, self.export_morph = (self.exports.animation, self.exports.png,
                                                                     self.exports.morph)

        self._build_panels()
        build_menus(self)
        self.studio.error.connect(self.report_error)
        self.studio.device_changed.connect(self._on_device_changed)
        self.studio.active_changed.connect(self._update_title)
        self.studio.training_changed.connect(self._update_title)
        self.studio.runs_changed.connect(self._update_title)
        self.studio.explorer.moment_loaded.connect(self._update_actions)
        self.training.run_ended.connect(self._on_run_ended)
        self.opening.recent_changed.connect(self._fill_recent_menu)
        self.recorder.changed.connect(self._on_recording_changed)
        self.resize(fitting_size(self.screen().availableGeometry()) if self.screen() else DEFAULT_SIZE)
        size_docks(self, self.docks, self.controls.sizeHint().width() + 24)
        self.default_layout = self.saveState(LAYOUT_VERSION)
        restore_window(self)
        self._update_title()
        self._update_actions()
        self.built = True
        if self.isVisible():
            self._after_show()

    # -- test and self-test hooks --------------------------------------------------------------------------------
    @property
    def dataset_provider(self):
        return self.training.dataset_provider

    @dataset_provider.setter
    def dataset_provider(self, provider) -> None:
        self.training.dataset_provider = provider
        self.opening.dataset_provider = provider

    @property
    def config_overrides(self) -> dict:
        return self.training.config_overrides

    @config_overrides.setter
    def config_overrides(self, values: dict) -> None:
        self.training.config_overrides = dict(values)

    @property
    def device_ready(self) -> bool:
        return self.studio.tf_status == READY

    def panel(self, module: str) -> QWidget | None:
        """The panel built from `vaestudio.gui.panels.<module>`, if any."""
        return self.panels.get(module)

    # -- layout -------------------------------------------------------------------------------------------------
    def _build_panels(self) -> None:
        self.controls = RunControlsPanel(self.studio, self.commands)
        self.elbo = ElboPanel(self.studio, self.commands)
        self.timeline = TimelinePanel(self.studio, self.commands)
        self.runs_panel = RunsPanel(self.studio, self.commands)
        self.panels.update(run_controls=self.controls, elbo=self.elbo, timeline=self.timeline, runs=self.runs_panel)

        plane = optional_panel("latent_plane", "LatentPlanePanel", self.studio, self.commands)
        self.panels["latent_plane"] = plane
        self.banner = optional_panel("collapse_banner", "CollapseBanner", self.studio, self.diagnosis)
        if hasattr(self.banner, "branch_with"):  # its button opens Branch from here… (issue 17)
            self.banner.branch_with(self.commands.ask_branch_at_step)
        self.setCentralWidget(column(plane, self.timeline, self.banner))
        self._add_dock("run_controls", self.controls.title, scrolled(self.controls, 280), LEFT)
        self._add_dock("runs", self.runs_panel.title, self.runs_panel, LEFT, tab_with="run_controls")
        self.docks["run_controls"].raise_()
        self._add_dock("elbo", self.elbo.title, self.elbo, BOTTOM)
        groups: dict[str, str] = {"bottom": "elbo"}
        for module, class_name, area, group in DOCKED_PANELS:
            state = self.diagnosis if module in DIAGNOSIS_PARTS else self.commands
            panel = optional_panel(module, class_name, self.studio, state)
            self.panels[module] = panel
            title = getattr(panel, "title", module.replace("_", " ").capitalize())
            self._add_dock(module, title, dockable(module, panel), area, tab_with=groups.get(group))
            groups.setdefault(group, module)
        self.docks["elbo"].raise_()
        self.docks["kl"].raise_()  # the right-hand tabs still open on the latent dimensions (Traversals is a tab)
        diagnose_while_shown(self.docks, self.diagnosis)
        refresh_while_shown(self.docks, self.panels)
        compare_while_shown(self, self.docks, self.studio.comparison)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks
                            | QMainWindow.DockOption.AllowNestedDocks)
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.BottomDockWidgetArea)

    def _add_dock(self, key: str, title: str, widget: QWidget, area, tab_with: str | None = None) -> QDockWidget:
        dock = add_dock(self, self.docks, key, title, widget, area, tab_with)
        dock.dockLocationChanged.connect(self._schedule_tab_bar_check)
        dock.topLevelChanged.connect(self._schedule_tab_bar_check)
        return dock

    def _schedule_tab_bar_check(self, *_args) -> None:
        QTimer.singleShot(0, self._check_tab_bars)

    def _check_tab_bars(self) -> None:
        self.hide_stale_tab_bars()
        name_tabs(self, self.docks)

    def hide_stale_tab_bars(self) -> int:
        return hide_stale_tab_bars(self, self.docks)

    def reset_layout(self) -> None:
        """View → Reset layout: every dock back where it starts."""
        self.restoreState(self.default_layout, LAYOUT_VERSION)
        for dock in self.docks.values():
            dock.show()
        self._schedule_tab_bar_check()

    # -- menus --------------------------------------------------------------------------------------------------
    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.opening.recent()
        for folder in recent:
            action = self.recent_menu.addAction(folder.name)
            action.setToolTip(str(folder))
            action.triggered.connect(lambda _checked=False, f=folder: self.opening.open_run(f))
        self.recent_menu.setEnabled(bool(recent))

    # -- status bar and title ----------------------------------------------------------------------------------
    def show_message(self, text: str, milliseconds: int = 0) -> None:
        self.status.show_message(text, milliseconds)

    def status_text(self) -> str:
        return self.status.text()

    def _on_device_changed(self, status: str) -> None:
        if status == FAILED:
            self.report_error("TensorFlow could not be loaded", self.studio.tf_error or "")
        self._update_actions()

    # The studio's signals call bound methods, not lambdas: psygnal holds bound methods weakly, so the window
    # and its studio form no reference cycle and are freed on the UI thread (a cycle is collected by whichever
    # thread runs the collector, and destroying Qt widgets on a training thread deadlocked).
    def _update_title(self, *_args) -> None:
        title, label, tooltip = window_title(self.studio)
        self.setWindowTitle(title)
        self.run_label.set_full_text(label, tooltip)
        self._update_actions()

    def _update_actions(self, *_args) -> None:
        for name, enabled in enabled_actions(self.studio).items():
            getattr(self, name).setEnabled(enabled)

    # -- run actions (the dialogs are in Commands) ------------------------------------------------------------
    def continue_run(self, folder: str | Path) -> bool:
        return self.commands.continue_run(folder)

    def _on_run_ended(self, outcome: RunOutcome) -> None:
        self.status.show_run_ended(outcome.folder, outcome.error is None, outcome.text)
        if outcome.folder is not None:
            self.opening.remember(outcome.folder)
        self._update_title()

    # -- models and images (the dialogs are in Commands) ---------------------------------------------------------
    def encode_image(self, path: str | Path) -> bool:
        """Encode an image file as an own image (prepared off the UI thread, like a drop on the window)."""
        return self.encode_image_files([path]) > 0

    def encode_image_files(self, paths) -> int:
        from vaestudio.gui.panels.own_images import encode_image_files

        self.docks["own_images"].raise_()  # where the encoded images show
        return encode_image_files(self.studio, paths, on_error=lambda text: self.report_error("Cannot encode the image",
                                                                                              text))

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - image files dropped anywhere on the window
        self._take_drop(event, encode=False)

    def dropEvent(self, event) -> None:  # noqa: N802
        self._take_drop(event, encode=True)

    def _take_drop(self, event, encode: bool) -> None:
        from vaestudio.gui.panels.own_images import dropped_image_paths

        paths = dropped_image_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        if encode:
            self.encode_image_files(paths)

    def _on_recording_changed(self, on: bool) -> None:
        if self.record_action.isChecked() != on:
            self.record_action.setChecked(on)
        if on:
            self.show_message("Recording the morph: drag the cursor, then Ctrl+R or Stop recording to stop")

    # -- view ---------------------------------------------------------------------------------------------------
    def _on_overlay_changed(self, on: bool) -> None:
        if self.overlay_action.isChecked() != bool(on):
            self.overlay_action.setChecked(bool(on))

    def _on_cpu_only(self, on: bool) -> None:
        self.settings.setValue("device/cpu_only", on)
        self.show_message(f"'Use CPU only' is {'on' if on else 'off'}: it applies when vaestudio restarts", 8000)

    # -- messages and dialogs --------------------------------------------------------------------------------
    def report_error(self, title: str, message: str) -> None:
        """Show an error without blocking (the window keeps working); remembered for tests."""
        self.last_error = message
        self.errors.append((title, message))
        self.show_message(f"{title}: {message}")
        if self._shut_down:
            return
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def show_shortcuts(self) -> None:
        QMessageBox.information(self, "Keyboard shortcuts", help_texts.shortcuts_html())

    def shortcuts_text(self) -> str:
        return help_texts.shortcuts_text()

    def show_devices(self) -> None:
        QMessageBox.information(self, "Devices", self.devices_text())

    def devices_text(self) -> str:
        return help_texts.devices_text(self.studio, self.cpu_only_action.isChecked(), self.training.devices)

    def show_about(self) -> None:
        QMessageBox.about(self, "About vaestudio", self.about_text())

    def about_text(self) -> str:
        return help_texts.about_html(self.studio)

    # -- settings (window_settings.py) ---------------------------------------------------------------------------
    def save_settings(self) -> None:
        save_window(self)

    # -- start-up and shutdown ------------------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        if self.built:
            self._after_show()

    def _after_show(self) -> None:
        self._schedule_tab_bar_check()
        if not self.loader.started:
            QTimer.singleShot(LOADER_DELAY_MS, self.load_tensorflow)

    def load_tensorflow(self) -> None:
        self.loader.start()

    def shutdown(self, wait_for_tensorflow: bool = True) -> None:
        """Stop training as Stop does (its checkpoint and final files written: the run continues later) and end
        every thread this window started. The window hides first if that takes a moment."""
        if self._shut_down:
            return
        self._shut_down = True
        self.recorder.set_recording(False)  # nothing when not recording
        if self.training.busy:
            self.hide()
            QApplication.processEvents()
            self.executor.wait(0)  # cancel the pictures and scans now: the run's last steps and files get the cores
            self.training.shutdown(exiting=not wait_for_tensorflow)  # the process then ends: nothing to free
        self.opening.shutdown()
        self.executor.wait(2000 if wait_for_tensorflow else 300)  # exiting: only pictures are cut short
        if wait_for_tensorflow and self.loader.loading:
            self.hide()
            self.loader.wait()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if not self.built:  # closed before its contents were built: nothing to save or stop
            return event.accept()
        self.save_settings()
        self.shutdown(wait_for_tensorflow=not getattr(self, "exit_fast", False))
        event.accept()
