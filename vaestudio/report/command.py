"""`vaestudio report RUN [--at epoch:N|step:N|frame:N] --out run.html`: the run as one self-contained page."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Callable, TextIO

from vaestudio.core.errors import ConfigError, ExportError

MAX_IWAE_K = 10_000


def add_command(commands) -> None:
    """Add `report` to the CLI's sub-commands."""
    report = commands.add_parser(
        "report", help="write a run as one self-contained HTML page (curves, snapshots, a live latent plane)",
        description="Write one HTML file that works offline (nothing is fetched): the run's settings and lineage, "
        "its ELBO curves with the snapshots marked, a slider over the snapshots' grids, reconstructions, the KL "
        "of each dimension and inspect's figures at one snapshot, the training animation, and a latent plane "
        "that decodes where you drag, in the page, with that snapshot's decoder (TensorFlow.js, bundled).")
    report.add_argument("target", metavar="RUN_FOLDER")
    report.add_argument("--at", metavar="epoch:N|step:N|frame:N", help="the snapshot: the end of epoch N, the "
                        "last one at or before step N, or frame N of snapshots/ (default: the last snapshot)")
    report.add_argument("--iwae-k", type=int, default=100, metavar="K", help="importance samples per image of "
                        "the log p(x) estimate (default 100; 0 skips it)")
    report.add_argument("--images", type=int, default=1000, metavar="N", help="test images the figures use "
                        "(default: the first 1000)")
    report.add_argument("--out", required=True, metavar="FILE.html", help="the page to write")


def report_command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    target = write_report(args.target, args.out, args.at, args.iwae_k, args.images,
                          progress=(lambda text: print(f"{text}…", file=sys.stderr, flush=True))
                          if sys.stderr.isatty() else None)
    out.write(f"Wrote {target} ({target.stat().st_size / 1e6:.1f} MB)\n")
    return 0


def write_report(run: str | Path, out: str | Path, at: str | None = None, iwae_k: int = 100, images: int = 1000,
                 progress: Callable[[str], None] | None = None, load_dataset: Callable | None = None) -> Path:
    """Gather, lay out and write the page (temporary name, then rename). Raises VaeStudioError subclasses
    with one line naming the file or value at fault; nothing is left behind on failure."""
    from vaestudio.report.content import gather
    from vaestudio.report.page import render_page
    from vaestudio.report.tfjs import read_tfjs

    target = Path(out)
    if target.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"--out {out}: the file must end in .html")
    if not 0 <= iwae_k <= MAX_IWAE_K:
        raise ConfigError(f"--iwae-k must be 0 (skip) to {MAX_IWAE_K}, got {iwae_k}")
    if images < 1:
        raise ConfigError(f"--images must be at least 1, got {images}")
    check_target(target)
    tfjs = read_tfjs()  # before the work: a missing TensorFlow.js is said at once
    content = gather(run, at, iwae_k, images, progress, load_dataset)
    page = render_page(content, tfjs)
    from vaestudio.core.store.atomic import write_text_atomic

    write_text_atomic(target, page)
    return target


def check_target(target: Path) -> None:
    """Refuse at once an --out whose folder is missing, not a folder or not writable, or that is a folder."""
    folder = target.parent
    if target.is_dir():
        raise ExportError(f"{target}: is a folder; name the .html file to write")
    if not folder.exists():
        raise ExportError(f"{folder}: no such folder to write {target.name} into")
    if not folder.is_dir():
        raise ExportError(f"{folder}: is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ExportError(f"cannot write {target}: the folder {folder} is read-only")
