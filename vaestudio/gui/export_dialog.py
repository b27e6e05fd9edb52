"""The small dialog asking how to export the training animation."""

from __future__ import annotations

from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLabel,
                               QSpinBox, QWidget)


class AnimationExportDialog(QDialog):
    """Frame duration, caption and scale for the GIF of all snapshots."""

    def __init__(self, frame_count: int, frame_seconds: float = 0.2, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Export training animation")
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
        self.total = QLabel()
        self.seconds.valueChanged.connect(lambda value: self.total.setText(f"{frame_count} frames, "
                                                                           f"{frame_count * value:.1f} s per loop"))
        self.seconds.valueChanged.emit(self.seconds.value())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Frame duration", self.seconds)
        form.addRow("Scale", self.scale)
        form.addRow(self.captions)
        form.addRow(self.total)
        form.addRow(buttons)
