"""Your own images: files encoded by the model of the moment shown, each as what the model sees next to
its reconstruction and its posterior (mean ± σ on the plane's two axes).

Images arrive through File → Encode image… (the shell calls `OwnImagesPanel.ask_encode()`), by dropping
files on the panel, or by dropping them anywhere on the window (the shell calls `encode_image_files`).
Preparing them for the model (and again for another run's model) is `state.own_images`; this panel shows
them and forwards the user's actions. A file that is not an image gives one line; the others still arrive.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterable

import numpy as np
from PySide6.QtCore import QMimeData, QPoint
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QPushButton, QVBoxLayout, QWidget

from vaestudio.core.data.dataset import shown
from vaestudio.gui.commands import Commands
from vaestudio.gui.panels.class_selector import OwnClassBox
from vaestudio.gui.panels.image_strip import ImageStrip, Tile
from vaestudio.gui.state.latent_view import Endpoint
from vaestudio.gui.state.own_images import MAX_FILES_PER_DROP, encode_image_files
from vaestudio.gui.state.studio import Studio
from vaestudio.gui.widgets import RefreshWhenShown, subscribe

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff *.ppm *.pgm);;All files (*)"
__all__ = ["IMAGE_FILTER", "MAX_FILES_PER_DROP", "OwnImagesPanel", "dropped_image_paths", "encode_image_files"]


# -- the files of a drop (the shell uses it for drops on the window too) ---------------------------------
def dropped_image_paths(mime: QMimeData) -> list[Path]:
    """The local files of a drag (what a drop on the panel or the window would encode)."""
    if mime is None or not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile() and url.toLocalFile()]


class OwnImagesPanel(QWidget):
    """Your images: what the model sees, its reconstruction and posterior; remove, endpoint, cursor."""

    title = "Your images"

    def __init__(self, studio: Studio, commands: Commands, parent: QWidget | None = None):
        super().__init__(parent)
        self.studio, self.commands, self.view = studio, commands, studio.view
        self.selected: int | None = None
        self._errors: list[str] = []
        self.setAcceptDrops(True)

        # Only says why there is nothing to see (the dock's title names the panel; the tiles' tooltips say
        # which picture is which).
        self.header = QLabel()
        self.header.setWordWrap(True)
        self.header.hide()
        # Each image beside (or above) its reconstruction, whichever shows them larger; the posterior's
        # numbers are never cut (the names may be, with many images: they are in the tooltips).
        self.strip = ImageStrip(rows=2, max_cell=112, arrange="auto", whole_captions=(1,))
        self.strip.clicked.connect(self.select)
        self.strip.menu_requested.connect(self._on_menu)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c0392b;")
        self.error.hide()
        self.encode_button = QPushButton("Encode image…")
        self.encode_button.setToolTip("Choose an image file (PNG, JPEG, …) to see where the model puts it")
        self.encode_button.clicked.connect(self.ask_encode)
        self.endpoint_button = QPushButton("Use as endpoint")
        self.endpoint_button.setToolTip("Make the selected image an interpolation endpoint (A, then B)")
        self.endpoint_button.clicked.connect(lambda: self.use_as_endpoint(self.selected))
        self.cursor_button = QPushButton("Cursor to it")
        self.cursor_button.setToolTip("Put the plane's cursor on the selected image's encoding (its posterior mean)")
        self.cursor_button.clicked.connect(lambda: self.cursor_to(self.selected))
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(lambda: self.remove(self.selected))
        self.class_box = OwnClassBox.of_probe(self.view, studio)  # the selected image's class
        self.class_box.activated.connect(lambda _index: self.set_class(self.selected, self.class_box.label()))
        buttons = QHBoxLayout()
        buttons.addWidget(self.encode_button)
        buttons.addStretch(1)
        for button in (self.class_box, self.endpoint_button, self.cursor_button, self.remove_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.header)
        layout.addWidget(self.strip, 1)
        layout.addWidget(self.error)
        layout.addLayout(buttons)

        events = self.view.events
        self.refresher = RefreshWhenShown(self._refresh)
        subscribe(self, [(signal, self.refresher.request) for signal in (
            studio.active_changed, studio.explorer.moment_loaded, studio.explorer.own_changed, events.own_images,
            events.endpoint_a, events.endpoint_b, events.axes)])
        self._refresh()

    # -- adding ---------------------------------------------------------------------------------------------
    def ask_encode(self) -> None:
        """File → Encode image…: choose a file and add it."""
        path = self.commands.ask_open_path("images", "Encode image", IMAGE_FILTER)
        if path is not None:
            self.encode_files([path])

    def encode_files(self, paths: Iterable[str | Path]) -> int:
        """Encode image files (errors are shown in the panel, one line each). Returns how many were submitted."""
        self._errors = []
        self.error.hide()
        return encode_image_files(self.studio, paths, on_added=lambda position, _name: self.select(position),
                                  on_error=self._show_error)

    def _show_error(self, text: str) -> None:
        self._errors.append(text)
        shown = self._errors[-3:]
        more = len(self._errors) - len(shown)
        self.error.setText("\n".join(shown) + (f"\n(and {more} more)" if more else ""))
        self.error.show()
        self.studio.say(text, 8000)

    def dragEnterEvent(self, event) -> None:
        if dropped_image_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        paths = dropped_image_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.encode_files(paths)
        else:
            event.ignore()

    # -- what is shown ------------------------------------------------------------------------------------
    def _refresh(self, *_args) -> None:
        pictures = self.studio.explorer.pictures
        own = self.view.own_images
        if self.selected is not None and self.selected >= len(own):
            self.selected = len(own) - 1 if own else None
        encodings = pictures.own if pictures.own is not None and len(pictures.own) == len(own) else None
        x, y = self.view.axes
        ends = {"A": self.view.endpoint_a, "B": self.view.endpoint_b}
        moment = f" at {pictures.info.label}" if pictures.info is not None else ""
        tiles = []
        for index, image in enumerate(own):
            badge = "".join(letter for letter, end in ends.items()
                            if end is not None and end.kind == "own" and end.index == index)
            encoding = encodings[index] if encodings is not None else None
            if encoding is None:
                tiles.append(Tile((image.preview, None), (shown(image.name), "…"), f"{shown(image.source)}\nnot encoded yet",
                                  badge))
                continue
            sigma = np.exp(0.5 * np.asarray(encoding.logvar, dtype=np.float64))
            mean = np.asarray(encoding.mean, dtype=np.float64)
            axes = (x,) if self.view.latent_dim == 1 else (x, y)
            caption = "\n".join(f"z{d + 1} {mean[d]:+.2f}±{sigma[d]:.2f}" for d in axes)
            every = "\n".join(f"  z{d + 1} = {mean[d]:+.3f} ± {sigma[d]:.3f}" for d in range(len(mean))[:16])
            tip = (f"{shown(image.source)}\nWhat the model sees, and its reconstruction{moment}.\n"
                   f"Posterior q(z|x), mean ± σ:\n{every}" + ("\n  …" if len(mean) > 16 else "")
                   + "\nClick to select; right-click for more.")
            tiles.append(Tile((image.preview, encoding.reconstruction), (shown(image.name), caption), tip, badge))
        self.strip.set_tiles(tiles)
        self.strip.set_selected(self.selected)
        self.strip.set_dimmed(False)
        if not own:
            self.strip.set_placeholder("Drop image files here (PNG, JPEG, any size or colour), use File → Encode "
                                       "image…, or draw on the drawing pad. Each is shown as the model sees it, "
                                       "with its reconstruction and its place on the plane.")
        if pictures.info is not None and pictures.vae is None:
            note = pictures.note or "no model weights at this moment"
            self.header.setText(f"{note[:1].upper()}{note[1:]}: your images cannot be encoded.")
            self.header.show()
        else:
            self.header.hide()
        chosen = self.selected is not None
        self.endpoint_button.setEnabled(chosen)
        self.remove_button.setEnabled(chosen)
        self.class_box.setEnabled(chosen)
        self.class_box.show_label(own[self.selected].label if chosen else None)
        self.cursor_button.setEnabled(chosen and encodings is not None)

    # -- user actions ------------------------------------------------------------------------------------
    def select(self, index: int | None) -> None:
        own = self.view.own_images
        self.selected = index if index is not None and 0 <= index < len(own) else None
        self._refresh()

    def _endpoint(self, index: int) -> Endpoint:
        return Endpoint.own_image(index, f"your image “{shown(self.view.own_images[index].name)}”")

    def use_as_endpoint(self, index: int | None, which: str | None = None) -> None:
        if index is None or not 0 <= index < len(self.view.own_images):
            return
        endpoint = self._endpoint(index)
        if which is None:
            which = self.view.pick_endpoint(endpoint)
        else:
            self.view.set_endpoint(which, endpoint)
        self.studio.say(f"Interpolation endpoint {which.upper()}: {endpoint.label}", 4000)

    def cursor_to(self, index: int | None) -> None:
        """Put the cursor on an image's posterior mean at the moment shown."""
        own = self.studio.explorer.pictures.own
        if index is not None and own is not None and len(own) == len(self.view.own_images) and 0 <= index < len(own):
            self.view.move_cursor(own[index].mean)

    def set_class(self, index: int | None, label: int | None) -> None:
        """A conditional model encodes own image `index` with class `label` (None: the plane's class)."""
        if index is not None and 0 <= index < len(self.view.own_images):
            self.view.replace_own_image(index, dataclasses.replace(self.view.own_images[index], label=label))

    def remove(self, index: int | None) -> None:
        if index is not None and 0 <= index < len(self.view.own_images):
            self.view.remove_own_image(index)

    def _on_menu(self, column: int, where: QPoint) -> None:
        self.select(column)
        menu = self.context_menu(column)
        if menu is not None:
            menu.exec(where)

    def context_menu(self, column: int) -> QMenu | None:
        """The actions offered for one image (also what a right-click shows)."""
        if not 0 <= column < len(self.view.own_images):
            return None
        menu = QMenu(self)
        menu.addAction("Use as endpoint A", lambda: self.use_as_endpoint(column, "a"))
        menu.addAction("Use as endpoint B", lambda: self.use_as_endpoint(column, "b"))
        cursor = menu.addAction("Put the cursor on it", lambda: self.cursor_to(column))
        cursor.setEnabled(self.studio.explorer.pictures.own is not None)
        menu.addSeparator()
        menu.addAction("Remove", lambda: self.remove(column))
        return menu
