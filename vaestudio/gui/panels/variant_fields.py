"""The Run dock's "Model" group (issue 19): which variant of the model zoo a new run trains. The model
(the tutorial's VAE or class-conditional), the prior (standard normal or a VampPrior of K pseudo-inputs),
the objective (ELBO, IWAE with K samples, beta-TCVAE), the KL schedule (linear warm-up, constant when the
warm-up is 0 steps, or cyclical over N cycles) and free bits (nats per latent dimension, 0: off).

Numbers are checked where they are typed (core config limits); combinations that have no meaning (say a
VampPrior with beta-TCVAE) are refused with core config's one line naming the setting. A number only
applies (and is only checked) when its choice is made: K pseudo-inputs with the VampPrior, K samples with
IWAE, cycles with the cyclical schedule, free bits with the ELBO.
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QWidget

from vaestudio.core.architecture import MAX_PSEUDO_INPUTS
from vaestudio.core.config import DEFAULT_IWAE_SAMPLES, DEFAULT_PSEUDO_INPUTS, TrainConfig
from vaestudio.core.errors import ConfigError
from vaestudio.gui.number_field import NumberField

CHOICES: dict[str, tuple[tuple[str, str], ...]] = {
    "model": (("vae", "VAE (the tutorial's)"), ("conditional", "Class-conditional VAE")),
    "prior": (("standard", "Standard normal"), ("vamp", "VampPrior")),
    "objective": (("elbo", "ELBO"), ("iwae", "IWAE (k-sample bound)"), ("tcvae", "β-TCVAE")),
    "kl_schedule": (("linear", "Linear warm-up (constant at 0 steps)"), ("cyclical", "Cyclical")),
}
CHOICE_LABELS = {"model": "Model", "prior": "Prior", "objective": "Objective", "kl_schedule": "KL schedule"}
CHOICE_TIPS = {
    "model": "Class-conditional: the label enters the encoder and the decoder (Fashion-MNIST or MNIST); the "
             "plane then decodes for a class you choose",
    "prior": "VampPrior (Tomczak & Welling 2018): the prior is a mixture of the encoder's posteriors at K learned "
             "pseudo-inputs",
    "objective": "What training maximises; the ELBO plotted stays the true single-sample bound. IWAE (Burda et "
                 "al. 2016) trains on the K-sample bound; β-TCVAE (Chen et al. 2018) weights the KL's total "
                 "correlation by β",
    "kl_schedule": "How β_t rises: linearly over the KL warm-up steps, or in cycles (Fu et al. 2019)",
}
NUMBER_LABELS = {"pseudo_inputs": "Pseudo-inputs K", "samples": "IWAE samples K", "cycles": "Cycles",
                 "free_bits": "Free bits λ"}
# Which choice each number belongs to: (choice, value) it applies with; None: always.
APPLIES_WITH = {"pseudo_inputs": ("prior", "vamp"), "samples": ("objective", "iwae"),
                "cycles": ("kl_schedule", "cyclical"), "free_bits": ("objective", "elbo")}
DEFAULT_NUMBERS = {"pseudo_inputs": DEFAULT_PSEUDO_INPUTS, "samples": DEFAULT_IWAE_SAMPLES, "cycles": 4,
                   "free_bits": 0.0}


class VariantFields:
    """The Model group's choices and numbers; `changed()` is called when any of them changes."""

    def __init__(self, changed: Callable[[], None], filling: Callable[[], bool], parent: QWidget | None = None):
        self.changed, self.filling = changed, filling
        self.combos: dict[str, QComboBox] = {}
        for name, options in CHOICES.items():
            combo = QComboBox(parent)
            for value, text in options:
                combo.addItem(text, value)
            combo.setToolTip(CHOICE_TIPS[name])
            combo.currentIndexChanged.connect(lambda _index: self._on_changed())
            self.combos[name] = combo
        self.numbers: dict[str, NumberField] = {
            "pseudo_inputs": NumberField(NUMBER_LABELS["pseudo_inputs"], 1, MAX_PSEUDO_INPUTS, int,
                                         "K, the VampPrior's learned pseudo-inputs", "pseudo_inputs", parent),
            **{name: NumberField.for_setting(name, NUMBER_LABELS[name], parent)
               for name in ("samples", "cycles", "free_bits")}}
        self.numbers["samples"].setToolTip("K, the importance samples of the IWAE objective (at least 2)")
        self.numbers["cycles"].setToolTip("Cycles of the cyclical KL schedule over the whole run")
        self.numbers["free_bits"].setToolTip("Nats per latent dimension under which its KL is not pushed down "
                                             "(Kingma et al. 2016); 0: off")
        for name, field in self.numbers.items():
            field.set_value(DEFAULT_NUMBERS[name])
            field.textChanged.connect(lambda _text: self._on_changed())  # combinations are checked too
        self.box = QGroupBox("Model", parent)
        form = QFormLayout(self.box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for name, after in (("model", ()), ("prior", ("pseudo_inputs",)), ("objective", ("samples", "free_bits")),
                            ("kl_schedule", ("cycles",))):
            form.addRow(CHOICE_LABELS[name], self.combos[name])
            for number in after:
                form.addRow(NUMBER_LABELS[number], self.numbers[number])
        self.refresh(True)

    # -- values ------------------------------------------------------------------------------------------
    def choice(self, name: str) -> str:
        return str(self.combos[name].currentData())

    def applies(self, number: str) -> bool:
        name, value = APPLIES_WITH[number]
        return self.choice(name) == value

    def config_values(self) -> dict[str, Any]:
        """The TrainConfig settings chosen (numbers that do not apply take their neutral value)."""
        values: dict[str, Any] = {name: self.choice(name) for name in CHOICES}
        values["pseudo_inputs"] = self.numbers["pseudo_inputs"].value() if self.applies("pseudo_inputs") else 0
        values["samples"] = self.numbers["samples"].value() if self.applies("samples") else 1
        values["cycles"] = self.numbers["cycles"].value() if self.applies("cycles") else DEFAULT_NUMBERS["cycles"]
        values["free_bits"] = self.numbers["free_bits"].value() if self.applies("free_bits") else 0.0
        return values

    def error(self, others: dict[str, Any] | None = None) -> str | None:
        """One line naming the first number that is not valid, or the combination (with the run's `others`
        settings) that has no meaning; None when the choice can train."""
        for name, field in self.numbers.items():
            if field.error and self.applies(name):
                return field.error
        try:
            TrainConfig.from_preset("custom", **{**(others or {}), **self.config_values()})
        except ConfigError as exc:
            return str(exc)
        except TypeError:  # another field is not valid yet (it says so itself)
            return None
        return None

    def show_config(self, config) -> None:
        """Show a run's variant (the run being continued)."""
        for name, combo in self.combos.items():
            index = combo.findData(getattr(config, name, CHOICES[name][0][0]))
            combo.setCurrentIndex(max(index, 0))
        for name, field in self.numbers.items():
            value = getattr(config, name, DEFAULT_NUMBERS[name])
            field.set_value(value if self.applies(name) else DEFAULT_NUMBERS[name])
        self.refresh(True)

    def _on_changed(self) -> None:
        self.refresh(self.box.isEnabled())
        if not self.filling():
            self.changed()

    def refresh(self, idle: bool) -> None:
        """Editable only between runs; a number only while its choice is made."""
        self.box.setEnabled(idle)
        for name, field in self.numbers.items():
            field.setEnabled(self.applies(name))

    # -- persistence --------------------------------------------------------------------------------------
    def save_settings(self, settings: QSettings) -> None:
        for name in CHOICES:
            settings.setValue(f"run/{name}", self.choice(name))
        for name, field in self.numbers.items():
            settings.setValue(f"run/{name}", field.text())

    def restore_settings(self, settings: QSettings) -> None:
        for name, combo in self.combos.items():
            index = combo.findData(settings.value(f"run/{name}", ""))
            if index >= 0:
                combo.setCurrentIndex(index)
        for name, field in self.numbers.items():
            text = settings.value(f"run/{name}")
            if text not in (None, ""):
                field.setText(str(text))
        self.refresh(self.box.isEnabled())
