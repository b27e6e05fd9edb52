"""Issue 12 #3: the window's device setting (Settings → Train on). Without a GPU, the CPU is split into
logical devices, which TensorFlow allows only before it starts: so the window runs in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

SCRIPT = r"""
import json, sys
from PySide6.QtCore import QSettings
from vaestudio.gui.app import create_application
from vaestudio.core.data import synthetic_dataset

app = create_application()
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, sys.argv[1])
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
folder = win.studio.active.folder
print("RESULT", json.dumps(dict(checked=checked, error=win.last_error, status=win.status_text(),
                                device=win.studio.active.started_event.device if win.studio.active.started_event else None,
                                facts=json.loads((folder / "run.json").read_text()))))
win.close()
"""


def test_the_window_trains_on_two_logical_cpu_devices_when_set_to(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", VAESTUDIO_RUNS_DIR=str(tmp_path / "runs"),
               VAESTUDIO_SETTINGS_ORG="vaestudio-tests", CUDA_VISIBLE_DEVICES="-1")
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "settings")], capture_output=True,
                          text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    line = [row for row in done.stdout.splitlines() if row.startswith("RESULT ")]
    assert line, (done.stdout[-2000:], done.stderr[-2000:])
    result = json.loads(line[0][len("RESULT "):])
    assert result["error"] is None, result
    assert result["checked"] and result["checked"][0].startswith("2 × CPU (logical)"), result
    assert result["facts"]["replicas"] == 2 and result["facts"]["device"] == "2 × CPU (logical)", result
    assert result["device"] == "2 × CPU (logical)", result
