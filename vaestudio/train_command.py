"""`vaestudio train`: the run its arguments ask for (new, resumed with --resume, or branched with --from),
trained with its progress printed; Ctrl+C, SIGTERM and SIGHUP stop it after the current steps.

Exit status as cli.py says (vaestudio/exit_codes.py): 0 done, 2 bad arguments or input or a diverged run,
130 stopped.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import TextIO

from vaestudio.exit_codes import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_OK

STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")
# The model zoo's loss-side options (core/config.py): argparse name -> (TrainConfig field, option).
VARIANT_OPTIONS = {"objective": ("objective", "--objective"), "samples": ("samples", "--samples"),
                   "free_bits": ("free_bits", "--free-bits"), "kl_schedule": ("kl_schedule", "--kl-schedule"),
                   "cycles": ("cycles", "--cycles"), "prior": ("prior", "--prior"),
                   "pseudo_inputs": ("pseudo_inputs", "--pseudo-inputs"), "model": ("model", "--model")}
# What `--resume` may change; every other training option is fixed by the run's checkpoint.
RESUME_OPTIONS = {"epochs": "--epochs", "lr": "--lr", "beta": "--beta"}
FIXED_ON_RESUME = {"dataset": "--dataset", "data": "--data", "preset": "--preset", "latent_dim": "--latent-dim",
                   "batch_size": "--batch-size", "grid": "--grid", "seed": "--seed", "limit": "--limit",
                   "precision": "--precision", "kl_warmup": "--kl-warmup", "lr_schedule": "--lr-schedule",
                   "lr_warmup": "--lr-warmup", "snapshots_every": "--snapshots-every", "image_size": "--image-size",
                   "channels": "--channels", "likelihood": "--likelihood", "test_fraction": "--test-fraction",
                   **{name: option for name, (_, option) in VARIANT_OPTIONS.items()}}


def add_command(commands) -> None:
    """Add `train` to the CLI's sub-commands."""
    from vaestudio.core.architecture import IMAGE_SIZES, LIKELIHOODS, MODELS, PRIORS
    from vaestudio.core.config import DATASETS, KL_SCHEDULES, LR_SCHEDULES, OBJECTIVES, PRECISIONS, PRESETS
    from vaestudio.core.tf.device import DEVICES_HELP, WORKERS_HELP

    train = commands.add_parser(
        "train", help="train headless and write the results into --out (or continue a run with --resume)",
        description="Train headless. The run folder (--out) receives config.json, metrics.csv, checkpoint.npz, "
        "snapshots/, tensorboard/, and at the end model.keras, grid_final.png and training.gif. After the KL "
        "warm-up, epoch ends are watched for posterior collapse (fewer than half the latent dimensions active, "
        "or a total KL under 0.1 nats): when it stays for two epoch ends, an ALARM line is printed and "
        "diagnosis.json written.",
        epilog=_preset_text(), formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("--out", metavar="DIR", help="run folder to create (must not exist, or be empty)")
    train.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its last checkpoint; only "
                       "--epochs, --lr and --beta may change")
    train.add_argument("--from", dest="branch_from", metavar="RUN[@epoch:N|@step:N]",
                       help="branch: a new run (--out) starting from a snapshot's weights of the run in RUN (the "
                       "end of epoch N, the snapshot at step N, default its last), with the optimizer state of "
                       "RUN's checkpoint when it is at that step (else a fresh one). Every option may change "
                       "but the architecture (--latent-dim, --image-size, --channels, --likelihood); the others, "
                       "the learning rate and beta in force included, default to RUN's. Steps and epochs "
                       "continue RUN's count, and so do the schedules (warm-ups, cosine decay); --epochs is "
                       "the total counted from the first run, as with --resume (from epoch 2, --epochs 5 "
                       "trains 3 more; default: RUN's total). RUN is only read")
    train.add_argument("--dataset", choices=DATASETS, help="default: fashion_mnist")
    train.add_argument("--data", metavar="DIR", help="folder with the four IDX files or a .npz; for "
                       "--dataset image_folder, a folder of images (classes in subfolders)")
    train.add_argument("--preset", choices=[*PRESETS, "custom"], help="default: tutorial (see below)")
    train.add_argument("--epochs", type=int, help="default: the preset's (tutorial 10, fast 1); with --resume or --from, the "
                       "run's total counted from its first epoch (default, with --from: RUN's total)")
    train.add_argument("--latent-dim", type=int, help="default: 2")
    train.add_argument("--batch-size", type=int, help="default: the preset's (tutorial 32, fast 16)")
    train.add_argument("--lr", type=float, help="learning rate; default: the preset's (tutorial 1e-4, fast 1e-2)")
    train.add_argument("--beta", type=float, help="weight of the KL term in the objective (default 1: the ELBO)")
    train.add_argument("--kl-warmup", type=int, metavar="STEPS", help="raise beta linearly from 0 over STEPS "
                       "steps (default 0)")
    train.add_argument("--kl-schedule", choices=KL_SCHEDULES, help="linear (default): beta rises over "
                       "--kl-warmup steps; cyclical: over the first half of each of --cycles cycles (Fu et al. 2019)")
    train.add_argument("--cycles", type=int, metavar="N", help="cycles of --kl-schedule cyclical (default 4)")
    train.add_argument("--free-bits", type=float, metavar="NATS", help="per latent dimension, the objective's KL "
                       "is max(NATS, its batch-mean KL) (default 0: off)")
    train.add_argument("--objective", choices=OBJECTIVES, help="elbo (default); iwae: the --samples K bound "
                       "(default K 5); tcvae: beta-TCVAE, --beta weighs the total correlation")
    train.add_argument("--samples", type=int, metavar="K", help="samples per image of --objective iwae")
    train.add_argument("--model", choices=MODELS, help="vae (default); conditional: the class enters encoder and "
                       "decoder (Fashion-MNIST, MNIST; render --grid --class C)")
    train.add_argument("--prior", choices=PRIORS, help="standard: N(0, I) (default); vamp: VampPrior over "
                       "--pseudo-inputs K learned images (default K 500; Tomczak & Welling 2018)")
    train.add_argument("--pseudo-inputs", type=int, metavar="K", help="pseudo-inputs of --prior vamp")
    train.add_argument("--lr-schedule", choices=LR_SCHEDULES, help="default: constant")
    train.add_argument("--lr-warmup", type=int, metavar="STEPS", help="linear learning-rate warm-up (default 0)")
    train.add_argument("--grid", type=int, help="grid size n, n x n decoded images (default 20)")
    train.add_argument("--snapshots-every", type=int, metavar="STEPS", help="also snapshot every STEPS steps "
                       "after epoch 1 (default 0: at the end of each epoch, the tutorial's schedule)")
    train.add_argument("--seed", type=int, help="default: 0")
    train.add_argument("--limit", type=int, help="use only the first N train and N test images")
    train.add_argument("--precision", choices=PRECISIONS, help="auto: mixed bfloat16 where the hardware has it "
                       "natively; the presets: float32")
    train.add_argument("--image-size", type=int, choices=IMAGE_SIZES, help="image folders: 28 (default) or 64")
    train.add_argument("--channels", type=int, choices=(1, 3), help="image folders: 1 grey (default) or 3 colour")
    train.add_argument("--likelihood", choices=LIKELIHOODS, help="bernoulli: binarized pixels (default for "
                       "Fashion-MNIST/MNIST); continuous_bernoulli: grey levels (default for image folders)")
    train.add_argument("--test-fraction", type=float, help="image folders: share held out for testing "
                       "(default 0.1)")
    train.add_argument("--devices", metavar="all|N|workers", help=f"{DEVICES_HELP}; {WORKERS_HELP}. Not part of "
                       "the run: --resume may use other devices")


