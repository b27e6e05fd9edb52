"""A row of small images in columns, shown large and sharp, with captions, badges and a context menu.

The explorer's image panels (reconstructions, interpolation, own images) show their pictures with it.
Each column ("tile") holds one image per row (e.g. a test image above its reconstruction) and a short
caption under each row; a strip may also lay a tile's images side by side (captions under the pair), or
choose whichever of the two shows them larger in the room it has. Everything is painted by one widget
from pixmaps made once per `set_tiles`, so a repaint costs a few `drawPixmap` calls. Tiles grow with the
height available, shrink to fit the width down to a readable size (and, when asked, not narrower than
the captions of some rows), and scroll sideways beyond that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QFrame, QScrollArea, QSizePolicy, QToolTip, QWidget

from vaestudio.gui.panels.plane_items import ENDPOINT_COLORS
from vaestudio.gui.qimages import to_qimage

GAP = 6  # pixels between columns and around the strip
MIN_FIT = 44  # tiles shrink to fit the width down to this side, then the strip scrolls
MIN_CELL = 28
MAX_CELL = 168
INNER = 2  # pixels between the images of a tile laid side by side
MAX_CAPTION_WIDTH = 200  # a tile widened for its captions is at most this wide
ARRANGEMENTS = ("stacked", "side by side", "auto")
BADGE_COLOURS = {letter: QColor(*rgb) for letter, rgb in ENDPOINT_COLORS.items()}  # as the plane's A and B


@dataclass(frozen=True, eq=False)
class Tile:
    """One column: an image per row (None leaves the cell empty), a caption per row, a tooltip and a
    badge letter drawn in the corner (e.g. "A"/"B" for interpolation endpoints)."""

    images: tuple[np.ndarray | None, ...]
    captions: tuple[str, ...] = ()
    tooltip: str = ""
    badge: str = ""


def _identity(image: np.ndarray) -> tuple:
    """Where an array's pixels live and how they are laid out (views of the same pixels are equal)."""
    array = np.asarray(image)
    return (array.__array_interface__["data"][0], array.shape, array.strides, array.dtype.str)


class _Canvas(QWidget):
    """Paints the tiles; the scroll area around it decides its size."""

    def __init__(self, strip: "ImageStrip"):
        super().__init__()
        self.strip = strip
        self.setMouseTracking(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, False)

    def paintEvent(self, event) -> None:
        self.strip._paint(self, event.rect())

    def mousePressEvent(self, event) -> None:
        column = self.strip.column_at(event.position().toPoint())
        if column is None:
            return
        if event.button() == Qt.MouseButton.LeftButton:
            self.strip.clicked.emit(column)
        elif event.button() == Qt.MouseButton.RightButton:
            self.strip.menu_requested.emit(column, event.globalPosition().toPoint())

    def mouseMoveEvent(self, event) -> None:
        self.strip._set_hover(self.strip.column_at(event.position().toPoint()))

    def leaveEvent(self, _event) -> None:
        self.strip._set_hover(None)

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            column = self.strip.column_at(event.pos())
            text = self.strip.tiles[column].tooltip if column is not None else ""
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)


