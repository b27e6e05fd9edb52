"""The latent plane's visuals, one pyqtgraph item each, joined only by signals in the panel.

Items take plot coordinates (see gui/axes.py); none of them knows about the state, the model or
another item. Small marks (the cross-hair, its label, endpoint discs) ignore the view's zoom so they
keep their size, and repaint only their own few pixels when they move.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem

from vaestudio.gui import axes

CLASS_COLORS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
                (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))
CURSOR_COLOR = (220, 30, 30)
PATH_COLOR = (255, 140, 0)
OWN_COLOR = (0, 170, 90)
# The interpolation's endpoints A and B: their discs on the plane and their badges on the image strips.
ENDPOINT_COLORS = {"A": (220, 60, 40), "B": (40, 110, 220)}


def class_color(label: int) -> tuple[int, int, int]:
    return CLASS_COLORS[int(label) % len(CLASS_COLORS)]


# -- the view box: what the mouse does on the plane -------------------------------------------------------
class PlaneViewBox(pg.ViewBox):
    """Left drag or click moves the cursor; Shift+left drag draws a path's two ends; right or middle
    drag (or Ctrl+left) pans; the wheel zooms around the mouse."""

    cursor_dragged = Signal(float, float)  # plot coordinates under the mouse (press, every move, release)
    clicked = Signal(float, float)
    pick_dragged = Signal(float, float, float, float, bool)  # start x, y, end x, y, finished

    def __init__(self, **kwargs):
        super().__init__(enableMenu=False, **kwargs)

    def mouseClickEvent(self, ev):  # noqa: N802 (pyqtgraph API)
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            pos = self.mapSceneToView(ev.scenePos())
            self.clicked.emit(pos.x(), pos.y())
        else:
            ev.ignore()

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802
        modifiers = ev.modifiers()
        button = ev.button()
        panning = button in (Qt.MouseButton.RightButton, Qt.MouseButton.MiddleButton) or (
            button == Qt.MouseButton.LeftButton and modifiers & Qt.KeyboardModifier.ControlModifier)
        if panning:
            ev.accept()
            before = self.mapSceneToView(ev.lastScenePos())
            after = self.mapSceneToView(ev.scenePos())
            self.translateBy(x=before.x() - after.x(), y=before.y() - after.y())
            return
        if button != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        pos = self.mapSceneToView(ev.scenePos())
        if modifiers & Qt.KeyboardModifier.ShiftModifier:
            start = self.mapSceneToView(ev.buttonDownScenePos(Qt.MouseButton.LeftButton))
            self.pick_dragged.emit(start.x(), start.y(), pos.x(), pos.y(), ev.isFinish())
        else:
            self.cursor_dragged.emit(pos.x(), pos.y())


# -- the grid -------------------------------------------------------------------------------------------
class GridImage(pg.ImageItem):
    """The decoded grid, each tile over the latent value it was decoded at (on either scale)."""

    def __init__(self):
        super().__init__(axisOrder="row-major")
        self.setZValue(-1)  # under every mark, and under the prior's density (plane_prior.py)
        self.setLevels((0, 255))
        self._indices: dict[tuple[int, int, str], tuple[np.ndarray, float, float]] = {}
        self.shown: tuple | None = None  # (mosaic, n, scale, one_d) last drawn

    def show_grid(self, mosaic: np.ndarray, n: int, scale: str, one_d: bool, spacing: str = "quantile",
                  strip_rows: int = 1) -> None:
        """`mosaic`: core orientation (top tile row = highest z2), n tiles a side (a strip of `strip_rows`
        rows of n tiles if one_d: a 1-d space, or a conditional model's row per class)."""
        tile = mosaic.shape[1] // n
        picture = mosaic[::-1]  # a y-up plot draws row 0 at the bottom
        cols, x0, width = self._resampling(n, tile, scale, spacing)
        if one_d:
            rows = np.arange(picture.shape[0])
            y0, height = axes.strip_height(n, scale, spacing)
            y0, height = y0 + height / 2 - height * strip_rows / 2, height * strip_rows
        else:
            rows, y0, height = cols, x0, width
        if len(cols) != picture.shape[1] or len(rows) != picture.shape[0]:
            picture = picture[rows][:, cols]
        self.setImage(np.ascontiguousarray(picture), autoLevels=False, levels=(0, 255))
        self.setRect(QRectF(x0, y0, width, height))
        self.shown = (mosaic, n, scale, one_d)

    def _resampling(self, n: int, tile: int, scale: str, spacing: str):
        key = (n, tile, scale, spacing)
        if key not in self._indices:
            self._indices[key] = axes.resample_indices(n, tile, scale, spacing)
        return self._indices[key]

    def clear_grid(self) -> None:
        self.clear()
        self.shown = None


# -- the cursor -------------------------------------------------------------------------------------------
class CrossHair(pg.GraphicsObject):
    """The cursor: a ring and a cross of fixed size in pixels, drawn with a white halo."""

    RADIUS = 7.0
    REACH = 13.0

    def __init__(self):
        super().__init__()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setZValue(20)
        self._pen = QPen(QColor(*CURSOR_COLOR), 2)
        self._halo = QPen(QColor(255, 255, 255, 200), 4)
        r = self.REACH + 3
        self._bounds = QRectF(-r, -r, 2 * r, 2 * r)

    def boundingRect(self):  # noqa: N802
        return self._bounds

    def paint(self, painter: QPainter, *_args):
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for pen in (self._halo, self._pen):
            painter.setPen(pen)
            painter.drawEllipse(QPointF(0, 0), self.RADIUS, self.RADIUS)
            for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                painter.drawLine(QPointF(dx * self.RADIUS, dy * self.RADIUS), QPointF(dx * self.REACH, dy * self.REACH))


class CursorLabel(pg.GraphicsObject):
    """The cursor's z readout beside it; it flips to the other side of the cursor near the view's edges,
    so it is never cut off."""

    GAP = 14.0

    def __init__(self):
        super().__init__()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setZValue(21)
        self._font = QFont()
        self._font.setPointSizeF(max(self._font.pointSizeF() - 1, 7))
        self._metrics = QFontMetricsF(self._font)
        self._lines: list[str] = []
        self._box = QRectF()
        self._right, self._above = True, True
        self._fill = QBrush(QColor(255, 255, 255, 225))
        self._text_pen = QPen(QColor(150, 20, 20))

    def set_text(self, text: str) -> None:
        lines = text.split("\n")
        if lines != self._lines:
            self.prepareGeometryChange()
            self._lines = lines
            self._layout()

    def set_side(self, right: bool, above: bool) -> None:
        """Where the label sits relative to the cursor (right/left, above/below)."""
        if (right, above) != (self._right, self._above):
            self.prepareGeometryChange()
            self._right, self._above = right, above
            self._layout()

    @property
    def side(self) -> tuple[bool, bool]:
        return self._right, self._above

    def text(self) -> str:
        return "\n".join(self._lines)

    def _layout(self) -> None:
        line_height = self._metrics.height()
        width = max((self._metrics.horizontalAdvance(line) for line in self._lines), default=0.0) + 8
        height = line_height * len(self._lines) + 4
        x = self.GAP if self._right else -self.GAP - width
        y = -self.GAP / 2 - height if self._above else self.GAP / 2  # screen y grows downwards
        self._box = QRectF(x, y, width, height)

    def boundingRect(self):  # noqa: N802
        return self._box.adjusted(-1, -1, 1, 1)

    def paint(self, painter: QPainter, *_args):
        if not self._lines:
            return
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self._fill)
        painter.drawRect(self._box)
        painter.setFont(self._font)
        painter.setPen(self._text_pen)
        line_height = self._metrics.height()
        baseline = self._box.top() + 2 + self._metrics.ascent()
        for index, line in enumerate(self._lines):
            painter.drawText(QPointF(self._box.left() + 4, baseline + index * line_height), line)


