"""Settings → Train on: one device, each number of GPUs and all of them, or the CPU split into logical
devices. TensorFlow can split the CPU only before it starts, so a split other than the one in force takes
effect after a restart: the menu and the status bar say so at once and offer *Restart now*, and runs go on
training on the devices in force until then (never a failed Start). The choice is remembered and handed to
the training controller for new and continued runs."""

from __future__ import annotations

import sys

from PySide6.QtCore import QProcess, QTimer
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu, QWidget

from vaestudio.gui.state.studio import READY, Studio


def restart_command() -> list[str]:
    """The command that starts this vaestudio again (a frozen build is its own executable)."""
    return [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "vaestudio"]


def start_detached(command: list[str]) -> bool:
    return QProcess.startDetached(command[0], command[1:])[0]

SETTING = "device/devices"


class DevicesMenu(QMenu):
    def __init__(self, studio: Studio, settings, training, parent: QWidget | None = None):
        super().__init__("&Train on", parent)
        self.studio, self.settings, self.training = studio, settings, training
        self.group = QActionGroup(self)
        self.in_force: int | None = None  # the logical CPU devices TensorFlow was started with (None: not yet)
        self.restart_action: QAction | None = None  # shown while a choice waits for a restart
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
        self.restart_action = None
        if self._needs_restart(wanted):
            self.addSeparator()
            self.restart_action = QAction(f"Restart now to train on {wanted} logical CPU devices", self)
            self.restart_action.triggered.connect(self.restart)
            self.addAction(self.restart_action)
        self.training.devices = self._usable(wanted)

    def _usable(self, value: str) -> str | None:
        """The devices a run can train on now for the choice `value`: those in force until a restart."""
        if self._needs_restart(value):
            value = str(self.in_force)
        return None if value == "1" else value

    @property
    def pending(self) -> str | None:
        """The remembered choice that waits for a restart, if any."""
        wanted = str(self.settings.value(SETTING, "1") or "1")
        return wanted if self._needs_restart(wanted) else None

    def choose(self, value: str) -> None:
        self.settings.setValue(SETTING, value)
        self.training.devices = self._usable(value)
        QTimer.singleShot(0, self.fill)  # not while the action clicked is being handled: fill() deletes it
        if self._needs_restart(value):
            now = f"{self.in_force} logical CPU devices" if self.in_force and self.in_force > 1 else "one device"
            self.studio.message.emit(f"Train on {value} logical CPU devices takes effect after a restart "
                                     f"(Settings → Train on → Restart now); until then runs train on {now}", 0)

    def restart(self) -> None:
        """Restart now: close the window (a run under way stops as Stop does), then start vaestudio again."""
        window = self.parentWidget()
        if window is not None:
            window.close()
            if window.isVisible():  # the close was refused
                return
        self.launch(restart_command())

    launch = staticmethod(start_detached)  # tests replace it
