"""The class a conditional model decodes for: a combo on the latent plane's bar (every class by name, and
"All classes": the grid shows one row per class), and a combo beside the drawing pad and the own images
(the class they are encoded with; "As on the plane" follows the plane's choice). Shown only for a
conditional model; choices go back through the view (`choose_class`). Classes are named as the plane's
legend names them: from the active run's test images (`Studio.probe_changed`), numbered until they come."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QWidget

from vaestudio.gui.state.latent_view import ALL_CLASSES, LatentView
from vaestudio.gui.widgets import subscribe

ALL_CLASSES_TEXT = "All classes"
AS_ON_PLANE_TEXT = "As on the plane"


def class_name(names, label: int) -> str:
    """The name of class `label` as the legend shows it ("Trouser"); "class 3" when the run's class names
    are unknown or are the numbers themselves (MNIST's digits)."""
    name = names[label] if 0 <= label < len(names) else ""
    return name if name and name != str(label) else f"class {label}"


def add_classes(box: QComboBox, names, classes: int) -> None:
    """Add one item per class to `box`, named, its number in the item's tooltip."""
    for label in range(classes):
        box.addItem(class_name(names, label), label)
        box.setItemData(box.count() - 1, f"Class {label}", Qt.ItemDataRole.ToolTipRole)


def probe_class_names(studio) -> tuple[str, ...]:
    """The class names of the active run's test images (what the plane's legend shows); () before they come."""
    probe = studio.explorer.probe
    return probe.class_names if probe is not None else ()


class ClassSelector(QComboBox):
    """The plane's class: the view's `decode_class` (hidden unless the model takes classes)."""

    def __init__(self, view: LatentView, class_names: Callable[[], tuple[str, ...]],
                 names_changed=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.view, self.class_names = view, class_names
        self.setToolTip("The class the grid, the cursor preview and the interpolation decode for (a conditional "
                        "model); All classes: the grid shows one row per class along the x axis")
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # names replace numbers later
        self._filling = False
        self.activated.connect(self._on_chosen)
        subscribe(self, [(view.events.classes, self._on_classes), (view.events.decode_class, self._on_class),
                         *([(names_changed, self._on_classes)] if names_changed is not None else [])])
        self._on_classes()

    @classmethod
    def of_probe(cls, view: LatentView, studio) -> "ClassSelector":
        """A selector naming the classes of the active run's test images, as the plane's legend does."""
        return cls(view, lambda: probe_class_names(studio), studio.probe_changed)

    def _on_classes(self, *_args) -> None:
        self._filling = True
        try:
            self.clear()
            add_classes(self, self.class_names(), self.view.classes)
            if self.view.classes:
                self.addItem(ALL_CLASSES_TEXT, ALL_CLASSES)
        finally:
            self._filling = False
        self.setVisible(self.view.classes > 0)
        self._on_class()

    def _on_class(self, *_args) -> None:
        index = self.findData(self.view.decode_class)
        if index >= 0 and index != self.currentIndex():
            self._filling = True
            self.setCurrentIndex(index)
            self._filling = False

    def _on_chosen(self, index: int) -> None:
        if not self._filling and index >= 0:
            self.view.choose_class(int(self.itemData(index)))

    def choose(self, label: int) -> None:
        """Choose `label` (a class, or ALL_CLASSES) as the user would."""
        index = self.findData(label)
        if index < 0:
            raise ValueError(f"class {label!r} is not offered (this model takes {self.view.classes} classes)")
        self.setCurrentIndex(index)
        self._on_chosen(index)


class OwnClassBox(QComboBox):
    """The class own images are encoded with: "As on the plane" (None) or one class (hidden unless the model
    takes classes)."""

    def __init__(self, view: LatentView, class_names: Callable[[], tuple[str, ...]],
                 names_changed=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.view, self.class_names = view, class_names
        self.setToolTip("The class a conditional model encodes and decodes this image with")
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        subscribe(self, [(view.events.classes, self._on_classes),
                         *([(names_changed, self._on_classes)] if names_changed is not None else [])])
        self._on_classes()

    @classmethod
    def of_probe(cls, view: LatentView, studio) -> "OwnClassBox":
        """A box naming the classes of the active run's test images, as the plane's legend does."""
        return cls(view, lambda: probe_class_names(studio), studio.probe_changed)

    def _on_classes(self, *_args) -> None:
        chosen = self.label()
        self.clear()
        self.addItem(AS_ON_PLANE_TEXT, None)
        add_classes(self, self.class_names(), self.view.classes)
        index = self.findData(chosen) if chosen is not None else 0
        self.setCurrentIndex(max(index, 0))
        self.setVisible(self.view.classes > 0)

    def show_label(self, label: int | None) -> None:
        """Show `label` (None: "As on the plane") without choosing it."""
        self.setCurrentIndex(max(self.findData(label) if label is not None else 0, 0))

    def label(self) -> int | None:
        """The class chosen (None: the plane's)."""
        data = self.currentData()
        return None if data is None else int(data)
