"""Open a user-supplied file without trusting it, and never write through a link out of a run folder.

- `open_regular` opens for reading without blocking (a FIFO with no writer would block a plain open
  forever) and refuses, by name, anything that is not a regular file: FIFOs, devices such as /dev/zero,
  folders, sockets. `read_capped` then reads at most a size the format can need, so a sparse 1 GB file
  or a device never grows memory; the file's size is checked before a byte is read.
- `refuse_link` is the symlink rule: vaestudio writes, appends to or removes nothing through a symbolic
  link inside a run folder (a link could point anywhere); it refuses, naming the link. Files replaced
  atomically (rename over the name) replace a link itself, never what it points to.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def kind_of(mode: int) -> str:
    """'a folder', 'a FIFO (named pipe)', 'a device', … for a stat mode."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(path: str | Path, error: type[Exception], what: str, max_bytes: int | None = None) -> int:
    """A read-only descriptor of regular file `path` (following links), opened without blocking.

    FileNotFoundError passes through; any other problem raises `error` in one line naming the file."""
    path = Path(path)
    try:
        fd = os.open(path, _READ_FLAGS)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise error(f"{_shown(path)}: cannot read the {what} ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{_shown(path)}: is {kind_of(info.st_mode)}, not a {what}")
        if max_bytes is not None and info.st_size > max_bytes:
            raise error(f"{_shown(path)}: {info.st_size} bytes, larger than any {what} ({max_bytes} bytes at most)")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_regular_file(path: str | Path, error: type[Exception], what: str, max_bytes: int | None = None):
    """`open_regular` as a binary file object (for zipfile, Pillow, NumPy)."""
    return os.fdopen(open_regular(path, error, what, max_bytes), "rb")


def read_capped(path: str | Path, max_bytes: int, error: type[Exception], what: str) -> bytes:
    """The whole of regular file `path`, at most `max_bytes`; `error` naming the file for anything else
    (FileNotFoundError passes through)."""
    fd = open_regular(path, error, what, max_bytes)
    try:
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise error(f"{_shown(path)}: cannot read the {what} ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    if size > max_bytes:  # it grew while being read
        raise error(f"{_shown(path)}: larger than any {what} ({max_bytes} bytes at most)")
    return b"".join(chunks)


def short(message: str, limit: int = 400) -> str:
    """`message` as one line of at most `limit` characters (a hostile value's repr can be megabytes)."""
    line = " ".join(str(message).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _shown(path: str | Path) -> str:
    from vaestudio.core.data.dataset import shown

    return shown(path)


def is_link(path: str | Path) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        return False


def refuse_link(path: str | Path, error: type[Exception]) -> None:
    """Raise `error` if `path` is a symbolic link (the run-folder rule: never write or delete through one)."""
    path = Path(path)
    if is_link(path):
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        raise error(f"{_shown(path)}: is a symbolic link (to {target}); vaestudio never writes or deletes through a "
                    "link in a run folder: replace the link by the real folder or file")
