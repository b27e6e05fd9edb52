"""The `vaestudio` command: its parser and the dispatch to the sub-commands (train_command.py, reports.py,
render_command.py, export_command.py, report/command.py); bare `vaestudio` opens the window.

Exit status (exit_codes.py): 0 done, 2 bad arguments or input (one line on stderr), 130 stopped (Ctrl+C,
SIGTERM, SIGHUP), 1 anything unexpected.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from vaestudio import __version__
from vaestudio.exit_codes import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_UNEXPECTED


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2), without the usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    # The sub-commands' modules are imported here, not at the top: plain `vaestudio` opens the window
    # without building the parser.
    from vaestudio.export_command import add_command as add_export
    from vaestudio.report.command import add_command as add_report
    from vaestudio.reports import add_commands as add_inspect_and_render
    from vaestudio.train_command import add_command as add_train

    parser = _Parser(prog="vaestudio", description="Train a convolutional VAE and watch it learn. "
                     "Without a command, opens the window.")
    parser.add_argument("--version", action="version", version=f"vaestudio {__version__}")
    parser.add_argument("--self-test", action="store_true", help="open the window, train briefly, check it, exit")
    parser.add_argument("--screenshot", metavar="PATH", help="with --self-test: save a screenshot of the window")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)
    add_train(commands)
    add_inspect_and_render(commands)
    add_export(commands)
    add_report(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    _tolerant_output()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:  # plain `vaestudio` opens the window without building the sub-commands' parsers (they load NumPy)
        args = build_parser().parse_args(argv) if argv else argparse.Namespace(command=None, self_test=False,
                                                                               screenshot=None)
    except SystemExit as exc:  # --help, --version, usage errors
        return int(exc.code or 0)
    if args.command == "train":
        from vaestudio.train_command import train_command

        return _run_guarded(lambda: train_command(args))
    if args.command in ("inspect", "render"):
        if args.command == "inspect":
            from vaestudio.reports import inspect_command as command
        else:
            from vaestudio.render_command import render_command as command
        return _run_guarded(lambda: command(args))
    if args.command == "export":
        from vaestudio.export_command import export_command

        return _run_guarded(lambda: export_command(args))
    if args.command == "report":
        from vaestudio.report.command import report_command

        return _run_guarded(lambda: report_command(args))
    if args.self_test:
        from vaestudio.gui.selftest import run as run_self_test

        if no_display():
            os.environ["QT_QPA_PLATFORM"] = "offscreen"  # the self-test needs no screen
        return run_self_test(screenshot=args.screenshot)
    if args.screenshot:
        print("vaestudio: error: --screenshot goes with --self-test", file=sys.stderr)
        return EXIT_BAD_INPUT
    if no_display():
        print("vaestudio: error: no display to open the window on (DISPLAY and WAYLAND_DISPLAY are not set); "
              "start it in a desktop session or with 'ssh -X', or train headless: vaestudio train --out DIR",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    from vaestudio.gui.app import run as run_window

    return run_window(argv)


def _tolerant_output() -> None:
    """Paths that are not valid UTF-8 (or not valid in the terminal's encoding) print escaped, never crash."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError):
            pass


def no_display() -> bool:
    """True on Linux when Qt would find no screen: no X11 or Wayland display and no platform chosen."""
    env = os.environ
    return (sys.platform.startswith("linux") and not env.get("QT_QPA_PLATFORM")
            and not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"))


def _run_guarded(command) -> int:
    from vaestudio.core.errors import VaeStudioError

    try:
        return command()
    except VaeStudioError as exc:
        print(f"vaestudio: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("vaestudio: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # anything else is a bug: say so in one line, details on request
        if os.environ.get("VAESTUDIO_DEBUG"):
            raise
        print(f"vaestudio: unexpected error: {type(exc).__name__}: {exc} "
              "(set VAESTUDIO_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_UNEXPECTED
