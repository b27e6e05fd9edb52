"""Worst images: the test images the model of the moment shown explains least (lowest ELBO), each above
its reconstruction and a heat map of each pixel's −log-likelihood (square-root scale, white: worst).
Clicking one inspects it on the plane, shows its posterior, its ELBO beside its IWAE bound (k importance
samples, computed off the UI thread) and its nearest training images in latent space (state: Diagnosis)."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from vaestudio.gui.panels.image_strip import ImageStrip, Tile
from vaestudio.gui.panels.scan_note import ScanNote
from vaestudio.gui.state.diagnosis import IWAE_SAMPLES, Diagnosis
from vaestudio.gui.state.studio import Studio
from vaestudio.gui.widgets import SteadyLabel, subscribe


SHOWN_DIMS = 4  # posterior coordinates written out (all of them in the tooltip)


class WorstImagesPanel(QWidget):
    """The N worst-modelled test images, their reconstructions, heat maps and nearest training images."""

    title = "Worst images"

    def __init__(self, studio: Studio, diagnosis: Diagnosis, parent: QWidget | None = None):
        super().__init__(parent)
        self.studio, self.diagnosis = studio, diagnosis
        self.result = None
        self.chosen: int | None = None  # position in the gallery
        self.header = SteadyLabel()
        self.strip = ImageStrip(rows=3, max_cell=96)
        self.strip.clicked.connect(self.choose)
        self.detail = SteadyLabel()
        self.bounds = SteadyLabel()
        self.neighbours = ImageStrip(rows=1, max_cell=64)
        self.neighbours.set_placeholder("Click an image above to see its nearest training images in latent space.")
        chosen = QVBoxLayout()  # the clicked image, beside the gallery (the bottom dock is wide and short)
        chosen.setContentsMargins(0, 0, 0, 0)
        chosen.addWidget(self.detail)
        chosen.addWidget(self.bounds)
        chosen.addWidget(self.neighbours, 1)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.strip, 3)
        row.addLayout(chosen, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.header)
        self.scan_note = ScanNote(diagnosis, "worst")
        layout.addWidget(self.scan_note)
        layout.addLayout(row, 1)
        subscribe(self, [(diagnosis.worst_changed, self._show), (diagnosis.worst_progress, self._on_progress),
                         (diagnosis.bounds_changed, self._show_bounds)])
        self._show(diagnosis.worst)


    def _on_progress(self, done: int, total: int) -> None:
        if self.result is None:
            self.header.setText(f"Scoring every test image… {done} of {total}")

    def _show(self, result) -> None:
        from vaestudio.core.diagnosis.worst import heat_uint8

        self.result, self.chosen = result, None
        self.neighbours.set_tiles([])
        self.detail.setText("")
        self.bounds.setText("")
        if result is None:
            waiting = self.studio.explorer.pictures.vae is not None
            self.header.setText(("Scoring every test image… (while the run trains, at most a twentieth of the "
                                 "time goes to it)" if self.diagnosis.paced() else "Scoring every test image…")
                                if waiting else "No model at this moment: nothing to score.")
            self.strip.set_tiles([])
            return
        top = max((float(w.heat.max()) for w in result.items), default=0.0)
        tiles = [Tile((w.image, w.reconstruction, heat_uint8(np.sqrt(w.heat), np.sqrt(top))),
                      (f"#{w.index}", _nats(w.elbo, 0), ""),
                      f"Test image {w.index}: ELBO {w.elbo:.1f} nats = log-likelihood {w.log_likelihood:.1f} "
                      f"− KL {w.kl:.1f}. Click to inspect it.") for w in result.items]
        self.strip.set_tiles(tiles)
        scored = len(result.scores.elbo)
        self.header.setText(f"<b>The {len(tiles)} worst of {scored} test images</b> by ELBO (mean "
                            f"{_nats(result.scores.elbo.mean())} nats) · "
                            f"rows: image, reconstruction, −log p per pixel (√ scale, white {top:.1f} nats)")

    def choose(self, position: int) -> None:
        """Inspect the gallery's image at `position`: on the plane, and its nearest training images."""
        if self.result is None or not 0 <= position < len(self.result.items):
            return
        item = self.result.items[position]
        self.chosen = position
        self.strip.set_selected(position)
        self.studio.view.inspect_test_image(item.index)
        self.detail.setText(self._posterior_text(item))
        self.bounds.setText(f"Estimating its IWAE bound (k = {IWAE_SAMPLES} importance samples)…")
        self.diagnosis.bound_image(item.index)
        dataset = self.diagnosis.datasets.get(id(self.studio.active))
        if dataset is None or not item.nearest_train or self.result.train_indices is None:
            self.neighbours.set_tiles([])
            self.neighbours.set_placeholder("The run's training images are not loaded: no nearest images.")
            return
        indices = [int(self.result.train_indices[j]) for j in item.nearest_train]
        names = dataset.class_names
        self.neighbours.set_tiles([Tile((dataset.train_images[i],),
                                        (names[int(dataset.train_labels[i])] if names else str(i),),
                                        f"Training image {i}") for i in indices])

    def _posterior_text(self, item) -> str:
        """The clicked image's ELBO terms and posterior q(z|x) = N(mean, sd²) per dimension."""
        pictures = self.studio.explorer.pictures
        logvars = pictures.logvars if pictures.logvars is not None and item.index < len(pictures.logvars) else None
        if logvars is None:
            posterior = "posterior mean (" + ", ".join(_nats(v, 2) for v in item.mean) + ")"
        else:
            sds = np.exp(0.5 * np.asarray(logvars[item.index], np.float64))
            pairs = [f"{_nats(m, 2)}±{sd:.2f}" for m, sd in zip(item.mean, sds)]
            posterior = "q(z|x): " + ", ".join(pairs[:SHOWN_DIMS]) + (", …" if len(pairs) > SHOWN_DIMS else "")
            self.detail.setToolTip("posterior z (mean ± sd) = " + ", ".join(pairs))
        return (f"<b>Test image {item.index}</b>: ELBO {_nats(item.elbo)} = log-likelihood "
                f"{_nats(item.log_likelihood)} − KL {_nats(item.kl)}; {posterior}")

    def _show_bounds(self, bounds) -> None:
        if bounds is None or self.result is None or self.chosen is None:
            return
        if bounds.index != self.result.items[self.chosen].index:
            return
        self.bounds.setText(f"ELBO {_nats(bounds.elbo)} ≤ IWAE bound {_nats(bounds.iwae)} nats "
                            f"(k = {bounds.samples}); gap {_nats(bounds.iwae - bounds.elbo)}: how far q(z|x) is "
                            "from the true posterior")


def _nats(value: float, decimals: int = 1) -> str:
    """A number as shown: a true minus sign."""
    return f"{value:.{decimals}f}".replace("-", "−")
