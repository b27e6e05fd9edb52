"""Where the window keeps its remembered settings (QSettings, INI format)."""

from __future__ import annotations

import os

from PySide6.QtCore import QSettings

APPLICATION = "vaestudio"


def organisation() -> str:
    """`VAESTUDIO_SETTINGS_ORG` if set (tests use their own), else "vaestudio"."""
    return os.environ.get("VAESTUDIO_SETTINGS_ORG") or "vaestudio"


def open_settings() -> QSettings:
    """The user's settings store for this organisation."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, organisation(), APPLICATION)


def read_bool(settings: QSettings, key: str, default: bool = False) -> bool:
    """QSettings returns "true"/"false" strings from INI files; normalise to bool."""
    value = settings.value(key, default)
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)
