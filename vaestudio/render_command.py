"""`vaestudio render`: reconstructions, an interpolation, the grid or the traversal sheet of one snapshot of a
run folder (or of a `.keras` model file), as a PNG or GIF. The model is found as `vaestudio inspect` finds it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

import numpy as np

from vaestudio.core.errors import ConfigError
from vaestudio.reports import Subject, pick_record, test_split, load_subject

# render's output: the 20 x 20 tutorial grid at --scale 16 is 8960 x 8960 (80 megapixels); a bigger PNG
# would need gigabytes to compose and encode.
MAX_RENDER_PIXELS = 100_000_000


def render_command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from vaestudio.core import latent, probes
    from vaestudio.core.numpy_vae import NumpyVAE
    from vaestudio.core.store.images import save_gif, save_png
    from vaestudio.core.zoo.labels import conditional_labels

    out = out or sys.stdout
    target = Path(args.out)
    if target.suffix.lower() not in (".png", ".gif"):
        raise ConfigError(f"--out {args.out}: the file must end in .png or .gif")
    if not 1 <= args.scale <= 16:
        raise ConfigError(f"--scale must be between 1 and 16, got {args.scale}")
    if args.image is not None and not args.traversals:
        raise ConfigError("--image goes with --traversals")
    if getattr(args, "label", None) is not None and not (args.grid or args.traversals or args.interpolate):
        raise ConfigError("--class goes with --grid, --traversals or --interpolate")
    recorded = _recorded_grid(Path(args.target), args.at) if args.grid else None
    if recorded is not None:  # a 0.1.0 snapshot: its grid as recorded
        mosaic, source = recorded
        height, width = mosaic.shape[:2]
        _check_render_size(width, height, args.scale)
        if target.suffix.lower() == ".gif":
            save_gif([mosaic], target, frame_seconds=1.0, scale=args.scale)
        else:
            save_png(mosaic, target, scale=args.scale)
        out.write(f"Wrote {target} ({source}, the grid as recorded)\n")
        return 0
    subject = load_subject(args.target, args.at)
    vae = NumpyVAE(subject.weights)
    gif = target.suffix.lower() == ".gif"
    if args.grid:
        side = subject.config.grid_size * subject.weights.architecture.image_size * args.scale
        _check_render_size(side, side, 1)
        picture = vae.grid(subject.config.grid_size, label=_class_of(args, vae))
        frames = [picture]
    elif args.traversals:
        return _render_traversals(subject, target, args, out)
    else:
        images, labels, names, _data = test_split(subject.config, None)
        own = conditional_labels(vae, labels)  # a conditional model encodes each image with its own class
        if args.reconstructions:
            chosen = _first_of_each_class(labels)
            result = probes.reconstruct(vae, images[chosen], labels=None if own is None else own[chosen])
            originals = probes.model_inputs(images[chosen], vae.architecture)
            top = latent.strip(latent.to_uint8(originals))
            frames = [np.concatenate([top, latent.strip(result.images)], axis=0)]
        else:
            i, j = args.interpolate
            for index in (i, j):
                if not 0 <= index < len(images):
                    raise ConfigError(f"--interpolate: test image {index} does not exist (0..{len(images) - 1})")
            if not 2 <= args.frames <= 256:
                raise ConfigError(f"--frames must be between 2 and 256, got {args.frames}")
            means = probes.encode(vae, images[[i, j]], None if own is None else own[[i, j]]).mean
            path = probes.interpolate(vae, means[0], means[1], args.frames,
                                      "spherical" if args.spherical else "linear", _class_of(args, vae))
            frames = list(path.frames) if gif else [latent.strip(path.frames)]
    height, width = np.shape(frames[0])[:2]
    _check_render_size(width, height, args.scale)
    if gif:
        save_gif(frames, target, frame_seconds=0.12 if len(frames) > 1 else 1.0, scale=args.scale)
    else:
        save_png(frames[0], target, scale=args.scale)
    out.write(f"Wrote {target} ({subject.source})\n")
    return 0


def _class_of(args: argparse.Namespace, vae) -> int | None:
    """The class --class asks a conditional model's grid for; ConfigError for another model or no class."""
    label, classes = getattr(args, "label", None), vae.architecture.classes
    if label is None:
        return None
    if not classes:
        raise ConfigError("--class needs a conditional model (trained with --model conditional)")
    if not 0 <= label < classes:
        raise ConfigError(f"--class must be between 0 and {classes - 1}, got {label}")
    return label


def _render_traversals(subject: Subject, target: Path, args: argparse.Namespace, out: TextIO) -> int:
    from vaestudio.core.diagnosis.report import render_traversals
    from vaestudio.core.diagnosis.traversals import STEPS

    images, labels, _names, _data = test_split(subject.config, None)
    if args.image is not None and not 0 <= args.image < len(images):
        raise ConfigError(f"--image {args.image}: no such test image (0..{len(images) - 1})")
    architecture = subject.weights.architecture
    _check_render_size(STEPS * architecture.image_size, architecture.latent_dim * architecture.image_size, args.scale)
    label = _class_of(args, subject.weights)  # its .architecture is all it reads
    render_traversals(subject.weights, images, target, args.image, args.scale,
                      labels if architecture.classes else None, label)
    start = "the origin" if args.image is None else f"test image {args.image}"
    decoded = f", class {label or 0}" if architecture.classes else ""
    out.write(f"Wrote {target} ({subject.source}; {architecture.latent_dim} rows, one per latent dimension, "
              f"from {start}{decoded})\n")
    return 0


def _check_render_size(width: int, height: int, scale: int) -> None:
    if width * height * scale ** 2 > MAX_RENDER_PIXELS:
        raise ConfigError(f"the picture would be {width * scale} x {height * scale} pixels, more than the "
                          f"{MAX_RENDER_PIXELS // 1_000_000} megapixels render writes; choose a smaller --scale")


def _recorded_grid(path: Path, at: str | None) -> tuple[np.ndarray, str] | None:
    """The grid image of a run folder's snapshot recorded without weights (vaestudio 0.1.0), with a
    description; None when `path` is not a run folder or the snapshot has weights to decode from."""
    from vaestudio.core.store.run_folder import RunFolder

    folder = RunFolder(path)
    if not path.is_dir() or not folder.holds_run():
        return None
    folder.read_config()
    records = folder.snapshots.records()
    if not records:
        return None
    record = pick_record(records, at, path)
    if record.has_weights or folder.snapshots.load_weights(record) is not None:  # a lost one is named here
        return None
    return folder.snapshots.load_mosaic(record), f"{path}, snapshot '{record.label}' (step {record.step})"


def _first_of_each_class(labels: np.ndarray, limit: int = 10) -> list[int]:
    chosen: dict[int, int] = {}
    for index, label in enumerate(labels):
        chosen.setdefault(int(label), index)
        if len(chosen) >= limit:
            break
    return [chosen[label] for label in sorted(chosen)]

