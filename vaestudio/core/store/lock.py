"""One writer per run folder: an OS file lock that dies with the process holding it.

`RunLock(folder).acquire()` takes an exclusive `flock` on `<folder>/.lock` and writes the holder's PID
into it. The kernel drops the lock when the process ends however it ends (kill -9 included), so a crash
never leaves a stale lock; the PID in the file is only there to name the holder in the message.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from vaestudio.core.errors import RunFolderError

LOCK_NAME = ".lock"

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no locking, documented in the README
    fcntl = None  # type: ignore[assignment]


class RunLock:
    """An exclusive lock on a run folder, held until `release()` (or the process ends)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> "RunLock":
        """Take the lock or raise RunFolderError naming the folder and the PID that holds it."""
        if self._fd is not None:
            return self
        from vaestudio.core.store.safe_files import NOFOLLOW, kind_of, refuse_link

        refuse_link(self.path, RunFolderError)  # never truncate what a link points to
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | NOFOLLOW | getattr(os, "O_NONBLOCK", 0), 0o644)
        except OSError as exc:
            refuse_link(self.path, RunFolderError)  # made a link in between: O_NOFOLLOW refused it (ELOOP)
            raise RunFolderError(f"{self.folder}: cannot lock the run folder ({exc.strerror or exc})") from None
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            raise RunFolderError(f"{self.path}: is {kind_of(mode)}, not a lock file; remove it")
        if fcntl is not None and not _try_lock(fd):
            holder = _read_pid(fd)
            os.close(fd)
            raise RunFolderError(f"{self.folder}: another vaestudio process (PID {holder or 'unknown'}) is "
                                 "writing this run; wait for it to finish or stop it") from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass  # the lock holds without the PID; only the message would lack it
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        os.close(fd)  # closing drops the flock

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()


def holder_pid(folder: str | Path) -> int | None:
    """The PID writing `folder` now, or None when nobody holds its lock (for read-only viewers)."""
    path = Path(folder) / LOCK_NAME
    if fcntl is None or not path.exists():
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _read_pid(fd) or -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _try_lock(fd: int, attempts: int = 5) -> bool:
    """An exclusive lock, retried briefly: a viewer's momentary shared lock (holder_pid) must not refuse."""
    for attempt in range(attempts):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            if attempt + 1 < attempts:
                time.sleep(0.02)
    return False


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None
