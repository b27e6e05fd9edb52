"""Settings → Train on: one device, each number of GPUs and all of them, or the CPU split into logical
devices. TensorFlow can split the CPU only before it starts, so that choice applies on restart; the
choice is remembered and handed to the training controller for new and continued runs."""

from __future__ import annotations

from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu, QWidget

from vaestudio.gui.state.studio import READY, Studio

SETTING = "device/devices"


class DevicesMenu(QMenu):
    def __init__(self, studio: Studio, settings, training, parent: QWidget | None = None):
        super().__init__("&Train on", parent)
        self.studio, self.settings, self.training = studio, settings, training
        self.group = QActionGroup(self)
        self.in_force: int | None = None  # the logical CPU devices TensorFlow was started with (None: not yet)
        studio.device_changed.connect(self._on_device_changed)  # a bound method: psygnal holds it weakly
        self.fill()

    def _on_device_changed(self, _status: str) -> None:
        self.fill()

    @property
    def split_cpu(self) -> int:
        """The logical CPU devices TensorFlow is (or will be) started with: the setting, if a number."""
        value = str(self.settings.value(SETTING, "1") or "1")
        return int(value) if value.isdigit() and int(value) > 1 else 1

    def split_for_start(self) -> int:
        """What TensorFlow's loader splits the CPU into (remembered: other splits then need a restart)."""
        self.in_force = self.split_cpu
        return self.in_force

    def _needs_restart(self, value: str) -> bool:
        info = self.studio.device if self.studio.tf_status == READY else None
        return (info is not None and not info.is_gpu and value != "1"
                and self.in_force is not None and value != str(self.in_force))

    def fill(self) -> None:
        from vaestudio.core.tf.device import device_choices

        wanted = str(self.settings.value(SETTING, "1") or "1")
        info = self.studio.device if self.studio.tf_status == READY else None
        choices = device_choices(info)
        if info is None and wanted != "1":
            choices.append((wanted, f"{wanted} devices"))
        self.clear()
        for action in self.group.actions():
            self.group.removeAction(action)
        if wanted not in [value for value, _ in choices]:
            wanted = "1"
        for value, label in choices:
            action = QAction(label + (" (applies on restart)" if self._needs_restart(value) else ""), self)
            action.setCheckable(True)
            action.setChecked(value == wanted)
            action.setData(value)
            action.triggered.connect(lambda _checked=False, v=value: self.choose(v))
            self.group.addAction(action)
            self.addAction(action)
        self.training.devices = None if wanted == "1" else wanted

    def choose(self, value: str) -> None:
        self.settings.setValue(SETTING, value)
        self.training.devices = None if value == "1" else value
        if self._needs_restart(value):
            self.studio.message.emit(f"Train on {value} logical CPU devices: applies when vaestudio next starts", 0)
