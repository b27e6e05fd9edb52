"""Peak memory of a window run: the tutorial preset on the full dataset, RSS after every epoch.

Slow (the 10 epochs take ~10 min on 2 cores). Run: QT_QPA_PLATFORM=offscreen python benchmarks/peak_memory.py [EPOCHS]
Runs and settings go to a temporary folder.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return -1


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def main(epochs: int = 10) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    tmp = Path(tempfile.mkdtemp(prefix="vaestudio-memory-"))
    os.environ["VAESTUDIO_RUNS_DIR"] = str(tmp / "runs")
    os.environ["VAESTUDIO_SETTINGS_ORG"] = "vaestudio-memory"
    from PySide6.QtCore import QSettings

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
    from vaestudio.gui.app import create_application
    from vaestudio.gui.main_window import MainWindow
    from vaestudio.gui.selftest import wait_until

    app = create_application()
    window = MainWindow()
    window.show()
    wait_until(lambda: window.device_ready or window.last_error, 300, "TensorFlow to load", poll_ms=20)
    print(f"window open, TensorFlow loaded: RSS {_mib(_status_kib('VmRSS'))}", flush=True)
    window.controls.apply_preset("tutorial")
    window.controls.fields["epochs"].setText(str(epochs))
    started = time.monotonic()
    window.controls.start_button.click()
    seen = 0
    rss_after = {}
    while window.is_training() or seen < epochs:
        wait_until(lambda: len(window.session.test_elbo.x) > seen or not window.is_training(), 3600,
                   "the next epoch", poll_ms=20)
        if len(window.session.test_elbo.x) > seen:
            seen = len(window.session.test_elbo.x)
            rss_after[seen] = _status_kib("VmRSS")
            print(f"after epoch {seen}: RSS {_mib(rss_after[seen])}, test ELBO {window.session.test_elbo.y[-1]:.2f}, "
                  f"{time.monotonic() - started:.0f} s", flush=True)
        elif not window.is_training():
            break
    if window.last_error:
        print(f"error: {window.last_error}")
    print(f"run folder: {window.run_folder} ({len(window.session.frame_labels)} snapshots)")
    window.close()
    app.processEvents()
    first, last = rss_after.get(1), rss_after.get(epochs)
    if first and last:
        print(f"RSS after epoch 1: {_mib(first)}; after epoch {epochs}: {_mib(last)} "
              f"(change {(last - first) / 1024:+.0f} MiB)")
    print(f"peak RSS (VmHWM): {_mib(_status_kib('VmHWM'))}; ru_maxrss: "
          f"{_mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)}")
    return 0 if seen == epochs and not window.last_error else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
