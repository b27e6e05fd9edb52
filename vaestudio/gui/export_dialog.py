"""The export dialogs: how to export the training animation (frame duration, scale, captions, grey levels, with
the size of the file those choices make, estimated by encoding a few of the run's frames), and File → Export…
(`SnapshotExportDialog`: a format of core/export/kinds.py, for the moment shown, and where to write it)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog,
                               QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox, QWidget)

LEVEL_CHOICES = ((256, "256 (every grey level)"), (32, "32"), (16, "16 (about half the size)"), (8, "8"), (4, "4"))


def estimate_gif_bytes(sample: Sequence[np.ndarray], frame_count: int, frame_seconds: float, scale: int,
                       captions: bool, levels: int) -> int | None:
    """Bytes of a GIF of `frame_count` frames like those in `sample`, by encoding the sample; None if it fails."""
    from vaestudio.core.store.images import save_gif

    if not sample or frame_count <= 0:
        return None
    try:
        with tempfile.TemporaryDirectory(prefix="vaestudio-estimate-") as tmp:
            path = Path(tmp) / "sample.gif"
            labels = ["epoch 10, batch 1000"] * len(sample) if captions else None
            save_gif(list(sample), path, frame_seconds=frame_seconds, captions=labels, scale=scale, levels=levels)
            per_frame = path.stat().st_size / len(sample)
    except Exception:  # noqa: BLE001 - an estimate only
        return None
    return int(per_frame * frame_count)


def format_bytes(count: int | None) -> str:
    if count is None:
        return "size unknown"
    if count >= 1 << 20:
        return f"{count / (1 << 20):.1f} MB"
    return f"{max(1, round(count / 1024))} KB"


class AnimationExportDialog(QDialog):
    """Frame duration, scale, captions and grey levels for the GIF of all snapshots."""

    def __init__(self, frame_count: int, sample: Sequence[np.ndarray] = (), frame_seconds: float = 0.2,
                 levels: int = 16, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Export training animation")
        self.setMinimumWidth(460)  # the title and the size line are never cut
        self.frame_count = frame_count
        self.sample = list(sample)
        self.seconds = QDoubleSpinBox()
        self.seconds.setRange(0.02, 10.0)
        self.seconds.setSingleStep(0.05)
        self.seconds.setDecimals(2)
        self.seconds.setSuffix(" s")
        self.seconds.setValue(frame_seconds)
        self.seconds.setToolTip("How long each snapshot shows (GIF timing has 0.01 s steps)")
        self.captions = QCheckBox("Caption each frame with its epoch and batch")
        self.captions.setChecked(True)
        self.scale = QSpinBox()
        self.scale.setRange(1, 4)
        self.scale.setValue(1)
        self.scale.setSuffix("×")
        self.levels = QComboBox()
        for value, text in LEVEL_CHOICES:
            self.levels.addItem(text, value)
        index = self.levels.findData(levels)
        self.levels.setCurrentIndex(index if index >= 0 else 0)
        self.levels.setToolTip("Fewer grey levels make a much smaller file; 16 still reads well")
        self.total = QLabel()
        self.total.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export…")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Frame duration", self.seconds)
        form.addRow("Scale", self.scale)
        form.addRow("Grey levels", self.levels)
        form.addRow(self.captions)
        form.addRow(self.total)
        form.addRow(buttons)
        for signal in (self.seconds.valueChanged, self.scale.valueChanged, self.levels.currentIndexChanged,
                       self.captions.toggled):
            signal.connect(self._update_total)
        self._update_total()

    def options(self) -> dict:
        return {"frame_seconds": float(self.seconds.value()), "scale": int(self.scale.value()),
                "captions": self.captions.isChecked(), "levels": int(self.levels.currentData())}

    def _update_total(self, *_args) -> None:
        o = self.options()
        size = estimate_gif_bytes(self.sample, self.frame_count, o["frame_seconds"], o["scale"], o["captions"],
                                  o["levels"])
        frames = f"{self.frame_count} frame{'s' if self.frame_count != 1 else ''}"
        self.total.setText(f"{frames}, {self.frame_count * o['frame_seconds']:.1f} s per loop, "
                           f"about {format_bytes(size)}")


class SnapshotExportDialog(QDialog):
    """File → Export…: the format (those whose converter is missing are listed, disabled, with the reason),
    the snapshot (the moment shown) and the output path (a folder for models and Projector files)."""

    def __init__(self, moment: str, folder: Path, stem: str, kind: str = "onnx", parent: QWidget | None = None):
        from vaestudio.core.export.kinds import EXPORT_KINDS, unavailable

        super().__init__(parent)
        self.setWindowTitle("Export")
        self.setMinimumWidth(560)
        self.folder, self.stem = Path(folder), stem
        self.kinds = QComboBox()
        for name, text in EXPORT_KINDS.items():
            self.kinds.addItem(text, name)
            reason = unavailable(name)
            if reason:
                index = self.kinds.count() - 1
                self.kinds.model().item(index).setEnabled(False)
                self.kinds.setItemData(index, reason, Qt.ItemDataRole.ToolTipRole)
        index = self.kinds.findData(kind)
        self.kinds.setCurrentIndex(index if index >= 0 else 0)
        self.csv = QCheckBox("as CSV (otherwise NumPy .npz)")
        self.path = QLineEdit()
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        where = QHBoxLayout()
        where.addWidget(self.path, 1)
        where.addWidget(browse)
        self.note = QLabel()
        self.note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Snapshot", QLabel(moment))
        form.addRow("Format", self.kinds)
        form.addRow("", self.csv)
        form.addRow("Write to", where)
        form.addRow(self.note)
        form.addRow(buttons)
        self.kinds.currentIndexChanged.connect(self._kind_changed)
        self.csv.toggled.connect(self._kind_changed)
        self._kind_changed()

    def values(self) -> dict:
        """{"kind": a name of EXPORT_KINDS, "path": where to write it}."""
        return {"kind": self.kinds.currentData(), "path": Path(self.path.text().strip()).expanduser()}

    def _default_path(self) -> Path:
        kind = self.kinds.currentData()
        if kind == "latents":
            return self.folder / f"{self.stem}-latents{'.csv' if self.csv.isChecked() else '.npz'}"
        return self.folder / f"{self.stem}-{kind}"

    def _kind_changed(self, *_args) -> None:
        kind = self.kinds.currentData()
        self.csv.setVisible(kind == "latents")
        self.path.setText(str(self._default_path()))
        self.note.setText("A file." if kind == "latents" else
                          "A new folder (or an earlier export of the same kind, which is replaced).")

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export to", self.path.text())
        if path:
            self.path.setText(path)
