"""Find the application's resource files (icon, .desktop entry) wherever vaestudio runs from.

- installed wheel: `vaestudio/_resources/` next to this module (setuptools maps top-level `resources/` there);
- PyInstaller bundle: `<sys._MEIPASS>/vaestudio/_resources/` (the spec puts them there);
- source checkout: the top-level `resources/` folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

ICON_SIZES = (16, 32, 48, 64, 128, 256)
_PACKAGED = "_resources"


def resource_dir() -> Path:
    """The folder holding the resource files; raises FileNotFoundError if there is none."""
    here = Path(__file__).resolve().parent
    candidates = [here / _PACKAGED]
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        candidates.append(Path(bundle) / "vaestudio" / _PACKAGED)
    candidates.append(here.parent / "resources")
    for folder in candidates:
        if (folder / "vaestudio.svg").is_file():
            return folder
    raise FileNotFoundError("vaestudio resources not found; looked in " + ", ".join(map(str, candidates)))


def resource_path(name: str) -> Path:
    """Path of the resource file `name` (e.g. "vaestudio.desktop", "icons/vaestudio-64.png")."""
    return resource_dir() / name


def app_icon_path(size: int | None = None) -> Path:
    """The application icon: the SVG, or the PNG of one of ICON_SIZES."""
    if size is None:
        return resource_path("vaestudio.svg")
    if size not in ICON_SIZES:
        raise ValueError(f"no {size}px icon; sizes are {', '.join(map(str, ICON_SIZES))}")
    return resource_path(f"icons/vaestudio-{size}.png")


def app_icon():
    """A QIcon with every PNG size, for QApplication.setWindowIcon. Imports Qt (PNG needs no SVG plugin)."""
    from PySide6.QtGui import QIcon

    icon = QIcon()
    for size in ICON_SIZES:
        icon.addFile(str(app_icon_path(size)))
    return icon
