"""`vaestudio inspect` (and the arguments of `vaestudio render`, in render_command.py): what a run (or a model
file) learned, from the command line.

inspect: the test ELBO and its parts, the importance-weighted log-likelihood (IWAE) with its standard
error, the KL of each latent dimension and the active units, for one snapshot of a run or a `.keras` file,
and its diagnosis (core/diagnosis/report.py): posterior collapse, I(x; z), kNN and linear-probe accuracy,
the classes of prior samples and a Fréchet distance, the worst-modelled test images.
render: reconstructions, an interpolation, the grid or the traversal sheet of a snapshot as a PNG or GIF.
Every number is a function of (the snapshot's weights, the run's test images).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from vaestudio.core.config import TrainConfig
from vaestudio.core.diagnosis.report import CLASSIFIER_CHOICES
from vaestudio.core.errors import ConfigError, RunFolderError

# k samples per image: beyond this an estimate takes days and its noise draws alone need gigabytes.
MAX_IWAE_K = 100_000


@dataclass(frozen=True)
class Subject:
    """The model a report is about: its weights, what they are, and the config that names its data."""

    weights: object  # VaeWeights
    config: TrainConfig
    source: str  # e.g. "runs/x, snapshot 'epoch 10' (step 18750)"
    epoch: int | None
    step: int | None
    folder: Path | None = None  # the run folder (None: a model file)


def add_commands(commands) -> None:
    """Add `inspect` and `render` to the CLI's sub-commands."""
    inspect = commands.add_parser(
        "inspect", help="report the test ELBO, IWAE log-likelihood, per-dimension KL, active units and a diagnosis",
        description="Report on one snapshot of a run folder (default: the last) or on a .keras model file: "
        "test ELBO and its parts, the importance-weighted estimate of log p(x) with its standard error, "
        "the KL of each latent dimension and the number of active units; whether the posterior has collapsed, "
        "the mutual information I(x; z), kNN and linear-probe accuracy on the latent means, the classes a "
        "small classifier of the dataset sees in decoded prior samples and the Fréchet distance on its "
        "features (not Inception FID), and with --worst N the worst-modelled test images.")
    inspect.add_argument("target", metavar="RUN_FOLDER_OR_MODEL")
    _add_at(inspect)
    inspect.add_argument("--iwae-k", type=int, default=1000, metavar="K",
                         help="importance samples per image (default 1000; 0 skips the estimate)")
    inspect.add_argument("--images", type=int, metavar="N", help="use only the first N test images "
                         "(default: the whole test set)")
    inspect.add_argument("--worst", type=int, metavar="N", help="also list the N test images of lowest ELBO, "
                         "with their nearest training images in latent space")
    inspect.add_argument("--classifier", choices=CLASSIFIER_CHOICES, default="train",
                         help="the dataset's small classifier, which judges prior samples and gives the Fréchet "
                         "distance's features. train (default): train it when it is not cached yet (once per "
                         "dataset: about 1-2 minutes on a CPU for Fashion-MNIST, seconds on small data), then "
                         "reuse it; cached: use it only if already trained; none: skip those figures")
    inspect.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    render = commands.add_parser(
        "render", help="draw reconstructions, an interpolation or the grid of a snapshot into a PNG or GIF",
        description="Draw a picture of one snapshot of a run folder (or a .keras model file): the file type "
        "follows --out's suffix (.png or .gif).")
    render.add_argument("target", metavar="RUN_FOLDER_OR_MODEL")
    _add_at(render)
    what = render.add_mutually_exclusive_group(required=True)
    what.add_argument("--reconstructions", action="store_true", help="one test image per class above its "
                      "reconstruction")
    what.add_argument("--interpolate", nargs=2, type=int, metavar=("I", "J"), help="morph test image I into "
                      "test image J")
    what.add_argument("--grid", action="store_true", help="the decoded latent grid")
    what.add_argument("--traversals", action="store_true", help="the traversal sheet: one row per latent "
                      "dimension (largest KL first, inactive ones greyed), that coordinate swept across ±3 test-set "
                      "standard deviations from --image's posterior mean (default: the origin); a .gif plays it")
    render.add_argument("--image", type=int, metavar="I", help="with --traversals: start from test image I")
    render.add_argument("--frames", type=int, default=10, help="frames of an interpolation (default 10)")
    render.add_argument("--class", dest="label", type=int, metavar="C", help="with --grid, --traversals or "
                        "--interpolate, of a conditional model: decode for class C (default 0; test images are "
                        "encoded with their own classes)")
    render.add_argument("--spherical", action="store_true", help="interpolate along a great circle")
    render.add_argument("--scale", type=int, default=4, help="pixels per image pixel (default 4)")
    render.add_argument("--out", required=True, metavar="FILE", help="a .png or .gif to write")


