"""PyInstaller entry point of the frozen `vaestudio` executable: the same `vaestudio.cli.main` as the pip command.

A windowed build (or a launch from a desktop menu) can start with sys.stdout / sys.stderr set to None;
anything that prints (argparse, TensorFlow's logging, warnings) would then crash, so such streams are
replaced with writers to os.devnull first.
"""

from __future__ import annotations

import os
import sys


def ensure_streams() -> None:
    """Give every missing standard stream a harmless stand-in."""
    if sys.stdin is None:
        sys.stdin = open(os.devnull, "r", encoding="utf-8")
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))


def main() -> int:
    ensure_streams()
    if getattr(sys, "frozen", False):
        # Multiprocessing children of a frozen app re-enter here; this lets them run their task instead.
        import multiprocessing

        multiprocessing.freeze_support()
    from vaestudio.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
