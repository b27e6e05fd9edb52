"""What Help → Keyboard shortcuts, Help → About and Settings → Devices… say."""

from __future__ import annotations

import platform

from vaestudio.gui.state.studio import FAILED, READY, Studio

SHORTCUTS = (
    ("Ctrl+Return", "Start training (or continue the stopped run)"),
    ("Space", "Pause / resume training"),
    ("Ctrl+.", "Stop training (the run is kept)"),
    ("Alt+Left / Alt+Right", "Previous / next snapshot (Left / Right when the timeline has focus)"),
    ("Alt+End", "Follow training again (Live)"),
    ("Ctrl+O", "Open a run folder (read-only)"),
    ("Ctrl+Shift+O", "Open a saved model"),
    ("Ctrl+S", "Save the model of the moment shown"),
    ("Ctrl+I", "Encode an image of your own"),
    ("Ctrl+E", "Export the training animation"),
    ("Ctrl+R", "Record the morph under the cursor"),
    ("Ctrl+L", "Show / hide the test images on the plane"),
    ("Ctrl+Q", "Quit"),
)


def shortcuts_text() -> str:
    return "\n".join(f"{keys}: {what}" for keys, what in SHORTCUTS)


def shortcuts_html() -> str:
    rows = "".join(f"<tr><td><b>{keys}</b></td><td>&nbsp;&nbsp;{what}</td></tr>" for keys, what in SHORTCUTS)
    return f"<table>{rows}</table>"


def devices_text(studio: Studio, cpu_only: bool, devices: str | None) -> str:
    from vaestudio.core.machine import cpu_summary

    if studio.tf_status == READY:
        device = f"Training runs on {studio.device} (TensorFlow {studio.tf_version})."
    elif studio.tf_status == FAILED:
        device = f"TensorFlow could not be loaded: {studio.tf_error}"
    else:
        device = "TensorFlow is still loading."
    note = " 'Use CPU only' is on." if cpu_only else ""
    return f"{device}{note}\n\nTrain on: {devices or '1'} (Settings → Train on).\n\nCPU: {cpu_summary()}"


def about_html(studio: Studio) -> str:
    import numpy as np
    import PySide6
    import pyqtgraph
    from PySide6.QtCore import qVersion

    import vaestudio

    rows = [("vaestudio", vaestudio.__version__), ("Python", platform.python_version()),
            ("Qt", qVersion()), ("PySide6", PySide6.__version__), ("pyqtgraph", pyqtgraph.__version__),
            ("NumPy", np.__version__), ("TensorFlow", studio.tf_version or "loading…")]
    table = "".join(f"<tr><td>{name}</td><td>&nbsp;{version}</td></tr>" for name, version in rows)
    device = f"<p>Device: {studio.device}</p>" if studio.device else ""
    return ("<h3>vaestudio</h3><p>Train the convolutional VAE of the Keras/TensorFlow tutorial, "
            f"watch it learn, and explore what it learned.</p><table>{table}</table>{device}")
