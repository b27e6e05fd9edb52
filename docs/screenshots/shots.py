"""What the window screenshot scripts share: a scratch settings/runs folder, the application, the main
window, and waiting for it under a real X server (no pytest-qt here: these run as plain scripts)."""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Callable


def scratch_window():
    """The application and a MainWindow whose settings and runs live in a fresh temporary folder.

    Returns (window, scratch folder). Must be called before anything imports the window's modules.
    """
    scratch = Path(tempfile.mkdtemp(prefix="vaestudio-shots-"))
    os.environ["VAESTUDIO_SETTINGS_ORG"] = "vaestudio-docshots"
    os.environ["VAESTUDIO_RUNS_DIR"] = str(scratch / "runs")
    os.environ.pop("QT_QPA_PLATFORM", None)  # a real X server: what a user sees
    from PySide6.QtCore import QSettings

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(scratch / "settings"))
    from vaestudio.gui.app import create_application

    create_application()
    from vaestudio.gui.main_window import MainWindow

    window = MainWindow()
    window.exit_fast = True
    return window, scratch


def pump(seconds: float) -> None:
    """Let the window run for a while."""
    from PySide6.QtWidgets import QApplication

    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        QApplication.processEvents()
        time.sleep(0.02)


def wait(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Run the window until condition() holds; says TIMEOUT and what it waited for after timeout seconds."""
    from PySide6.QtWidgets import QApplication

    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        QApplication.processEvents()
        try:
            if condition():
                return
        except Exception:  # noqa: BLE001 - a picture half-computed is "not yet"
            pass
        time.sleep(0.02)
    print("TIMEOUT", what, flush=True)


def open_run(window, folder: Path, timeout: float = 300):
    """Open a run folder through File → Open run… and wait for its replay; returns its history."""
    window.commands.answers["runs"] = folder
    window.open_run_action.trigger()
    history = window.studio.active
    wait(lambda: not window.opening.is_replaying(history), timeout, f"the replay of {folder}")
    return history


def leave_after(window) -> None:
    """Close the window and exit the process."""
    from vaestudio.gui.app import leave

    window.close()
    pump(0.5)
    leave(0)