# -- marks of fixed pixel size ------------------------------------------------------------------------------
class EndpointMarker(pg.GraphicsObject):
    """One end of the interpolation path: a disc with its letter (A or B), in the colour of its badge on
    the image strips."""

    RADIUS = 9.0

    def __init__(self, letter: str):
        super().__init__()
        self.letter = letter
        self._fill = QBrush(QColor(*ENDPOINT_COLORS.get(letter, PATH_COLOR)))
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setZValue(15)
        self._font = QFont()
        self._font.setBold(True)
        self._font.setPixelSize(11)
        r = self.RADIUS + 2
        self._bounds = QRectF(-r, -r, 2 * r, 2 * r)

    def boundingRect(self):  # noqa: N802
        return self._bounds

    def paint(self, painter: QPainter, *_args):
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(QColor(255, 255, 255), 1.5))
        painter.setBrush(self._fill)
        painter.drawEllipse(QPointF(0, 0), self.RADIUS, self.RADIUS)
        painter.setFont(self._font)
        painter.setPen(QPen(QColor(255, 255, 255)))
        painter.drawText(self._bounds, Qt.AlignmentFlag.AlignCenter, self.letter)


# -- points and paths in plot coordinates --------------------------------------------------------------------
class CachedBounds:
    """pyqtgraph's ScatterPlotItem works its bounding rectangle out afresh (data and pixel sizes) each time
    Qt asks, several times a frame while the cursor moves; it changes only with a geometry change."""

    _bounds = None

    def prepareGeometryChange(self):  # noqa: N802 (Qt API)
        self._bounds = None
        super().prepareGeometryChange()

    def boundingRect(self):  # noqa: N802
        if self._bounds is None:
            self._bounds = super().boundingRect()
        return self._bounds


