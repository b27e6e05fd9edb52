"""The main window's docks: panels built so that one failing panel cannot take the window down, docks
added (tabbed where asked), their start sizes, and a work-around for tab bars Qt leaves behind."""

from __future__ import annotations

import importlib
import traceback

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QScrollArea, QTabBar, QVBoxLayout, QWidget

LEFT, RIGHT, BOTTOM = (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea,
                       Qt.DockWidgetArea.BottomDockWidgetArea)
# (module in vaestudio.gui.panels, class, area, tab group); a panel that fails to build becomes a label.
OPTIONAL_PANELS = (
    ("cursor_preview", "CursorPreviewPanel", RIGHT, "right-top"),
    ("own_images", "OwnImagesPanel", RIGHT, "right"),
    ("drawing_pad", "DrawingPadPanel", RIGHT, "right"),
    ("kl", "KlPanel", RIGHT, "right"),
    ("reconstructions", "ReconstructionsPanel", BOTTOM, "bottom"),
    ("interpolation", "InterpolationPanel", BOTTOM, "bottom"),
    ("quality", "QualityPanel", BOTTOM, "bottom"),
)
# The diagnosis docks (issue 18), built with (studio, studio.diagnosis): the traversal sheet is tall (one row
# per latent dimension), so it joins the right-hand tabs; the gallery and the figures are wide: bottom tabs.
DIAGNOSIS_PANELS = (
    ("traversals", "TraversalsPanel", RIGHT, "right"),
    ("worst_images", "WorstImagesPanel", BOTTOM, "bottom"),
    ("latent_quality", "LatentQualityPanel", BOTTOM, "bottom"),
)
# The ticked runs side by side (View → Compare runs…): the last of the bottom tabs.
COMPARE_PANEL = ("compare_view", "CompareViewPanel", BOTTOM, "bottom")
DOCKED_PANELS = OPTIONAL_PANELS + DIAGNOSIS_PANELS + (COMPARE_PANEL,)
# Panels of the right-hand column, scrolled when the screen is small (1280x720): their minimum sizes
# added up would otherwise make the window larger than the screen, or the plane very narrow.
SCROLLED_PANELS = ("cursor_preview", "own_images", "drawing_pad")
DIAGNOSIS_PARTS = {"traversals": ("traversals",), "worst_images": ("worst",), "latent_quality": ("health", "quality")}
# Shorter dock titles where the panel's name would not fit its tab: at 1280x720 the four right-hand tabs share
# about 346 px and Qt elided them to "Your i…", "Drawin…", "Latent dimen…", "Trav…". The panel's full name
# stays the tab's tooltip and its entry in the View menu.
TAB_TITLES = {"drawing_pad": "Draw", "kl": "Dimensions"}
FULL_TITLE = "full_title"  # the dock property holding the panel's full name
DOCK_FEATURES = (QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                 | QDockWidget.DockWidgetFeature.DockWidgetClosable)


def configure_pyqtgraph() -> None:
    """pyqtgraph's options for every plot of the window: set before the first panel is built."""
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=True, imageAxisOrder="row-major")


def optional_panel(module: str, class_name: str, studio, commands) -> QWidget:
    """Build `vaestudio.gui.panels.<module>.<class_name>(studio, commands)`; a panel that fails to build is
    replaced by a label saying why (the window still opens)."""
    try:
        panel_class = getattr(importlib.import_module(f"vaestudio.gui.panels.{module}"), class_name)
        return panel_class(studio, commands)
    except Exception as exc:  # noqa: BLE001 - one broken panel must not take the window down
        failure = exc
    traceback.print_exception(failure)
    label = QLabel(f"The {module.replace('_', ' ')} panel could not be built: {type(failure).__name__}: {failure}")
    label.setWordWrap(True)
    label.title = module.replace("_", " ").capitalize()  # type: ignore[attr-defined]
    return label


def column(top: QWidget, bottom: QWidget, banner: QWidget | None = None) -> QWidget:
    """`top` (taking the room) over `bottom`, without margins, `banner` (if any) above both: the central
    area."""
    central = QWidget()
    layout = QVBoxLayout(central)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    if banner is not None:
        layout.addWidget(banner)
    layout.addWidget(top, 1)
    layout.addWidget(bottom)
    return central


class UiPost(QObject):
    """post(fn): run `fn` on the UI thread (a queued signal), from any thread; nothing once the owner is gone."""

    _call = Signal(object)

    def __init__(self, parent: QObject):
        super().__init__(parent)
        self._call.connect(self._run)

    @Slot(object)
    def _run(self, fn) -> None:
        fn()

    def post(self, fn) -> None:
        try:
            self._call.emit(fn)
        except RuntimeError:  # the window is gone: nobody is left to tell
            pass

    def later(self, seconds: float, fn) -> None:
        """Run `fn()` on this object's thread after `seconds` (nothing if this object is gone by then)."""
        QTimer.singleShot(max(0, round(seconds * 1000)), self, fn)


def dockable(module: str, panel: QWidget) -> QWidget:
    """What the dock of `module` holds: its panel, scrolled if it is one of SCROLLED_PANELS."""
    return scrolled(panel, 0) if module in SCROLLED_PANELS else panel


def scrolled(widget: QWidget, min_width: int) -> QScrollArea:
    """`widget` in a frameless scroll area at least `min_width` wide (a tall panel in a short dock)."""
    scroll = QScrollArea()
    scroll.setWidget(widget)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QScrollArea.Shape.NoFrame)
    scroll.setMinimumWidth(min_width)
    return scroll


