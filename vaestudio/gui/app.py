"""Start the desktop app: show the window first (bare, then its contents), then load TensorFlow in the
background; end quickly.

SIGTERM and SIGHUP (logout, shutdown, `kill`) and Ctrl+C in the terminal close the window as its close
button does: training stops after its current steps with its checkpoint saved. Once the window has closed
and every thread of ours has ended, the process leaves without running TensorFlow's and Python's exit
handlers (`os._exit`): with TensorFlow loaded they took about two seconds and save nothing of ours.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
import traceback
from typing import Sequence

_T0 = time.perf_counter()
CLOSE_SIGNALS = ("SIGTERM", "SIGHUP", "SIGINT")
# How long a Python thread may hold the GIL while another waits (Python's default: 5 ms). The UI thread's
# NumPy work (the cursor preview) is many short calls, each taking the GIL back: with training and the
# explorer's background work holding it, each waited up to 5 ms. 0.5 ms keeps the wait short (measured in
# benchmarks/window_responsiveness.py); VAESTUDIO_SWITCH_INTERVAL overrides it for measurements.
SWITCH_INTERVAL_SECONDS = 0.0005


def create_application(argv: Sequence[str] | None = None, bare: bool = False):
    """The QApplication (reused if one exists), named so QSettings and the desktop know it. bare: without
    importing pyqtgraph (MainWindow.build configures it)."""
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
    interval = os.environ.get("VAESTUDIO_SWITCH_INTERVAL")
    try:
        sys.setswitchinterval(float(interval) if interval else SWITCH_INTERVAL_SECONDS)
    except ValueError:
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    if not bare:
        from vaestudio.gui.docks import configure_pyqtgraph

        configure_pyqtgraph()
    return app


class SignalCloser:
    """Turns SIGTERM, SIGHUP and SIGINT into `window.close()` on the UI thread.

    Python runs signal handlers only when the interpreter gets control, which Qt's event loop does not
    give it; the handler's wake-up byte on a socket pair makes a QSocketNotifier fire at once instead.
    """

    def __init__(self, window):
        from PySide6.QtCore import QSocketNotifier

        self.window = window
        self.received: list[str] = []
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno())
        self._previous: dict[int, object] = {}
        for name in CLOSE_SIGNALS:
            number = getattr(signal, name, None)
            if number is not None:
                self._previous[number] = signal.signal(number, self._note)
        self._notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read)
        self._notifier.activated.connect(self._on_wakeup)

    def _note(self, number, _frame) -> None:
        self.received.append(signal.Signals(number).name)

    def _on_wakeup(self, *_args) -> None:
        try:
            while self._reader.recv(64):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        if self.received:
            print(f"vaestudio: {self.received[-1]}: closing the window (training stops after its current steps)",
                  file=sys.stderr, flush=True)
            self.window.close()

    def restore(self) -> None:
        self._notifier.setEnabled(False)
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        signal.set_wakeup_fd(self._previous_fd)
        self._reader.close()
        self._writer.close()


def run(argv: Sequence[str] | None = None) -> int:
    """Show the main window and run the event loop; ends the process with the exit code."""
    app = create_application(argv, bare=True)
    from PySide6.QtCore import QTimer

    from vaestudio.gui.main_window import MainWindow

    # The first frame is the bare window (its title, size and place): it shows before NumPy, pyqtgraph and the
    # panels are imported; its contents are built right after, in the same window.
    window = MainWindow(build=False)
    window.exit_fast = True  # closing does not wait for a TensorFlow import still under way
    window.prepare_training_ahead = True  # Start's model and steps compiled once TensorFlow is loaded (issue 22)
    closer = SignalCloser(window)
    window.show()
    app.processEvents()
    if os.environ.get("VAESTUDIO_REPORT_STARTUP"):
        print(f"window visible after {time.perf_counter() - _T0:.2f} s", file=sys.stderr, flush=True)
    # Built inside the event loop: a window closed before (the close button, a signal) ends the loop unbuilt.
    QTimer.singleShot(0, lambda: None if closer.received else fill_window(window))
    code = int(app.exec())
    closed = time.perf_counter()
    closer.restore()
    if os.environ.get("VAESTUDIO_REPORT_STARTUP"):
        print(f"event loop ended; leaving {time.perf_counter() - closed:.3f} s later", file=sys.stderr)
    leave(code)
    return code  # pragma: no cover - leave() does not return


def fill_window(window) -> None:
    """Build the contents of the bare window `run` showed, unless it has been closed already. A build that
    fails ends the app with its traceback (as a failing window did before it had a bare first frame)."""
    from PySide6.QtWidgets import QApplication

    if not window.isVisible():
        return
    try:
        window.build()
    except Exception:  # noqa: BLE001 - an empty window must not stay up
        traceback.print_exc()
        QApplication.exit(1)
        return
    from vaestudio.gui.collector import settle_memory

    settle_memory(window)
    if os.environ.get("VAESTUDIO_REPORT_STARTUP"):
        QApplication.processEvents()
        print(f"window complete after {time.perf_counter() - _T0:.2f} s", file=sys.stderr, flush=True)


def leave(code: int) -> None:
    """End the process now: every file of ours is closed and every thread of ours has ended."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(sys.argv))
