"""The main window: lays out the panels in docks, builds the menus and the status bar, and little else.

The central area is the latent plane with the timeline under it; run controls and runs on the left; the
cursor preview, own images and latent dimensions on the right; ELBO, reconstructions, interpolation and
quality below (tabs where space is short). Panels built elsewhere are constructed by name from
`vaestudio.gui.panels.<module>` when that module exists. Run actions go to the controllers
(`TrainingController`, `RunOpener`), files to `Commands`; what is shown comes from the `Studio`.
"""

from __future__ import annotations

import importlib
import platform
import traceback
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import QByteArray, QSize, Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDesktopServices, QKeySequence, QShowEvent
from PySide6.QtWidgets import (QApplication, QDockWidget, QLabel, QMainWindow, QMessageBox, QScrollArea, QTabBar,
                               QToolButton, QVBoxLayout, QWidget)

import vaestudio
from vaestudio.gui.commands import Commands
from vaestudio.gui.opening import RunOpener
from vaestudio.gui.panels.elbo import ElboPanel
from vaestudio.gui.panels.run_controls import RunControlsPanel
from vaestudio.gui.panels.runs import RunsPanel
from vaestudio.gui.panels.timeline import TimelinePanel
from vaestudio.gui.recording import MorphRecorder
from vaestudio.gui.settings import open_settings, read_bool
from vaestudio.gui.state.studio import FAILED, IDLE, PAUSED, READY, STOPPING, TRAINING, WAITING, Studio
from vaestudio.gui.tensorflow import TensorFlowLoader
from vaestudio.gui.widgets import ElidedLabel
from vaestudio.gui.threads import QtExecutor
from vaestudio.gui.training import RunOutcome, TrainingController

LAYOUT_VERSION = 3  # bump when docks change: an older saved layout is then ignored, not half-applied
LEFT, RIGHT, BOTTOM = (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea,
                       Qt.DockWidgetArea.BottomDockWidgetArea)
# (module in vaestudio.gui.panels, class, area, tab group): built when the module exists.
# TensorFlow's import starts this long after the window first shows (at once if something needs it
# sooner): started at the show event, it held the interpreter while the window was still being drawn and
# the window took 33 s to appear on a loaded 2-core machine instead of 3 s (benchmarks/startup.py).
LOADER_DELAY_MS = 2000
OPTIONAL_PANELS = (
    ("cursor_preview", "CursorPreviewPanel", RIGHT, "right-top"),
    ("own_images", "OwnImagesPanel", RIGHT, "right"),
    ("drawing_pad", "DrawingPadPanel", RIGHT, "right"),
    ("kl", "KlPanel", RIGHT, "right"),
    ("reconstructions", "ReconstructionsPanel", BOTTOM, "bottom"),
    ("interpolation", "InterpolationPanel", BOTTOM, "bottom"),
    ("quality", "QualityPanel", BOTTOM, "bottom"),
)
SHORTCUTS = (
    ("Ctrl+Return", "Start training (or continue the stopped run)"),
    ("Space", "Pause / resume training"),
    ("Ctrl+.", "Stop training (the run is kept)"),
    ("Alt+Left / Alt+Right", "Previous / next snapshot (Left / Right when the timeline has focus)"),
    ("Alt+End", "Follow training again (Live)"),
    ("Ctrl+O", "Open a run folder (read-only)"),
    ("Ctrl+Shift+O", "Open a saved model"),
    ("Ctrl+S", "Save the model of the moment shown"),
    ("Ctrl+I", "Encode an image of your own"),
    ("Ctrl+E", "Export the training animation"),
    ("Ctrl+R", "Record the morph under the cursor"),
    ("Ctrl+L", "Show / hide the test images on the plane"),
    ("Ctrl+Q", "Quit"),
)


class FittedLabel(QLabel):
    """A permanent status-bar label as wide as its text needs (never clipped), eliding only long run names."""

    def __init__(self, text: str = "", max_chars: int = 48):
        super().__init__()
        self.max_chars = max_chars
        self.set_full_text(text)

    def set_full_text(self, text: str, tooltip: str | None = None) -> None:
        shown = text if len(text) <= self.max_chars else text[: self.max_chars // 2 - 1] + "…" + text[-self.max_chars // 2:]
        self.setText(shown)
        self.setToolTip(tooltip if tooltip is not None else text)
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance(shown) + 12)


