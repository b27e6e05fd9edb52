"""The widget the latent plane is drawn in: a pyqtgraph layout widget whose scene skips hover searches
while a mouse button is held.

pyqtgraph's scene looks for the items under the mouse on every move to send hover events; during a drag
nothing on the plane needs them, and the search was a third of a drag frame's work
(benchmarks/plane_frame_cost.py). A scene this small is also searched faster without Qt's BSP index,
which would be rebuilt for every move of the cross-hair.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGraphicsScene, QWidget


class PlaneScene(pg.GraphicsScene):
    """A pyqtgraph scene that sends hover events only while no mouse button is held."""

    def __init__(self, parent=None):
        super().__init__(parent=parent)
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)

    def sendHoverEvents(self, ev, exitOnly=False):  # noqa: N802, N803 (pyqtgraph's names)
        if not self.dragButtons:
            super().sendHoverEvents(ev, exitOnly)


class PlaneCanvas(pg.GraphicsLayoutWidget):
    """A GraphicsLayoutWidget drawing into a `PlaneScene`."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        # pyqtgraph's GraphicsView makes its own scene in __init__ (no hook to choose its class): move the
        # (still empty) layout into a PlaneScene and let the stock scene go.
        layout = self.ci
        self.setCentralItem(None)
        stock = self.sceneObj
        self.sceneObj = PlaneScene(parent=self)
        self.setScene(self.sceneObj)
        self.setCentralItem(layout)
        stock.deleteLater()
        self.setBackground("w")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # the plane takes the arrow keys
