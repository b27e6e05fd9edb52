"""File → Export: the training animation (with its options dialog), the grid as PNG, recorded morphs,
File → Export… (the moment shown as a Keras, SavedModel, ONNX, LiteRT or TF.js model, or the test set's codes)
and the HTML report (vaestudio/report/, written by a task off the UI thread).

Every export reads what it writes from the state (the run folder's snapshots, the explorer's grid, the
morph recorder), writes through `Commands.write` (atomic, one error line naming the file) or as a task on
the window's executor (the model formats take seconds: the window stays responsive), and never raises: a
failure is reported and the window keeps working.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtWidgets import QWidget

from vaestudio.gui.commands import Commands
from vaestudio.gui.recording import MorphRecorder
from vaestudio.gui.state.studio import Studio

Report = Callable[[str, str], None]  # (title, message)
Message = Callable[[str, int], None]  # (text, milliseconds)


class Exports:
    """The window's exports; `report(title, message)` shows errors, `message(text, ms)` the status bar."""

    def __init__(self, studio: Studio, commands: Commands, settings, recorder: MorphRecorder, report: Report,
                 message: Message, parent: QWidget):
        self.studio, self.commands, self.settings, self.recorder = studio, commands, settings, recorder
        self.report, self.message, self.parent = report, message, parent

    # -- the training animation -----------------------------------------------------------------------------
    def ask_animation(self) -> None:
        """Ask for the GIF's options (with an estimate of its size) and its path, then write it."""
        from vaestudio.core.store.run_folder import RunFolder
        from vaestudio.gui.export_dialog import AnimationExportDialog

        history = self.studio.active
        if history is None or history.folder is None or not history.snapshots:
            self.report("Nothing to export", "There are no snapshots yet: start training or open a run.")
            return
        store = RunFolder(history.folder).snapshots
        records = store.records()
        picks = sorted({0, len(records) // 2, len(records) - 1}) if records else []
        sample = []
        for index in picks:
            try:
                sample.append(store.load_mosaic(records[index]))
            except Exception:  # noqa: BLE001 - the estimate only
                pass
        seconds = float(self.settings.value("export/frame_seconds", 0.2) or 0.2)
        levels = int(self.settings.value("export/levels", 16) or 16)
        dialog = AnimationExportDialog(len(records), sample, seconds, levels, self.parent)
        if "animation" in self.commands.answers:
            options = self.commands.answers["animation"]
        elif dialog.exec() == AnimationExportDialog.DialogCode.Accepted:
            options = dialog.options()
        else:
            options = None
        if not options:
            return
        self.settings.setValue("export/frame_seconds", options.get("frame_seconds", 0.2))
        self.settings.setValue("export/levels", options.get("levels", 256))
        path = self.commands.ask_save_path("exports", "Export training animation", "training.gif",
                                           "GIF images (*.gif)", ".gif")
        if path is not None:
            self.animation(path, **options)

    def animation(self, path: str | Path, frame_seconds: float = 0.2, captions: bool = True, scale: int = 1,
                  levels: int = 256) -> bool:
        """GIF of every snapshot of the run shown, read back from its run folder."""
        from vaestudio.core.errors import ExportError
        from vaestudio.core.store.images import save_gif
        from vaestudio.core.store.run_folder import RunFolder

        history = self.studio.active
        if history is None or history.folder is None:
            self.report("Nothing to export", "There are no snapshots yet: start training or open a run.")
            return False
        folder = RunFolder(history.folder)

        def write():
            frames, labels = folder.load_frames()
            if not frames:
                raise ExportError(f"{folder.path}: the run has no snapshots yet")
            save_gif(frames, path, frame_seconds=frame_seconds, captions=labels if captions else None, scale=scale,
                     levels=levels)

        return self.commands.write(path, write, "the training animation")

    # -- the grid -----------------------------------------------------------------------------------------------
    def ask_png(self) -> None:
        path = self.commands.ask_save_path("exports", "Export grid as PNG", "grid.png", "PNG images (*.png)", ".png")
        if path is not None:
            self.png(path)

    def png(self, path: str | Path) -> bool:
        """The grid the latent plane shows, as a PNG."""
        from vaestudio.core.store.images import save_png

        grid = self.studio.explorer.pictures.grid
        if grid is None:
            self.report("Nothing to export", "The latent plane shows no grid yet.")
            return False
        return self.commands.write(path, lambda: save_png(grid, path), "the grid")

    # -- File → Export…: the moment shown, for use elsewhere ----------------------------------------------------
    def ask_snapshot(self) -> None:
        """Ask for a format and a path (the dialog), then export the moment shown in the background."""
        from vaestudio.gui.export_dialog import SnapshotExportDialog

        history = self.studio.active
        info = history.current if history is not None else None
        if info is None or not info.has_weights:
            self.report("Nothing to export", "The moment shown has no model weights: start training or open a run.")
            return
        if "export" in self.commands.answers:
            options = self.commands.answers["export"]
        else:
            stem = f"{history.title()}-step{info.step}".replace("/", "-")
            dialog = SnapshotExportDialog(f"{history.title()}: {info.label} (step {info.step})",
                                          Path(self.commands.last_dir("exports")), stem,
                                          str(self.settings.value("export/kind", "onnx")), self.parent)
            options = dialog.values() if dialog.exec() == SnapshotExportDialog.DialogCode.Accepted else None
        if options:
            self.settings.setValue("export/kind", options["kind"])
            self.commands.remember_dir("exports", Path(options["path"]).parent)
            self.snapshot(options["kind"], options["path"])

    def snapshot(self, kind: str, path: str | Path) -> None:
        """Export the moment shown as `kind` (core/export/kinds.py) to `path`, as a task; the status bar says
        when it is written, an error is reported."""
        from vaestudio.core.export.formats import MODEL_FORMATS

        history = self.studio.active
        info = history.current if history is not None else None
        if info is None:
            self.report("Nothing to export", "There is no model to export yet: start training or open a run.")
            return
        path, opening = Path(path), self.commands.opening
        source = f"{history.title()}, snapshot '{info.label}' (step {info.step})"
        provider = getattr(opening, "dataset_provider", None)

        def work(task):
            from vaestudio.core.errors import ExportError
            from vaestudio.core.export.kinds import export_kind

            task.set_status(f"Exporting {source} to {path}…")
            weights = history.weights_at(info)
            if weights is None:
                raise ExportError(f"{path}: this snapshot was recorded without model weights (vaestudio 0.1.0)")
            return export_kind(kind, weights, path, source, history.config, provider)

        def done(what: str) -> None:
            self.studio.say(f"Exported {what} of {info.label} to {path}", 10000)

        def failed(message: str) -> None:
            self.report("Export failed", message if str(path) in message else f"{path}: {message}")

        self.studio.say(f"Exporting {info.label} to {path}…")
        start = lambda: opening.executor.start(work, done, failed, key="export")  # noqa: E731
        if kind in MODEL_FORMATS and kind != "tfjs":
            opening.loader.when_ready(start, failed)  # TensorFlow converts
        else:
            start()

    # -- the HTML report --------------------------------------------------------------------------------------
    def ask_html_report(self) -> None:
        history = self.studio.active
        if history is None or history.folder is None or not history.snapshots:
            self.report("Nothing to export", "There are no snapshots yet: start training or open a run.")
            return
        path = self.commands.ask_save_path("exports", "Export report", f"{Path(history.folder).name}.html",
                                           "HTML pages (*.html)", ".html")
        if path is not None:
            self.html_report(path)

    def html_report(self, path: str | Path):
        """Write the report of the run shown, at the snapshot shown, as a task on the window's executor; its
        TaskState (None: nothing to report). The status bar says when it is written; an error is shown in one line."""
        from vaestudio.report.command import write_report

        history = self.studio.active
        if history is None or history.folder is None:
            self.report("Nothing to export", "There are no snapshots yet: start training or open a run.")
            return None
        shown = history.current
        at = f"step:{shown.step}" if shown is not None else None
        folder = history.folder
        provider = getattr(self.commands.opening, "dataset_provider", None)  # the window's data (tests: tiny)

        def work(task):
            return write_report(folder, path, at, progress=task.set_status, load_dataset=provider)

        self.message(f"Writing the report {path}…", 0)
        return self.parent.executor.start(work, lambda written: self.message(f"Exported the report to {written}", 8000),
                                   lambda error: self.report("Export failed", error), key="html-report",
                                   on_status=lambda text: self.message(f"Report: {text}…", 0))

    # -- recorded morphs ----------------------------------------------------------------------------------------
    def offer_morph_save(self, count: int) -> None:
        """Recording stopped: ask where to save the morph (or say that nothing was recorded)."""
        if count == 0:
            self.message("Nothing was recorded: drag the cursor while recording", 6000)
            return
        frames = f"{count} frame{'s' if count != 1 else ''}"
        path = self.commands.ask_save_path("exports", f"Save the recorded morph ({frames})", "morph.gif",
                                           "GIF images (*.gif)", ".gif")
        if path is None:
            self.message(f"Recorded {frames}, not saved", 6000)
            return
        self.morph(path)

    def morph(self, path: str | Path, frame_seconds: float = 1 / 30, scale: int = 4) -> bool:
        """The recorded morph as a GIF."""
        from vaestudio.core.store.images import save_gif

        frames = list(self.recorder.frames)
        if not frames:
            self.report("Nothing to export", "The morph recording is empty.")
            return False
        count = len(frames)
        return self.commands.write(path, lambda: save_gif(frames, path, frame_seconds=frame_seconds, scale=scale),
                                   f"the morph ({count} frame{'s' if count != 1 else ''})")