def _add_at(parser) -> None:
    parser.add_argument("--at", metavar="EPOCH|step:STEP|frame:N", help="the snapshot: the end of epoch EPOCH, "
                        "the last one taken at or before step STEP, or frame N of the run's snapshots (default: the "
                        "last snapshot)")


# -- finding the model --------------------------------------------------------------------------------------
def load_subject(target: str, at: str | None) -> Subject:
    path = Path(target)
    if path.is_dir():
        return _from_run(path, at)
    if path.suffix == ".keras" or path.is_file():
        if at is not None:
            raise ConfigError("--at picks a snapshot of a run folder; a model file has only one moment")
        return _from_model(path)
    raise RunFolderError(f"{path}: no such run folder or model file")


def snapshot_at(path: Path, at: str | None, without_weights: str = "only its grids can be shown"):
    """The run folder at `path`, its config, its snapshot records, the one `--at` names, and its weights.

    Raises RunFolderError for a run without snapshots, or one recorded without weights (vaestudio 0.1.0;
    `without_weights` says what that means for the caller).
    """
    from vaestudio.core.store.run_folder import RunFolder

    folder = RunFolder(path)
    config = folder.read_config()
    records = folder.snapshots.records()
    if not records:
        raise RunFolderError(f"{folder.snapshot_dir / 'index.csv'}: the run has no snapshots yet")
    record = pick_record(records, at, path)
    weights = folder.snapshots.load_weights(record)
    if weights is None:
        raise RunFolderError(f"{record.weights_path}: missing; this run was recorded without model weights "
                             f"(vaestudio 0.1.0): {without_weights}")
    return folder, config, records, record, weights


def _from_run(path: Path, at: str | None) -> Subject:
    _folder, config, _records, record, weights = snapshot_at(path, at)
    return Subject(weights, config, f"{path}, snapshot '{record.label}' (step {record.step})", record.epoch,
                   record.step, path)


def pick_record(records, at: str | None, path: Path):
    """The snapshot record `--at` names: epoch:N (or a bare N), step:N or frame:N; default the last."""
    if at is None:
        return records[-1]
    text = at.strip().lower()
    if text.startswith(("frame:", "frame=")):
        try:
            frame = int(text[6:])
        except ValueError:
            raise ConfigError(f"--at {at!r}: expected frame:N with N a snapshot's number") from None
        chosen = [r for r in records if r.frame == frame]
        if not chosen:
            raise ConfigError(f"--at {at}: {path} has no snapshot frame {frame} "
                              f"(frames {records[0].frame}…{records[-1].frame})")
        return chosen[0]
    try:
        if text.startswith("step:") or text.startswith("step="):
            step = int(text[5:])
            chosen = [r for r in records if r.step <= step]
            if not chosen:
                raise ConfigError(f"--at {at}: the run's first snapshot is at step {records[0].step}")
            return chosen[-1]
        epoch = int(text.removeprefix("epoch:").removeprefix("epoch="))
    except ValueError:
        raise ConfigError(f"--at {at!r}: expected an epoch number, step:N or frame:N") from None
    ends = [r for r in records if r.label == f"epoch {epoch}" or (epoch == 0 and r.step == 0)]
    if not ends:
        done = sorted({r.epoch for r in records if r.label.startswith("epoch ") and "," not in r.label})
        raise ConfigError(f"--at {at}: {path} has no snapshot at the end of epoch {epoch} "
                          f"(epochs with one: {', '.join(map(str, done)) or 'none'})")
    return ends[-1]


