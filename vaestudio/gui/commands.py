"""What menus and panels ask of the outside world: file dialogs that remember their folders, and writing
files with errors reported in the window (never raised into Qt).

Panels get one `Commands` object; they never open dialogs on their own terms or talk to each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QWidget

from vaestudio.core.errors import VaeStudioError
from vaestudio.gui.state.studio import Studio


class Commands:
    """File dialogs and writes on behalf of the window and its panels."""

    def __init__(self, studio: Studio, settings: QSettings, parent: QWidget | None = None):
        self.studio = studio
        self.settings = settings
        self.parent = parent
        # Tests (and the self-test) answer dialogs by setting these: kind -> path, or None to cancel.
        self.answers: dict[str, Any] = {}

    # -- folders remembered per kind ("exports", "models", "runs", "images") ------------------------------
    def last_dir(self, kind: str, name: str = "") -> str:
        folder = str(self.settings.value(f"paths/{kind}", "") or Path.home())
        return str(Path(folder) / name) if name else folder

    def remember_dir(self, kind: str, folder: str | Path) -> None:
        self.settings.setValue(f"paths/{kind}", str(folder))

    # -- dialogs -----------------------------------------------------------------------------------------
    def ask_save_path(self, kind: str, title: str, default_name: str, filter_text: str, suffix: str) -> Path | None:
        """A path to write to (with `suffix` added when missing), or None when cancelled."""
        if kind in self.answers:
            answer = self.answers[kind]
            return Path(answer) if answer else None
        path, _ = QFileDialog.getSaveFileName(self.parent, title, self.last_dir(kind, default_name), filter_text)
        if not path:
            return None
        if not path.lower().endswith(suffix):
            path += suffix
        self.remember_dir(kind, Path(path).parent)
        return Path(path)

    def ask_open_path(self, kind: str, title: str, filter_text: str) -> Path | None:
        if kind in self.answers:
            answer = self.answers[kind]
            return Path(answer) if answer else None
        path, _ = QFileDialog.getOpenFileName(self.parent, title, self.last_dir(kind), filter_text)
        if not path:
            return None
        self.remember_dir(kind, Path(path).parent)
        return Path(path)

    def ask_folder(self, kind: str, title: str) -> Path | None:
        if kind in self.answers:
            answer = self.answers[kind]
            return Path(answer) if answer else None
        path = QFileDialog.getExistingDirectory(self.parent, title, self.last_dir(kind))
        if not path:
            return None
        self.remember_dir(kind, Path(path).parent)
        return Path(path)

    # -- writing ------------------------------------------------------------------------------------------
    def write(self, path: str | Path, write: Callable[[], Any], what: str) -> bool:
        """Run `write()` (which writes `path`) with a busy cursor; errors are shown, not raised."""
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            write()
        except VaeStudioError as exc:
            self.studio.report("Export failed", str(exc))
            return False
        except Exception as exc:  # noqa: BLE001 - an unexpected writer error must not take the window down
            self.studio.report("Export failed", f"{path}: {type(exc).__name__}: {exc}")
            return False
        finally:
            QApplication.restoreOverrideCursor()
        self.studio.say(f"Exported {what} to {path}", 8000)
        return True
