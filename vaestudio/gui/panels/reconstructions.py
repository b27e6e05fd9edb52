"""Reconstructions: fixed test images (one per class, plus any the user adds) above what the model makes
of them at the moment shown, each with its ELBO.

The strip follows the timeline: when the moment changes the old reconstructions stay, greyed, until the
new ones arrive. Clicking an image offers it as an interpolation endpoint (A, then B); right-clicking
also puts the cursor on its encoding or removes an added image.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QPushButton, QVBoxLayout, QWidget

from vaestudio.gui.commands import Commands
from vaestudio.gui.panels.image_strip import ImageStrip, Tile
from vaestudio.gui.state.latent_view import Endpoint
from vaestudio.gui.state.studio import Studio
from vaestudio.gui.widgets import RefreshWhenShown, SteadyLabel, subscribe

HINT = "Click an image to make it an interpolation endpoint (A, then B); right-click for more."


class ReconstructionsPanel(QWidget):
    """Test images above their reconstructions at the current moment, with each image's ELBO."""

    title = "Reconstructions"

    def __init__(self, studio: Studio, commands: Commands, parent: QWidget | None = None):
        super().__init__(parent)
        self.studio, self.commands, self.view = studio, commands, studio.view
        self.indices: tuple[int, ...] = ()  # the test images shown, left to right
        self.elbo: dict[int, float] = {}  # test image -> its ELBO at the moment shown
        self._last_result: tuple | None = None  # the newest reconstructions and their positions

        self.header = SteadyLabel()
        self.strip = ImageStrip(rows=2, max_cell=112, whole_captions=(0, 1))  # class names and ELBOs never cut
        self.strip.clicked.connect(self._on_clicked)
        self.strip.menu_requested.connect(self._on_menu)
        self.add_button = QPushButton("Add inspected image")
        self.add_button.setToolTip("Add the test image last clicked on the plane's test-set overlay to this strip")
        self.add_button.clicked.connect(self.add_inspected)
        hint = QLabel(HINT)
        hint.setWordWrap(True)
        hint.setEnabled(False)  # drawn in the muted colour
        bottom = QHBoxLayout()
        bottom.addWidget(hint, 1)
        bottom.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.header)
        layout.addWidget(self.strip, 1)
        layout.addLayout(bottom)

        explorer, events = studio.explorer, self.view.events
        self.refresher = RefreshWhenShown(self._refresh)
        subscribe(self, [(signal, self.refresher.request) for signal in (
            explorer.moment_loaded, explorer.reconstructions_changed, studio.probe_changed, studio.active_changed,
            events.reconstruction_extra, events.endpoint_a, events.endpoint_b, events.inspected_test_image)])
        self._refresh()

    # -- what is shown ------------------------------------------------------------------------------------
    def _refresh(self, *_args) -> None:
        pictures = self.studio.explorer.pictures
        probe = self.studio.explorer.probe
        self._update_add_button(probe)
        if self.studio.active is None:
            self._show_nothing("No run yet: train one or open a run folder (File → Open run…) to see how the "
                               "model reconstructs test images.")
            return
        if probe is None:
            self._show_nothing("The test images of this run are not loaded, so there is nothing to reconstruct.")
            return
        if pictures.info is None:
            self._show_nothing("Waiting for the run's first snapshot…")
            return
        extra = tuple(i for i in self.view.reconstruction_extra if 0 <= i < len(probe.images))
        fixed = probe.first_of_each_class()
        indices = fixed + tuple(i for i in extra if i not in fixed)
        result = pictures.reconstructions
        position = {index: n for n, index in enumerate(pictures.reconstruction_indices)} if result is not None else {}
        stale = result is None and pictures.vae is not None
        if stale and self.indices and self._last_result is not None:
            # A new moment is being computed: keep the previous reconstructions, greyed, until it arrives.
            result, position = self._last_result
        else:
            self._last_result = (result, position) if result is not None else None
        self.indices = indices
        self.elbo = {i: float(result.elbo[position[i]]) for i in indices if result is not None and i in position}
        ends = {"A": self.view.endpoint_a, "B": self.view.endpoint_b}
        tiles = []
        for index in indices:
            name = probe.class_name(index)
            recon = result.images[position[index]] if result is not None and index in position else None
            elbo = self.elbo.get(index)
            badge = "".join(letter for letter, end in ends.items()
                            if end is not None and end.kind == "test" and end.index == index)
            tip = [f"Test image {index} ({name})" + ("" if index in fixed else ", added by you")]
            if elbo is not None:
                tip.append(f"ELBO {elbo:.1f} nats = log-likelihood {result.log_likelihood[position[index]]:.1f} "
                           f"− KL {result.kl[position[index]]:.1f}")
            tip.append("Click: use as interpolation endpoint. Right-click: more.")
            tiles.append(Tile((probe.images[index], recon),
                              (name, f"{elbo:.1f}".replace("-", "−") if elbo is not None else "…"), "\n".join(tip), badge))
        self.strip.set_tiles(tiles)
        self.strip.set_dimmed(stale and result is not None)
        moment = pictures.info.label or f"step {pictures.info.step}"
        if pictures.vae is None:
            self.header.setText(f"<b>Test images</b> — {pictures.note or 'no model weights at this moment'}")
        elif self.elbo and not stale:
            mean = float(np.mean(list(self.elbo.values())))
            self.header.setText(f"<b>Test images</b> (top) and their <b>reconstructions</b> at {moment}; "
                                f"numbers: ELBO in nats (higher is better), "
                                f"mean {mean:.1f}".replace("-", "−"))
        else:
            self.header.setText(f"<b>Test images</b> (top) and their <b>reconstructions</b> at {moment} — "
                                "reconstructing…")

    def _show_nothing(self, text: str) -> None:
        self.indices, self.elbo, self._last_result = (), {}, None
        self.header.setText("<b>Reconstructions</b>")
        self.strip.set_tiles(())
        self.strip.set_placeholder(text)

    def _update_add_button(self, probe) -> None:
        index = self.view.inspected_test_image
        usable = (probe is not None and index is not None and 0 <= index < len(probe.images)
                  and index not in probe.first_of_each_class() and index not in self.view.reconstruction_extra)
        self.add_button.setEnabled(usable)
        self.add_button.setText(f"Add test image {index} ({probe.class_name(index)})" if usable
                                else "Add inspected image")

    # -- user actions ------------------------------------------------------------------------------------
    def add_inspected(self) -> None:
        """Add the test image last clicked on the plane's overlay to the strip."""
        if self.view.inspected_test_image is not None:
            self.view.add_reconstruction(self.view.inspected_test_image)

    def _endpoint(self, column: int) -> Endpoint:
        index = self.indices[column]
        probe = self.studio.explorer.probe
        return Endpoint.test_image(index, f"test image {index} ({probe.class_name(index)})")

    def _on_clicked(self, column: int) -> None:
        if 0 <= column < len(self.indices):
            endpoint = self._endpoint(column)
            which = self.view.pick_endpoint(endpoint)
            self.studio.say(f"Interpolation endpoint {which.upper()}: {endpoint.label}", 4000)

    def _on_menu(self, column: int, where: QPoint) -> None:
        menu = self.context_menu(column)
        if menu is not None:
            menu.exec(where)

    def context_menu(self, column: int) -> QMenu | None:
        """The actions offered for one image (also what a right-click shows)."""
        if not 0 <= column < len(self.indices):
            return None
        index = self.indices[column]
        endpoint = self._endpoint(column)
        menu = QMenu(self)
        menu.addAction("Use as endpoint A", lambda: self.view.set_endpoint("a", endpoint))
        menu.addAction("Use as endpoint B", lambda: self.view.set_endpoint("b", endpoint))
        cursor = menu.addAction("Put the cursor on its encoding", lambda: self._cursor_to(index))
        cursor.setEnabled(self.studio.explorer.vae is not None)
        if index in self.view.reconstruction_extra:
            menu.addSeparator()
            menu.addAction("Remove from the strip", lambda: self.view.remove_reconstruction(index))
        return menu

    def _cursor_to(self, index: int) -> None:
        from vaestudio.core import probes
        from vaestudio.core.zoo.labels import conditional_labels

        vae, probe = self.studio.explorer.vae, self.studio.explorer.probe
        if vae is not None and probe is not None:
            labels = conditional_labels(vae, probe.labels[index:index + 1])  # a conditional model's: its own class
            self.view.move_cursor(probes.encode(vae, probe.images[index:index + 1], labels).mean[0])