class Points(CachedBounds, pg.ScatterPlotItem):
    """A ScatterPlotItem that is hidden while it has no points (Qt then skips it when painting)."""

    def setData(self, *args, **kwargs):  # noqa: N802 (pyqtgraph API)
        super().setData(*args, **kwargs)
        self.setVisible(self.data.size > 0 and self._shown)

    _shown = True

    def show_points(self, shown: bool) -> None:
        """Show or hide the points whether or not there are any."""
        self._shown = bool(shown)
        self.setVisible(self._shown and self.data.size > 0)


class OverlayPoints(Points):
    """The test images' encoder means, coloured by class; each point's data is its test-image index."""

    def __init__(self):
        super().__init__(size=6, pen=None)
        self.setZValue(5)
        self._brushes = [pg.mkBrush(*color, 200) for color in CLASS_COLORS]

    _labels: np.ndarray | None = None

    def set_points(self, x: np.ndarray, y: np.ndarray, labels: np.ndarray) -> None:
        """Place the points; the same test images as before (a new moment) only move: 17 ms -> 0.05 ms."""
        labels = np.asarray(labels)
        if self._labels is not None and np.array_equal(labels, self._labels) and len(self.data) == len(labels):
            self._move(np.asarray(x, float), np.asarray(y, float))
            return
        brushes = [self._brushes[int(label) % len(self._brushes)] for label in labels]
        self.setData(x=np.asarray(x, float), y=np.asarray(y, float), brush=brushes,
                     data=np.arange(len(labels)))
        self._labels = labels.copy()

    def _move(self, x: np.ndarray, y: np.ndarray) -> None:
        """New positions for the same points, as pyqtgraph's setData ends (its brushes and data stay)."""
        self.data["x"], self.data["y"] = x, y
        self.prepareGeometryChange()
        self.informViewBoundsChanged()
        self.bounds = [None, None]
        self.invalidate()
        self.sigPlotChanged.emit(self)


class InspectedRing(Points):
    """A ring around the test point last clicked."""

    def __init__(self):
        super().__init__(size=16, pen=pg.mkPen((0, 0, 0), width=2), brush=None, symbol="o")
        self.setZValue(6)

    def place(self, x: float | None, y: float | None) -> None:
        if x is None or y is None:
            self.setData([], [])
        else:
            self.setData([x], [y])


class PathLine(pg.PlotCurveItem):
    """The interpolation path projected on the shown axes (or the path being dragged with Shift)."""

    def __init__(self, dashed: bool = False):
        style = Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine
        super().__init__(pen=pg.mkPen(PATH_COLOR, width=2, style=style))
        self.setZValue(12)

    def set_path(self, x: np.ndarray | None, y: np.ndarray | None) -> None:
        if x is None or y is None or len(x) == 0:
            self.setData([], [])
        else:
            self.setData(np.asarray(x, float), np.asarray(y, float))


class PathFrames(Points):
    """Dots where the interpolation's frames are decoded."""

    def __init__(self):
        super().__init__(size=6, pen=pg.mkPen((90, 50, 0), width=1), brush=pg.mkBrush(*PATH_COLOR))
        self.setZValue(13)


class OwnMarkers(Points):
    """The user's own images, at their encoder means (stars)."""

    def __init__(self):
        super().__init__(size=22, symbol="star", pen=pg.mkPen("k", width=2),  # seen on light and dark images
                         brush=pg.mkBrush(*OWN_COLOR))
        self.setZValue(14)


class PosteriorEllipses(pg.PlotCurveItem):
    """Each own image's 1-σ posterior ellipse on the shown axes (closed outlines separated by gaps)."""

    SEGMENTS = 64

    def __init__(self):
        super().__init__(pen=pg.mkPen(OWN_COLOR, width=1.5), connect="finite")
        self.setZValue(11)

    def set_ellipses(self, centres: np.ndarray, sigmas: np.ndarray, scale: str) -> None:
        """centres, sigmas: (k, 2) in z on the shown axes; the outline is mapped through the scale."""
        if len(centres) == 0:
            self.setData([], [])
            return
        angle = np.linspace(0, 2 * np.pi, self.SEGMENTS + 1)
        xs, ys = [], []
        for (cx, cy), (sx, sy) in zip(np.asarray(centres, float), np.asarray(sigmas, float)):
            xs.extend(axes.to_plot(cx + sx * np.cos(angle), scale).tolist() + [np.nan])
            ys.extend(axes.to_plot(cy + sy * np.sin(angle), scale).tolist() + [np.nan])
        self.setData(np.asarray(xs), np.asarray(ys))
