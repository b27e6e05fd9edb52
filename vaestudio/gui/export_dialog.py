"""The dialog asking how to export the training animation: frame duration, scale, captions, grey levels,
with the size of the file those choices make (estimated by encoding a few of the run's frames)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLabel,
                               QSpinBox, QWidget)

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
