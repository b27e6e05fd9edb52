"""Traversals: what each latent dimension does at the moment shown — one row per dimension, largest KL
on top, inactive dimensions greyed; each row sweeps its coordinate across ±3 test-set standard deviations
from the origin or from the inspected test image. The sheet follows the timeline (state: Diagnosis)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QSizePolicy, QVBoxLayout, QWidget

from vaestudio.gui.panels.image_strip import to_qimage
from vaestudio.gui.state.diagnosis import Diagnosis
from vaestudio.gui.state.studio import Studio
from vaestudio.gui.widgets import HeldLabel, SteadyLabel, subscribe


class TraversalsPanel(QWidget):
    """The traversal sheet of the moment shown, with a legend of its rows."""

    title = "Traversals"

    def __init__(self, studio: Studio, diagnosis: Diagnosis, parent: QWidget | None = None):
        super().__init__(parent)
        self.studio, self.diagnosis = studio, diagnosis
        self.sheet = None
        self.header = SteadyLabel()
        self.picture = HeldLabel()  # a new sheet re-lays out nothing (its size is the layout's)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)  # rows beside their legend
        self.picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.picture.setMinimumSize(120, 60)
        self.legend = HeldLabel()
        self.legend.setWordWrap(True)
        self.from_inspected = QCheckBox("Start from the inspected test image (else the origin)")
        self.from_inspected.setToolTip("Click a test image on the plane's overlay to inspect it")
        self.from_inspected.toggled.connect(self._choose_base)
        self.legend.setWordWrap(False)
        self.legend.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.legend.setStyleSheet("font-size: 8pt;")
        row = QHBoxLayout()  # each row's dimension and KL beside the sheet, top to bottom like its rows
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.picture, 1)
        row.addWidget(self.legend)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.header)
        layout.addLayout(row, 1)
        layout.addWidget(self.from_inspected)
        subscribe(self, [(diagnosis.traversals_changed, self._show),
                         (studio.view.events.inspected_test_image, self._choose_base)])
        self._show(diagnosis.traversals)


    def _choose_base(self, *_args) -> None:
        index = self.studio.view.inspected_test_image if self.from_inspected.isChecked() else None
        if index != self.diagnosis.traversal_image:
            self.diagnosis.set_traversal_image(index)

    def _show(self, sheet) -> None:
        from vaestudio.core.diagnosis.traversals import sheet_mosaic

        self.sheet = sheet
        if sheet is None:
            pictures = self.studio.explorer.pictures
            waiting = pictures.vae is not None
            self.header.setText("Computing the traversal sheet…" if waiting else
                                "No model at this moment: train or open a run with weights to see what each "
                                "latent dimension does.")
            self.picture.setPixmap(QPixmap())
            self.legend.setText("")
            return
        start = "the origin" if sheet.image_index is None else f"test image {sheet.image_index}"
        decoded = "" if sheet.decode_class is None else f", decoded for class {sheet.decode_class} (the plane's)"
        self.header.setText(f"<b>One row per latent dimension</b>, largest KL on top, swept ±3 test-set sd "
                            f"from {start}{decoded}; grey: inactive.")
        self._pixmap = QPixmap.fromImage(to_qimage(sheet_mosaic(sheet)))
        self._fit()
        self.legend.setText("<br>".join(sheet.label(row).replace(" (inactive)", " <i>(inactive)</i>")
                                        for row in range(len(sheet.order))))

    def _fit(self) -> None:
        if self.sheet is not None and not self._pixmap.isNull():
            size = self.picture.size()
            self.picture.setPixmap(self._pixmap.scaled(size, Qt.AspectRatioMode.KeepAspectRatio,
                                                       Qt.TransformationMode.FastTransformation))

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._fit()
