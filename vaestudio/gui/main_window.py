"""The main window: wires the run controls, ELBO plot, latent plane and preview to the worker."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QByteArray, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (QApplication, QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox,
                               QScrollArea, QSplitter, QWidget)

import vaestudio
from vaestudio.core.config import TrainConfig
from vaestudio.core.errors import ConfigError, ExportError, VaeStudioError
from vaestudio.core.events import EpochEnd, Finished, Snapshot, Started, StepMetrics
from vaestudio.gui import run_controls as rc
from vaestudio.gui.elbo_panel import ElboPanel
from vaestudio.gui.export_dialog import AnimationExportDialog
from vaestudio.gui.latent_panel import LatentPlane
from vaestudio.gui.morph_preview import MorphPreview
from vaestudio.gui.run_paths import runs_root
from vaestudio.gui.run_controls import RunControls
from vaestudio.gui.session import RunSession
from vaestudio.gui.settings import open_settings, read_bool
from vaestudio.gui.worker import DeviceLoader, ResumeHistory, TaskRunner, TrainingThread, TrainingWorker

STOP_WAIT_MS = 1000  # how long closing waits for training to stop before hiding the window
REDRAW_MS = 100  # curves and progress are redrawn at most this often


class MainWindow(QMainWindow):
    """The vaestudio window. `dataset_provider`/`config_overrides` let tests and the self-test train small."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("vaestudio: watch a VAE learn")
        self.settings = open_settings()
        self.session = RunSession()
        self.dataset_provider: Callable[[TrainConfig], Any] | None = None
        self.config_overrides: dict[str, Any] = {}
        self.config: TrainConfig | None = None  # of the current/last run or opened model
        self.model = None  # trained or opened model; never touched while training runs
        self.device_info = None
        self.tf_version: str | None = None
        self.last_error: str | None = None
        self.training: TrainingThread | None = None
        self.run_folder: Path | None = None  # where the current/last run is recorded
        self._divergence: str | None = None  # shown once the diverged run has been saved
        self._finish_text = "Training ended"  # how the last run ended, for the status bar
        self._pending_start: TrainingWorker | None = None
        self._device_loader: DeviceLoader | None = None
        self._tasks = TaskRunner(self)
        self._dirty = False

        self.controls = RunControls()
        self.elbo = ElboPanel(self.session)
        self.plane = LatentPlane()
        self.preview = MorphPreview()
        self.preview.set_decoder(self.plane.decoder)
        self._build_layout()
        self._build_menus()
        self._build_status_bar()

        self.controls.startRequested.connect(self.start_training)
        self.controls.pauseRequested.connect(self.pause_training)
        self.controls.resumeRequested.connect(self.resume_training)
        self.controls.stopRequested.connect(self.stop_training)
        self.plane.cursorMoved.connect(self.preview.request)
        self.plane.weightsChanged.connect(self._on_weights_changed)
        self.preview.recordingChanged.connect(self._on_recording_changed)

        self._redraw_timer = QTimer(self)
        self._redraw_timer.setInterval(REDRAW_MS)
        self._redraw_timer.timeout.connect(self._redraw)
        self._redraw_timer.start()
        self._restore_settings()
        self._update_actions()

    # -- layout ------------------------------------------------------------------------------------
    def _build_layout(self) -> None:
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.plane)
        top.addWidget(self.preview)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 1)
        top.setSizes([620, 300])
        main = QSplitter(Qt.Orientation.Vertical)
        main.addWidget(top)
        main.addWidget(self.elbo)
        main.setStretchFactor(0, 3)
        main.setStretchFactor(1, 1)
        main.setSizes([560, 250])
        self.splitter = main
        self.setCentralWidget(main)
        scroll = QScrollArea()
        scroll.setWidget(self.controls)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.controls_dock = QDockWidget("Run", self)
        self.controls_dock.setObjectName("run-controls-dock")
        self.controls_dock.setWidget(scroll)
        self.controls_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                                       | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.controls_dock.setMinimumWidth(270)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.controls_dock)
        self.resize(1320, 860)

    def _action(self, menu, text: str, slot, shortcut=None, checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        (action.toggled if checkable else action.triggered).connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.open_action = self._action(file_menu, "&Open model…", self.ask_open_model, QKeySequence.StandardKey.Open)
        self.resume_action = self._action(file_menu, "&Resume run…", self.ask_resume_run)
        self.save_action = self._action(file_menu, "&Save model…", self.ask_save_model, QKeySequence.StandardKey.Save)
        file_menu.addSeparator()
        self.export_animation_action = self._action(file_menu, "&Export training animation…",
                                                    self.ask_export_animation, "Ctrl+E")
        self.export_png_action = self._action(file_menu, "Export grid as &PNG…", self.ask_export_png)
        self.export_morph_action = self._action(file_menu, "Export &morph as GIF…", self.ask_export_morph)
        file_menu.addSeparator()
        self.quit_action = self._action(file_menu, "&Quit", self.close, "Ctrl+Q")

        run_menu = bar.addMenu("&Run")
        self.start_action = self._action(run_menu, "&Start", self.start_training, "Ctrl+Return")
        self.pause_action = self._action(run_menu, "&Pause / Resume", self.toggle_pause, "Space")
        self.stop_action = self._action(run_menu, "S&top", self.stop_training, "Ctrl+.")
        run_menu.addSeparator()
        self.record_action = self._action(run_menu, "&Record morph", self.preview.set_recording, "Ctrl+R",
                                          checkable=True)

        view_menu = bar.addMenu("&View")
        view_menu.addAction(self.controls_dock.toggleViewAction())
        self.overlay_action = self._action(view_menu, "&Latent means overlay", self.plane.overlay_check.setChecked,
                                           "Ctrl+L", checkable=True)
        self.plane.overlay_check.toggled.connect(self.overlay_action.setChecked)
        self.split_action = self._action(view_menu, "ELBO &split (log-likelihood / KL)",
                                         self.elbo.split_check.setChecked, checkable=True)
        self.elbo.split_check.toggled.connect(self.split_action.setChecked)

        settings_menu = bar.addMenu("Se&ttings")
        self.cpu_only_action = self._action(settings_menu, "Use &CPU only (applies on restart)",
                                            self._on_cpu_only_toggled, checkable=True)
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&About vaestudio", self.show_about)

    def _build_status_bar(self) -> None:
        self.device_label = QLabel("Loading TensorFlow…")
        self.device_label.setToolTip("The device training runs on")
        self.run_label = QLabel("")
        self.run_label.setToolTip("Where the run is recorded")
        self.run_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.statusBar().addPermanentWidget(self.run_label)
        self.statusBar().addPermanentWidget(self.device_label)

    # -- TensorFlow / device -------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        if self._device_loader is None:
            QTimer.singleShot(0, self.load_tensorflow)

    def load_tensorflow(self) -> None:
        """Import TensorFlow and pick the device on a background thread (once)."""
        if self._device_loader is not None:
            return
        self._device_loader = DeviceLoader(cpu_only=self.cpu_only_action.isChecked(), parent=self)
        self._device_loader.ready.connect(self._on_device_ready)
        self._device_loader.failed.connect(self._on_device_failed)
        self._device_loader.start()

    @Slot(object, str)
    def _on_device_ready(self, info, tf_version: str) -> None:
        self.device_info, self.tf_version = info, tf_version
        self.device_label.setText(f"Device: {info}")
        self.device_label.setToolTip(f"TensorFlow {tf_version}")
        if self._pending_start is not None:
            worker, self._pending_start = self._pending_start, None
            self._launch(worker)

    @Slot(str)
    def _on_device_failed(self, message: str) -> None:
        self.device_label.setText("TensorFlow failed to load")
        self.report_error("TensorFlow could not be loaded", message)
        if self._pending_start is not None:
            self._pending_start = None
            self.controls.set_state(rc.IDLE)
        self._update_actions()

    @property
    def device_ready(self) -> bool:
        return self.device_info is not None

    def _on_cpu_only_toggled(self, on: bool) -> None:
        self.settings.setValue("device/cpu_only", on)
        self.statusBar().showMessage(
            f"'Use CPU only' is {'on' if on else 'off'}: it applies when vaestudio restarts", 8000)

    # -- training ------------------------------------------------------------------------------------
    def is_training(self) -> bool:
        """True from Start until the run's thread has ended and the window has taken its results."""
        return self._pending_start is not None or self.training is not None

    def start_training(self) -> None:
        if self.is_training() or self.controls.state != rc.IDLE:
            return
        try:
            config = self.controls.config(**self.config_overrides)
        except ConfigError as exc:
            self.controls.message.setText(str(exc))
            self.controls.message.show()
            return
        self._begin(config, TrainingWorker(config, self.dataset_provider, runs_dir=runs_root()))

    def ask_resume_run(self) -> None:
        """File → Resume run…: choose a run folder; offer to go on to more epochs than it was set for."""
        if self.is_training():
            return
        path = QFileDialog.getExistingDirectory(self, "Resume a run: choose its folder",
                                                str(self.settings.value("paths/runs", "") or runs_root()))
        if not path:
            return
        self.settings.setValue("paths/runs", str(Path(path).parent))
        epochs = None
        wanted = self.controls.fields["epochs"].value()
        saved = self._saved_epochs(Path(path))
        if saved is None:
            return
        if wanted is not None and wanted > saved:
            answer = QMessageBox.question(
                self, "Resume run", f"This run was set for {saved} epochs. Continue it to {int(wanted)} epochs "
                "(the Epochs field)?\n\nYes: train to the new count. No: keep its own count.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Yes)
            if answer == QMessageBox.StandardButton.Cancel:
                return
            if answer == QMessageBox.StandardButton.Yes:
                epochs = int(wanted)
        self.resume_run(path, epochs)

    def _saved_epochs(self, path: Path) -> int | None:
        """The epoch count a run folder was set for; an unreadable folder is reported (None)."""
        from vaestudio.core.store.run_folder import RunFolder

        try:
            return RunFolder(path).read_config().epochs
        except VaeStudioError as exc:
            message = str(exc) if str(path) in str(exc) else f"{path}: {exc}"
            self.report_error("Cannot resume the run", message)
            return None

    def resume_run(self, path: str | Path, epochs: int | None = None) -> bool:
        """Continue the run saved in `path` from its checkpoint (to `epochs` if more than it was set for).

        The folder is read on the worker thread; its errors are shown and the window keeps working."""
        if self.is_training() or self.controls.state != rc.IDLE:
            return False
        self.statusBar().showMessage(f"Resuming {path}…")
        self._begin(None, TrainingWorker(None, self.dataset_provider, resume_dir=Path(path), epochs=epochs))
        return True

    def _begin(self, config: TrainConfig | None, worker: TrainingWorker) -> None:
        """Clear the panels for a new or resumed run and launch its worker (once TensorFlow is loaded)."""
        self.config = config
        self.model = None
        self.run_folder = None
        self._divergence = None
        self.run_label.setText("")
        self.session.reset()
        self.elbo.refresh()
        self.controls.set_progress(None)
        self.preview.set_recording(False)
        self.preview.clear()
        if config is not None:
            self.plane.reset(config.latent_dim, config.grid_size)
        else:  # a resumed run: its sizes come with its history
            self.plane.reset(self.plane.latent_dim, self.plane.grid_size)
        self.preview.set_decoder(self.plane.decoder)
        self.plane.set_cursor_z(0.0, 0.0)
        self.controls.set_state(rc.WAITING)
        if self.device_ready:
            self._launch(worker)
        else:
            self._pending_start = worker
            self.statusBar().showMessage("Waiting for TensorFlow to load…")
            self.load_tensorflow()
        self._update_actions()

    def _launch(self, worker: TrainingWorker) -> None:
        worker.device = str(self.device_info) if self.device_info is not None else None
        training = TrainingThread(worker)
        worker.status.connect(self._on_worker_status)
        worker.datasetReady.connect(self._on_dataset_ready)
        worker.folderReady.connect(self._on_folder_ready)
        worker.resumed.connect(self._on_resumed)
        worker.restored.connect(self._on_restored)
        worker.saved.connect(self._on_saved)
        worker.started.connect(self._on_started)
        worker.metrics.connect(self._on_metrics)
        worker.snapshot.connect(self._on_snapshot)
        worker.epochEnded.connect(self._on_epoch_end)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        training.thread.finished.connect(self._on_thread_finished)
        self.training = training
        if self.controls.state == rc.PAUSED:
            worker.pause()
        training.start()

    def pause_training(self) -> None:
        worker = self._current_worker()
        if worker is not None and self.controls.state in (rc.TRAINING, rc.WAITING):
            worker.pause()
            self.controls.set_state(rc.PAUSED)
            self.statusBar().showMessage("Paused: press Space or Resume to go on")

    def resume_training(self) -> None:
        worker = self._current_worker()
        if worker is not None and self.controls.state == rc.PAUSED:
            worker.resume()
            self.controls.set_state(rc.TRAINING if self.session.started else rc.WAITING)
            self.statusBar().showMessage("Training…")

    def toggle_pause(self) -> None:
        if self.controls.state == rc.PAUSED:
            self.resume_training()
        else:
            self.pause_training()

    def stop_training(self) -> None:
        if self._pending_start is not None:
            self._pending_start = None
            self.controls.set_state(rc.IDLE)
            self.statusBar().showMessage("Stopped before training began")
            self._update_actions()
            return
        worker = self._current_worker()
        if worker is not None and self.training is not None and self.training.is_running():
            worker.stop()
            self.controls.set_state(rc.STOPPING)
            self.statusBar().showMessage("Stopping…")
            self._update_actions()

    def _current_worker(self) -> TrainingWorker | None:
        if self._pending_start is not None:
            return self._pending_start
        return self.training.worker if self.training is not None else None

    @Slot(str)
    def _on_worker_status(self, text: str) -> None:
        self.statusBar().showMessage(text)

    @Slot(object)
    def _on_dataset_ready(self, dataset) -> None:
        self.plane.set_class_names(tuple(getattr(dataset, "class_names", ()) or ()))
        self.statusBar().showMessage(f"Data: {getattr(dataset, 'source', getattr(dataset, 'name', ''))}", 5000)

    @Slot(str)
    def _on_folder_ready(self, path: str) -> None:
        self.run_folder = Path(path)
        self.run_label.setText(f"Run: {self.run_folder.name}")
        self.run_label.setToolTip(f"This run is recorded in {path}")
        self.statusBar().showMessage(f"Recording the run in {path}", 5000)

    @Slot(object)
    def _on_resumed(self, history: ResumeHistory) -> None:
        """A resumed run's saved settings, curves and snapshot count, before training goes on."""
        config = history.config
        self.config = config
        self.controls.show_config(config)
        self.session.load_history(history.rows, history.frame_labels)
        self.plane.reset(config.latent_dim, config.grid_size, self.plane.class_names)
        self.preview.set_decoder(self.plane.decoder)
        self.plane.set_cursor_z(0.0, 0.0)
        self._dirty = True
        self._redraw(force=True)
        self._update_actions()

    @Slot(object, str)
    def _on_restored(self, weights, label: str) -> None:
        self.plane.show_weights(weights, label)

    @Slot(object)
    def _on_saved(self, paths) -> None:
        names = ", ".join(Path(p).name for p in paths)
        self.statusBar().showMessage(f"{self._finish_text}. Saved {names} in {self.run_folder}")

    @Slot(object)
    def _on_started(self, event: Started) -> None:
        self.session.on_started(event)
        if self.controls.state == rc.WAITING:
            self.controls.set_state(rc.TRAINING)
        self.statusBar().showMessage(f"Training on {event.device}…")
        self._dirty = True

    @Slot(object)
    def _on_metrics(self, event: StepMetrics) -> None:
        self.session.on_metrics(event)
        self._dirty = True

    @Slot(object)
    def _on_snapshot(self, event: Snapshot) -> None:
        self.session.on_snapshot(event)
        self.plane.show_snapshot(event)
        self._update_actions()

    @Slot(object)
    def _on_epoch_end(self, event: EpochEnd) -> None:
        self.session.on_epoch_end(event)
        self._dirty = True
        self.statusBar().showMessage(f"Epoch {event.epoch}: test ELBO {event.test_elbo:.2f} nats "
                                     f"({event.seconds:.1f} s)", 8000)

    @Slot(object)
    def _on_finished(self, event: Finished) -> None:
        self._dirty = True
        words = {"completed": "Training completed", "stopped": "Training stopped",
                 "diverged": "Training diverged"}
        text = f"{words.get(event.reason, event.reason)} at epoch {event.epoch}, step {event.step}"
        if event.message:
            text += f": {event.message}"
        self.statusBar().showMessage(text)
        self._finish_text = text
        if event.reason == "diverged":
            self._divergence = text  # shown once the thread has saved the good weights

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.statusBar().showMessage(f"Training failed: {message}")
        self.report_error("Training failed", message)

    @Slot()
    def _on_thread_finished(self) -> None:
        training = self.training
        if training is None:
            return
        training.thread.wait()
        self.model = training.worker.model
        self.training = None
        self.controls.set_state(rc.IDLE)
        self._redraw(force=True)
        self._update_actions()
        if self._divergence is not None:
            text, self._divergence = self._divergence, None
            if self.run_folder is not None and (self.run_folder / "model.keras").is_file():
                text += f"\n\nThe model with the last good weights is saved in {self.run_folder}."
            text += "\n\nTry a lower learning rate (a tenth of it, say)."
            self.report_error("Training diverged", text)

    def _redraw(self, force: bool = False) -> None:
        if not (self._dirty or force):
            return
        self._dirty = False
        self.elbo.refresh()
        self.controls.set_progress(self.session.progress(), self.session.steps_per_second)

    @Slot()
    def _on_weights_changed(self) -> None:
        if self.preview.decoder is not self.plane.decoder:
            self.preview.set_decoder(self.plane.decoder)
        else:
            self.preview.refresh()

    # -- models --------------------------------------------------------------------------------------
    def ask_open_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a saved model", self._last_dir("models"),
                                              "Keras models (*.keras);;All files (*)")
        if path:
            self.open_model(path)

    def open_model(self, path: str | Path) -> int:
        """Load a model on a worker thread and show its latent plane; returns the task id."""
        if self.is_training():
            self.report_error("Cannot open a model", "Stop training first.")
            return 0
        path = Path(path)
        self._remember_dir("models", path.parent)
        self.statusBar().showMessage(f"Opening {path}…")
        self._set_busy_actions(False)

        def load():
            from vaestudio.core.tf.model import load_model

            model = load_model(path)
            config, note = None, ""
            config_path = path.with_suffix(".json")
            if config_path.is_file():
                try:
                    config = TrainConfig.load(config_path)
                except VaeStudioError as exc:
                    note = f" (its settings file was not used: {exc})"
            return model, model.decoder.get_weights(), config, note

        return self._tasks.submit(load, lambda result: self._on_model_opened(path, *result),
                                  lambda message: self._on_task_failed("Cannot open the model", message))

    def _on_model_opened(self, path: Path, model, weights, config: TrainConfig | None, note: str) -> None:
        self.model, self.config = model, config
        self.run_folder = None
        self.run_label.setText("")
        names: tuple[str, ...] = ()
        if config is not None:
            names = _class_names(config.dataset)
        self.session.reset()
        self.elbo.refresh()
        self.controls.set_progress(None)
        self.preview.set_recording(False)
        self.plane.reset(model.latent_dim, config.grid_size if config else 20, names)
        self.plane.show_weights(weights, f"{path.name} (opened, latent dim {model.latent_dim})")
        self.preview.set_decoder(self.plane.decoder)
        self.plane.set_cursor_z(0.0, 0.0)
        self.setWindowTitle(f"vaestudio: {path.name}")
        self.statusBar().showMessage(f"Opened {path}{note}")
        self._update_actions()

    def ask_save_model(self) -> None:
        if self.model is None or self.is_training():
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save the model", self._last_dir("models", "vae.keras"),
                                              "Keras models (*.keras)")
        if path:
            if not path.endswith(".keras"):
                path += ".keras"
            self.save_model(path)

    def save_model(self, path: str | Path) -> int:
        """Save the model (.keras) and its config (.json beside it) on a worker thread."""
        if self.model is None or self.is_training():
            self.report_error("Nothing to save", "Train a model (and let it finish or stop it) first.")
            return 0
        path, model, config = Path(path), self.model, self.config
        self._remember_dir("models", path.parent)
        self._set_busy_actions(False)

        def save():
            from vaestudio.core.tf.model import save_model

            save_model(model, path)
            if config is not None:
                config.save(path.with_suffix(".json"))
            return path

        return self._tasks.submit(save, self._on_model_saved,
                                  lambda message: self._on_task_failed("Cannot save the model", message))

    def _on_model_saved(self, path: Path) -> None:
        self.statusBar().showMessage(f"Saved {path} and {path.with_suffix('.json').name}", 8000)
        self._update_actions()

    def _on_task_failed(self, title: str, message: str) -> None:
        self.statusBar().showMessage(f"{title}: {message}")
        self.report_error(title, message)
        self._update_actions()

    # -- exports -------------------------------------------------------------------------------------
    def ask_export_animation(self) -> None:
        if not self.session.frame_labels or self.run_folder is None:
            self.report_error("Nothing to export", "There are no snapshots yet: start training first.")
            return
        seconds = float(self.settings.value("export/frame_seconds", 0.2))
        dialog = AnimationExportDialog(len(self.session.frame_labels), seconds, self)
        if dialog.exec() != AnimationExportDialog.DialogCode.Accepted:
            return
        self.settings.setValue("export/frame_seconds", dialog.seconds.value())
        path, _ = QFileDialog.getSaveFileName(self, "Export training animation",
                                              self._last_dir("exports", "training.gif"), "GIF images (*.gif)")
        if path:
            self.export_animation(_with_suffix(path, ".gif"), dialog.seconds.value(),
                                  captions=dialog.captions.isChecked(), scale=dialog.scale.value())

    def export_animation(self, path: str | Path, frame_seconds: float = 0.2, captions: bool = True,
                         scale: int = 1) -> bool:
        """GIF of every snapshot of the current run so far, read back from its run folder (the window keeps
        none in memory); errors are shown, not raised."""
        from vaestudio.core.store.images import save_gif
        from vaestudio.core.store.run_folder import RunFolder

        if self.run_folder is None:
            self.report_error("Nothing to export", "There are no snapshots yet: start training first.")
            return False
        folder = RunFolder(self.run_folder)

        def write():
            frames, labels = folder.load_frames()
            if not frames:
                raise ExportError(f"{folder.path}: the run has no snapshots yet")
            save_gif(frames, path, frame_seconds=frame_seconds, captions=labels if captions else None, scale=scale)

        return self._export(path, write, "the training animation")

    def ask_export_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export grid as PNG", self._last_dir("exports", "grid.png"),
                                              "PNG images (*.png)")
        if path:
            self.export_png(_with_suffix(path, ".png"))

    def export_png(self, path: str | Path) -> bool:
        from vaestudio.core.store.images import save_png

        mosaic = self.plane.mosaic
        if mosaic is None:
            self.report_error("Nothing to export", "The latent plane shows no grid yet.")
            return False
        return self._export(path, lambda: save_png(mosaic, path), "grid")

    def ask_export_morph(self) -> None:
        if not self.preview.recorded:
            self.report_error("Nothing to export", "Record a morph first: Run → Record morph, then drag the cursor.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export morph as GIF", self._last_dir("exports", "morph.gif"),
                                              "GIF images (*.gif)")
        if path:
            self.export_morph(_with_suffix(path, ".gif"))

    def export_morph(self, path: str | Path, frame_seconds: float = 0.05, scale: int = 8) -> bool:
        from vaestudio.core.store.images import save_gif

        frames = self.preview.recorded_frames()
        if not frames:
            self.report_error("Nothing to export", "The morph recording is empty.")
            return False
        return self._export(path, lambda: save_gif(frames, path, frame_seconds=frame_seconds, scale=scale),
                            f"{len(frames)} frames")

    def _export(self, path: str | Path, write: Callable[[], Any], what: str) -> bool:
        self._remember_dir("exports", Path(path).parent)
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            write()
        except VaeStudioError as exc:
            self.report_error("Export failed", str(exc))
            return False
        except Exception as exc:  # an unexpected writer error must not take the window down
            self.report_error("Export failed", f"{path}: {type(exc).__name__}: {exc}")
            return False
        finally:
            QApplication.restoreOverrideCursor()
        self.statusBar().showMessage(f"Exported {what} to {path}", 8000)
        return True

    def _on_recording_changed(self, on: bool) -> None:
        if self.record_action.isChecked() != on:
            self.record_action.setChecked(on)
        if on:
            self.statusBar().showMessage("Recording the morph: drag the cursor, then stop recording")
        elif self.preview.recorded:
            self.statusBar().showMessage(f"Recorded {len(self.preview.recorded)} frames: "
                                         "File → Export morph as GIF…", 8000)
        self._update_actions()

    # -- misc ----------------------------------------------------------------------------------------
    def report_error(self, title: str, message: str) -> None:
        """Show an error without blocking (the app keeps running); remembered for tests."""
        self.last_error = message
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def show_about(self) -> None:
        QMessageBox.about(self, "About vaestudio", self.about_text())

    def about_text(self) -> str:
        import PySide6
        import pyqtgraph
        from PySide6.QtCore import qVersion

        rows = [("vaestudio", vaestudio.__version__), ("Python", platform.python_version()),
                ("Qt", qVersion()), ("PySide6", PySide6.__version__), ("pyqtgraph", pyqtgraph.__version__),
                ("NumPy", np.__version__), ("TensorFlow", self.tf_version or "loading…")]
        table = "".join(f"<tr><td>{name}</td><td>&nbsp;{version}</td></tr>" for name, version in rows)
        device = f"<p>Device: {self.device_info}</p>" if self.device_info else ""
        return ("<h3>vaestudio</h3><p>Train the convolutional VAE of the Keras/TensorFlow tutorial "
                f"and watch it learn.</p><table>{table}</table>{device}")

    def _set_busy_actions(self, enabled: bool) -> None:
        for action in (self.open_action, self.save_action, self.resume_action):
            action.setEnabled(enabled)

    def _update_actions(self) -> None:
        training = self.is_training()
        busy = self._tasks.busy()
        self.open_action.setEnabled(not training and not busy)
        self.resume_action.setEnabled(not training and not busy)
        self.save_action.setEnabled(not training and not busy and self.model is not None)
        self.export_animation_action.setEnabled(bool(self.session.frame_labels) and self.run_folder is not None)
        self.export_png_action.setEnabled(self.plane.mosaic is not None or bool(self.session.frame_labels))
        self.export_morph_action.setEnabled(bool(self.preview.recorded) and not self.preview.recording)
        self.start_action.setEnabled(not training)
        self.stop_action.setEnabled(training)

    def _last_dir(self, kind: str, name: str = "") -> str:
        folder = str(self.settings.value(f"paths/{kind}", "") or Path.home())
        return str(Path(folder) / name) if name else folder

    def _remember_dir(self, kind: str, folder: Path) -> None:
        self.settings.setValue(f"paths/{kind}", str(folder))

    def _restore_settings(self) -> None:
        s = self.settings
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        state = s.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        self.controls.restore_settings(s)
        self.cpu_only_action.blockSignals(True)
        self.cpu_only_action.setChecked(read_bool(s, "device/cpu_only", False))
        self.cpu_only_action.blockSignals(False)
        self.plane.overlay_check.setChecked(read_bool(s, "view/overlay", False))
        self.elbo.split_check.setChecked(read_bool(s, "view/split", False))

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        self.controls.save_settings(s)
        s.setValue("view/overlay", self.plane.overlay_check.isChecked())
        s.setValue("view/split", self.elbo.split_check.isChecked())
        s.sync()

    # -- shutdown ------------------------------------------------------------------------------------
    def shutdown(self, stop_wait_ms: int = STOP_WAIT_MS) -> None:
        """Stop training and join every thread this window started. A stopped run writes its checkpoint,
        model and animation into its folder before its thread ends, so closing loses nothing."""
        self._pending_start = None
        training = self.training
        if training is not None:
            if not training.stop_and_join(stop_wait_ms):
                # Still inside a step or saving the run: hide, then wait until it is done.
                self.hide()
                QApplication.processEvents()
                training.thread.wait()
            self.model = training.worker.model
            self.training = None
        self._redraw_timer.stop()
        self._tasks.wait()
        self.plane.wait_for_decodes(-1)
        if self._device_loader is not None and self._device_loader.isRunning():
            self.hide()  # importing TensorFlow cannot be interrupted
            self._device_loader.wait()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.save_settings()
        self.shutdown()
        event.accept()


def _with_suffix(path: str, suffix: str) -> str:
    return path if path.lower().endswith(suffix) else path + suffix


def _class_names(dataset: str) -> tuple[str, ...]:
    try:
        from vaestudio.core.data import CLASS_NAMES
    except ImportError:
        return ()
    return tuple(CLASS_NAMES.get(dataset, ()))
