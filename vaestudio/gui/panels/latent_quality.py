"""Latent quality: how well the latent means of the moment shown separate the classes (kNN and linear
probe accuracy, against chance, plotted over the moments seen of the run), the moment's health (active
units, KL, I(x;z)), and — with the dataset's classifier — which classes prior samples look like and a
Fréchet distance on the classifier's features (not Inception FID). State: Diagnosis."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QScrollArea, QVBoxLayout, QWidget

from vaestudio.gui.panels.scan_note import ScanNote
from vaestudio.gui.state.diagnosis import Diagnosis
from vaestudio.gui.state.studio import Studio
from vaestudio.gui.widgets import SteadyLabel, cache_axes, subscribe

BAR = 24  # characters of the widest histogram bar
KNN_COLOR, PROBE_COLOR, CHANCE_COLOR = (31, 119, 180), (214, 39, 40), (150, 150, 150)
PLOT_HEIGHT = 80


class LatentQualityPanel(QWidget):
    """Figures of the moment shown, as text, and the accuracies over training as a small plot."""

    title = "Latent quality"

    def __init__(self, studio: Studio, diagnosis: Diagnosis, parent: QWidget | None = None):
        super().__init__(parent)
        self._shown: list | None = None  # (step, quality) identities of the curves drawn
        self.studio, self.diagnosis = studio, diagnosis
        self.figures = SteadyLabel()
        self.health = SteadyLabel()
        self.samples = SteadyLabel()
        self.over_training = SteadyLabel()
        self.plot = self._accuracy_plot()
        self.train_button = QPushButton("Train the dataset's classifier")
        self.train_button.setToolTip("Once per dataset (TensorFlow, about a minute); kept in the cache folder")
        self.train_button.clicked.connect(self._train)
        left = QVBoxLayout()  # the accuracies; beside them the health and the prior samples (a wide, short dock)
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(self.figures)
        self.scan_note = ScanNote(diagnosis, "quality")
        left.addWidget(self.scan_note)
        left.addWidget(self.plot, 1)
        left.addWidget(self.over_training)
        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 0, 0)
        for widget in (self.health, self.samples, self.train_button):
            column.addWidget(widget)
        column.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(left, 3)
        scroll = QScrollArea()  # ten classes' bars may not fit a short dock
        scroll.setWidget(right)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setMinimumWidth(160)
        layout.addWidget(scroll, 2)
        subscribe(self, [(diagnosis.quality_changed, self._show_quality), (diagnosis.health_changed, self._show_health),
                         (diagnosis.classifier_changed, self._show_classifier),
                         (diagnosis.failed, self._on_failed)])
        self._show_quality(diagnosis.quality)
        self._show_health(diagnosis.health)
        self._show_classifier(diagnosis.classifier)


    def _accuracy_plot(self) -> pg.PlotWidget:
        plot = pg.PlotWidget(background="w")
        plot.setMinimumHeight(PLOT_HEIGHT)
        item = plot.getPlotItem()
        item.setMenuEnabled(False)
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        item.showGrid(x=True, y=True, alpha=0.25)
        cache_axes(item)
        item.setLabel("bottom", "step")
        item.setLabel("left", "accuracy")
        item.setYRange(0, 1, padding=0.02)
        self.knn_curve = item.plot([], [], pen=pg.mkPen(KNN_COLOR, width=2), symbol="o", symbolSize=5,
                                   symbolBrush=KNN_COLOR)
        self.probe_curve = item.plot([], [], pen=pg.mkPen(PROBE_COLOR, width=2), symbol="s", symbolSize=5,
                                     symbolBrush=PROBE_COLOR)
        self.chance_line = pg.InfiniteLine(angle=0, movable=False,
                                           pen=pg.mkPen(CHANCE_COLOR, width=1, style=Qt.PenStyle.DashLine))
        item.addItem(self.chance_line, ignoreBounds=True)
        self.chance_line.hide()
        plot.setToolTip("kNN and linear-probe accuracy on the latent means, per moment seen of this run "
                        "(scrub the timeline to add moments); dashed: chance")
        plot.hide()
        return plot

    def _train(self) -> None:
        self.train_button.setEnabled(False)
        self.train_button.setText("Training the classifier…")
        self.diagnosis.train_classifier()

    def _on_failed(self, message: str) -> None:
        if not self.train_button.isEnabled():  # the training failed: say so and offer it again
            self._show_classifier(None)
            self.samples.setText(f"The classifier could not be trained: {message}")

    def _show_classifier(self, classifier) -> None:
        self.train_button.setVisible(classifier is None)
        self.train_button.setEnabled(True)
        self.train_button.setText("Train the dataset's classifier")

    def _show_health(self, health) -> None:
        if health is None:
            self.health.setText("")
            return
        mi = "" if health.mutual_information is None else f", I(x;z) {health.mutual_information:.2f} nats"
        self.health.setText(f"Active units {health.active_count} of {health.latent_dim}, "
                            f"KL {health.total_kl:.2f} nats{mi}")

    def _show_over_training(self) -> None:
        """kNN / probe accuracy of this run's moments seen so far, in training order."""
        history = self.studio.active
        seen = sorted(((key[2], quality) for key, quality in self.diagnosis.quality_by_moment.items()
                       if history is not None and key[0] == id(history)), key=lambda pair: pair[0])
        shown = [(step, id(quality)) for step, quality in seen]
        if shown == self._shown:
            return  # scrubbing between moments already measured: the curves stay as they are
        self._shown = shown
        steps = [step for step, _ in seen]
        self.knn_curve.setData(steps, [q.knn_accuracy for _, q in seen])
        self.probe_curve.setData(steps, [q.probe_accuracy for _, q in seen])
        if seen:
            self.chance_line.setValue(seen[-1][1].chance)
            self.chance_line.show()
        self.plot.setVisible(bool(seen))
        self.over_training.setText("" if len(seen) < 2 else "Over training (kNN / probe): " + " · ".join(
            f"step {step}: {q.knn_accuracy:.0%} / {q.probe_accuracy:.0%}" for step, q in seen[-8:]))

    def _show_quality(self, quality) -> None:
        from vaestudio.core.diagnosis.latent_quality import FRECHET_NAME

        if quality is None:
            self._show_over_training()
            has_data = self.diagnosis.datasets.get(id(self.studio.active)) is not None
            self.figures.setText("Measuring the latent space…" if has_data else
                                 "Latent quality needs the run's labelled training images (not loaded).")
            self.samples.setText("")
            return
        self._show_over_training()
        self.figures.setText(f"<b style='color:{_css(KNN_COLOR)}'>kNN accuracy</b> {quality.knn_accuracy:.1%} · "
                             f"<b style='color:{_css(PROBE_COLOR)}'>linear probe</b> {quality.probe_accuracy:.1%} "
                             f"(chance {quality.chance:.0%}, dashed), on the latent means")
        if quality.sample_classes is None:
            self.samples.setText("Prior samples are judged once the dataset's classifier exists.")
            return
        widest = max(quality.sample_classes.values()) or 1.0
        bars = "<br>".join(f"<tt>{'█' * round(BAR * share / widest):<{BAR}}</tt> {share:.0%} {name}"
                           for name, share in quality.sample_classes.items())
        self.samples.setText(f"<b>Prior samples look like</b> (classifier test accuracy "
                             f"{quality.classifier_accuracy:.1%}):<br>{bars}<br>{FRECHET_NAME}: "
                             f"<b>{quality.frechet_distance:.2f}</b>")


def _css(color: tuple[int, int, int]) -> str:
    return "#%02x%02x%02x" % color
