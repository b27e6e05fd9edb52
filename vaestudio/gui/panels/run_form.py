"""The Run dock's form: the settings of a new run (data, preset, the training numbers and the Model group),
checked where they are typed, turned into a `TrainConfig`, and remembered between sessions.

Presets: `fast` and `tutorial` fill batch size, learning rate, epochs and latent size. Changing the
latent size or the epochs keeps the preset (they say what to train, not how); changing the batch size or
the learning rate makes the run `custom`, which keeps the precision and graph-call length of the preset
it came from (so `fast`'s bfloat16 is not silently lost).
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QWidget

from vaestudio.core.config import PRESETS, TrainConfig
from vaestudio.core.errors import ConfigError
from vaestudio.gui.commands import Commands
from vaestudio.gui.number_field import NumberField
from vaestudio.gui.panels.data_choice import DataChoice
from vaestudio.gui.panels.variant_fields import VariantFields

PRESET_CHOICES = ("fast", "tutorial", "custom")
FIELD_LABELS = {
    "latent_dim": "Latent dim",
    "epochs": "Epochs",
    "batch_size": "Batch size",
    "learning_rate": "Learning rate",
    "beta": "β (KL weight)",
    "kl_warmup_steps": "KL warm-up steps",
    "snapshot_every_later": "Snapshot every",
    "seed": "Seed",
}
# Fields that make a preset "custom" when edited: how the model is trained.
TUNING_FIELDS = ("batch_size", "learning_rate")
# Fields that stay editable while a run trains: the Run dock puts them in force in that run.
LIVE_FIELDS = ("learning_rate", "beta")
# The window's snapshot schedule after epoch 1, per preset, so that the grid changes at least every ~5 s of
# training on the README's 2-core machine: tutorial 1756 images/s = 55 steps/s of batch 32 (250 steps: 4.6 s);
# fast (batch 32 too, ~1900 images/s idle) 300 steps: ~5 s. A snapshot (grid decode and weights) costs
# ~0.1-0.2 s, so this spends 2-4 % of the training time on them; each new moment also costs the window its
# pictures (issue 22: at fast's former 60 steps of batch 16, one a second).
WINDOW_SNAPSHOT_EVERY = {"fast": 300, "tutorial": 250, "custom": 150}
PRECISION_NOTES = {"auto": "bfloat16 where the CPU or GPU has it", "float32": "float32", "mixed_bfloat16": "bfloat16"}


class RunForm:
    """The new run's settings. `changed()` is called after each change (filling included); `busy()` says
    whether a run is under way (then an edited learning rate is for that run and keeps the preset).
    `box` is the "Training" group, `rows` its form layout; `variant.box` the "Model" group."""

    def __init__(self, commands: Commands, changed: Callable[[], None], busy: Callable[[], bool],
                 parent: QWidget | None = None):
        self.changed, self.busy = changed, busy
        self.filling = False  # True while the form fills its own fields (no dialogs, no preset change)
        self.base_preset = "tutorial"  # the named preset a custom run keeps precision and call length from

        self.data = DataChoice(commands, changed, lambda: self.filling)
        self.variant = VariantFields(changed, lambda: self.filling, parent)  # the "Model" group (issue 19)
        self.preset_combo = QComboBox()
        self.preset_combo.addItems(PRESET_CHOICES)
        self.preset_combo.setToolTip("fast: tuned by measurement; tutorial: the article's settings; custom: your own")
        self.preset_note = QLabel(wordWrap=True, styleSheet="color: palette(mid);")
        self.fields = {name: NumberField.for_setting(name, label) for name, label in FIELD_LABELS.items()}
        snapshot_row = QHBoxLayout()
        snapshot_row.setContentsMargins(0, 0, 0, 0)
        snapshot_row.addWidget(self.fields["snapshot_every_later"], 1)
        snapshot_row.addWidget(QLabel("steps after epoch 1"))

        self.rows = QFormLayout()
        self.rows.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.data.add_rows(self.rows)
        self.rows.addRow("Preset", self.preset_combo)
        self.rows.addRow("", self.preset_note)
        for name in ("latent_dim", "epochs", "batch_size", "learning_rate", "beta", "kl_warmup_steps"):
            self.rows.addRow(FIELD_LABELS[name], self.fields[name])
        self.rows.addRow(FIELD_LABELS["snapshot_every_later"], snapshot_row)
        self.rows.addRow(FIELD_LABELS["seed"], self.fields["seed"])
        self.box = QGroupBox("Training")
        self.box.setLayout(self.rows)

        # the defaults, before anything is told of changes (the dock is not built yet)
        self._fill_preset("tutorial")
        self.fields["seed"].set_value(0)
        self.fields["beta"].set_value(1.0)
        self.fields["kl_warmup_steps"].set_value(0)

        self.preset_combo.currentTextChanged.connect(self._on_preset_chosen)
        for name, field in self.fields.items():
            field.textChanged.connect(lambda _text: self.changed())  # a value, or a combination (Model group)
            field.textEdited.connect(lambda _text, name=name: self._on_field_edited(name))

    # -- values -------------------------------------------------------------------------------------------
    @property
    def dataset(self) -> str:
        return self.data.dataset

    @property
    def preset(self) -> str:
        return self.preset_combo.currentText()

    def errors(self) -> list[str]:
        """One line per setting that is not valid (or combination that has no meaning), first shown first."""
        problems = [field.error for field in self.fields.values() if field.error] + [self.data.error()]
        values = {name: field.value() for name, field in self.fields.items()} | self.data.config_values()
        return [problem for problem in problems + [self.variant.error(values)] if problem]

    def config(self) -> TrainConfig:
        """The config the fields describe; raises ConfigError when a value is invalid."""
        problems = self.errors()
        if problems:
            raise ConfigError(problems[0])
        values: dict[str, Any] = {name: field.value() for name, field in self.fields.items()}
        values.update(self.data.config_values(), **self.variant.config_values())
        if self.preset == "custom":
            base = PRESETS[self.base_preset]
            values.update(precision=base["precision"], steps_per_call=base["steps_per_call"])
        return TrainConfig.from_preset(self.preset, **values)

    def apply_preset(self, preset: str) -> None:
        """Fill the fields from a preset ('custom' keeps what is there)."""
        self._fill_preset(preset)
        self.changed()

    def show_config(self, config: TrainConfig) -> None:
        """Show a run's settings (the run being continued)."""
        self.filling = True
        try:
            self.data.show_config(config)
            self.variant.show_config(config)
            preset = config.preset if config.preset in PRESET_CHOICES else "custom"
            if preset in PRESETS and any(PRESETS[preset][n] != getattr(config, n) for n in TUNING_FIELDS):
                preset = "custom"
            self.preset_combo.setCurrentText(preset)
            for name, field in self.fields.items():
                field.set_value(getattr(config, name))
        finally:
            self.filling = False
        self.changed()

    def _fill_preset(self, preset: str) -> None:
        self.filling = True
        try:
            if self.preset_combo.currentText() != preset:
                self.preset_combo.setCurrentText(preset)
            if preset in PRESETS:
                self.base_preset = preset
                for name in ("latent_dim", "epochs", "batch_size", "learning_rate"):
                    self.fields[name].set_value(PRESETS[preset][name])
                self.fields["snapshot_every_later"].set_value(WINDOW_SNAPSHOT_EVERY[preset])
        finally:
            self.filling = False

    def _on_preset_chosen(self, preset: str) -> None:
        if not self.filling:
            self.apply_preset(preset)

    def _on_field_edited(self, name: str) -> None:
        if self.filling or self.preset == "custom" or self.busy():
            return
        if name in TUNING_FIELDS:
            self.filling = True
            self.preset_combo.setCurrentText("custom")
            self.filling = False
            self.changed()

    # -- display ------------------------------------------------------------------------------------------
    def refresh(self, idle: bool, running: bool) -> None:
        """Editable between runs; while one runs (`running`), only the LIVE_FIELDS. The preset's note."""
        self.data.refresh(idle)
        self.variant.refresh(idle)
        self.preset_combo.setEnabled(idle)
        for name, field in self.fields.items():
            field.setEnabled(idle or (running and name in LIVE_FIELDS))
        base = PRESETS.get(self.preset if self.preset in PRESETS else self.base_preset, {})
        precision = PRECISION_NOTES.get(base.get("precision", ""), "")
        if self.preset == "custom":
            self.preset_note.setText(f"your values; precision and steps per call as {self.base_preset} ({precision})")
        else:
            self.preset_note.setText(f"batch {base['batch_size']}, Adam {base['learning_rate']:g}, {precision}")

    # -- persistence ------------------------------------------------------------------------------------------
    def save_settings(self, settings: QSettings) -> None:
        self.data.save_settings(settings)
        self.variant.save_settings(settings)
        settings.setValue("run/preset", self.preset)
        settings.setValue("run/base_preset", self.base_preset)
        for name, field in self.fields.items():
            settings.setValue(f"run/{name}", field.text())

    def restore_settings(self, settings: QSettings) -> None:
        self.filling = True
        try:
            self.data.restore_settings(settings)
            self.variant.restore_settings(settings)
        finally:
            self.filling = False
        preset = str(settings.value("run/preset", "tutorial"))
        base = str(settings.value("run/base_preset", "tutorial"))
        self.apply_preset(base if base in PRESETS else "tutorial")
        self.apply_preset(preset if preset in PRESET_CHOICES else "tutorial")
        self.filling = True
        try:
            for name, field in self.fields.items():
                text = settings.value(f"run/{name}")
                if text not in (None, ""):
                    field.setText(str(text))
        finally:
            self.filling = False
        self.changed()
