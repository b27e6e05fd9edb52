"""Issue 20: File → Export… writes the moment shown in the chosen format, in the background, and says so."""

from __future__ import annotations

import numpy as np
import pytest

from vaestudio.core.numpy_vae import NumpyVAE


def test_file_export_writes_the_moment_shown_and_reports_a_bad_path(qtbot, window, recorded_run, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from vaestudio.gui.export_dialog import SnapshotExportDialog

    folder, _config = recorded_run
    window.commands.answers["runs"] = folder
    window.open_run_action.trigger()
    history = window.studio.active
    qtbot.waitUntil(lambda: not window.opening.is_replaying(history), timeout=30_000)
    window.timeline.slider.setValue(1)  # an earlier moment than the last
    info = history.current
    assert info.index == 1 and window.export_model_action.isEnabled()

    # The dialog: the moment shown, every format, a default path per format.
    dialog = SnapshotExportDialog(f"{history.title()}: {info.label}", tmp_path, "run-a-step2", "onnx", window)
    assert dialog.kinds.count() == 7 and dialog.values()["path"] == tmp_path / "run-a-step2-onnx"
    dialog.kinds.setCurrentIndex(dialog.kinds.findData("latents"))
    dialog.csv.setChecked(True)
    assert dialog.values() == {"kind": "latents", "path": tmp_path / "run-a-step2-latents.csv"}
    dialog.deleteLater()

    out = tmp_path / "onnx"
    window.commands.answers["export"] = {"kind": "onnx", "path": out}
    window.export_model_action.trigger()
    assert "Exporting" in window.status_text()  # the work runs as a task: the window is free meanwhile
    qtbot.waitUntil(lambda: "Exported" in window.status_text(), timeout=120_000)
    assert str(out) in window.status_text() and window.last_error is None
    z = np.random.default_rng(0).normal(size=(9, 2)).astype(np.float32)
    (pixels,) = ort.InferenceSession(str(out / "decoder.onnx")).run(["pixels"], {"z": z})
    assert np.abs(pixels - NumpyVAE(history.weights_at(info)).decode(z)).max() < 1e-4

    window.commands.answers["export"] = {"kind": "projector", "path": "/dev/zero"}
    window.export_model_action.trigger()
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=30_000)
    assert window.last_error.startswith("/dev/zero") and "device" in window.last_error