def _preset_text() -> str:
    from vaestudio.core.config import PRESETS

    lines = []
    for name, values in PRESETS.items():
        shown = ", ".join(f"{k.replace('_', ' ')} {v:g}" if isinstance(v, float) else f"{k.replace('_', ' ')} {v}"
                          for k, v in values.items())
        lines.append(f"  {name:9s} {shown}")
    return ("presets (explicit options override them):\n" + "\n".join(lines) +
            "\n  tutorial  is the article's settings; fast keeps the architecture and reaches the same test\n"
            "            ELBO sooner; custom starts from the tutorial's values.")


def make_run(args: argparse.Namespace):
    """The Run the arguments ask for; everything is checked before anything is written."""
    from vaestudio.core.config import TrainConfig
    from vaestudio.core.errors import ConfigError
    from vaestudio.core.runs import ResumeChanges, Run

    if getattr(args, "branch_from", None):
        return _branch_run(args)
    if args.resume:
        if args.out:
            raise ConfigError("--resume continues the run in its own folder; leave out --out")
        fixed = [option for name, option in FIXED_ON_RESUME.items() if getattr(args, name) is not None]
        if fixed:
            raise ConfigError(f"{fixed[0]} cannot change when resuming (the checkpoint and the data order depend "
                              f"on it); a resumed run may change only {', '.join(RESUME_OPTIONS.values())}")
        return Run.resuming(args.resume, ResumeChanges(epochs=args.epochs, learning_rate=args.lr, beta=args.beta),
                            devices=args.devices)
    if not args.out:
        raise ConfigError("--out DIR is required (the run folder to create)")
    config = TrainConfig.from_preset(
        args.preset or "tutorial", dataset=args.dataset, data_dir=args.data, epochs=args.epochs,
        latent_dim=args.latent_dim, batch_size=args.batch_size, learning_rate=args.lr, grid_size=args.grid,
        seed=args.seed, limit=args.limit, precision=args.precision, beta=args.beta,
        kl_warmup_steps=args.kl_warmup, lr_schedule=args.lr_schedule, lr_warmup_steps=args.lr_warmup,
        snapshot_every_later=args.snapshots_every, image_size=args.image_size, channels=args.channels,
        likelihood=args.likelihood, test_fraction=args.test_fraction,
        **{field: getattr(args, name) for name, (field, _) in VARIANT_OPTIONS.items()})
    return Run.new(args.out, config, devices=args.devices)