class ImageStrip(QScrollArea):
    """Columns of images with captions. Left click emits `clicked(column)`, right click
    `menu_requested(column, global position)`; hovering a column shows its tooltip."""

    clicked = Signal(int)
    menu_requested = Signal(int, QPoint)
    hovered = Signal(object)  # int | None

    def __init__(self, rows: int = 1, parent: QWidget | None = None, max_cell: int = MAX_CELL,
                 arrange: str = "stacked", whole_captions: Sequence[int] = ()):
        """rows: images per tile. arrange: "stacked" (one above the other), "side by side" (captions under
        the pair) or "auto" (whichever shows them larger without scrolling). whole_captions: the rows whose
        captions are never cut: tiles are not made narrower than their longest line (up to
        MAX_CAPTION_WIDTH) and the strip scrolls sooner; other captions are elided to the tile's width."""
        super().__init__(parent)
        if rows < 1:
            raise ValueError("an image strip needs at least one row")
        if arrange not in ARRANGEMENTS:
            raise ValueError(f"arrange must be one of {ARRANGEMENTS}, not {arrange!r}")
        self.rows = rows
        self.max_cell = max_cell
        self.arrange = arrange
        self.whole_captions = tuple(whole_captions)
        self.side_by_side = arrange == "side by side"  # how the tiles are laid out now
        self.tiles: tuple[Tile, ...] = ()
        self.placeholder = ""
        self.selected: int | None = None
        self.dimmed = False
        self.hover: int | None = None
        self.cell = MIN_FIT
        self.tile_width = MIN_FIT  # the images of a tile, or its captions when they are wider
        self._caption_width = 0  # pixels: the longest line of the captions that are never cut
        self._pixmaps: list[list[QPixmap | None]] = []
        self._keys: list[list[tuple | None]] = []  # where each shown picture's pixels live (see _identity)
        self._caption_lines = [0] * rows
        self.canvas = _Canvas(self)
        self.setWidget(self.canvas)
        self.setWidgetResizable(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.9))
        self.caption_font = small
        self._line = QFontMetrics(small).height()
        self._metrics = QFontMetrics(small)
        self._elided: list[list[list[str]]] = []  # per tile, row: caption lines elided to the tile's width
        self._elided_for = -1  # the tile width they were elided for
        self._elide_cache: dict[str, str] = {}
        self._elided_for_width = -1
        self.setMinimumHeight(self._min_height() + 4)

    # -- content ---------------------------------------------------------------------------------------------
    def set_tiles(self, tiles: Sequence[Tile]) -> None:
        """Show these columns (replacing the old ones); images are converted once, here."""
        tiles = tuple(tiles)
        for tile in tiles:
            if len(tile.images) != self.rows:
                raise ValueError(f"a tile of {len(tile.images)} images in a strip of {self.rows} rows")
        # Pictures already shown (the same memory: only a badge or a caption changed) keep their pixmaps. The
        # old tiles keep that memory alive while this runs, so no new array can sit at the same address.
        known = {key: pixmap for keys, pixmaps in zip(self._keys, self._pixmaps)
                 for key, pixmap in zip(keys, pixmaps) if key is not None}
        self._keys = [[None if image is None else _identity(image) for image in tile.images] for tile in tiles]
        self._pixmaps = [[None if key is None else known.get(key) or QPixmap.fromImage(to_qimage(image))
                          for key, image in zip(keys, tile.images)] for keys, tile in zip(self._keys, tiles)]
        self.tiles = tiles
        self._elided_for = -1
        self._caption_lines = [max((len(tile.captions[row].splitlines())
                                    for tile in tiles if row < len(tile.captions) and tile.captions[row]),
                                   default=0) for row in range(self.rows)]
        lines = {line for tile in tiles for row, caption in enumerate(tile.captions) if row in self.whole_captions
                 for line in caption.splitlines()}
        widest = max((self._metrics.horizontalAdvance(line) for line in lines), default=0)
        self._caption_width = min(widest + 4, MAX_CAPTION_WIDTH) if widest else 0
        if self.selected is not None and self.selected >= len(tiles):
            self.selected = None
        if self.hover is not None and self.hover >= len(tiles):
            self.hover = None
        minimum = self._min_height() + self.horizontalScrollBar().sizeHint().height()
        if minimum != self.minimumHeight():
            self.setMinimumHeight(minimum)
        self._layout()

    def set_placeholder(self, text: str) -> None:
        """What the strip says when it has no tiles (how to get some)."""
        if text != self.placeholder:
            self.placeholder = text
            self.canvas.update()

    def set_selected(self, column: int | None) -> None:
        if column != self.selected:
            self.selected = column
            self.canvas.update()

    def set_dimmed(self, dimmed: bool) -> None:
        """Grey the pictures out (they belong to a moment that is being replaced)."""
        if dimmed != self.dimmed:
            self.dimmed = dimmed
            self.canvas.update()

    # -- geometry --------------------------------------------------------------------------------------------
    def _arrangements(self) -> tuple[bool, ...]:
        """The layouts this strip may use: False stacks a tile's images, True lays them side by side."""
        return {"stacked": (False,), "side by side": (True,), "auto": (False, True)}[self.arrange]

    def _height_for(self, cell: int, side: bool | None = None) -> int:
        down = 1 if (self.side_by_side if side is None else side) else self.rows
        return GAP + down * (cell + 2) + sum(self._caption_lines) * self._line + GAP

    def _cell_for_height(self, height: int, side: bool | None = None) -> int:
        down = 1 if (self.side_by_side if side is None else side) else self.rows
        return (height - 2 * GAP - sum(self._caption_lines) * self._line) // down - 2

    def _min_height(self) -> int:
        return min(self._height_for(MIN_CELL, side) for side in self._arrangements())

    def _images_width(self, cell: int, side: bool) -> int:
        across = self.rows if side else 1
        return across * cell + (across - 1) * INNER

    def _fit(self, side: bool, viewport_width: int, height: int) -> tuple[int, bool]:
        """The cell size of one arrangement in this room, and whether the strip then scrolls."""
        count = max(1, len(self.tiles))
        across = self.rows if side else 1
        by_height = self._cell_for_height(height, side)
        room = (viewport_width - GAP) // count - GAP  # for each tile
        by_width = (room - (across - 1) * INNER) // across
        cell = min(by_height, by_width, self.max_cell)
        if (cell < MIN_FIT and by_width < by_height) or room < self._caption_width:
            # too many to fit: keep the pictures (and captions) readable and scroll
            bar = self.horizontalScrollBar().sizeHint().height()
            cell = min(max(MIN_FIT, by_width), self._cell_for_height(height - bar, side), self.max_cell)
            return max(MIN_CELL, cell), True
        return max(MIN_CELL, cell), False

    def _layout(self) -> None:
        viewport = self.viewport().size()
        height = self.height()  # the viewport loses the scroll bar's height when one shows
        # Without scrolling if possible, then as large as possible; stacked when both are alike.
        fits = [(not scrolls, cell, side) for side in self._arrangements()
                for cell, scrolls in [self._fit(side, viewport.width(), height)]]
        _, self.cell, self.side_by_side = max(fits, key=lambda fit: (fit[0], fit[1], not fit[2]))
        self.tile_width = max(self._images_width(self.cell, self.side_by_side), self._caption_width)
        width = GAP + len(self.tiles) * (self.tile_width + GAP) if self.tiles else viewport.width()
        size = QSize(max(width, viewport.width()), max(self._height_for(self.cell), viewport.height()))
        if size != self.canvas.size():
            self.canvas.resize(size)
        self.canvas.update()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._layout()

    def sizeHint(self) -> QSize:
        return QSize(GAP + max(4, len(self.tiles)) * (72 + GAP), self._height_for(72))

    def minimumSizeHint(self) -> QSize:
        return QSize(3 * (MIN_CELL + GAP), self._min_height())

    def _tile_left(self, column: int) -> int:
        return GAP + column * (self.tile_width + GAP)

    def tile_rect(self, column: int, row: int = 0) -> QRect:
        """Where the image of (column, row) is painted, in canvas coordinates."""
        left = self._tile_left(column) + (self.tile_width - self._images_width(self.cell, self.side_by_side)) // 2
        if self.side_by_side:
            return QRect(left + row * (self.cell + INNER), GAP + 1, self.cell, self.cell)
        top = GAP
        for r in range(row):
            top += self.cell + 2 + self._caption_lines[r] * self._line
        return QRect(left, top + 1, self.cell, self.cell)

    def caption_rect(self, column: int, row: int, line: int = 0) -> QRect:
        """Where a line of the caption of (column, row) is written, in canvas coordinates: under its image
        (stacked), or under the tile's images after the lines of the rows before it (side by side)."""
        if self.side_by_side:
            line += sum(self._caption_lines[:row])
            row = 0
        top = self.tile_rect(column, row).bottom() + 1 + line * self._line
        return QRect(self._tile_left(column) - GAP // 2 + 1, top, self.tile_width + GAP - 2, self._line)

    def column_rect(self, column: int) -> QRect:
        return QRect(self._tile_left(column) - GAP // 2, 0, self.tile_width + GAP, self.canvas.height())

    def column_at(self, pos: QPoint) -> int | None:
        """The column under a canvas position, or None."""
        if not self.tiles:
            return None
        column = (pos.x() - GAP // 2) // (self.tile_width + GAP)
        return int(column) if 0 <= column < len(self.tiles) else None

    def _set_hover(self, column: int | None) -> None:
        if column != self.hover:
            self.hover = column
            self.hovered.emit(column)
            self.canvas.update()

    # -- painting -------------------------------------------------------------------------------------------
    def _elide_captions(self) -> None:
        """Caption lines cut to the tile's width, once per layout (not per paint)."""
        width = self.tile_width + GAP - 2
        if self._elided_for_width != width:
            self._elide_cache.clear()
            self._elided_for_width = width

        def elided(text: str) -> str:
            if text not in self._elide_cache:
                self._elide_cache[text] = self._metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)
            return self._elide_cache[text]

        self._elided = [[[elided(text) for text in (tile.captions[row].splitlines() if row < len(tile.captions) else ())]
                         for row in range(self.rows)] for tile in self.tiles]
        self._elided_for = self.tile_width

    def _paint(self, canvas: QWidget, visible: QRect) -> None:
        painter = QPainter(canvas)
        palette = canvas.palette()
        painter.fillRect(visible, palette.window())
        if not self.tiles:
            if self.placeholder:
                painter.setPen(palette.placeholderText().color())
                painter.drawText(self.viewport().rect().adjusted(8, 4, -8, -4),
                                 Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
            painter.end()
            return
        if self._elided_for != self.tile_width:
            self._elide_captions()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.setFont(self.caption_font)
        painter.setPen(palette.text().color())
        centred = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop
        first = max(0, (visible.left() - GAP) // (self.tile_width + GAP))
        last = min(len(self.tiles), visible.right() // (self.tile_width + GAP) + 1)
        for column in range(first, last):
            tile, pixmaps = self.tiles[column], self._pixmaps[column]
            if column == self.selected:
                painter.fillRect(self.column_rect(column), palette.highlight().color().lighter(160))
            elif column == self.hover:
                painter.fillRect(self.column_rect(column), palette.alternateBase())
            for row, pixmap in enumerate(pixmaps):
                rect = self.tile_rect(column, row)
                if pixmap is not None:
                    painter.drawPixmap(rect, pixmap)
                    if self.dimmed:
                        painter.fillRect(rect, QColor(128, 128, 128, 150))
                else:
                    painter.fillRect(rect, palette.mid())
                for n, text in enumerate(self._elided[column][row]):
                    painter.drawText(self.caption_rect(column, row, n), centred, text)
            if tile.badge:
                self._paint_badge(painter, self.tile_rect(column, 0), tile.badge)
        painter.end()

    def _paint_badge(self, painter: QPainter, rect: QRect, text: str) -> None:
        painter.save()
        size = max(14, min(22, self.cell // 3))
        box = QRect(rect.left() + 2, rect.top() + 2, size + 4 * (len(text) - 1), size)
        colour = BADGE_COLOURS.get(text[:1], QColor(90, 90, 90))
        painter.setPen(QPen(QColor(255, 255, 255), 1))
        painter.setBrush(colour)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.drawRoundedRect(box, size / 2, size / 2)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        bold = QFont(self.caption_font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()
