"""The run controls' choice of data: the dataset, where its files are (a folder, or the standard places),
and for an image folder the image size and colour the model is built for."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLabel, QToolButton, QWidget

from vaestudio.gui.commands import Commands

DATASET_CHOICES = (("Fashion-MNIST", "fashion_mnist"), ("MNIST", "mnist"), ("Image folder…", "image_folder"))
IMAGE_FOLDER = "image_folder"


class DataChoice:
    """Dataset, folder and (image folder) shape widgets; `changed()` is called after each change the user
    makes, and `filling()` says whether the panel is filling its fields (then no folder dialog opens)."""

    def __init__(self, commands: Commands, changed: Callable[[], None], filling: Callable[[], bool]):
        self.commands, self.changed, self.filling = commands, changed, filling
        self.data_dirs: dict[bool, str | None] = {False: None, True: None}  # standard datasets, image folder
        self.dataset_combo = QComboBox()
        for text, name in DATASET_CHOICES:
            self.dataset_combo.addItem(text, name)
        self.folder_label = QLabel()
        self.folder_label.setWordWrap(True)
        self.folder_label.setStyleSheet("color: palette(mid);")
        self.folder_button = QToolButton(text="Choose folder…")
        self.folder_clear = QToolButton(text="Standard location")
        self.folder_clear.setToolTip("Look for the dataset in the standard places")
        self.size_combo = QComboBox()
        self.size_combo.addItem("28 × 28", 28)
        self.size_combo.addItem("64 × 64", 64)
        self.channels_combo = QComboBox()
        self.channels_combo.addItem("grey", 1)
        self.channels_combo.addItem("colour", 3)
        self.folder_row = QHBoxLayout()
        self.folder_row.setContentsMargins(0, 0, 0, 0)
        self.folder_row.addWidget(self.folder_button)
        self.folder_row.addWidget(self.folder_clear)
        self.folder_row.addStretch(1)
        shape_row = QHBoxLayout()
        shape_row.setContentsMargins(0, 0, 0, 0)
        shape_row.addWidget(self.size_combo)
        shape_row.addWidget(self.channels_combo)
        shape_row.addStretch(1)
        self.shape_widget = QWidget()
        self.shape_widget.setLayout(shape_row)
        self.shape_label = QLabel("Images")

        self.dataset_combo.currentIndexChanged.connect(self._on_dataset_chosen)
        self.folder_button.clicked.connect(self.choose_data_dir)
        self.folder_clear.clicked.connect(lambda: self.set_data_dir(None))
        self.size_combo.currentIndexChanged.connect(lambda _i: self.changed())
        self.channels_combo.currentIndexChanged.connect(lambda _i: self.changed())

    def add_rows(self, form: QFormLayout) -> None:
        form.addRow("Dataset", self.dataset_combo)
        form.addRow("", self.folder_label)
        form.addRow("", self.folder_row)
        form.addRow(self.shape_label, self.shape_widget)

    # -- values -------------------------------------------------------------------------------------------
    @property
    def dataset(self) -> str:
        return self.dataset_combo.currentData()

    @property
    def image_folder(self) -> bool:
        return self.dataset == IMAGE_FOLDER

    @property
    def data_dir(self) -> str | None:
        return self.data_dirs[self.image_folder]

    def config_values(self) -> dict:
        """The TrainConfig values chosen here."""
        values = {"dataset": self.dataset, "data_dir": self.data_dir}
        if self.image_folder:
            values.update(image_size=self.size_combo.currentData(), channels=self.channels_combo.currentData())
        return values

    def error(self) -> str | None:
        if self.image_folder and not self.data_dir:
            return "Image folder: choose the folder of images (classes in subfolders)"
        return None

    def set_data_dir(self, path: str | None) -> None:
        self.data_dirs[self.image_folder] = path or None
        self.changed()

    def choose_data_dir(self) -> None:
        title = ("Folder of images (one subfolder per class)" if self.image_folder
                 else "Folder with the dataset's IDX files")
        path = self.commands.ask_folder("data", title)
        if path is not None:
            self.set_data_dir(str(path))

    def show_config(self, config) -> None:
        """Show a run's data (the run being continued); the caller refreshes."""
        index = self.dataset_combo.findData(config.dataset)
        if index >= 0:
            self.dataset_combo.setCurrentIndex(index)
        self.data_dirs[config.dataset == IMAGE_FOLDER] = config.data_dir

    def _on_dataset_chosen(self, _index: int) -> None:
        if self.image_folder and not self.data_dir and not self.filling():
            self.choose_data_dir()
        self.changed()

    # -- display ------------------------------------------------------------------------------------------
    def refresh(self, idle: bool) -> None:
        folder = self.data_dir
        if self.image_folder:
            self.folder_label.setText(folder or "no folder chosen")
        else:
            self.folder_label.setText(folder or "standard location (see the README)")
        self.folder_label.setToolTip(folder or "")
        self.folder_clear.setVisible(not self.image_folder)
        self.shape_label.setVisible(self.image_folder)
        self.shape_widget.setVisible(self.image_folder)
        for widget in (self.dataset_combo, self.folder_button, self.folder_clear, self.size_combo, self.channels_combo):
            widget.setEnabled(idle)

    # -- persistence --------------------------------------------------------------------------------------
    def save_settings(self, settings: QSettings) -> None:
        settings.setValue("run/dataset", self.dataset)
        settings.setValue("run/data_dir", self.data_dirs[False] or "")
        settings.setValue("run/image_folder", self.data_dirs[True] or "")
        settings.setValue("run/image_size", self.size_combo.currentData())
        settings.setValue("run/channels", self.channels_combo.currentData())

    def restore_settings(self, settings: QSettings) -> None:
        self.data_dirs[False] = str(settings.value("run/data_dir", "") or "") or None
        self.data_dirs[True] = str(settings.value("run/image_folder", "") or "") or None
        index = self.dataset_combo.findData(settings.value("run/dataset", ""))
        if index >= 0:
            self.dataset_combo.setCurrentIndex(index)
        for combo, key in ((self.size_combo, "run/image_size"), (self.channels_combo, "run/channels")):
            found = combo.findData(_as_int(settings.value(key)))
            if found >= 0:
                combo.setCurrentIndex(found)


def _as_int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