def _from_model(path: Path) -> Subject:
    from vaestudio.core.tf.quiet import import_tensorflow

    import_tensorflow()
    from vaestudio.core.tf.model_file import load_model
    from vaestudio.core.weights import VaeWeights

    model = load_model(path)
    weights = VaeWeights.from_model(model)
    from vaestudio.core.model_settings import model_settings

    config, _note = model_settings(path, weights.architecture)
    return Subject(weights, config, str(path), None, None)


def test_split(config: TrainConfig, limit: int | None,
               dataset=None) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], str]:
    """(test images, labels, class names, a description of the data) of the config's data, or of `dataset`."""
    if dataset is None:
        from vaestudio.core.runs import default_dataset_loader

        dataset = default_dataset_loader(config)
    images, labels = dataset.test_images, dataset.test_labels
    if limit is not None:
        if limit < 1:
            raise ConfigError(f"--images must be at least 1, got {limit}")
        images, labels = images[:limit], labels[:limit]
    return np.asarray(images), np.asarray(labels), tuple(dataset.class_names), dataset.describe()


# -- inspect -----------------------------------------------------------------------------------------------
def inspect_command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from vaestudio.core import probes
    from vaestudio.core.runs import default_dataset_loader

    out = out or sys.stdout
    if not 0 <= args.iwae_k <= MAX_IWAE_K:
        raise ConfigError(f"--iwae-k must be 0 (skip) to {MAX_IWAE_K}, got {args.iwae_k}")
    subject = load_subject(args.target, args.at)
    dataset = default_dataset_loader(subject.config)
    images, labels, _names, data = test_split(subject.config, args.images, dataset)
    if args.worst is not None and not 1 <= args.worst <= len(images):
        raise ConfigError(f"--worst must be between 1 and the {len(images)} test images used, got {args.worst}")
    architecture = subject.weights.architecture
    vae = probes.as_vae(subject.weights)
    inputs = probes.model_inputs(images, architecture)
    started = time.perf_counter()
    posterior = probes.encode(vae, inputs, labels if architecture.classes else None)  # a conditional model's own
    encoding = time.perf_counter() - started
    kl_dims = probes.kl_per_dimension(posterior.mean, posterior.logvar)  # against N(0, I), for the display
    kl = float(probes.PriorKl(vae)(posterior.mean, posterior.logvar).mean())  # the ELBO's: the model's prior
    active = probes.active_units(posterior.mean)
    report: dict = {"subject": subject.source, "data": data, "images": int(len(images)),
                    "lineage": _lineage(args.target),
                    "architecture": architecture.describe(), "epoch": subject.epoch, "step": subject.step,
                    "kl_per_dimension": [float(v) for v in kl_dims], "kl": kl,
                    "active_units": int(active.count), "active_variances": [float(v) for v in active.variances]}
    k = args.iwae_k or 1
    started = time.perf_counter()
    progress = _Progress(out, "estimating log p(x)" if args.iwae_k else "estimating the ELBO")
    from vaestudio.core.iwae import iwae_log_likelihood  # NumPy: no TensorFlow to load

    result = iwae_log_likelihood(vae, inputs, k=k, progress=progress.update if progress.active else None,
                                 labels=labels)  # a conditional model's log p(x | y)
    progress.clear()
    report["elbo"] = float(result.elbo)
    report["elbo_standard_error"] = float(result.elbo_standard_error)
    report["log_likelihood_term"] = float(result.elbo + kl)
    if args.iwae_k:
        report["iwae"] = {"log_px": float(result.mean), "standard_error": float(result.standard_error),
                          "k": int(result.samples), "seconds": round(time.perf_counter() - started, 1)}
    report |= _diagnosis(subject, dataset, posterior, args, out)
    report["diagnosis_seconds"] = {"encode_test_images": round(encoding, 2)} | report["diagnosis_seconds"]
    if args.json:
        out.write(json.dumps(json_safe(report), indent=2, allow_nan=False) + "\n")
        return 0
    _print_report(report, out)
    return 0


def _lineage(target: str) -> str | None:
    """A branched run's ancestry, 'child (from step 40) ← parent (from step 0)'; None for a root or a file."""
    from vaestudio.core.branching import lineage

    chain = lineage(target) if Path(target).is_dir() else []
    return " ← ".join(f"{folder} (from step {step})" for folder, step in chain) if len(chain) > 1 else None


