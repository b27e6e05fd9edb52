"""The window's first frame: `vaestudio` shows a bare window first and fills the same window right after."""

from __future__ import annotations


def test_the_bare_window_is_filled_in_place(qtbot):
    from vaestudio.gui.app import create_application
    from vaestudio.gui.main_window import MainWindow

    create_application(bare=True)
    window = MainWindow(build=False)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.windowTitle() == "vaestudio" and not hasattr(window, "panels") and not window.built
    size = window.size()
    window.build()
    assert window.built and window.isVisible() and window.size() == size
    assert {"latent_plane", "run_controls", "elbo", "timeline"} <= set(window.panels)
    assert [action.text() for action in window.menuBar().actions()] == ["&File", "&Run", "&View", "Se&ttings",
                                                                          "&Help"]
    assert window.windowTitle().startswith("vaestudio")
    window.build()  # a second call changes nothing
    window.close()


def test_closing_the_bare_window_before_it_is_filled(qtbot):
    from vaestudio.gui.app import create_application
    from vaestudio.gui.main_window import MainWindow

    create_application(bare=True)
    window = MainWindow(build=False)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.close() and not window.isVisible() and not window.built


FILLED_TAB_BARS = r"""
import json, sys, time
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QTabBar
from vaestudio.gui.app import create_application

app = create_application(bare=True)
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, sys.argv[1])
from vaestudio.gui.main_window import MainWindow

window = MainWindow(build=False)
window.show()
app.processEvents()
window.build()
end = time.perf_counter() + 1.0
while time.perf_counter() < end:
    app.processEvents()
    time.sleep(0.02)
docks = {dock.windowTitle(): dock for dock in window.docks.values()}
bars = [([bar.tabText(i) for i in range(bar.count())],
         abs(docks[bar.tabText(bar.currentIndex())].geometry().bottom() + 1 - bar.geometry().top()) <= 3)
        for bar in window.findChildren(QTabBar) if bar.parent() is window and bar.isVisible()]
print("RESULT", json.dumps(bars))
window.close()
"""


def test_the_filled_window_shows_one_tab_bar_under_each_group_of_docks(tmp_path):
    """Docks added to the already shown window are laid out as in a window built whole: no stray tab bar."""
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", VAESTUDIO_SETTINGS_ORG="vaestudio-tests")
    done = subprocess.run([sys.executable, "-c", FILLED_TAB_BARS, str(tmp_path / "settings")], capture_output=True,
                          text=True, env=env, timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stderr[-3000:]
    bars = json.loads(lines[0][len("RESULT "):])
    assert all(under for _tabs, under in bars), bars
    assert sorted(tuple(tabs) for tabs, _ in bars) == sorted([
        ("Run", "Runs"), ("Your images", "Draw", "Dimensions", "Traversals"),
        ("ELBO", "Reconstructions", "Interpolation", "Quality", "Worst images", "Latent quality", "Compare")]), bars


def test_a_signal_while_the_window_is_bare_ends_the_app(tmp_path):
    """SIGTERM as soon as the bare window shows: the app still closes and ends (it once waited forever in an
    event loop without a window)."""
    import os
    import signal
    import subprocess
    import sys

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", DISPLAY=os.environ.get("DISPLAY") or ":offscreen",
               VAESTUDIO_REPORT_STARTUP="1", VAESTUDIO_SETTINGS_ORG="vaestudio-tests", HOME=str(tmp_path),
               XDG_CONFIG_HOME=str(tmp_path))
    process = subprocess.Popen([sys.executable, "-m", "vaestudio"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stderr:
            if "window visible" in line:
                break
        process.send_signal(signal.SIGTERM)
        _out, rest = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, rest
    assert "event loop ended" in rest