class MainWindow(QMainWindow):
    """The vaestudio window."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings = open_settings()
        self.executor = QtExecutor(self, threads=2)
        self.studio = Studio(self.executor)
        self.loader = TensorFlowLoader(self.studio, self)
        self.loader.settings = self._loader_settings
        self.training = TrainingController(self.studio, self.loader, self)
        self.opening = RunOpener(self.studio, self.loader, self.executor, self.settings, self)
        self.commands = Commands(self.studio, self.settings, self)
        self.commands.training, self.commands.opening = self.training, self.opening
        self.recorder = MorphRecorder(self.studio)
        self.last_error: str | None = None
        self.errors: list[tuple[str, str]] = []
        self.docks: dict[str, QDockWidget] = {}
        self.panels: dict[str, QWidget] = {}
        self._shut_down = False
        self._message_timer = QTimer(self)
        self._message_timer.setSingleShot(True)
        self._message_timer.timeout.connect(lambda: self.show_message(""))

        self._build_panels()
        self._build_menus()
        self._build_status_bar()
        self.studio.message.connect(self.show_message)
        self.studio.error.connect(self.report_error)
        self.studio.device_changed.connect(self._on_device_changed)
        self.studio.active_changed.connect(lambda _h: self._update_title())
        self.studio.training_changed.connect(self._on_training_changed)
        self.studio.runs_changed.connect(self._update_title)
        self.studio.explorer.pictures_changed.connect(lambda _p: self._update_actions())
        self.training.run_ended.connect(self._on_run_ended)
        self.opening.recent_changed.connect(self._fill_recent_menu)
        self.recorder.changed.connect(self._on_recording_changed)
        self.recorder.stopped.connect(self._offer_morph_save)
        self.resize(1400, 900)
        self._size_docks()
        self._default_state = self.saveState(LAYOUT_VERSION)
        self._restore_settings()
        self._update_title()
        self._update_actions()

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
        """The panel built from `vaestudio.gui.panels.<module>` (or its stand-in), if any."""
        return self.panels.get(module)

    # -- layout -------------------------------------------------------------------------------------------------
    def _build_panels(self) -> None:
        self.controls = RunControlsPanel(self.studio, self.commands)
        self.elbo = ElboPanel(self.studio, self.commands)
        self.timeline = TimelinePanel(self.studio, self.commands)
        self.runs_panel = RunsPanel(self.studio, self.commands)
        self.panels.update(run_controls=self.controls, elbo=self.elbo, timeline=self.timeline, runs=self.runs_panel)

        plane = self._optional_panel("latent_plane", "LatentPlanePanel")
        self.panels["latent_plane"] = plane
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(plane, 1)
        column.addWidget(self.timeline)
        self.setCentralWidget(central)

        scroll = QScrollArea()
        scroll.setWidget(self.controls)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setMinimumWidth(280)
        self._add_dock("run_controls", self.controls.title, scroll, LEFT)
        self._add_dock("runs", self.runs_panel.title, self.runs_panel, LEFT, tab_with="run_controls")
        self.docks["run_controls"].raise_()
        self._add_dock("elbo", self.elbo.title, self.elbo, BOTTOM)
        groups: dict[str, str] = {"bottom": "elbo"}
        for module, class_name, area, group in OPTIONAL_PANELS:
            panel = self._optional_panel(module, class_name)
            self.panels[module] = panel
            title = getattr(panel, "title", module.replace("_", " ").capitalize())
            self._add_dock(module, title, panel, area, tab_with=groups.get(group))
            groups.setdefault(group, module)
        self.docks["elbo"].raise_()
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks
                            | QMainWindow.DockOption.AllowNestedDocks)
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.BottomDockWidgetArea)

    def _size_docks(self) -> None:
        """Start sizes: the plane gets the most room; side docks about a fifth of the width each."""
        width, height = max(self.width(), 800), max(self.height(), 600)
        left = [d for k, d in self.docks.items() if self.dockWidgetArea(d) == LEFT][:1]
        right = [d for k, d in self.docks.items() if self.dockWidgetArea(d) == RIGHT][:1]
        bottom = [d for k, d in self.docks.items() if self.dockWidgetArea(d) == BOTTOM][:1]
        if left:
            wanted = max(int(width * 0.2), self.controls.sizeHint().width() + 24)
            self.resizeDocks(left, [wanted], Qt.Orientation.Horizontal)
        if right:
            self.resizeDocks(right, [int(width * 0.22)], Qt.Orientation.Horizontal)
        if bottom:
            self.resizeDocks(bottom, [int(height * 0.32)], Qt.Orientation.Vertical)

    def _optional_panel(self, module: str, class_name: str) -> QWidget:
        """Build `vaestudio.gui.panels.<module>.<class_name>`; a panel that fails to build is replaced by a
        label saying why (the window still opens)."""
        name = f"vaestudio.gui.panels.{module}"
        try:
            panel_class = getattr(importlib.import_module(name), class_name)
            return panel_class(self.studio, self.commands)
        except Exception as exc:  # noqa: BLE001 - one broken panel must not take the window down
            failure = exc
        traceback.print_exception(failure)
        label = QLabel(f"The {module.replace('_', ' ')} panel could not be built: {type(failure).__name__}: {failure}")
        label.setWordWrap(True)
        label.title = module.replace("_", " ").capitalize()  # type: ignore[attr-defined]
        return label

    def _add_dock(self, key: str, title: str, widget: QWidget, area, tab_with: str | None = None) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{key}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        if tab_with is not None and tab_with in self.docks:
            self.tabifyDockWidget(self.docks[tab_with], dock)
        else:
            self.addDockWidget(area, dock)
        dock.dockLocationChanged.connect(self._schedule_tab_bar_check)
        dock.topLevelChanged.connect(self._schedule_tab_bar_check)
        self.docks[key] = dock
        return dock

    def _schedule_tab_bar_check(self, *_args) -> None:
        QTimer.singleShot(0, self.hide_stale_tab_bars)

    def hide_stale_tab_bars(self) -> int:
        """Hide the tab bars Qt leaves behind (Qt 6.11: tabifying docks in a second dock area, or restoring
        a layout, leaves an earlier tab bar visible where it was, e.g. a stray "ELBO | Reconstructions" bar
        under the Run dock). A live bar sits right under the dock of its current tab; returns how many
        were hidden."""
        by_title = {dock.windowTitle(): dock for dock in self.docks.values()}
        hidden = 0
        for bar in self.findChildren(QTabBar):
            if bar.parent() is not self or not bar.isVisible():
                continue
            dock = by_title.get(bar.tabText(bar.currentIndex()))
            placed, area = bar.geometry(), dock.geometry() if dock is not None else None
            under_its_dock = (area is not None and dock.isVisible() and abs(area.bottom() + 1 - placed.top()) <= 3
                              and area.left() < placed.right() and placed.left() < area.right())
            if not under_its_dock:
                bar.hide()
                hidden += 1
        return hidden

    def reset_layout(self) -> None:
        """View → Reset layout: every dock back where it starts."""
        self.restoreState(self._default_state, LAYOUT_VERSION)
        for dock in self.docks.values():
            dock.show()
        self._schedule_tab_bar_check()

    # -- menus --------------------------------------------------------------------------------------------------
    def _action(self, menu, text: str, slot: Callable, shortcut=None, checkable: bool = False, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        (action.toggled if checkable else action.triggered).connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.new_run_action = self._action(file_menu, "&New run / Start", self.controls.start)
        self.open_run_action = self._action(file_menu, "&Open run… (read-only)", self.ask_open_run,
                                            QKeySequence.StandardKey.Open)
        self.recent_menu = file_menu.addMenu("&Recent runs")
        self.continue_action = self._action(file_menu, "&Continue run…", self.ask_continue_run,
                                            tip="Resume a run folder: more epochs, a new learning rate or β")
        file_menu.addSeparator()
        self.open_model_action = self._action(file_menu, "Open &model…", self.ask_open_model, "Ctrl+Shift+O")
        self.save_action = self._action(file_menu, "&Save model…", self.ask_save_model, QKeySequence.StandardKey.Save,
                                        tip="Save the model of the moment shown as .keras")
        self.encode_action = self._action(file_menu, "&Encode image…", self.ask_encode_image, "Ctrl+I")
        file_menu.addSeparator()
        self.export_animation_action = self._action(file_menu, "&Export training animation…",
                                                    self.ask_export_animation, "Ctrl+E")
        self.export_png_action = self._action(file_menu, "Export grid as &PNG…", self.ask_export_png)
        file_menu.addSeparator()
        self.quit_action = self._action(file_menu, "&Quit", self.close, "Ctrl+Q")

        run_menu = bar.addMenu("&Run")
        self.start_action = self._action(run_menu, "&Start", self.controls.start, "Ctrl+Return")
        self.pause_action = self._action(run_menu, "&Pause / Resume", self.training.toggle_pause, "Space")
        self.stop_action = self._action(run_menu, "S&top", self.training.stop, "Ctrl+.")
        run_menu.addSeparator()
        self.back_action = self._action(run_menu, "Previous snapshot", lambda: self.timeline.step(-1), "Alt+Left")
        self.forward_action = self._action(run_menu, "Next snapshot", lambda: self.timeline.step(+1), "Alt+Right")
        self.live_action = self._action(run_menu, "Follow training (&Live)", self.timeline.follow, "Alt+End")
        run_menu.addSeparator()
        self.record_action = self._action(run_menu, "&Record morph", self.recorder.set_recording, "Ctrl+R",
                                          checkable=True)

        self.view_menu = bar.addMenu("&View")
        for dock in self.docks.values():
            self.view_menu.addAction(dock.toggleViewAction())
        self.view_menu.addSeparator()
        self.overlay_action = self._action(self.view_menu, "Test images on the &plane", self._set_overlay, "Ctrl+L",
                                           checkable=True)
        self.studio.view.events.overlay_visible.connect(self._on_overlay_changed)
        self.split_action = self._action(self.view_menu, "ELBO &split (log-likelihood / KL)",
                                         self.elbo.split_check.setChecked, checkable=True)
        self.elbo.split_check.toggled.connect(self.split_action.setChecked)
        self.view_menu.addSeparator()
        self._action(self.view_menu, "Reset &layout", self.reset_layout)

        settings_menu = bar.addMenu("Se&ttings")
        self.cpu_only_action = self._action(settings_menu, "Use &CPU only (applies on restart)", self._on_cpu_only,
                                            checkable=True)
        self.devices_menu = settings_menu.addMenu("&Train on")
        self.devices_group = QActionGroup(self)
        self._fill_devices_menu()
        self._action(settings_menu, "&Devices…", self.show_devices)
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", self.show_shortcuts, QKeySequence.StandardKey.HelpContents)
        self._action(help_menu, "&About vaestudio", self.show_about)
        self._fill_recent_menu()

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.opening.recent()
        for folder in recent:
            action = self.recent_menu.addAction(folder.name)
            action.setToolTip(str(folder))
            action.triggered.connect(lambda _checked=False, f=folder: self.opening.open_run(f))
        self.recent_menu.setEnabled(bool(recent))

    # -- status bar ------------------------------------------------------------------------------------------
    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.message_label = ElidedLabel("")
        self.open_folder_button = QToolButton(text="Open run folder")
        self.open_folder_button.setAutoRaise(True)
        self.open_folder_button.hide()
        self.open_folder_button.clicked.connect(self.open_run_folder)
        self.run_label = FittedLabel("No run yet")
        self.device_label = FittedLabel("Loading TensorFlow…", max_chars=60)
        bar.addWidget(self.message_label, 1)
        bar.addWidget(self.open_folder_button)
        bar.addPermanentWidget(self.run_label)
        bar.addPermanentWidget(self.device_label)
        self._finished_folder: Path | None = None

    def show_message(self, text: str, milliseconds: int = 0) -> None:
        """The status bar's message (elided to fit, whole in its tooltip); 0 ms: until replaced."""
        self.message_label.set_full_text(text)
        if text and self.open_folder_button.isVisible() and self._finished_folder is not None \
                and str(self._finished_folder) not in text:
            self.open_folder_button.hide()
        self._message_timer.stop()
        if text and milliseconds > 0:
            self._message_timer.start(milliseconds)

    def status_text(self) -> str:
        return self.message_label.full_text()

    def open_run_folder(self) -> None:
        if self._finished_folder is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._finished_folder)))

    def _on_device_changed(self, status: str) -> None:
        self._fill_devices_menu()
        if status == READY:
            self.device_label.set_full_text(f"Device: {self.studio.device.name}",
                                            f"Training runs on {self.studio.device} (TensorFlow {self.studio.tf_version})")
        elif status == FAILED:
            self.device_label.set_full_text("TensorFlow failed to load", self.studio.tf_error or "")
            self.report_error("TensorFlow could not be loaded", self.studio.tf_error or "")
        self._update_actions()

    # -- title and actions ----------------------------------------------------------------------------------
    def _update_title(self) -> None:
        history = self.studio.active
        if history is None:
            self.setWindowTitle("vaestudio: watch a VAE learn")
            self.run_label.set_full_text("No run yet", "Press Start, or open a run (File → Open run…)")
        else:
            if history is self.studio.live:
                state = {WAITING: "starting", TRAINING: "training", PAUSED: "paused",
                         STOPPING: "stopping"}.get(self.studio.training, "")
            elif history.folder is None:
                state = "opened model"
            elif history.finished_event is not None:
                state = {"completed": "finished"}.get(history.finished_event.reason, history.finished_event.reason)
            else:
                state = "read-only"
            self.setWindowTitle(f"vaestudio: {history.title()}" + (f" ({state})" if state else ""))
            where = str(history.folder) if history.folder is not None else "a model file, without a run folder"
            self.run_label.set_full_text(f"Run: {history.title()}", f"Shown: {where}")
        self._update_actions()

    def _on_training_changed(self, _state: str) -> None:
        self._update_title()

    def _update_actions(self) -> None:
        training = self.studio.training
        busy = training != IDLE
        history = self.studio.active
        info = history.current if history is not None else None
        self.start_action.setEnabled(not busy)
        self.new_run_action.setEnabled(not busy)
        self.pause_action.setEnabled(training in (WAITING, TRAINING, PAUSED))
        self.stop_action.setEnabled(training in (WAITING, TRAINING, PAUSED))
        self.continue_action.setEnabled(not busy)
        self.save_action.setEnabled(info is not None and info.has_weights and training != WAITING)
        self.export_animation_action.setEnabled(history is not None and history.folder is not None
                                                and bool(history.snapshots))
        self.export_png_action.setEnabled(self.studio.explorer.pictures.grid is not None)
        self.encode_action.setEnabled(True)
        self.open_model_action.setEnabled(self.studio.tf_status != FAILED)

    # -- run actions -----------------------------------------------------------------------------------------
    def ask_open_run(self) -> None:
        folder = self.commands.ask_folder("runs", "Open a run folder (read-only)")
        if folder is not None:
            self.opening.open_run(folder)

    def ask_continue_run(self) -> None:
        """File → Continue run…: choose a run folder, then epochs, learning rate and β in one dialog."""
        if self.studio.is_training:
            return
        folder = self.commands.ask_folder("runs", "Continue a run: choose its folder")
        if folder is not None:
            self.continue_run(folder)

    def continue_run(self, folder: str | Path) -> bool:
        values = self.commands.ask_continue(folder)
        return values is not None and self.training.continue_run(folder, **values)

    def _on_run_ended(self, outcome: RunOutcome) -> None:
        self._finished_folder = outcome.folder
        self.open_folder_button.setVisible(outcome.folder is not None and outcome.error is None)
        self.show_message(outcome.text)
        if outcome.folder is not None:
            self.opening.remember(outcome.folder)
        self._update_title()

    # -- models -----------------------------------------------------------------------------------------------
    def ask_open_model(self) -> None:
        path = self.commands.ask_open_path("models", "Open a saved model", "Keras models (*.keras);;All files (*)")
        if path is not None:
            self.opening.open_model(path)

    def ask_save_model(self) -> None:
        history = self.studio.active
        info = history.current if history is not None else None
        if info is None:
            self.report_error("Nothing to save", "There is no model to save yet: start training or open a run.")
            return
        name = f"{history.title()}-step{info.step}.keras".replace("/", "-")
        path = self.commands.ask_save_path("models", "Save the model of the moment shown", name,
                                           "Keras models (*.keras)", ".keras")
        if path is not None:
            self.opening.save_model(path, history, info)

    def ask_encode_image(self) -> None:
        path = self.commands.ask_open_path("images", "Encode an image of your own",
                                           "Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp);;All files (*)")
        if path is not None:
            self.encode_image(path)

    def encode_image(self, path: str | Path) -> bool:
        """Prepare an image file as the model sees it and add it to the own images (the explorer encodes it)."""
        from vaestudio.core.architecture import Architecture
        from vaestudio.core.data.own_image import prepare_own_image
        from vaestudio.core.errors import VaeStudioError
        from vaestudio.gui.state.latent_view import OwnImage

        path = Path(path)
        history = self.studio.active
        architecture = history.config.architecture if history is not None and history.config is not None \
            else Architecture()
        try:
            prepared = prepare_own_image(path, architecture)
        except (VaeStudioError, ValueError) as exc:
            self.report_error("Cannot encode the image", str(exc) if str(path.name) in str(exc) else f"{path}: {exc}")
            return False
        self.studio.view.add_own_image(OwnImage(path.name, np.asarray(prepared.model_input[0]),
                                                np.asarray(prepared.preview), str(path)))
        inverted = " (light background inverted, as the training images are dark)" if prepared.inverted else ""
        self.show_message(f"Encoded {path.name}{inverted}", 8000)
        return True

    # -- exports ------------------------------------------------------------------------------------------------
    def ask_export_animation(self) -> None:
        from vaestudio.core.store.run_folder import RunFolder
        from vaestudio.gui.export_dialog import AnimationExportDialog

        history = self.studio.active
        if history is None or history.folder is None or not history.snapshots:
            self.report_error("Nothing to export", "There are no snapshots yet: start training or open a run.")
            return
        records = RunFolder(history.folder).snapshots.records()
        picks = sorted({0, len(records) // 2, len(records) - 1}) if records else []
        sample = []
        store = RunFolder(history.folder).snapshots
        for index in picks:
            try:
                sample.append(store.load_mosaic(records[index]))
            except Exception:  # noqa: BLE001 - the estimate only
                pass
        seconds = float(self.settings.value("export/frame_seconds", 0.2) or 0.2)
        levels = int(self.settings.value("export/levels", 16) or 16)
        dialog = AnimationExportDialog(len(records), sample, seconds, levels, self)
        if "animation" in self.commands.answers:
            options = self.commands.answers["animation"]
        elif dialog.exec() == AnimationExportDialog.DialogCode.Accepted:
            options = dialog.options()
        else:
            options = None
        if not options:
            return
        self.settings.setValue("export/frame_seconds", options.get("frame_seconds", 0.2))
        self.settings.setValue("export/levels", options.get("levels", 256))
        path = self.commands.ask_save_path("exports", "Export training animation", "training.gif",
                                           "GIF images (*.gif)", ".gif")
        if path is not None:
            self.export_animation(path, **options)

    def export_animation(self, path: str | Path, frame_seconds: float = 0.2, captions: bool = True, scale: int = 1,
                         levels: int = 256) -> bool:
        """GIF of every snapshot of the run shown, read back from its run folder; errors are shown, not raised."""
        from vaestudio.core.errors import ExportError
        from vaestudio.core.store.images import save_gif
        from vaestudio.core.store.run_folder import RunFolder

        history = self.studio.active
        if history is None or history.folder is None:
            self.report_error("Nothing to export", "There are no snapshots yet: start training or open a run.")
            return False
        folder = RunFolder(history.folder)

        def write():
            frames, labels = folder.load_frames()
            if not frames:
                raise ExportError(f"{folder.path}: the run has no snapshots yet")
            save_gif(frames, path, frame_seconds=frame_seconds, captions=labels if captions else None, scale=scale,
                     levels=levels)

        return self.commands.write(path, write, "the training animation")

    def ask_export_png(self) -> None:
        path = self.commands.ask_save_path("exports", "Export grid as PNG", "grid.png", "PNG images (*.png)", ".png")
        if path is not None:
            self.export_png(path)

    def export_png(self, path: str | Path) -> bool:
        from vaestudio.core.store.images import save_png

        grid = self.studio.explorer.pictures.grid
        if grid is None:
            self.report_error("Nothing to export", "The latent plane shows no grid yet.")
            return False
        return self.commands.write(path, lambda: save_png(grid, path), "the grid")

    def _on_recording_changed(self, on: bool) -> None:
        if self.record_action.isChecked() != on:
            self.record_action.setChecked(on)
        if on:
            self.show_message("Recording the morph: drag the cursor, then Run → Record morph again to stop")

    def _offer_morph_save(self, count: int) -> None:
        if count == 0:
            self.show_message("Nothing was recorded: drag the cursor while recording", 6000)
            return
        path = self.commands.ask_save_path("exports", f"Save the recorded morph ({count} frame"
                                           f"{'s' if count != 1 else ''})", "morph.gif", "GIF images (*.gif)", ".gif")
        if path is None:
            self.show_message(f"Recorded {count} frame{'s' if count != 1 else ''}, not saved", 6000)
            return
        self.export_morph(path)

    def export_morph(self, path: str | Path, frame_seconds: float = 1 / 30, scale: int = 4) -> bool:
        from vaestudio.core.store.images import save_gif

        frames = list(self.recorder.frames)
        if not frames:
            self.report_error("Nothing to export", "The morph recording is empty.")
            return False
        count = len(frames)
        return self.commands.write(path, lambda: save_gif(frames, path, frame_seconds=frame_seconds, scale=scale),
                                   f"the morph ({count} frame{'s' if count != 1 else ''})")

    # -- view ---------------------------------------------------------------------------------------------------
    def _set_overlay(self, on: bool) -> None:
        if self.studio.view.overlay_visible != on:
            self.studio.view.overlay_visible = bool(on)

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
        rows = "".join(f"<tr><td><b>{keys}</b></td><td>&nbsp;&nbsp;{what}</td></tr>" for keys, what in SHORTCUTS)
        QMessageBox.information(self, "Keyboard shortcuts", f"<table>{rows}</table>")

    def shortcuts_text(self) -> str:
        return "\n".join(f"{keys}: {what}" for keys, what in SHORTCUTS)

    def show_devices(self) -> None:
        QMessageBox.information(self, "Devices", self.devices_text())

    def devices_text(self) -> str:
        from vaestudio.gui.selftest import cpu_summary

        if self.studio.tf_status == READY:
            device = f"Training runs on {self.studio.device} (TensorFlow {self.studio.tf_version})."
        elif self.studio.tf_status == FAILED:
            device = f"TensorFlow could not be loaded: {self.studio.tf_error}"
        else:
            device = "TensorFlow is still loading."
        cpu_only = " 'Use CPU only' is on." if self.cpu_only_action.isChecked() else ""
        chosen = self.training.devices or "1"
        return (f"{device}{cpu_only}\n\nTrain on: {chosen} (Settings → Train on).\n\nCPU: {cpu_summary()}")

    def _fill_devices_menu(self) -> None:
        """Settings → Train on: one device, each number of GPUs and all of them, or the CPU split into
        logical devices (which TensorFlow allows only before it starts: that choice applies on restart)."""
        from vaestudio.core.tf.device import device_choices

        wanted = str(self.settings.value("device/devices", "1") or "1")
        info = self.studio.device if self.studio.tf_status == READY else None
        choices = device_choices(info)
        if info is None and wanted != "1":
            choices.append((wanted, f"{wanted} devices"))
        self.devices_menu.clear()
        for action in self.devices_group.actions():
            self.devices_group.removeAction(action)
        values = [value for value, _ in choices]
        if wanted not in values:
            wanted = "1"
        for value, label in choices:
            restart = info is not None and not info.is_gpu and value != "1"
            action = QAction(label + (" (applies on restart)" if restart and value != str(self._split_cpu) else ""),
                             self)
            action.setCheckable(True)
            action.setChecked(value == wanted)
            action.setData(value)
            action.triggered.connect(lambda checked=False, v=value: self._on_devices(v))
            self.devices_group.addAction(action)
            self.devices_menu.addAction(action)
        self.training.devices = None if wanted == "1" else wanted

    def _on_devices(self, value: str) -> None:
        self.settings.setValue("device/devices", value)
        self.training.devices = None if value == "1" else value
        info = self.studio.device if self.studio.tf_status == READY else None
        if info is not None and not info.is_gpu and value != str(self._split_cpu) and value != "1":
            self.studio.message.emit(f"Train on {value} logical CPU devices: applies when vaestudio next starts", 0)

    def show_about(self) -> None:
        QMessageBox.about(self, "About vaestudio", self.about_text())

    def about_text(self) -> str:
        import PySide6
        import pyqtgraph
        from PySide6.QtCore import qVersion

        rows = [("vaestudio", vaestudio.__version__), ("Python", platform.python_version()),
                ("Qt", qVersion()), ("PySide6", PySide6.__version__), ("pyqtgraph", pyqtgraph.__version__),
                ("NumPy", np.__version__), ("TensorFlow", self.studio.tf_version or "loading…")]
        table = "".join(f"<tr><td>{name}</td><td>&nbsp;{version}</td></tr>" for name, version in rows)
        device = f"<p>Device: {self.studio.device}</p>" if self.studio.device else ""
        return ("<h3>vaestudio</h3><p>Train the convolutional VAE of the Keras/TensorFlow tutorial, "
                f"watch it learn, and explore what it learned.</p><table>{table}</table>{device}")

    # -- settings ----------------------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        s = self.settings
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        state = s.value("window/state")
        if isinstance(state, QByteArray) and int(s.value("window/layout_version", 0) or 0) == LAYOUT_VERSION:
            if not self.restoreState(state, LAYOUT_VERSION):
                self.restoreState(self._default_state, LAYOUT_VERSION)
        if self.size().width() < 400 or self.size().height() < 300:
            self.resize(QSize(1400, 900))
        self.controls.restore_settings(s)
        self.cpu_only_action.blockSignals(True)
        self.cpu_only_action.setChecked(read_bool(s, "device/cpu_only", False))
        self.cpu_only_action.blockSignals(False)
        self._set_overlay(read_bool(s, "view/overlay", True))
        self.overlay_action.setChecked(self.studio.view.overlay_visible)
        self.elbo.split_check.setChecked(read_bool(s, "view/split", False))

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState(LAYOUT_VERSION))
        s.setValue("window/layout_version", LAYOUT_VERSION)
        self.controls.save_settings(s)
        s.setValue("view/overlay", self.studio.view.overlay_visible)
        s.setValue("view/split", self.elbo.split_check.isChecked())
        s.sync()

    # -- start-up and shutdown ------------------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        self._schedule_tab_bar_check()
        if not self.loader.started:
            QTimer.singleShot(LOADER_DELAY_MS, self.load_tensorflow)

    @property
    def _split_cpu(self) -> int:
        """The logical CPU devices TensorFlow is (or will be) started with: the device setting, if a number."""
        value = str(self.settings.value("device/devices", "1") or "1")
        return int(value) if value.isdigit() and int(value) > 1 else 1

    def load_tensorflow(self) -> None:
        self.loader.start()

    def _loader_settings(self) -> tuple[bool, int]:
        return self.cpu_only_action.isChecked(), self._split_cpu

    def shutdown(self, wait_for_tensorflow: bool = True) -> None:
        """Stop training (the checkpoint is saved, the final files are not written: the run continues later)
        and end every thread this window started. The window hides first if that takes a moment."""
        if self._shut_down:
            return
        self._shut_down = True
        if self.recorder.recording:
            self.recorder.set_recording(False)
        if self.training.busy:
            self.hide()
            QApplication.processEvents()
            self.training.shutdown()
        self.opening.shutdown()
        self.executor.wait(2000)
        if wait_for_tensorflow and self.loader.loading:
            self.hide()
            self.loader.wait()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.save_settings()
        self.shutdown(wait_for_tensorflow=not getattr(self, "exit_fast", False))
        event.accept()
