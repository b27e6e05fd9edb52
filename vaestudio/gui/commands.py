"""What menus and panels ask of the outside world: file dialogs that remember their folders, questions,
writing files with errors reported in the window (never raised into Qt), the controllers that act on
runs (`training`, `opening`), which the main window hands in, and the File menu's actions (open or
continue a run, open or save a model, encode an image file or files dropped on the window).

Panels get one `Commands` object; they never open dialogs on their own terms or talk to each other.
Tests (and the self-test) answer every dialog and question through `answers[kind]`.
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
        self.asked: list[tuple[str, str]] = []  # (kind, text) of every question asked, for tests
        # Set by the main window: the TrainingController, the RunOpener, and encode_files(paths) -> count,
        # which encodes image files as own images (None in panel tests).
        self.training: Any = None
        self.opening: Any = None
        self.encode_files: Callable[[list], int] | None = None
        self.branch_dialog: Any = None  # the last Branch from here… dialog (gui.branch_dialog), for tests

    # -- folders remembered per kind ("exports", "models", "runs", "images") ------------------------------
    def last_dir(self, kind: str, name: str = "") -> str:
        folder = str(self.settings.value(f"paths/{kind}", "") or self.default_dir(kind))
        return str(Path(folder) / name) if name else folder

    @staticmethod
    def default_dir(kind: str) -> Path:
        """Where a dialog of `kind` starts the first time: models in the models folder, runs in the runs
        folder, everything else in the home folder."""
        from vaestudio.gui.run_paths import models_root, runs_root

        if kind == "models":
            return models_root()
        if kind == "runs":
            return runs_root()
        return Path.home()

    def remember_dir(self, kind: str, folder: str | Path) -> None:
        self.settings.setValue(f"paths/{kind}", str(folder))

    # -- dialogs -----------------------------------------------------------------------------------------
    def ask_save_path(self, kind: str, title: str, default_name: str, filter_text: str, suffix: str) -> Path | None:
        """A path to write to (with `suffix` added when missing), or None when cancelled."""
        if kind in self.answers:
            answer = self.answers[kind]
            return Path(answer) if answer else None
        try:
            Path(self.last_dir(kind)).mkdir(parents=True, exist_ok=True)  # the models folder, the first time
        except OSError:
            pass
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

    def ask_choice(self, kind: str, title: str, text: str, choices: tuple[str, ...], default: str | None = None
                   ) -> str | None:
        """One of `choices` (button texts), or None when the user cancels (Escape / closing the box)."""
        from PySide6.QtWidgets import QMessageBox

        self.asked.append((kind, text))
        if kind in self.answers:
            answer = self.answers[kind]
            return answer if answer in choices else None
        box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.NoButton, self.parent)
        buttons = {box.addButton(choice, QMessageBox.ButtonRole.AcceptRole): choice for choice in choices}
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        for button, choice in buttons.items():
            if choice == default:
                box.setDefaultButton(button)
        box.setEscapeButton(cancel)
        box.exec()
        return buttons.get(box.clickedButton())

    def ask_continue(self, folder: str | Path) -> dict | None:
        """Epochs, learning rate and β for continuing the run in `folder` (the Continue dialog, which says where
        the run stands); None when cancelled or when the folder is not a run that can be read (reported)."""
        from vaestudio.core.store.run_folder import RunFolder

        folder = Path(folder)
        try:
            state = RunFolder(folder).read_state()
        except VaeStudioError as exc:
            message = str(exc) if str(folder) in str(exc) else f"{folder}: {exc}"
            self.studio.report("Cannot continue the run", message)
            return None
        from vaestudio.gui.continue_dialog import ContinueRunDialog, describe_state

        self.asked.append(("continue", describe_state(state, folder.name)))
        if "continue" in self.answers:
            answer = self.answers["continue"]
            return dict(answer) if answer else None
        dialog = ContinueRunDialog(state, folder.name, self.parent)
        if dialog.exec() != ContinueRunDialog.DialogCode.Accepted:
            return None
        return dialog.values()

    def ask_branch(self, history=None, info=None, lower_beta: bool = False):
        """Branch from here…: the dialog for a new run from moment `info` of `history` (default: the moment
        shown); OK trains it in the window. Returns the dialog (shown, not blocking), or None when branching
        is refused (said why). `answers["branch"]`: a dict of values to type and accept, or None to cancel."""
        from vaestudio.gui.branch_dialog import BranchDialog, branch_refusal

        history = history if history is not None else self.studio.active
        info = info if info is not None else (history.current if history is not None else None)
        refusal = branch_refusal(self.studio, history, info)
        if refusal is None and self.training is None:
            refusal = "this window cannot train"
        if refusal is not None:
            self.studio.report("Cannot branch", refusal)
            return None
        try:
            dialog = BranchDialog(history, info, self.training.branch, self.training.config_overrides,
                                  lower_beta=lower_beta, parent=self.parent)
        except VaeStudioError as exc:
            message = str(exc) if str(history.folder) in str(exc) else f"{history.folder}: {exc}"
            self.studio.report("Cannot branch", message)
            return None
        self.asked.append(("branch", dialog.moment_label.text()))
        if self.branch_dialog is not None:  # one dialog at a time; the last one is kept for tests
            self.branch_dialog.close()
            self.branch_dialog.deleteLater()
        self.branch_dialog = dialog
        if "branch" in self.answers:
            answer = self.answers["branch"]
            if answer is None:
                dialog.reject()
            else:
                dialog.set_values(dict(answer))
                dialog.accept()
            return dialog
        dialog.open()
        return dialog

    def ask_branch_at_step(self, step: int) -> None:
        """The collapse banner's *Branch from the last healthy moment*: the dialog at that moment of the run
        shown (which the timeline then shows), β lowered as the alarm advises."""
        history = self.studio.active
        index = history.index_at_step(step) if history is not None else None
        if index is not None:
            history.select(index)
        self.ask_branch(history, history.snapshots[index] if index is not None else None, lower_beta=True)

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

    # -- the File menu ------------------------------------------------------------------------------------
    def ask_open_run(self) -> None:
        folder = self.ask_folder("runs", "Open a run folder (read-only)")
        if folder is not None:
            self.opening.open_run(folder)

    def ask_continue_run(self) -> None:
        """File → Continue run…: choose a run folder, then epochs, learning rate and β in one dialog."""
        if self.studio.is_training:
            return
        folder = self.ask_folder("runs", "Continue a run: choose its folder")
        if folder is not None:
            self.continue_run(folder)

    def continue_run(self, folder: str | Path) -> bool:
        values = self.ask_continue(folder)
        return values is not None and self.training.continue_run(folder, **values)

    def ask_open_model(self) -> None:
        path = self.ask_open_path("models", "Open a saved model", "Keras models (*.keras);;All files (*)")
        if path is not None:
            self.opening.open_model(path)

    def ask_save_model(self) -> None:
        history = self.studio.active
        info = history.current if history is not None else None
        if info is None:
            self.studio.report("Nothing to save", "There is no model to save yet: start training or open a run.")
            return
        name = f"{history.title()}-step{info.step}.keras".replace("/", "-")
        path = self.ask_save_path("models", "Save the model of the moment shown", name, "Keras models (*.keras)",
                                  ".keras")
        if path is not None:
            self.opening.save_model(path, history, info)

    def ask_encode_image(self) -> None:
        path = self.ask_open_path("images", "Encode an image of your own",
                                  "Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp);;All files (*)")
        if path is not None and self.encode_files is not None:
            self.encode_files([path])
