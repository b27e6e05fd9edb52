"""Start the desktop app: show the window first, then load TensorFlow in the background."""

from __future__ import annotations

import os
import sys
import time
from typing import Sequence

_T0 = time.perf_counter()


def create_application(argv: Sequence[str] | None = None):
    """The QApplication (reused if one exists), named so QSettings and the desktop know it."""
    from PySide6.QtWidgets import QApplication

    from vaestudio.gui.settings import APPLICATION, organisation

    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv else [sys.argv[0] if sys.argv else "vaestudio"])
    app.setOrganizationName(organisation())
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("vaestudio")
    app.setDesktopFileName("vaestudio")  # matches resources/vaestudio.desktop, so docks group the window
    from vaestudio.resources import app_icon

    app.setWindowIcon(app_icon())
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=True, imageAxisOrder="row-major")
    return app


def run(argv: Sequence[str] | None = None) -> int:
    """Show the main window and run the event loop; returns the exit code."""
    app = create_application(argv)
    from vaestudio.gui.main_window import MainWindow

    window = MainWindow()
    window.show()
    if os.environ.get("VAESTUDIO_REPORT_STARTUP"):
        app.processEvents()
        print(f"window visible after {time.perf_counter() - _T0:.2f} s", file=sys.stderr)
    return int(app.exec())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(sys.argv))
