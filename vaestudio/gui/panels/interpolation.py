"""Interpolation: two endpoints (test images, own images or points of the plane), the path between them
decoded as a strip of frames, and its export as a GIF or a PNG strip.

The endpoints are described by what they are, so the path follows the timeline: test and own images are
encoded by the model of the moment shown. With more than two latent dimensions the path runs in the
full space (the plane draws its projection). Clicking a frame puts the cursor on that point of the path.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QBoxLayout, QComboBox, QDoubleSpinBox, QGridLayout, QHBoxLayout, QLabel, QPushButton,
                               QSpinBox, QVBoxLayout, QWidget)

from vaestudio.core.data.dataset import shown
from vaestudio.gui.commands import Commands
from vaestudio.gui.panels.image_strip import MAX_CELL, ImageStrip, Tile, to_qimage
from vaestudio.gui.state.latent_view import MAX_FRAMES, METHODS, Endpoint
from vaestudio.gui.state.studio import Studio
from vaestudio.gui.widgets import RefreshWhenShown, SteadyLabel, subscribe

HOW_TO_CHOOSE = ("No endpoints yet. Choose two: click two points of the test-set overlay on the plane, two "
                 "reconstructions, or two of your own images — or shift-drag on the plane from one point to another.")
THUMB = 56  # endpoint thumbnails, pixels
NAME_ROOM = 170  # pixels for an endpoint's name when the endpoints share a row with the options


class InterpolationPanel(QWidget):
    """Endpoints A and B, method and frame count, the decoded frames, and their export."""

    title = "Interpolation"

    def __init__(self, studio: Studio, commands: Commands, parent: QWidget | None = None):
        super().__init__(parent)
        self.studio, self.commands, self.view = studio, commands, studio.view
        self.frames: np.ndarray | None = None  # the frames shown (uint8 (n, H, W[, 3]))
        self.path: np.ndarray | None = None
        self._interpolation = None  # the explorer's result shown, and what it was computed for
        self._computed_for: tuple | None = None

        self.thumbs = {which: QLabel() for which in "ab"}
        self.names = {which: SteadyLabel() for which in "ab"}
        ends = QGridLayout()  # A and B side by side: the strip keeps the height
        for column, which in enumerate("ab"):
            self.thumbs[which].setFixedSize(THUMB, THUMB)
            self.thumbs[which].setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.thumbs[which].setStyleSheet("background: #202020; color: #bbbbbb; border: 1px solid #888;")
            self.names[which].setWordWrap(True)
            self.names[which].setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            ends.addWidget(self.thumbs[which], 0, 2 * column)
            ends.addWidget(self.names[which], 0, 2 * column + 1)
            ends.setColumnStretch(2 * column + 1, 1)
        self.swap_button = QPushButton("Swap")
        self.swap_button.setToolTip("Exchange endpoints A and B (the morph runs the other way)")
        self.swap_button.clicked.connect(self.swap)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Forget both endpoints")
        self.clear_button.clicked.connect(self.clear)

        self.method = QComboBox()
        self.method.addItems(METHODS)
        self.method.setToolTip("linear: a straight line in latent space; spherical: along a great circle, which "
                               "keeps points at the typical distance from the origin of a Gaussian prior")
        self.method.currentTextChanged.connect(lambda text: self.view.set_interpolation(method=text))
        self.frame_count = QSpinBox()
        self.frame_count.setRange(2, MAX_FRAMES)
        self.frame_count.setKeyboardTracking(False)
        self.frame_count.setToolTip("How many images the path is decoded into, endpoints included")
        self.frame_count.valueChanged.connect(lambda value: self.view.set_interpolation(frames=value))
        options = QHBoxLayout()
        options.addWidget(QLabel("Path"))
        options.addWidget(self.method)
        options.addWidget(QLabel("Frames"))
        options.addWidget(self.frame_count)
        options.addStretch(1)
        options.addWidget(self.swap_button)
        options.addWidget(self.clear_button)
        # In a wide dock the endpoints and the options share one row (and so do the GIF options and the
        # export buttons below the strip), leaving the height to the frames; a narrow dock stacks them.
        self.top_row = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        self.top_row.addLayout(ends, 1)
        self.top_row.addLayout(options, 0)
        self._ends, self._options = ends, options

        # Frames grow with the room they have (square, up to MAX_CELL); the height is what limits them.
        self.strip = ImageStrip(rows=1, max_cell=MAX_CELL)
        self.strip.clicked.connect(self._on_frame_clicked)
        self.note = QLabel()  # shown only when there is something to add to the frames' tooltips
        self.note.setWordWrap(True)
        self.note.setEnabled(False)
        self.note.hide()

        self.gif_button = QPushButton("Export GIF…")
        self.gif_button.clicked.connect(self.export_gif)
        self.png_button = QPushButton("Export PNG strip…")
        self.png_button.clicked.connect(self.export_png)
        self.playback = QComboBox()
        self.playback.addItems(["ping-pong", "one way"])
        self.playback.setToolTip("ping-pong: the GIF plays A → B → A; one way: A → B, then starts again")
        self.frame_seconds = QDoubleSpinBox()
        self.frame_seconds.setRange(0.02, 5.0)
        self.frame_seconds.setSingleStep(0.02)
        self.frame_seconds.setDecimals(2)
        self.frame_seconds.setValue(0.1)
        self.frame_seconds.setSuffix(" s")
        self.frame_seconds.setToolTip("How long each frame of the GIF shows")
        self.scale = QSpinBox()
        self.scale.setRange(1, 16)
        self.scale.setValue(4)
        self.scale.setSuffix("×")
        self.scale.setToolTip("Each pixel of the model's image becomes scale × scale pixels in the file")
        gif_options = QHBoxLayout()
        gif_options.addWidget(QLabel("GIF"))
        gif_options.addWidget(self.playback)
        gif_options.addWidget(self.frame_seconds)
        gif_options.addWidget(QLabel("per frame; scale"))
        gif_options.addWidget(self.scale)
        gif_options.addStretch(1)
        export = QHBoxLayout()
        export.addWidget(self.gif_button)
        export.addWidget(self.png_button)
        export.addStretch(1)
        self.bottom_row = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        self.bottom_row.addLayout(gif_options, 0)
        self.bottom_row.addLayout(export, 1)
        self._gif_options, self._export = gif_options, export

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(self.top_row)
        layout.addWidget(self.strip, 1)
        layout.addWidget(self.note)
        layout.addLayout(self.bottom_row)

        explorer, events = studio.explorer, self.view.events
        self.refresher = RefreshWhenShown(self._refresh)
        subscribe(self, [(signal, self.refresher.request) for signal in (
            explorer.moment_loaded, explorer.interpolation_changed, studio.probe_changed, studio.active_changed,
            events.endpoint_a, events.endpoint_b, events.interpolation_method, events.interpolation_frames,
            events.own_images, events.axes, events.latent_dim, events.decode_class)])
        self._refresh()

    # -- layout --------------------------------------------------------------------------------------------
    def _one_row_widths(self) -> tuple[int, int]:
        """The widths the endpoints with the options, and the GIF options with the export buttons, need on
        one row each."""
        spacing = max(self.top_row.spacing(), 0)
        margins = self.layout().contentsMargins()
        side = margins.left() + margins.right()
        top = 2 * (THUMB + spacing + NAME_ROOM) + spacing + self._options.sizeHint().width() + side
        bottom = (self._gif_options.sizeHint().width() + spacing + self._export.minimumSize().width()
                  + side)
        return top, bottom

    def _arrange(self) -> None:
        """One row or two for the controls above and below the strip, by the width the panel has."""
        if not hasattr(self, "bottom_row"):
            return  # still being built
        for box, needed in zip((self.top_row, self.bottom_row), self._one_row_widths()):
            direction = (QBoxLayout.Direction.LeftToRight if self.width() >= needed
                         else QBoxLayout.Direction.TopToBottom)
            if box.direction() != direction:
                box.setDirection(direction)

    def resizeEvent(self, event) -> None:  # noqa: N802
        self._arrange()
        super().resizeEvent(event)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        """As narrow as the controls stacked (a row is laid out only where it fits: see `_arrange`)."""
        hint = super().minimumSizeHint()
        if not hasattr(self, "_export"):
            return hint  # still being built
        margins = self.layout().contentsMargins()
        stacked = max(part.minimumSize().width() for part in (self._ends, self._options, self._gif_options,
                                                               self._export, self.strip))
        return QSize(min(hint.width(), stacked + margins.left() + margins.right()), hint.height())

    # -- what is shown ------------------------------------------------------------------------------------
    def _refresh(self, *_args) -> None:
        pictures = self.studio.explorer.pictures
        view = self.view
        for widget, value in ((self.method, view.interpolation_method),):
            widget.blockSignals(True)
            widget.setCurrentText(value)
            widget.blockSignals(False)
        self.frame_count.blockSignals(True)
        self.frame_count.setValue(view.interpolation_frames)
        self.frame_count.blockSignals(False)
        for which in "ab":
            self._show_endpoint(which, getattr(view, f"endpoint_{which}"))
        both = view.endpoint_a is not None and view.endpoint_b is not None
        self.swap_button.setEnabled(view.endpoint_a is not None or view.endpoint_b is not None)
        self.clear_button.setEnabled(self.swap_button.isEnabled())

        interpolation = pictures.interpolation
        asked = (view.endpoint_a, view.endpoint_b, view.interpolation_method, view.interpolation_frames,
                 pictures.info, view.own_images)
        if interpolation is not None and interpolation is not self._interpolation:
            self._interpolation, self._computed_for = interpolation, asked  # a new result: for what is asked now
        if not both or pictures.vae is None:
            self.frames = self.path = self._interpolation = None
        elif interpolation is not None:
            self.frames, self.path = interpolation.frames, interpolation.path
        # Frames of other endpoints, settings or moment stay, greyed, until the new ones arrive.
        stale = self.frames is not None and self._computed_for != asked
        if self.frames is None:
            self.strip.set_tiles(())
            if self.studio.active is None:
                self.strip.set_placeholder("No run yet: train one or open a run folder to interpolate.")
            elif pictures.info is not None and pictures.vae is None:
                self.strip.set_placeholder(pictures.note or "This moment has no model weights to decode with.")
            elif not both:
                self.strip.set_placeholder(HOW_TO_CHOOSE if view.endpoint_a is None and view.endpoint_b is None
                                           else "Choose endpoint " + ("B" if view.endpoint_b is None else "A")
                                           + " the same way as the other one.")
            else:
                self.strip.set_placeholder("Decoding the path…")
        else:
            count = len(self.frames)
            tiles = []
            for i, frame in enumerate(self.frames):
                z = self.path[i]
                text = ", ".join(f"{v:+.2f}" for v in z[:6]) + (", …" if len(z) > 6 else "")
                tiles.append(Tile((frame,), (), f"Frame {i + 1} of {count}: z = ({text})\nClick: put the cursor here",
                                  "A" if i == 0 else ("B" if i == count - 1 else "")))
            self.strip.set_tiles(tiles)
        self.strip.set_dimmed(stale)
        exportable = self.frames is not None and not stale
        self.gif_button.setEnabled(exportable)
        self.png_button.setEnabled(exportable)
        note = self._note(both)
        self.note.setText(note)
        self.note.setVisible(bool(note))

    def _note(self, both: bool) -> str:
        """What the frames do not say themselves (a click on a frame moving the cursor is in their tooltips)."""
        view = self.view
        if not both or self.frames is None or view.latent_dim <= 2:
            return ""
        x, y = view.axes
        return (f"The path runs through all {view.latent_dim} latent dimensions; the plane draws its shadow on "
                f"z{x + 1}, z{y + 1}. Click a frame to put the cursor there.")

    def _show_endpoint(self, which: str, endpoint: Endpoint | None) -> None:
        letter = which.upper()
        label, thumb = self.names[which], self.thumbs[which]
        if endpoint is None:
            label.setText(f"<b>{letter}</b>: not chosen")
            thumb.setText(letter)  # (drops the picture; the same letter again changes nothing, not even the layout)
            return
        label.setText(f"<b>{letter}</b>: {self.describe(endpoint)}")
        image = self._endpoint_image(endpoint)
        if image is None:
            thumb.setText(letter)
        else:
            pixmap = QPixmap.fromImage(to_qimage(image))
            thumb.setPixmap(pixmap.scaled(THUMB - 2, THUMB - 2, Qt.AspectRatioMode.KeepAspectRatio,
                                          Qt.TransformationMode.FastTransformation))

    def describe(self, endpoint: Endpoint) -> str:
        """What an endpoint is, in words (test image n (class), your image 'name', or a point)."""
        probe = self.studio.explorer.probe
        if endpoint.kind == "test":
            if probe is not None and 0 <= endpoint.index < len(probe.images):
                return f"test image {endpoint.index} ({probe.class_name(endpoint.index)})"
            return f"test image {endpoint.index} (not in this run's test images)"
        if endpoint.kind == "own":
            own = self.view.own_images
            if 0 <= endpoint.index < len(own):
                return f"your image “{shown(own[endpoint.index].name)}”"
            return endpoint.label
        return "the point " + endpoint.label + " of the latent space"

    def _endpoint_image(self, endpoint: Endpoint) -> np.ndarray | None:
        probe = self.studio.explorer.probe
        if endpoint.kind == "test" and probe is not None and 0 <= endpoint.index < len(probe.images):
            return probe.images[endpoint.index]
        if endpoint.kind == "own" and 0 <= endpoint.index < len(self.view.own_images):
            return self.view.own_images[endpoint.index].preview
        vae = self.studio.explorer.vae
        if endpoint.kind == "point" and vae is not None and len(endpoint.z) == vae.architecture.latent_dim:
            return vae.decode_uint8(np.asarray(endpoint.z, np.float32)[None], self.view.single_label)[0]
        return None

    # -- user actions ------------------------------------------------------------------------------------
    def swap(self) -> None:
        a, b = self.view.endpoint_a, self.view.endpoint_b
        self.view.set_endpoint("a", b)
        self.view.set_endpoint("b", a)

    def clear(self) -> None:
        self.view.set_endpoint("a", None)
        self.view.set_endpoint("b", None)

    def _on_frame_clicked(self, column: int) -> None:
        if self.path is not None and 0 <= column < len(self.path):
            self.view.move_cursor(self.path[column])

    def gif_frames(self) -> list[np.ndarray]:
        """The frames a GIF export writes: A → B, and back again for ping-pong."""
        if self.frames is None:
            return []
        frames = list(self.frames)
        if self.playback.currentText() == "ping-pong" and len(frames) > 2:
            frames += frames[-2:0:-1]
        return frames

    def export_gif(self) -> bool:
        """Ask where, then write the morph as a looping GIF. False when cancelled or failed."""
        frames = self.gif_frames()
        if not frames:
            return False
        path = self.commands.ask_save_path("exports", "Export interpolation as GIF", "interpolation.gif",
                                           "GIF animation (*.gif)", ".gif")
        if path is None:
            return False
        from vaestudio.core.store.images import save_gif

        seconds, scale = self.frame_seconds.value(), self.scale.value()
        return self.commands.write(path, lambda: save_gif(frames, path, frame_seconds=seconds, scale=scale),
                                   f"the interpolation ({len(frames)} frames)")

    def export_png(self) -> bool:
        """Ask where, then write the frames side by side as one PNG. False when cancelled or failed."""
        if self.frames is None:
            return False
        path = self.commands.ask_save_path("exports", "Export interpolation as PNG strip", "interpolation.png",
                                           "PNG image (*.png)", ".png")
        if path is None:
            return False
        from vaestudio.core.latent import strip
        from vaestudio.core.store.images import save_png

        picture, scale = strip(self.frames), self.scale.value()
        return self.commands.write(path, lambda: save_png(picture, path, scale=scale),
                                   f"the interpolation strip ({len(self.frames)} frames)")
