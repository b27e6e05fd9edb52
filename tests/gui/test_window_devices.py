"""Issue 12 #3: the window's device setting (Settings → Train on). Without a GPU, the CPU is split into
logical devices, which TensorFlow allows only before it starts: so the window runs in a fresh process,
this file run as a script (`python tests/gui/test_window_devices.py FOLDER`). tests/conftest.py starts it
when the tests are collected (fixture `two_device_window`), so it runs beside the other tests."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def test_the_window_trains_on_two_logical_cpu_devices_when_set_to(two_device_window):
    code, output, _ = two_device_window
    assert code == 0, output[-3000:]
    line = [row for row in output.splitlines() if row.startswith("RESULT ")]
    assert line, output[-4000:]
    result = json.loads(line[0][len("RESULT "):])
    assert result["error"] is None, result
    assert result["checked"] and result["checked"][0].startswith("2 × CPU (logical)"), result
    assert result["facts"]["replicas"] == 2 and result["facts"]["device"] == "2 × CPU (logical)", result
    assert result["device"] == "2 × CPU (logical)", result


def _window_on_two_devices(folder: Path) -> None:
    """Settings say 2 devices (chosen in an earlier session); the window trains 1 epoch and prints RESULT."""
    os.environ["VAESTUDIO_RUNS_DIR"] = str(folder / "runs")
    from PySide6.QtCore import QSettings

    from vaestudio.core.data import synthetic_dataset
    from vaestudio.gui.app import create_application

    app = create_application()
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder / "settings"))
    from vaestudio.gui.settings import open_settings

    open_settings().setValue("device/devices", "2")  # chosen in an earlier session
    from vaestudio.gui.main_window import MainWindow

    data = synthetic_dataset(n_train=128, n_test=32, seed=0)
    win = MainWindow()
    win.dataset_provider = lambda config: data
    win.config_overrides = dict(grid_size=6, metrics_every=1, snapshot_every=2)
    win.show()
    win.load_tensorflow()
    while win.studio.tf_status not in ("ready", "failed"):
        app.processEvents()
    checked = [a.text() for a in win.devices_group.actions() if a.isChecked()]
    for name, value in dict(epochs=1, batch_size=32, learning_rate=0.003).items():
        win.controls.fields[name].setText(str(value))
    win.controls.start_button.click()
    while win.training.busy or win.studio.is_training:
        app.processEvents()
    run_folder = win.studio.active.folder
    started = win.studio.active.started_event
    print("RESULT", json.dumps(dict(checked=checked, error=win.last_error, status=win.status_text(),
                                    device=started.device if started else None,
                                    facts=json.loads((run_folder / "run.json").read_text()))), flush=True)
    win.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} FOLDER")
    _window_on_two_devices(Path(sys.argv[1]))
