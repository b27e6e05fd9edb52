"""The model zoo's reproducibility table (issue 19): one variant trained on Fashion-MNIST, then measured.

    python benchmarks/zoo.py --variant tutorial            # the tutorial's CVAE, its 10 epochs
    python benchmarks/zoo.py --variant iwae --epochs 30     # any variant, any length
    python benchmarks/zoo.py --variant vamp --quick         # ~200 steps on 6 400 images: checks the pipeline

Variants (each the `vaestudio train` options printed with the results): tutorial, free-bits, cyclical,
iwae, tcvae, vamp, conditional (its encodings and IWAE with the test labels). Trains through the same `Run` as the CLI into --out (a temporary folder by default),
binarized as the tutorial does, and prints: the command, epochs, training time (the EpochEnd seconds,
without test passes), the last test ELBO (single sample, whole test set), the IWAE estimate of log p(x)
with k samples on the first --iwae-images test images (both stated), and the active units (Burda et al.
2016, Cov_x E[z_d] > 0.01 over the test set's posterior means), then the diagnosis figures `vaestudio
inspect RUN --images N --json` gives (--diagnosis-images, default 1000): I(x; z), kNN accuracy and the
Fréchet distance of prior samples (the latter only when the dataset's classifier is cached: inspect
trains it once).

Takes hours for the full settings on a CPU (IWAE k = 1000 on 10 000 images is 10 million decodes): run it
on an idle machine, not beside other work.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

from machine import header  # noqa: E402

# Each variant: the `vaestudio train` options beyond the tutorial preset.
VARIANTS: dict[str, list[str]] = {
    "tutorial": [],
    "free-bits": ["--free-bits", "0.5"],
    "cyclical": ["--kl-schedule", "cyclical", "--cycles", "4"],
    "iwae": ["--objective", "iwae", "--samples", "5"],
    "tcvae": ["--objective", "tcvae", "--beta", "4"],
    "vamp": ["--prior", "vamp", "--pseudo-inputs", "500"],
    "conditional": ["--model", "conditional"],
}
QUICK = dict(limit=6400, epochs=1, iwae_samples=50, iwae_images=200)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variant", choices=VARIANTS, required=True)
    parser.add_argument("--epochs", type=int, default=10, help="default 10 (the tutorial's)")
    parser.add_argument("--latent-dim", type=int, default=2, help="default 2 (the tutorial's)")
    parser.add_argument("--iwae-samples", type=int, default=1000, help="k of the IWAE estimate (default 1000)")
    parser.add_argument("--iwae-images", type=int, default=10_000, help="first N test images (default all)")
    parser.add_argument("--data", metavar="DIR", help="folder with Fashion-MNIST's four IDX files (default: found)")
    parser.add_argument("--out", metavar="DIR", help="run folder to write (default: a temporary one)")
    parser.add_argument("--diagnosis-images", type=int, default=1000,
                        help="first N test images of the diagnosis figures (default 1000; 0 skips them)")
    parser.add_argument("--quick", action="store_true", help=f"check the pipeline: {QUICK}")
    args = parser.parse_args()
    limit = None
    if args.quick:
        limit, args.epochs = QUICK["limit"], QUICK["epochs"]
        args.iwae_samples, args.iwae_images = QUICK["iwae_samples"], QUICK["iwae_images"]

    options = ["--preset", "tutorial", "--epochs", str(args.epochs), "--latent-dim", str(args.latent_dim),
               *VARIANTS[args.variant], *(["--limit", str(limit)] if limit else []),
               *(["--data", args.data] if args.data else [])]
    print(header(with_tensorflow=True))
    with tempfile.TemporaryDirectory(prefix="vaestudio-zoo-") as scratch:
        out = Path(args.out) if args.out else Path(scratch) / args.variant
        command = ["vaestudio", "train", *options, "--out", str(out)]
        print(f"command       {shlex.join(command)}")
        result = train_and_measure(options, out, args.iwae_samples, args.iwae_images, args.diagnosis_images)
    print(f"variant       {args.variant}")
    print(f"epochs        {result['epochs']}")
    print(f"training      {result['train_seconds']:.1f} s (epochs only; {result['wall_seconds']:.1f} s in all)")
    print(f"test ELBO     {result['test_elbo']:.2f} nats (single sample, {result['test_images']} test images)")
    print(f"IWAE log p(x) {result['iwae']:.2f} nats ± {result['iwae_se']:.2f} (k = {args.iwae_samples}, "
          f"first {result['iwae_images']} test images, {result['iwae_seconds']:.0f} s)")
    print(f"active units  {result['active']} of {result['latent_dim']}")
    diagnosis = result.get("diagnosis")
    if diagnosis:
        frechet = diagnosis.get("frechet_distance")
        print(f"diagnosis     I(x; z) {diagnosis['mutual_information']:.2f} nats, kNN accuracy "
              f"{100 * diagnosis['knn_accuracy']:.1f} %, Fréchet distance "
              f"{'not judged (no cached classifier)' if frechet is None else f'{frechet:.2f}'} "
              f"(first {args.diagnosis_images} test images, as `vaestudio inspect --images N`)")
    return 0


def train_and_measure(options: list[str], out: Path, iwae_samples: int, iwae_images: int,
                      diagnosis_images: int = 0) -> dict:
    """Train through the CLI's own path, then measure the last snapshot's model (and its diagnosis
    figures on the first `diagnosis_images` test images; 0: none)."""
    from vaestudio.cli import build_parser
    from vaestudio.core.data import preprocess
    from vaestudio.core.events import DataLoaded, EpochEnd, Snapshot
    from vaestudio.core.numpy_vae import NumpyVAE
    from vaestudio.core.probes import active_units
    from vaestudio.core.iwae import iwae_log_likelihood
    from vaestudio.train_command import make_run

    run = make_run(build_parser().parse_args(["train", *options, "--out", str(out)]))
    started = time.perf_counter()
    epochs, weights, dataset = [], None, None
    for event in run.events():
        if isinstance(event, DataLoaded):
            dataset = event.data
        elif isinstance(event, EpochEnd):
            epochs.append(event)
            print(f"  epoch {event.epoch}: test ELBO {event.test_elbo:.2f} ({event.seconds:.1f} s)", flush=True)
        elif isinstance(event, Snapshot) and event.weights is not None:
            weights = event.weights
    wall = time.perf_counter() - started
    test = preprocess(dataset.test_images, weights.architecture)
    labels = dataset.test_labels if weights.architecture.model == "conditional" else None
    means, _ = NumpyVAE(weights).encode(test, labels)
    subset = test[:iwae_images]
    iwae = iwae_log_likelihood(weights, subset, k=iwae_samples,
                               **({"labels": labels[:iwae_images]} if labels is not None else {}))
    diagnosis = None
    if diagnosis_images:
        from vaestudio.core.diagnosis.report import inspect_fields

        diagnosis = inspect_fields(weights, dataset, folder=out, classifier="cached", test_limit=diagnosis_images)
    return dict(epochs=len(epochs), train_seconds=sum(e.seconds for e in epochs), wall_seconds=wall,
                test_elbo=epochs[-1].test_elbo, test_images=len(test), iwae=iwae.mean, iwae_se=iwae.standard_error,
                iwae_images=len(subset), iwae_seconds=iwae.seconds, active=active_units(means).count,
                latent_dim=weights.architecture.latent_dim, diagnosis=diagnosis)


if __name__ == "__main__":
    sys.exit(main())
