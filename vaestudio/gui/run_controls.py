"""The run controls dock: dataset, preset and hyperparameters; Start/Pause/Stop; progress and ETA."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QLineEdit, QProgressBar, QPushButton, QSizePolicy, QToolButton,
                               QVBoxLayout, QWidget)

from vaestudio.core.config import PRESETS, TrainConfig
from vaestudio.core.errors import ConfigError
from vaestudio.gui.fields import NumberField
from vaestudio.gui.session import Progress, format_duration

DATASET_CHOICES = (("Fashion-MNIST", "fashion_mnist"), ("MNIST", "mnist"))
PRESET_CHOICES = ("fast", "tutorial", "custom")
FIELD_LABELS = {
    "latent_dim": "Latent dim",
    "epochs": "Epochs",
    "batch_size": "Batch size",
    "learning_rate": "Learning rate",
    "seed": "Seed",
}
PRESET_FIELDS = ("latent_dim", "epochs", "batch_size", "learning_rate")

IDLE, WAITING, TRAINING, PAUSED, STOPPING = "idle", "waiting", "training", "paused", "stopping"


class RunControls(QWidget):
    """Builds a TrainConfig from what the user typed, and reflects the run's state and progress."""

    startRequested = Signal()
    pauseRequested = Signal()
    resumeRequested = Signal()
    stopRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._state = IDLE
        self._filling = False
        self._data_dir: str | None = None

        self.dataset_combo = QComboBox()
        for text, name in DATASET_CHOICES:
            self.dataset_combo.addItem(text, name)
        self.folder_edit = QLineEdit()
        self.folder_edit.setReadOnly(True)
        self.folder_edit.setPlaceholderText("standard location")
        self.folder_button = QToolButton(text="Choose folder…")
        self.folder_button.setToolTip("Choose a folder holding the four IDX files (.gz or plain)")
        self.folder_clear = QToolButton(text="Standard location")
        self.folder_clear.setToolTip("Use the standard dataset location")
        folder_buttons = QHBoxLayout()
        folder_buttons.setContentsMargins(0, 0, 0, 0)
        folder_buttons.addWidget(self.folder_button)
        folder_buttons.addWidget(self.folder_clear)
        folder_buttons.addStretch(1)

        self.preset_combo = QComboBox()
        self.preset_combo.addItems(PRESET_CHOICES)
        self.fields = {name: NumberField(name, label) for name, label in FIELD_LABELS.items()}

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Dataset", self.dataset_combo)
        form.addRow("IDX folder", self.folder_edit)
        form.addRow("", folder_buttons)
        form.addRow("Preset", self.preset_combo)
        for name, field in self.fields.items():
            form.addRow(FIELD_LABELS[name], field)
        settings_box = QGroupBox("Training")
        settings_box.setLayout(form)

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #c9302c;")
        self.message.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.message.hide()

        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("Stop")
        self.start_button.setToolTip("Train a new model with these settings")
        self.pause_button.setToolTip("Pause or resume training (Space)")
        buttons = QHBoxLayout()
        for button in (self.start_button, self.pause_button, self.stop_button):
            buttons.addWidget(button)

        self.epoch_bar = QProgressBar()
        self.run_bar = QProgressBar()
        for bar in (self.epoch_bar, self.run_bar):
            bar.setRange(0, 1000)
            bar.setValue(0)
            bar.setTextVisible(True)
        self.epoch_bar.setFormat("Epoch")
        self.run_bar.setFormat("Run")
        self.eta_label = QLabel("ETA —")
        self.rate_label = QLabel("")
        self.rate_label.setStyleSheet("color: palette(mid);")
        progress_box = QGroupBox("Progress")
        progress_layout = QVBoxLayout(progress_box)
        progress_layout.addWidget(self.epoch_bar)
        progress_layout.addWidget(self.run_bar)
        eta_row = QHBoxLayout()
        eta_row.addWidget(self.eta_label)
        eta_row.addStretch(1)
        eta_row.addWidget(self.rate_label)
        progress_layout.addLayout(eta_row)

        layout = QVBoxLayout(self)
        layout.addWidget(settings_box)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        layout.addWidget(progress_box)
        layout.addStretch(1)

        self.dataset_combo.currentIndexChanged.connect(self._refresh)
        self.folder_button.clicked.connect(self.choose_data_dir)
        self.folder_clear.clicked.connect(lambda: self.set_data_dir(None))
        self.preset_combo.currentTextChanged.connect(self._on_preset_chosen)
        for field in self.fields.values():
            field.validityChanged.connect(self._refresh)
            field.textEdited.connect(self._on_field_edited)
        self.start_button.clicked.connect(self.startRequested)
        self.pause_button.clicked.connect(self._on_pause_clicked)
        self.stop_button.clicked.connect(self.stopRequested)

        self.apply_preset("tutorial")
        self.fields["seed"].set_value(0)
        self.set_state(IDLE)

    # -- values --------------------------------------------------------------------------------
    @property
    def dataset(self) -> str:
        return self.dataset_combo.currentData()

    @property
    def data_dir(self) -> str | None:
        return self._data_dir

    @property
    def preset(self) -> str:
        return self.preset_combo.currentText()

    def errors(self) -> list[str]:
        return [field.error for field in self.fields.values() if field.error]

    def is_valid(self) -> bool:
        return not self.errors()

    def config(self, **overrides: Any) -> TrainConfig:
        """The config the fields describe (plus `overrides`); raises ConfigError when invalid."""
        problems = self.errors()
        if problems:
            raise ConfigError(problems[0])
        values = {name: field.value() for name, field in self.fields.items()}
        values.update(dataset=self.dataset, data_dir=self._data_dir)
        values.update(overrides)
        return TrainConfig.from_preset(self.preset, **values)

    def apply_preset(self, preset: str) -> None:
        """Fill the fields from a preset; 'custom' keeps what is there."""
        self._filling = True
        try:
            if self.preset_combo.currentText() != preset:
                self.preset_combo.setCurrentText(preset)
            for name in PRESET_FIELDS:
                if preset in PRESETS:
                    self.fields[name].set_value(PRESETS[preset][name])
        finally:
            self._filling = False
        self._refresh()

    def show_config(self, config: TrainConfig) -> None:
        """Show a saved run's settings (a resumed run); the preset is named only if the values are its own."""
        index = self.dataset_combo.findData(config.dataset)
        if index >= 0:
            self.dataset_combo.setCurrentIndex(index)
        self.set_data_dir(config.data_dir)
        preset = config.preset
        if preset in PRESETS and any(PRESETS[preset][name] != getattr(config, name) for name in PRESET_FIELDS):
            preset = "custom"
        self._filling = True
        try:
            self.preset_combo.setCurrentText(preset if preset in PRESET_CHOICES else "custom")
            for name, field in self.fields.items():
                field.set_value(getattr(config, name))
        finally:
            self._filling = False
        self._refresh()

    def set_data_dir(self, path: str | None) -> None:
        self._data_dir = path or None
        self.folder_edit.setText(self._data_dir or "")
        self.folder_edit.setToolTip(self._data_dir or "the standard dataset location")
        self._refresh()

    def choose_data_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder with the IDX files", self._data_dir or "")
        if path:
            self.set_data_dir(path)

    def _on_preset_chosen(self, preset: str) -> None:
        if not self._filling:
            self.apply_preset(preset)

    def _on_field_edited(self, _text: str) -> None:
        if self._filling or self.preset == "custom":
            return
        field = self.sender()
        if getattr(field, "name", None) in PRESET_FIELDS:
            self._filling = True
            self.preset_combo.setCurrentText("custom")
            self._filling = False

    # -- state ---------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    def set_state(self, state: str) -> None:
        self._state = state
        self._refresh()

    def _on_pause_clicked(self) -> None:
        if self._state == PAUSED:
            self.resumeRequested.emit()
        elif self._state in (TRAINING, WAITING):
            self.pauseRequested.emit()

    def _refresh(self) -> None:
        problems = self.errors()
        self.message.setText(problems[0] if problems else "")
        self.message.setVisible(bool(problems))
        idle = self._state == IDLE
        for widget in (self.dataset_combo, self.folder_button, self.folder_clear, self.preset_combo,
                       *self.fields.values()):
            widget.setEnabled(idle)
        self.start_button.setEnabled(idle and not problems)
        self.start_button.setToolTip(problems[0] if problems else "Train a new model with these settings")
        self.pause_button.setEnabled(self._state in (TRAINING, PAUSED, WAITING))
        self.pause_button.setText("Resume" if self._state == PAUSED else "Pause")
        self.stop_button.setEnabled(self._state in (TRAINING, PAUSED, WAITING))

    def set_progress(self, progress: Progress | None, steps_per_second: float | None = None) -> None:
        if progress is None:
            self.epoch_bar.setValue(0)
            self.run_bar.setValue(0)
            self.epoch_bar.setFormat("Epoch")
            self.run_bar.setFormat("Run")
            self.eta_label.setText("ETA —")
            self.rate_label.setText("")
            return
        self.epoch_bar.setValue(int(round(progress.epoch_fraction * 1000)))
        self.run_bar.setValue(int(round(progress.run_fraction * 1000)))
        self.epoch_bar.setFormat(f"Epoch {progress.epoch}/{progress.total_epochs}: "
                                 f"{progress.epoch_fraction:.0%}")
        self.run_bar.setFormat(f"Run: {progress.run_fraction:.0%}")
        done = progress.run_fraction >= 1.0
        self.eta_label.setText("ETA 0 s" if done else f"ETA {format_duration(progress.eta_seconds)}")
        self.rate_label.setText(f"{steps_per_second:.1f} steps/s" if steps_per_second else "")

    # -- persistence -----------------------------------------------------------------------------
    def save_settings(self, settings: QSettings) -> None:
        settings.setValue("run/dataset", self.dataset)
        settings.setValue("run/data_dir", self._data_dir or "")
        settings.setValue("run/preset", self.preset)
        for name, field in self.fields.items():
            settings.setValue(f"run/{name}", field.text())

    def restore_settings(self, settings: QSettings) -> None:
        dataset = settings.value("run/dataset", "")
        index = self.dataset_combo.findData(dataset)
        if index >= 0:
            self.dataset_combo.setCurrentIndex(index)
        self.set_data_dir(str(settings.value("run/data_dir", "") or "") or None)
        preset = str(settings.value("run/preset", "tutorial"))
        self.apply_preset(preset if preset in PRESET_CHOICES else "tutorial")
        self._filling = True
        try:
            for name, field in self.fields.items():
                text = settings.value(f"run/{name}")
                if text not in (None, "") and (preset == "custom" or name not in PRESET_FIELDS):
                    field.setText(str(text))
        finally:
            self._filling = False
        self._refresh()
