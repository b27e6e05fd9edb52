"""List an image folder: its classes and image files, without opening any image.

Classes are the first-level subfolders (the layout of keras.utils.image_dataset_from_directory), sorted
by name; images anywhere below a class folder belong to it; images directly in the folder form one more
class, UNLABELLED. Names starting with '.' are hidden and ignored. Links to folders are followed only
when they stay inside the image folder (a link to / or to a home folder is skipped and listed, never
walked), each real folder is walked once (so link loops end), and a class without any image is dropped.
Links to image files are followed wherever they point. Files whose
name does not end like an image are ignored (and counted); image files that are broken links, special
files (FIFOs, devices) or in unreadable subfolders are listed as skipped with the reason.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from vaestudio.core.data.dataset import Skipped, shown
from vaestudio.core.data.decode import FORMAT_NAMES, file_kind, is_image_name
from vaestudio.core.errors import DataError

UNLABELLED = "(unlabelled)"


@dataclass(frozen=True)
class ImageFile:
    """One image file found in the folder: its path relative to the folder ('/'-separated), its class,
    and the size and modification time that key its cached pixels."""

    relative: str
    label: int
    size: int
    mtime_ns: int


@dataclass
class FolderListing:
    root: Path
    class_names: tuple[str, ...]
    files: list[ImageFile]
    skipped: list[Skipped] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # relative paths of files that are not images

    def no_images_message(self) -> str:
        """The one-line DataError for a folder where nothing could be used."""
        message = f"{shown(self.root)}: no {FORMAT_NAMES} images found"
        if self.ignored:
            examples = ", ".join(shown(p) for p in self.ignored[:3])
            message += f" (ignored {len(self.ignored)} other file{'s' if len(self.ignored) != 1 else ''}: {examples})"
        if self.skipped:
            examples = ", ".join(str(s) for s in self.skipped[:3])
            message += f" (skipped {len(self.skipped)}: {examples})"
        return message


def scan_image_folder(root: str | os.PathLike) -> FolderListing:
    """The classes and image files of folder `root`; DataError if it is missing, not a folder or unreadable."""
    root = Path(os.fsdecode(root)).expanduser()
    try:
        status = root.stat()
    except OSError as exc:
        reason = "no such folder" if exc.errno in (errno.ENOENT, errno.ENOTDIR) else f"cannot read ({exc.strerror})"
        raise DataError(f"{shown(root)}: {reason}") from None
    if not stat.S_ISDIR(status.st_mode):
        raise DataError(f"{shown(root)}: not a folder (image folders hold images, or one subfolder per class)")
    try:
        top = _entries(root)
    except OSError as exc:
        raise DataError(f"{shown(root)}: cannot read folder ({exc.strerror or exc})") from None

    inside = _Inside(root)
    visited = {(status.st_dev, status.st_ino)}
    skipped: list[Skipped] = []
    ignored: list[str] = []
    loose: list[tuple[str, os.stat_result]] = []
    class_dirs: list[tuple[str, Path]] = []
    folders: list[tuple[os.DirEntry, os.stat_result]] = []
    for entry in top:
        kind, entry_status = _classify(entry, entry.name, skipped, ignored, inside)
        if kind == "folder":
            folders.append((entry, entry_status))
        elif kind == "image":
            loose.append((entry.name, entry_status))
    # A real folder and a link to it are one class, named after the real folder (else the first link).
    for entry, entry_status in sorted(folders, key=lambda f: f[0].is_symlink()):
        key = (entry_status.st_dev, entry_status.st_ino)
        if key not in visited:
            visited.add(key)
            class_dirs.append((entry.name, Path(entry.path)))
    class_dirs.sort(key=lambda c: os.fsencode(c[0]))

    groups: list[tuple[str, list[tuple[str, os.stat_result]]]] = []
    for name, folder in class_dirs:
        groups.append((shown(name), _walk(folder, name, visited, skipped, ignored, inside)))
    if loose:
        groups.append((UNLABELLED, loose))
    class_names: list[str] = []
    files: list[ImageFile] = []
    for name, found in groups:
        if not found:
            continue
        label = len(class_names)
        class_names.append(name)
        files += [ImageFile(relative, label, s.st_size, s.st_mtime_ns) for relative, s in found]
    skipped.sort(key=lambda s: os.fsencode(s.path))
    return FolderListing(root, tuple(class_names), files, skipped, ignored)


def _entries(folder: Path) -> list[os.DirEntry]:
    """Visible entries of `folder`, sorted by their names' bytes (the same order in every locale).

    OSError when the folder cannot be listed or searched (a readable folder without search permission
    lists its names, but none of its files can be opened)."""
    os.stat(os.path.join(folder, "."))
    with os.scandir(folder) as it:
        entries = [e for e in it if not e.name.startswith(".")]
    return sorted(entries, key=lambda e: os.fsencode(e.name))


class _Inside:
    """Whether a link to a folder stays inside the image folder (compared on real, resolved paths)."""

    def __init__(self, root: Path) -> None:
        self.root = os.path.realpath(root)

    def __call__(self, entry: os.DirEntry) -> bool:
        target = os.path.realpath(entry.path)
        return target == self.root or target.startswith(self.root.rstrip(os.sep) + os.sep)


def _classify(entry: os.DirEntry, relative: str, skipped: list[Skipped],
              ignored: list[str], inside: _Inside | None = None) -> tuple[str | None, os.stat_result | None]:
    """('folder' | 'image' | None, status following links); unusable image files go to `skipped`."""
    try:
        status = entry.stat()  # follows symbolic links
    except OSError as exc:
        if is_image_name(entry.name):
            reason = ("symbolic link loop" if exc.errno == errno.ELOOP else
                      "broken link" if exc.errno == errno.ENOENT else f"cannot read ({exc.strerror or exc})")
            skipped.append(Skipped(relative, reason))
        else:
            ignored.append(relative)
        return None, None
    if stat.S_ISDIR(status.st_mode):
        if inside is not None and entry.is_symlink() and not inside(entry):
            skipped.append(Skipped(relative + "/", f"link to {shown(os.path.realpath(entry.path))}, outside the "
                                                   "image folder: not followed"))
            return None, None
        return "folder", status
    if not is_image_name(entry.name):
        ignored.append(relative)
        return None, None
    if not stat.S_ISREG(status.st_mode):
        skipped.append(Skipped(relative, f"{file_kind(status.st_mode)}, not a regular file"))
        return None, None
    return "image", status


def _walk(folder: Path, relative: str, visited: set[tuple[int, int]], skipped: list[Skipped],
          ignored: list[str], inside: _Inside | None = None) -> list[tuple[str, os.stat_result]]:
    """Image files below `folder` (depth first, in name order), as (path relative to the root, status)."""
    found: list[tuple[str, os.stat_result]] = []
    stack = [(folder, relative)]
    while stack:
        current, current_relative = stack.pop()
        try:
            entries = _entries(current)
        except OSError as exc:
            skipped.append(Skipped(current_relative + "/", f"cannot read folder ({exc.strerror or exc})"))
            continue
        subfolders = []
        for entry in entries:
            entry_relative = f"{current_relative}/{entry.name}"
            kind, status = _classify(entry, entry_relative, skipped, ignored, inside)
            if kind == "image":
                found.append((entry_relative, status))
            elif kind == "folder":
                key = (status.st_dev, status.st_ino)
                if key not in visited:
                    visited.add(key)
                    subfolders.append((Path(entry.path), entry_relative))
        stack += reversed(subfolders)
    return found


def holds_images(root: str | os.PathLike, entries: int = 64, subfolders: int = 16) -> bool:
    """Whether folder `root` looks like an image folder: an image among its first `entries` names or those of
    its first `subfolders` subfolders (names only: no file is opened, no link followed)."""
    def images_in(folder: str | os.PathLike) -> tuple[bool, list[str]]:
        found, children = False, []
        try:
            with os.scandir(folder) as listing:
                for count, entry in enumerate(listing):
                    if count >= entries:
                        break
                    if entry.is_dir(follow_symlinks=False):
                        children.append(entry.path)
                    elif is_image_name(entry.name):
                        found = True
                        break
        except OSError:
            pass
        return found, children

    found, children = images_in(root)
    return found or any(images_in(child)[0] for child in children[:subfolders])