# --from: the TrainConfig field each option changes (architecture fields are refused by name)
BRANCH_OPTIONS = {"dataset": ("dataset", "--dataset"), "data": ("data_dir", "--data"),
                  "preset": ("preset", "--preset"), "epochs": ("epochs", "--epochs"),
                  "latent_dim": ("latent_dim", "--latent-dim"), "batch_size": ("batch_size", "--batch-size"),
                  "lr": ("learning_rate", "--lr"), "beta": ("beta", "--beta"), "grid": ("grid_size", "--grid"),
                  "seed": ("seed", "--seed"), "limit": ("limit", "--limit"), "precision": ("precision", "--precision"),
                  "kl_warmup": ("kl_warmup_steps", "--kl-warmup"), "lr_schedule": ("lr_schedule", "--lr-schedule"),
                  "lr_warmup": ("lr_warmup_steps", "--lr-warmup"),
                  "snapshots_every": ("snapshot_every_later", "--snapshots-every"),
                  "image_size": ("image_size", "--image-size"), "channels": ("channels", "--channels"),
                  "likelihood": ("likelihood", "--likelihood"), "test_fraction": ("test_fraction", "--test-fraction"),
                  **VARIANT_OPTIONS}


def _branch_run(args: argparse.Namespace):
    """`train --from RUN[@epoch:N|@step:N] --out NEW`: checked without writing anything, the parent never."""
    from vaestudio.core.branching import plan_branch
    from vaestudio.core.config import DEFAULT_IWAE_SAMPLES
    from vaestudio.core.errors import ConfigError
    from vaestudio.core.runs import Run

    if args.resume:
        raise ConfigError("--from starts a new run from another's snapshot and --resume continues a run in its "
                          "own folder: give one of them")
    if not args.out:
        raise ConfigError("--from needs --out DIR, the new run's folder (the run branched from is never written)")
    changes = {field: getattr(args, name) for name, (field, _) in BRANCH_OPTIONS.items()}
    if changes["objective"] is not None and changes["samples"] is None:  # the samples of the new objective
        changes["samples"] = DEFAULT_IWAE_SAMPLES if changes["objective"] == "iwae" else 1
    if changes["kl_schedule"] == "cyclical" and changes["kl_warmup_steps"] is None:
        changes["kl_warmup_steps"] = 0  # the cycles replace a parent's warm-up
    names = {field: option for field, option in BRANCH_OPTIONS.values()}
    plan = plan_branch(args.branch_from, args.out, changes, option_names=names)
    return Run.branching(plan, devices=args.devices)


