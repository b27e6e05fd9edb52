"""The `vaestudio` command: `vaestudio train ...` runs headless; bare `vaestudio` opens the window."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from typing import Sequence, TextIO

from vaestudio import __version__
from vaestudio.core.config import DATASETS, PRECISIONS, PRESETS

EXIT_OK, EXIT_UNEXPECTED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2), without the usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vaestudio", description="Train a convolutional VAE and watch it learn. "
                     "Without a command, opens the window.")
    parser.add_argument("--version", action="version", version=f"vaestudio {__version__}")
    parser.add_argument("--self-test", action="store_true", help="open the window, train briefly, check it, exit")
    parser.add_argument("--screenshot", metavar="PATH", help="with --self-test: save a screenshot of the window")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)
    train = commands.add_parser("train", help="train headless and write the results into --out",
                                description="Train headless; writes model.keras, config.json, metrics.csv, "
                                "grid_final.png and training.gif into --out.")
    train.add_argument("--dataset", choices=DATASETS, default="fashion_mnist")
    train.add_argument("--data", metavar="DIR", help="folder with the four IDX files (or a .npz)")
    train.add_argument("--preset", choices=[*PRESETS, "custom"], default="tutorial")
    train.add_argument("--epochs", type=int)
    train.add_argument("--latent-dim", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", type=float, help="learning rate")
    train.add_argument("--grid", type=int, help="grid size n (n x n decoded images)")
    train.add_argument("--seed", type=int)
    train.add_argument("--limit", type=int, help="use only the first N train and N test images")
    train.add_argument("--precision", choices=PRECISIONS,
                       help="auto: mixed bfloat16 where the hardware has it natively (fast preset's default)")
    train.add_argument("--out", metavar="DIR", help="run folder to create")
    train.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its last checkpoint "
                       "(--epochs may raise its epoch count)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return int(exc.code or 0)
    if args.command == "train":
        return _run_guarded(lambda: train_command(args))
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


def train_command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """`vaestudio train`: everything is validated before TensorFlow is loaded."""
    from vaestudio.core.config import TrainConfig
    from vaestudio.core.data import load_dataset
    from vaestudio.core.store.run_folder import RunFolder, RunRecorder

    from vaestudio.core.errors import ConfigError

    out = out or sys.stdout
    checkpoint = None
    if args.resume:
        if args.out:
            raise ConfigError("--resume continues the run in its own folder; leave out --out")
        folder = RunFolder(args.resume)
        config, checkpoint = folder.prepare_resume()
        if args.epochs is not None:
            config.epochs = args.epochs
            config.validate()
        dataset = load_dataset(config.dataset, data_dir=config.data_dir, limit=config.limit)
        folder.write_config(config)
        _say(out, f"Resuming {folder.path} after epoch {checkpoint.epoch} (step {checkpoint.step}) "
                  f"of {config.epochs}")
    else:
        if not args.out:
            raise ConfigError("--out DIR is required (the run folder to create)")
        config = TrainConfig.from_preset(
            args.preset, dataset=args.dataset, data_dir=args.data, epochs=args.epochs, latent_dim=args.latent_dim,
            batch_size=args.batch_size, learning_rate=args.lr, grid_size=args.grid, seed=args.seed,
            limit=args.limit, precision=args.precision)
        dataset = load_dataset(config.dataset, data_dir=config.data_dir, limit=config.limit)
        folder = RunFolder(args.out).create(config)
    _say(out, f"Data: {dataset.describe()}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from vaestudio.core.tf.device import detect_device
    from vaestudio.core.tf.trainer import Trainer

    device = detect_device()
    _say(out, f"Device: {device}")
    trainer = Trainer(config, dataset, device=str(device), resume_from=checkpoint)
    recorder = RunRecorder(folder, trainer)
    progress = _Progress(out, config.batch_size) if out.isatty() else None
    previous = signal.signal(signal.SIGINT, lambda *_: trainer.stop()) if _main_thread() else None
    try:
        finished = None
        for event in trainer.events():
            recorder.record(event)
            finished = _report(event, out, progress) or finished
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    written = recorder.finish(trainer.model)
    _say(out, f"Wrote {', '.join(p.name for p in written)} to {folder.path}")
    if finished is not None and finished.reason == "diverged":
        print(f"vaestudio: training diverged: {finished.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if finished is not None and finished.reason == "stopped":
        _say(out, f"Stopped at step {finished.step}; continue with: vaestudio train --resume {folder.path}")
        return EXIT_INTERRUPTED
    return EXIT_OK


def _report(event, out: TextIO, progress: "_Progress | None"):
    from vaestudio.core.events import EpochEnd, Finished, Started, StepMetrics

    if isinstance(event, Started):
        if event.precision != "float32":
            _say(out, f"Precision: {event.precision}")
        if progress:
            progress.start(event)
    elif isinstance(event, StepMetrics):
        if progress:
            progress.update(event)
    elif isinstance(event, EpochEnd):
        if progress:
            progress.clear()
        # The tutorial's line, so runs can be compared with the article's output.
        _say(out, f"Epoch: {event.epoch}, Test set ELBO: {event.test_elbo:.2f}, "
                  f"time elapse for current epoch: {event.seconds:.2f}")
    elif isinstance(event, Finished):
        if progress:
            progress.clear()
        return event
    return None


class _Progress:
    """A one-line progress bar with the run's ETA, for terminals."""

    def __init__(self, out: TextIO, batch_size: int):
        self.out = out
        self.batch_size = batch_size
        self.total_epochs = 1

    def start(self, event) -> None:
        self.total_epochs = event.total_epochs

    def update(self, event) -> None:
        done = event.epoch_step / event.steps_per_epoch
        width = 30
        filled = int(done * width)
        steps_left = (event.steps_per_epoch - event.epoch_step
                      + (self.total_epochs - event.epoch) * event.steps_per_epoch)
        eta = steps_left * self.batch_size / max(event.images_per_second, 1e-9)
        self.out.write(f"\rEpoch {event.epoch}/{self.total_epochs} [{'#' * filled}{'-' * (width - filled)}] "
                       f"{event.epoch_step}/{event.steps_per_epoch}  ELBO {event.elbo:8.2f}  "
                       f"{event.images_per_second:6.0f} img/s  ETA {_clock(eta)} ")
        self.out.flush()

    def clear(self) -> None:
        self.out.write("\r" + " " * 110 + "\r")
        self.out.flush()


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


def _say(out: TextIO, line: str) -> None:
    out.write(line + "\n")
    out.flush()


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