def _diagnosis(subject: Subject, dataset, posterior, args: argparse.Namespace, out: TextIO) -> dict:
    """inspect's diagnosis fields; says so on stderr before training the dataset's classifier."""
    from vaestudio.core.diagnosis import classifier as classifiers
    from vaestudio.core.diagnosis.report import inspect_fields

    if args.classifier == "train" and classifiers.cached_classifier(dataset) is None:
        print(f"Training a small classifier of {dataset.name} once, for the prior samples' classes and the Fréchet "
              f"distance (cached in {classifiers.classifier_path(dataset).parent}; --classifier none skips it)…",
              file=sys.stderr, flush=True)
    progress = _Progress(out, "scoring each test image")
    config = subject.config
    fields = inspect_fields(subject.weights, dataset, folder=subject.folder, step=subject.step, epoch=subject.epoch,
                            warmup_steps=config.kl_warmup_steps, beta=config.beta, worst_count=args.worst,
                            classifier=args.classifier, test_limit=args.images, posterior=posterior,
                            progress=_images_progress(progress) if progress.active else None)
    progress.clear()
    return fields


def _images_progress(progress: "_Progress"):
    return lambda done, total: progress.update(done, total, "images")


def _print_report(report: dict, out: TextIO) -> None:
    lines = [f"Model: {report['subject']}", f"       {report['architecture']}",
             *([f"Lineage: {report['lineage']}"] if report.get("lineage") else []),
             f"Data:  {report['data']}", f"       {report['images']} test images used", ""]
    lines.append(f"Test ELBO           {report['elbo']:10.2f} nats ± {report['elbo_standard_error']:.2f}  "
                 f"= reconstruction {report['log_likelihood_term']:.2f} − KL {report['kl']:.2f}")
    if "iwae" in report:
        iwae = report["iwae"]
        lines.append(f"log p(x) (IWAE)     {iwae['log_px']:10.2f} nats ± {iwae['standard_error']:.2f}  "
                     f"(k = {iwae['k']}, {iwae['seconds']:.0f} s)")
    kl = report["kl_per_dimension"]
    order = sorted(range(len(kl)), key=lambda d: -kl[d])
    shown = ", ".join(f"z{d + 1} {kl[d]:.2f}" for d in order[:16]) + (", …" if len(kl) > 16 else "")
    lines.append(f"KL per dimension    {shown}")
    lines.append(f"Active units        {report['active_units']} of {len(kl)} (Cov_x E[z_d] > 0.01, Burda et al. 2016)")
    from vaestudio.core.diagnosis.report import diagnosis_lines

    lines += diagnosis_lines(report)
    out.write("\n".join(lines) + "\n")
    out.flush()


class _Progress:
    """One updating line with the ETA: on `out` when it is a terminal, else on stderr when that is one (so
    `--json > file` still shows it), else nowhere (`active` False)."""

    def __init__(self, out: TextIO, what: str):
        terminal = [stream for stream in (out, sys.stderr) if stream is not None and stream.isatty()]
        self.out, self.what, self.started = (terminal[0] if terminal else out), what, time.perf_counter()
        self.active = bool(terminal)
        self.shown = False

    def update(self, done: int, total: int, unit: str = "batches") -> None:
        from vaestudio.core.progress import format_duration

        elapsed = time.perf_counter() - self.started
        eta = elapsed / done * (total - done) if done else None
        self.out.write(f"\r{self.what}: {done}/{total} {unit}, ETA {format_duration(eta)}   ")
        self.out.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.out.write("\r" + " " * 70 + "\r")
            self.out.flush()


def json_safe(report: dict) -> dict:
    """`report` with every NaN or infinite number replaced by null, and a "not_finite" entry saying which
    values were and why (strict JSON has no NaN)."""
    missing: list[str] = []

    def clean(value, name: str):
        if isinstance(value, float) and not math.isfinite(value):
            missing.append(name)
            return None
        if isinstance(value, dict):
            return {key: clean(item, f"{name}.{key}" if name else key) for key, item in value.items()}
        if isinstance(value, list):
            return [clean(item, f"{name}[{i}]") for i, item in enumerate(value)]
        return value

    cleaned = clean(report, "")
    if missing:
        cleaned["not_finite"] = {"values": missing, "reason": "not a finite number: the model diverged or its "
                                                               "weights are damaged (null in this report)"}
    return cleaned