def add_dock(window: QMainWindow, docks: dict[str, QDockWidget], key: str, title: str, widget: QWidget, area,
             tab_with: str | None = None) -> QDockWidget:
    """A dock named `key` holding `widget` in `area`, or tabbed with the dock `tab_with`; kept in `docks`. Its
    title is `title` (the View menu's entry, its tab's tooltip), shortened on its tab and title bar as
    TAB_TITLES says."""
    dock = QDockWidget(TAB_TITLES.get(key, title), window)
    dock.setObjectName(f"dock-{key}")  # what saved layouts restore by: unchanged by a shorter title
    dock.setProperty(FULL_TITLE, title)
    dock.toggleViewAction().setText(title)
    dock.setWidget(widget)
    dock.setFeatures(DOCK_FEATURES)
    if tab_with is not None and tab_with in docks:
        window.tabifyDockWidget(docks[tab_with], dock)
    else:
        window.addDockWidget(area, dock)
    docks[key] = dock
    return dock


def size_docks(window: QMainWindow, docks: dict[str, QDockWidget], left_width: int) -> None:
    """Start sizes: the central plane gets the most room; side docks about a fifth of the width each (the
    left at least `left_width`), the bottom about a third of the height."""
    width, height = max(window.width(), 800), max(window.height(), 600)

    def first_in(area) -> list[QDockWidget]:
        return [dock for dock in docks.values() if window.dockWidgetArea(dock) == area][:1]

    if first_in(LEFT):
        window.resizeDocks(first_in(LEFT), [max(int(width * 0.2), left_width)], Qt.Orientation.Horizontal)
    if first_in(RIGHT):
        window.resizeDocks(first_in(RIGHT), [int(width * 0.22)], Qt.Orientation.Horizontal)
    if first_in(BOTTOM):
        window.resizeDocks(first_in(BOTTOM), [int(height * 0.32)], Qt.Orientation.Vertical)


def compare_while_shown(window: QMainWindow, docks: dict[str, QDockWidget], comparison) -> None:
    """The Compare view's pictures are computed only while its dock can be seen (as the diagnosis parts);
    a "Compare…" request (`comparison.view_requested`) shows it."""
    dock = docks.get("compare_view")
    if dock is not None:
        dock.visibilityChanged.connect(comparison.want)
        comparison.view_requested.connect(lambda: show_compare_view(window, docks))


def show_compare_view(window: QMainWindow, docks: dict[str, QDockWidget]) -> None:
    """View → Compare runs: the Compare dock shown, its tab raised, and at least half the window's height."""
    dock = docks.get("compare_view")
    if dock is None:
        return
    dock.show()
    dock.raise_()

    def enlarge() -> None:  # once the raised tab is laid out
        if not dock.isFloating() and dock.height() < window.height() * 0.45:
            window.resizeDocks([dock], [int(window.height() * 0.5)], Qt.Orientation.Vertical)

    QTimer.singleShot(0, enlarge)


def diagnose_while_shown(docks: dict[str, QDockWidget], diagnosis) -> None:
    """Compute each diagnosis part only while its dock can be seen (its tab selected, not closed): a dock
    tabbed away costs nothing while the timeline is scrubbed. Qt keeps a tabbed-away dock "visible";
    visibilityChanged is what follows its tab."""
    for key, parts in DIAGNOSIS_PARTS.items():
        dock = docks.get(key)
        if dock is None:
            continue

        def follow(visible: bool, parts=parts) -> None:
            for part in parts:
                diagnosis.want(part, visible)

        dock.visibilityChanged.connect(follow)


def refresh_while_shown(docks: dict[str, QDockWidget], panels: dict[str, QWidget]) -> None:
    """Panels with a `refresher` (widgets.RefreshWhenShown) redraw only while their dock can be seen, and
    catch up when it is shown again."""
    for key, panel in panels.items():
        refresher, dock = getattr(panel, "refresher", None), docks.get(key)
        if refresher is not None and dock is not None:
            dock.visibilityChanged.connect(refresher.seen)
            refresher.seen(dock.isVisible() and not dock.visibleRegion().isEmpty())


def hide_stale_tab_bars(window: QMainWindow, docks: dict[str, QDockWidget]) -> int:
    """Hide the tab bars Qt leaves behind (Qt 6.11: tabifying docks in a second dock area, or restoring
    a layout, leaves an earlier tab bar visible where it was, e.g. a stray "ELBO | Reconstructions" bar
    under the Run dock). A live bar sits right under the dock of its current tab; returns how many
    were hidden."""
    by_title = {dock.windowTitle(): dock for dock in docks.values()}
    hidden = 0
    for bar in window.findChildren(QTabBar):
        if bar.parent() is not window or not bar.isVisible():
            continue
        dock = by_title.get(bar.tabText(bar.currentIndex()))
        placed, area = bar.geometry(), dock.geometry() if dock is not None else None
        under_its_dock = (area is not None and dock.isVisible() and abs(area.bottom() + 1 - placed.top()) <= 3
                          and area.left() < placed.right() and placed.left() < area.right())
        if not under_its_dock:
            bar.hide()
            hidden += 1
    return hidden


def name_tabs(window: QMainWindow, docks: dict[str, QDockWidget]) -> None:
    """Give each dock tab the panel's full name as its tooltip (Qt sets the tab's text there, and again
    whenever it rebuilds a tab bar)."""
    full_names = {dock.windowTitle(): dock.property(FULL_TITLE) or dock.windowTitle() for dock in docks.values()}
    for bar in window.findChildren(QTabBar):
        if bar.parent() is not window:
            continue
        for index in range(bar.count()):
            full = full_names.get(bar.tabText(index))
            if full is not None and bar.tabToolTip(index) != full:
                bar.setTabToolTip(index, full)