def train_command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """`vaestudio train`: prints the run's events; Ctrl+C, SIGTERM and SIGHUP stop it after the current steps."""
    from vaestudio.core.events import CollapseAlarm, DataLoaded, EpochEnd, Finished, Saved, Started, StepMetrics

    out = out or sys.stdout
    run = make_run(args)
    if run.branch is not None:
        _say(out, run.branch.describe())
    if not run.is_new:
        state = run.state
        where = (f"after epoch {state.epochs_done} (step {state.step})" if state.checkpoint is not None
                 else "from the start (it stopped before its first checkpoint)")
        _say(out, f"Resuming {run.path} {where}, to {run.config.epochs} epochs")
    progress = _Progress(out) if out.isatty() else None
    finished = saved = None
    with _stopping_on_signals(run):
        for event in run.events():
            if isinstance(event, DataLoaded):
                _say(out, f"Data: {event.description}")
                _load_tensorflow_quietly()
            elif isinstance(event, Started):
                _say(out, f"Device: {event.device}" + ("" if event.precision == "float32"
                                                      else f", precision {event.precision}"))
                if run.device_plan is not None and run.device_plan.note:
                    _say(out, f"Devices: {run.device_plan.note}")
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
                if progress:
                    progress.on_epoch_end(event)
            elif isinstance(event, CollapseAlarm):
                _say(out, event.line)
            elif isinstance(event, Finished):
                if progress:
                    progress.clear()
                finished = event
            elif isinstance(event, Saved):
                saved = event
    if saved is not None:
        _say(out, f"Wrote {', '.join(p.name for p in saved.paths)} to {run.path}")
    if finished is not None and finished.reason == "diverged":
        lower = (run.learning_rate or run.config.learning_rate) / 10
        print(f"vaestudio: training diverged: {finished.message}. Continue from the last checkpoint with a lower "
              f"learning rate: vaestudio train --resume {run.path} --lr {lower:g}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if finished is not None and finished.reason == "stopped":
        if run.path.exists():
            _say(out, f"Stopped at step {finished.step}; continue with: vaestudio train --resume {run.path}")
        else:
            _say(out, "Stopped before training began; nothing was written")
        return EXIT_INTERRUPTED
    return EXIT_OK


def _load_tensorflow_quietly() -> None:
    from vaestudio.core.tf.quiet import import_tensorflow

    import_tensorflow()


class _stopping_on_signals:
    """While training: the first Ctrl+C, SIGTERM or SIGHUP asks the run to stop (it checkpoints and saves);
    a second Ctrl+C interrupts at once."""

    def __init__(self, run):
        self.run = run
        self.previous: dict[int, object] = {}

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():
            return self
        for name in STOP_SIGNALS:
            number = getattr(signal, name, None)
            if number is not None:
                self.previous[number] = signal.signal(number, self._handle)
        return self

    def _handle(self, number, _frame) -> None:
        if self.run.stop_requested and number == signal.SIGINT:
            raise KeyboardInterrupt
        if not self.run.stop_requested:
            print(f"\nvaestudio: {signal.Signals(number).name}: stopping after the current steps "
                  "(press Ctrl+C again to quit at once)", file=sys.stderr, flush=True)
        self.run.stop()

    def __exit__(self, *exc_info):
        for number, handler in self.previous.items():
            signal.signal(number, handler)
        return False


class _Progress:
    """A one-line progress bar with the run's ETA, for terminals."""

    def __init__(self, out: TextIO):
        from vaestudio.core.progress import ProgressTracker

        self.out = out
        self.tracker = ProgressTracker()

    def start(self, event) -> None:
        self.tracker.on_started(event)

    def on_epoch_end(self, event) -> None:
        self.tracker.on_epoch_end(event)

    def update(self, event) -> None:
        from vaestudio.core.progress import format_duration

        self.tracker.on_metrics(event)
        progress = self.tracker.progress()
        width = 30
        filled = int(progress.epoch_fraction * width)
        self.out.write(f"\rEpoch {event.epoch}/{progress.total_epochs} [{'#' * filled}{'-' * (width - filled)}] "
                       f"{event.epoch_step}/{event.steps_per_epoch}  ELBO {event.elbo:8.2f}  "
                       f"{event.images_per_second:6.0f} img/s  ETA {format_duration(progress.eta_seconds)} ")
        self.out.flush()

    def clear(self) -> None:
        self.out.write("\r" + " " * 110 + "\r")
        self.out.flush()


def _say(out: TextIO, line: str) -> None:
    out.write(line + "\n")
    out.flush()

