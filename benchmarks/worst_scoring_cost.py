"""What the per-image ELBO (the worst-images gallery's scores) costs with a VampPrior's Monte Carlo KL.

    python benchmarks/worst_scoring_cost.py [--images 1000] [--rounds 7] [--latent 2 16 64] [--k 500]

The window scores 1000 test images per moment (core/diagnosis/worst.per_image_elbo, one sample). Three
contenders, interleaved round by round on the same synthetic images and random weights:

- plain: a model with the N(0, I) prior (its KL in closed form);
- vamp, closed form: the same VampPrior model scored with N(0, I)'s closed form (what the code did
  before the KL was taken against the model's prior);
- vamp: the VampPrior model as scored now (its components encoded, probes.KL_SAMPLES draws of q per image
  against the mixture of K components).

Prints the machine header and, per latent size, each contender's median seconds and the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--latent", type=int, nargs="+", default=[2, 16, 64])
    parser.add_argument("--k", type=int, default=500, help="the VampPrior's pseudo-inputs")
    args = parser.parse_args(argv)

    from machine import header
    from random_weights import random_weights
    from vaestudio.core import probes
    from vaestudio.core.architecture import Architecture
    from vaestudio.core.data.synthetic import synthetic_dataset
    from vaestudio.core.diagnosis import worst
    from vaestudio.core.zoo import numpy_prior

    print(header())
    print(f"{args.images} images, {args.rounds} rounds, K = {args.k}, KL_SAMPLES = {probes.KL_SAMPLES}")
    images = synthetic_dataset(10, args.images).test_images
    real_components = numpy_prior.components

    def scored(vae, closed_form: bool = False) -> float:
        numpy_prior.components = (lambda _vae: None) if closed_form else real_components
        try:
            started = time.perf_counter()
            worst.per_image_elbo(vae, images, chunk=worst.CHUNK)
            return time.perf_counter() - started
        finally:
            numpy_prior.components = real_components

    for d in args.latent:
        plain = probes.as_vae(random_weights(Architecture(latent_dim=d), 1, scale=0.3))
        vamp = probes.as_vae(random_weights(Architecture(latent_dim=d, prior="vamp", pseudo_inputs=args.k), 1,
                                            scale=0.3))
        contenders = {"plain": lambda: scored(plain), "vamp, closed form": lambda: scored(vamp, True),
                      "vamp": lambda: scored(vamp)}
        for run in contenders.values():  # warm-up, off the clock
            run()
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(args.rounds):
            for name, run in contenders.items():
                times[name].append(run())
        median = {name: statistics.median(values) for name, values in times.items()}
        print(f"latent {d:2d}: " + ", ".join(f"{name} {value:.3f} s" for name, value in median.items())
              + f"; vamp / plain {median['vamp'] / median['plain']:.2f}, "
              f"vamp / vamp closed form {median['vamp'] / median['vamp, closed form']:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
