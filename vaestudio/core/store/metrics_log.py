"""The run folder's metrics.csv: one row per reported train step and one per finished epoch.

Rows are appended and flushed one line at a time, so a crash loses at most the line being
written; such a torn last line (no newline) is ignored when reading and dropped before the
next append. On resume, `truncate_after_epoch` cuts the file back to the resumed checkpoint.
"""

from __future__ import annotations

import csv
import io
import threading
from pathlib import Path

from vaestudio.core.store.atomic import write_bytes_atomic
from vaestudio.core.errors import ExportError, RunFolderError

COLUMNS: tuple[str, ...] = (
    "kind",
    "epoch",
    "step",
    "elbo",
    "log_likelihood",
    "kl",
    "test_elbo",
    "test_log_likelihood",
    "test_kl",
    "seconds",
    "images_per_second",
)
_INT_COLUMNS = ("epoch", "step")
_KINDS = ("step", "epoch")
_HEADER_LINE = ",".join(COLUMNS) + "\n"

Row = dict[str, "str | int | float | None"]


class MetricsLog:
    """Append-only CSV of training metrics with a fixed header (see COLUMNS).

    `rows()` returns dicts keyed by COLUMNS: kind is "step" or "epoch", epoch and step are ints,
    the other cells floats, or None where empty (e.g. test_elbo on a step row).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._tail_checked = False
        self._read_lines()  # fails now, not at the first append, on a foreign or unreadable file

    def append_step(
        self,
        epoch: int,
        step: int,
        elbo: float,
        log_likelihood: float,
        kl: float,
        images_per_second: float | None = None,
    ) -> None:
        """Record the train ELBO terms reported at global `step`."""
        self._append(
            kind="step", epoch=epoch, step=step, elbo=elbo, log_likelihood=log_likelihood, kl=kl,
            images_per_second=images_per_second,
        )

    def append_epoch(
        self,
        epoch: int,
        step: int,
        test_elbo: float,
        test_log_likelihood: float,
        test_kl: float,
        seconds: float | None = None,
        *,
        elbo: float | None = None,
        log_likelihood: float | None = None,
        kl: float | None = None,
        images_per_second: float | None = None,
    ) -> None:
        """Record the end of `epoch`: its test ELBO terms, training seconds and optional train averages."""
        self._append(
            kind="epoch", epoch=epoch, step=step, elbo=elbo, log_likelihood=log_likelihood, kl=kl,
            test_elbo=test_elbo, test_log_likelihood=test_log_likelihood, test_kl=test_kl,
            seconds=seconds, images_per_second=images_per_second,
        )

    def rows(self) -> list[Row]:
        """All complete rows in file order; [] if the file does not exist yet."""
        with self._lock:
            return [row for _, row in self._parsed()]

    def truncate_after_epoch(self, epoch: int) -> None:
        """Keep only rows of epochs <= `epoch` (and drop a torn last line), rewriting the file atomically."""
        self._keep_rows(lambda row: row["epoch"] <= epoch)

    def truncate_after_step(self, step: int) -> None:
        """Keep only rows up to global `step`: what a checkpoint taken at that step had seen."""
        self._keep_rows(lambda row: row["step"] <= step)

    def _keep_rows(self, keep) -> None:
        with self._lock:
            lines = self._read_lines()
            if lines is None:
                return
            kept = [line for line, row in self._parsed(lines) if keep(row)]
            try:
                write_bytes_atomic(self.path, (_HEADER_LINE + "".join(kept)).encode("utf-8"))
            except ExportError as exc:
                raise RunFolderError(str(exc)) from None
            self._tail_checked = True

    # -- internals ---------------------------------------------------------------------------

    def _append(self, **values: object) -> None:
        cells = [_format_cell(name, values.get(name)) for name in COLUMNS]
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(cells)
        line = buffer.getvalue()
        with self._lock:
            try:
                mode = "a"
                if not self._tail_checked:
                    if self._read_lines() is None:  # new or empty file: start it with the header
                        line, mode = _HEADER_LINE + line, "w"
                    else:
                        self._drop_torn_tail()
                with open(self.path, mode, encoding="utf-8", newline="") as handle:
                    handle.write(line)  # one write per line, flushed on close
            except OSError as exc:
                raise RunFolderError(f"cannot write {self.path}: {exc.strerror or exc}") from None
            self._tail_checked = True

    def _drop_torn_tail(self) -> None:
        """Cut a last line that a crash left without its newline, so the next row starts cleanly."""
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            with open(self.path, "r+b") as handle:
                handle.truncate(data.rfind(b"\n") + 1)

    def _read_lines(self) -> list[str] | None:
        """The file's complete lines after the header (torn last line left out); None if absent or empty."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise RunFolderError(f"cannot read metrics file {self.path}: {exc}") from None
        if not text or (_HEADER_LINE.startswith(text) and not text.endswith("\n")):
            return None  # empty, or a header torn while being written
        lines = text.splitlines(keepends=True)
        if lines[0] != _HEADER_LINE:
            raise RunFolderError(
                f"{self.path} is not a vaestudio metrics file: header {lines[0].strip()!r}, "
                f"expected {_HEADER_LINE.strip()!r}"
            )
        body = lines[1:]
        if body and not body[-1].endswith("\n"):
            body.pop()  # torn by a crash mid-write
        return body

    def _parsed(self, lines: list[str] | None = None) -> list[tuple[str, Row]]:
        if lines is None:
            lines = self._read_lines()
        parsed = []
        for number, line in enumerate(lines or [], start=2):
            parsed.append((line, _parse_line(line, self.path, number)))
        return parsed


def _format_cell(name: str, value: object) -> str:
    if value is None:
        return ""
    if name == "kind":
        if value not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {value!r}")
        return str(value)
    if name in _INT_COLUMNS:
        return str(int(value))
    return repr(float(value))  # repr round-trips exactly; nan/inf stay readable


def _parse_line(line: str, path: Path, number: int) -> Row:
    cells = next(csv.reader([line]))
    problem = None
    if len(cells) != len(COLUMNS):
        problem = f"{len(cells)} cells, expected {len(COLUMNS)}"
    elif cells[0] not in _KINDS:
        problem = f"kind {cells[0]!r} is not one of {_KINDS}"
    row: Row = {}
    if problem is None:
        try:
            for name, cell in zip(COLUMNS, cells):
                if name == "kind":
                    row[name] = cell
                elif name in _INT_COLUMNS:
                    row[name] = int(cell)
                else:
                    row[name] = float(cell) if cell != "" else None
        except ValueError:
            problem = f"{name} {cell!r} is not a number"
    if problem is not None:
        raise RunFolderError(f"{path} line {number} is damaged: {problem}")
    return row

