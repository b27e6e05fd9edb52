"""`vaestudio export`: one snapshot of a run (or a .keras model file) for use elsewhere.

--format FORMAT --out DIR writes the encoder and decoder as keras, savedmodel, onnx, tflite or tfjs
(core/export/formats.py); --latents FILE the test set's posterior means and standard deviations with labels
(.npz or .csv); --projector DIR the TensorBoard Projector files of those codes with their images. Every
output is checked before anything is computed and written complete or not at all (core/export/target.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from vaestudio.core.errors import ConfigError


def add_command(commands) -> None:
    """Add `export` to the CLI's sub-commands."""
    from vaestudio.core.export.formats import MODEL_FORMATS

    export = commands.add_parser(
        "export", help="write a snapshot's encoder and decoder as Keras, SavedModel, ONNX, LiteRT or TF.js, "
        "or the test set's latent codes",
        description="Export one snapshot of a run folder (default: the last) or a .keras model file. Each model "
        "format writes a folder with the encoder (images (N, H, W, C) float32 in [0, 1] -> mean, logvar) and "
        "the decoder (z (N, d) -> pixels: each pixel's Bernoulli probability in [0, 1]; for a continuous-Bernoulli "
        "model its mean, or its logits in keras and tfjs), and vaestudio-export.json describing them.")
    export.add_argument("target", metavar="RUN_FOLDER_OR_MODEL")
    export.add_argument("--at", metavar="epoch:N|step:N|frame:N", help="the snapshot: the end of epoch N, the "
                        "last one taken at or before step N, or frame N of the run's snapshots (default: the last)")
    export.add_argument("--format", metavar="FORMAT", help=f"one of {', '.join(MODEL_FORMATS)}")
    export.add_argument("--out", metavar="DIR", help="the folder to write the model into (new, or an earlier export)")
    export.add_argument("--latents", metavar="FILE", help="also write the test set's posterior means and standard "
                        "deviations with labels (.npz: arrays mean, std, label, class_names; .csv: with a header)")
    export.add_argument("--projector", metavar="DIR", help="also write TensorBoard Projector files of the test "
                        "set's codes with their images (tensorboard --logdir DIR)")
    export.add_argument("--limit", type=int, metavar="N", help="with --projector: at most the first N test "
                        "images (default 10000)")


def export_command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    plan = check_outputs(args)
    subject = load_export_subject(args.target, args.at)
    if args.format:
        from vaestudio.core.export.formats import export_model

        export_model(subject.weights, args.format, plan["out"], subject.source)
        out.write(f"Wrote {plan['out']} ({args.format}: encoder and decoder of {subject.source})\n")
    if args.latents or args.projector:
        from vaestudio.core.export.latents import encode_test_set, write_latents
        from vaestudio.reports import test_split

        images, labels, names, data = test_split(subject.config, None)
        codes = encode_test_set(subject.weights, images, labels, names)
        if args.latents:
            write_latents(codes, plan["latents"])
            out.write(f"Wrote {plan['latents']} ({len(codes.mean)} test images of {data})\n")
        if args.projector:
            from vaestudio.core.export.projector import write_projector

            folder, count = write_projector(codes, plan["projector"], args.limit)
            out.write(f"Wrote {folder} ({count} test images; view with: tensorboard --logdir {folder})\n")
    return 0


def check_outputs(args: argparse.Namespace) -> dict[str, Path]:
    """Every output the arguments ask for, checked before the model is loaded (ExportError/ConfigError)."""
    from vaestudio.core.export.formats import MODEL_FORMATS, missing_converter
    from vaestudio.core.export.latents import LATENT_SUFFIXES
    from vaestudio.core.export.projector import CONFIG, FILES, projector_limit
    from vaestudio.core.export.target import check_file_target, check_folder_target

    if not (args.format or args.latents or args.projector):
        raise ConfigError("nothing to export: give --format FORMAT --out DIR, --latents FILE or --projector DIR")
    if bool(args.format) != bool(args.out):
        raise ConfigError("--format and --out go together: --format FORMAT --out DIR")
    if args.limit is not None and not args.projector:
        raise ConfigError("--limit goes with --projector")
    plan: dict[str, Path] = {}
    if args.format:
        if args.format not in MODEL_FORMATS:
            raise ConfigError(f"--format {args.format!r}: unknown format (choose one of {', '.join(MODEL_FORMATS)})")
        reason = missing_converter(args.format)
        if reason:
            raise ConfigError(reason)
        plan["out"] = check_folder_target(args.out)
    if args.latents:
        plan["latents"] = check_file_target(args.latents, LATENT_SUFFIXES)
    if args.projector:
        projector_limit(28, args.limit)
        plan["projector"] = check_folder_target(args.projector, marker=CONFIG, only=FILES)
    paths = [path.resolve() for path in plan.values()]
    if len(set(paths)) < len(paths):
        raise ConfigError("--out, --latents and --projector must be different paths")
    return plan


def load_export_subject(target: str, at: str | None):
    """The snapshot `--at` names (epoch:N, step:N, or frame:N), with its weights, as `inspect` loads it."""
    from vaestudio.reports import load_subject

    return load_subject(target, at)
