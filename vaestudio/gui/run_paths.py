"""Where the window records its runs (one folder per run under the user's application data) and saves models."""

from __future__ import annotations

import os
import time
from pathlib import Path

from PySide6.QtCore import QStandardPaths

RUNS_DIR_VARIABLE = "VAESTUDIO_RUNS_DIR"


def runs_root() -> Path:
    """`$VAESTUDIO_RUNS_DIR` if set, else `<AppDataLocation>/runs`."""
    override = os.environ.get(RUNS_DIR_VARIABLE)
    if override:
        return Path(override).expanduser()
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".vaestudio") / "runs"


def models_root() -> Path:
    """Where Save model… starts: `<runs folder>/../models` (created when first used)."""
    return runs_root().parent / "models"


def new_run_dir(root: Path, dataset: str, when: float | None = None) -> Path:
    """`<root>/<YYYYmmdd-HHMMSS>-<dataset>`, with -2, -3, ... added if that name is taken."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() if when is None else when))
    base = root / f"{stamp}-{dataset}"
    path, number = base, 1
    while path.exists():
        number += 1
        path = base.with_name(f"{base.name}-{number}")
    return path
