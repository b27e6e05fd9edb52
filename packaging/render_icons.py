"""Render resources/vaestudio.svg to the PNG sizes the desktop and the window use.

    python packaging/render_icons.py            # writes resources/icons/vaestudio-<size>.png
    python packaging/render_icons.py --check    # exit 1 if a PNG is missing or older than the SVG

Uses QtSvg from PySide6-Essentials, headless (no display needed).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

SIZES = (16, 32, 48, 64, 128, 256)
RESOURCES = Path(__file__).resolve().parent.parent / "resources"
SVG = RESOURCES / "vaestudio.svg"


def png_path(size: int, resources: Path = RESOURCES) -> Path:
    """Where the PNG of one size lives."""
    return resources / "icons" / f"vaestudio-{size}.png"


def render(svg: Path = SVG, resources: Path = RESOURCES, sizes: tuple[int, ...] = SIZES) -> list[Path]:
    """Render `svg` to a transparent square PNG per size; returns the paths written."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])  # QPainter needs one for fonts
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"render_icons: {svg} is not a valid SVG")
    written = []
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        target = png_path(size, resources)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(target), "PNG"):
            raise SystemExit(f"render_icons: could not write {target}")
        written.append(target)
    return written


def stale(svg: Path = SVG, resources: Path = RESOURCES, sizes: tuple[int, ...] = SIZES) -> list[Path]:
    """PNGs that are missing or older than the SVG."""
    newest = svg.stat().st_mtime
    return [p for p in map(lambda s: png_path(s, resources), sizes) if not p.exists() or p.stat().st_mtime < newest]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report missing or out-of-date PNGs")
    args = parser.parse_args(argv)
    if args.check:
        missing = stale()
        for path in missing:
            print(f"render_icons: {path} is missing or older than {SVG.name}", file=sys.stderr)
        return 1 if missing else 0
    for path in render():
        print(f"wrote {path.relative_to(RESOURCES.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
