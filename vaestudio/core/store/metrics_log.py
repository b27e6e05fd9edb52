"""The run folder's metrics.csv: one row per reported train step, one per finished epoch, and one per
change of the learning rate or beta made while training ("hyper" rows).

Rows are appended and flushed one line at a time, so a crash loses at most the line being
written; such a torn last line (no newline) is ignored when reading and dropped before the
next append. On resume, `truncate_after_step` cuts the file back to the resumed checkpoint.
Files written by vaestudio 0.1.0 (without the objective, learning_rate and beta columns) and 0.2.0
(without the beta-TCVAE terms mi, tc and dim_kl) are read too (the missing cells are None), and
rewritten with today's header when a resumed run first appends to them.
"""

from __future__ import annotations

import csv
import io
import os
import threading
from pathlib import Path

from vaestudio.core.store.atomic import write_bytes_atomic
from vaestudio.core.store.faults import VARIABLE as FAULTS_VARIABLE
from vaestudio.core.store.faults import crash_point
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
    "objective",
    "learning_rate",
    "beta",
    "kl_per_dimension",  # epoch rows: test KL of each latent dimension, space-separated
    # step rows of a beta-TCVAE run: the KL's index-code mutual information, total correlation and
    # dimension-wise KL (they sum to kl; see core/tf/variants.py); empty for the other objectives
    "mi",
    "tc",
    "dim_kl",
)
OBJECTIVE_TERMS = ("mi", "tc", "dim_kl")
_INT_COLUMNS = ("epoch", "step")
_KINDS = ("step", "epoch", "hyper")
_HEADER_LINE = ",".join(COLUMNS) + "\n"
_OLD_COLUMNS = COLUMNS[:11]  # vaestudio 0.1.0
_OLD_HEADER_LINE = ",".join(_OLD_COLUMNS) + "\n"
_EARLIER_COLUMNS = COLUMNS[:15]  # vaestudio 0.2.0
# Each earlier header, and the columns its rows have.
_EARLIER_HEADERS = {_OLD_HEADER_LINE: _OLD_COLUMNS, ",".join(_EARLIER_COLUMNS) + "\n": _EARLIER_COLUMNS}
# A 100-epoch Fashion-MNIST run reporting every step writes about 40 MB; 128 MB is far more than a run writes.
MAX_METRICS_BYTES = 128 << 20

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
        self._old_header = False  # the file has an earlier header (see _EARLIER_HEADERS)
        self._columns = COLUMNS  # the columns of the file's rows
        self._read_lines()  # fails now, not at the first append, on a foreign or unreadable file

    def append_step(
        self,
        epoch: int,
        step: int,
        elbo: float,
        log_likelihood: float,
        kl: float,
        images_per_second: float | None = None,
        *,
        objective: float | None = None,
        learning_rate: float | None = None,
        beta: float | None = None,
        terms: dict[str, float] | None = None,
    ) -> None:
        """Record the train ELBO terms reported at global `step` and the hyper-parameters in force;
        `terms`: an objective's own terms (beta-TCVAE's mi, tc, dim_kl; names outside OBJECTIVE_TERMS are
        not recorded)."""
        own = {name: value for name, value in (terms or {}).items() if name in OBJECTIVE_TERMS}
        self._append(
            kind="step", epoch=epoch, step=step, elbo=elbo, log_likelihood=log_likelihood, kl=kl,
            images_per_second=images_per_second, objective=objective, learning_rate=learning_rate, beta=beta,
            **own,
        )

    def append_hyper(self, epoch: int, step: int, learning_rate: float, beta: float) -> None:
        """Record a change of the learning rate or beta, in force from `step` on."""
        self._append(kind="hyper", epoch=epoch, step=step, learning_rate=learning_rate, beta=beta)

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
        kl_per_dimension: tuple[float, ...] = (),
    ) -> None:
        """Record the end of `epoch`: its test ELBO terms, training seconds and optional train averages."""
        self._append(
            kind="epoch", epoch=epoch, step=step, elbo=elbo, log_likelihood=log_likelihood, kl=kl,
            test_elbo=test_elbo, test_log_likelihood=test_log_likelihood, test_kl=test_kl,
            seconds=seconds, images_per_second=images_per_second, kl_per_dimension=tuple(kl_per_dimension),
        )

    def rows(self) -> list[Row]:
        """All complete rows in file order; [] if the file does not exist yet."""
        with self._lock:
            return [row for _, row in self._parsed()]

    def truncate_after_step(self, step: int) -> None:
        """Keep only rows up to global `step`: what a checkpoint taken at that step had seen."""
        self._keep_rows(lambda row: row["step"] <= step)

    def _keep_rows(self, keep) -> None:
        with self._lock:
            lines = self._read_lines()
            if lines is None:
                return
            kept = [_as_line(row) for _, row in self._parsed(lines) if keep(row)]
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
                    elif self._old_header:
                        self._migrate()
                    else:
                        self._drop_torn_tail()
                with _open_for_writing(self.path, mode) as handle:
                    if os.environ.get(FAULTS_VARIABLE):
                        handle.write(line[: len(line) // 2])
                        handle.flush()
                        crash_point("append", self.path.name)
                        handle.write(line[len(line) // 2:])
                    else:
                        handle.write(line)  # one write per line, flushed on close
            except OSError as exc:
                raise RunFolderError(f"cannot write {self.path}: {exc.strerror or exc}") from None
            self._tail_checked = True

    def _migrate(self) -> None:
        """Rewrite a 0.1.0 or 0.2.0 file with today's header (atomically), keeping every complete row."""
        rows = [_as_line(row) for _, row in self._parsed()]
        write_bytes_atomic(self.path, (_HEADER_LINE + "".join(rows)).encode("utf-8"))
        self._old_header, self._columns = False, COLUMNS

    def _drop_torn_tail(self) -> None:
        """Cut a last line that a crash left without its newline, so the next row starts cleanly."""
        data = self._read_bytes()
        if data and not data.endswith(b"\n"):
            with _open_for_writing(self.path, "r+", binary=True) as handle:
                handle.truncate(data.rfind(b"\n") + 1)

    def _read_bytes(self) -> bytes:
        from vaestudio.core.store.safe_files import read_capped

        return read_capped(self.path, MAX_METRICS_BYTES, RunFolderError, "metrics file")

    def _read_lines(self) -> list[str] | None:
        """The file's complete lines after the header (torn last line left out); None if absent or empty."""
        try:
            text = self._read_bytes().decode("utf-8")
        except FileNotFoundError:
            return None
        except UnicodeDecodeError as exc:
            raise RunFolderError(f"{self.path}: damaged metrics file (not UTF-8 text at byte {exc.start})") from None
        if not text or (_HEADER_LINE.startswith(text) and not text.endswith("\n")):
            return None  # empty, or a header torn while being written
        lines = text.splitlines(keepends=True)
        self._old_header = lines[0] in _EARLIER_HEADERS
        self._columns = _EARLIER_HEADERS.get(lines[0], COLUMNS)
        if lines[0] != _HEADER_LINE and not self._old_header:
            raise RunFolderError(
                f"{self.path} is not a vaestudio metrics file: header {lines[0].strip()[:80]!r}, "
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
        columns = self._columns
        for number, line in enumerate(lines or [], start=2):
            parsed.append((line, _parse_line(line, self.path, number, columns)))
        return parsed


def _open_for_writing(path: Path, mode: str, binary: bool = False):
    """`path` opened to append ("a"), rewrite ("w") or patch ("r+") without following a link out of the run
    folder and without blocking on a FIFO; RunFolderError naming it for anything but a regular file."""
    import stat

    from vaestudio.core.store.safe_files import NOFOLLOW, kind_of, refuse_link

    flags = {"a": os.O_WRONLY | os.O_APPEND | os.O_CREAT, "w": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
             "r+": os.O_RDWR}[mode]
    refuse_link(path, RunFolderError)
    fd = os.open(path, flags | NOFOLLOW | getattr(os, "O_NONBLOCK", 0), 0o666)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise RunFolderError(f"{path}: is {kind_of(info.st_mode)}, not a metrics file")
    os.set_blocking(fd, True)
    if binary:
        return os.fdopen(fd, mode + "b")
    return os.fdopen(fd, mode, encoding="utf-8", newline="")


def _format_cell(name: str, value: object) -> str:
    if value is None:
        return ""
    if name == "kind":
        if value not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {value!r}")
        return str(value)
    if name in _INT_COLUMNS:
        return str(int(value))
    if name == "kl_per_dimension":
        return " ".join(repr(float(v)) for v in value)  # type: ignore[union-attr]
    return repr(float(value))  # repr round-trips exactly; nan/inf stay readable


def _as_line(row: Row) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([_format_cell(name, row.get(name)) for name in COLUMNS])
    return buffer.getvalue()


def _parse_line(line: str, path: Path, number: int, columns: tuple[str, ...] = COLUMNS) -> Row:
    cells = next(csv.reader([line]))
    problem = None
    if len(cells) != len(columns):
        problem = f"{len(cells)} cells, expected {len(columns)}"
    elif cells[0] not in _KINDS:
        problem = f"kind {cells[0]!r} is not one of {_KINDS}"
    row: Row = {}
    if problem is None:
        try:
            for name, cell in zip(columns, cells):
                if name == "kind":
                    row[name] = cell
                elif name in _INT_COLUMNS:
                    row[name] = int(cell)
                elif name == "kl_per_dimension":
                    row[name] = tuple(float(v) for v in cell.split())
                else:
                    row[name] = float(cell) if cell != "" else None
        except ValueError:
            problem = f"{name} {cell!r} is not a number"
    if problem is not None:
        raise RunFolderError(f"{path} line {number} is damaged: {problem}")
    for name in COLUMNS[len(columns):]:
        row[name] = None
    return row

