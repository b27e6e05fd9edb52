"""The 20x20 latent grid: the article's per-point loop against vaestudio's batched decode, with and without
XLA, and the NumPy grid, interleaved, against this machine's float32 peak; and the NumPy decodes (the grid,
the IWAE estimate) against a float32 matrix product on all cores (issue 22 item 5: >= 60 %, else FAILED).

    python benchmarks/grid_speed.py              # ~2 min on 2 shared cores
    python benchmarks/grid_speed.py --rounds 20
    python benchmarks/grid_speed.py --blas --rounds 6   # NumPy grid: OpenBLAS default threads against one
    python benchmarks/grid_speed.py --numpy            # only item 5: the NumPy grid and IWAE estimate against
                                                       # sgemm on all cores, NumPy imported before or after
                                                       # vaestudio (fresh processes, ~1 min)

Contenders, each run once per round in turn (the order alternating), all float32, untrained weights (the
work does not depend on the values):
  article   the article's `plot_latent_images`: 400 calls of its tf.function `sample`, one point each
  batched   vaestudio's trainer grid (core/tf/steps.py): one tf.function decoding the 400 points, .numpy()
  xla       the same function with jit_compile=True
  numpy     vaestudio's NumPy VAE (core/numpy_vae.py): logits of the 400 points
  iwae      vaestudio's IWAE estimate (core/iwae.py, what `vaestudio inspect` runs): IWAE_IMAGES images at
            k = 1000, counted as the decodes' FLOPs (encoding, likelihoods and priors are extra work it does)
  sgemm     a 1024x1024x1024 float32 matrix product in NumPy (OpenBLAS) on one thread (vaestudio's setting)
  sgemm_all the same on all cores (threadpoolctl): the machine's practical float32 limit right now, so
            that the decodes' share of it does not depend on the load
Printed: the median time of each, the speed-up over the article's loop (median of per-round ratios),
GFLOP/s against the nominal float32 peak and (median of per-round ratios) against sgemm on all cores, with
FAILED for a NumPy decode under 60 %; and the IWAE estimate's time extrapolated to a 10 000-image test set.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

import numpy as np  # noqa: E402

from machine import header, load_average, nominal_clock_ghz, peak_float32_gflops  # noqa: E402


def decoder_flops(architecture) -> float:
    """Multiply-adds x 2 of one decode: Dense, then transposed convolutions (each input pixel scatters k*k
    taps into every output channel; with stride 1 and 'same' padding that is one tap set per output pixel)."""
    from vaestudio.core.architecture import KERNEL

    base = architecture.decoder_base_size
    macs = architecture.latent_dim * base * base * 32
    size, channels = base, 32
    for filters in architecture.decoder_filters:
        macs += size * size * channels * filters * KERNEL * KERNEL
        size, channels = size * 2, filters
    macs += size * size * channels * architecture.channels * KERNEL * KERNEL
    return 2.0 * macs


def timed(function, repeats: int) -> float:
    started = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - started) / repeats


NUMPY_CHILD = """
import sys, time
import numpy as np
from vaestudio.core.architecture import Architecture
from vaestudio.core.latent import grid_points
from vaestudio.core.numpy_vae import NumpyVAE
from vaestudio.core.weights import VaeWeights
arch = Architecture(2)
rng = np.random.default_rng(0)
weights = VaeWeights(arch, [rng.standard_normal(s).astype(np.float32) * 0.1 for s in arch.encoder_shapes()],
                     [rng.standard_normal(s).astype(np.float32) * 0.1 for s in arch.decoder_shapes()])
vae, points = NumpyVAE(weights), grid_points({n}, 2)
vae.decode_logits(points)
times = []
for _ in range(9):
    started = time.perf_counter()
    vae.decode_logits(points)
    times.append(time.perf_counter() - started)
print("SECONDS", float(np.median(times)))
"""


def numpy_blas_threads(rounds: int, n: int) -> None:
    """The NumPy grid in fresh processes (no TensorFlow), OpenBLAS with its default threads against 1."""
    import subprocess

    settings = {"default": {}, "OPENBLAS_NUM_THREADS=1": {"OPENBLAS_NUM_THREADS": "1"}}
    times: dict[str, list[float]] = {name: [] for name in settings}
    root = str(Path(__file__).parent.parent)
    for round_ in range(rounds):
        for name in (list(settings) if round_ % 2 == 0 else list(settings)[::-1]):
            env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""), **settings[name])
            out = subprocess.run([sys.executable, "-c", NUMPY_CHILD.format(n=n)], capture_output=True, text=True,
                                 check=True, env=env).stdout
            times[name].append(float(out.split("SECONDS")[1]))
    ratios = [a / b for a, b in zip(times["default"], times["OPENBLAS_NUM_THREADS=1"])]
    print(f"\nNumPy {n}x{n} grid, fresh processes, median of 9 decodes each, {rounds} interleaved rounds:")
    for name, values in times.items():
        print(f"  OpenBLAS {name:24s} {statistics.median(values) * 1000:7.1f} ms")
    print(f"  one thread is x{statistics.median(ratios):.2f} faster (rounds {min(ratios):.2f}..{max(ratios):.2f})")


NUMPY_AGAINST_SGEMM_CHILD = """
import json, os, sys, time
{first}
import numpy as np
from threadpoolctl import threadpool_limits
from vaestudio.core.architecture import Architecture
from vaestudio.core.iwae import iwae_log_likelihood
from vaestudio.core.latent import grid_points
from vaestudio.core.numpy_vae import NumpyVAE
from vaestudio.core.weights import VaeWeights
arch = Architecture(2)
rng = np.random.default_rng(0)
weights = VaeWeights(arch, [rng.standard_normal(s).astype(np.float32) * 0.1 for s in arch.encoder_shapes()],
                     [rng.standard_normal(s).astype(np.float32) * 0.1 for s in arch.decoder_shapes()])
vae = NumpyVAE(weights)
grid, images = grid_points({n}, 2), (rng.random(({images}, 28, 28, 1)) > 0.5).astype(np.float32)
a, b = (np.random.default_rng(i).standard_normal((1024, 1024), dtype=np.float32) for i in (1, 2))

def sgemm(threads):
    with threadpool_limits(threads, user_api="blas"):
        return a @ b

work = {{"grid": lambda: vae.decode_logits(grid), "iwae": lambda: iwae_log_likelihood(vae, images, k={k}),
        "sgemm_all": lambda: sgemm(os.cpu_count()), "sgemm_1": lambda: sgemm(1)}}
for function in work.values():
    function()
times = {{name: [] for name in work}}
for round_ in range({repeats}):
    for name in (list(work) if round_ % 2 == 0 else list(work)[::-1]):
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(3):
            work[name]()
        times[name].append((time.perf_counter() - started) / 3)
        times.setdefault(name + "_cpu", []).append((time.process_time() - cpu) / 3)
print("TIMES", json.dumps(times))
"""
TARGET_SHARE = 0.60  # issue 22 item 5: decoding at >= 60 % of sgemm's GFLOP/s on all cores
IWAE_IMAGES = 4  # images of the IWAE contender (k = 1000 each: 4000 decodes)
TEST_SET = 10_000  # images of the whole test set that `vaestudio inspect` estimates log p(x) on
IWAE_TARGET_SECONDS = 20 * 60  # issue 22 item 5: the whole test set at k = 1000 on an idle machine


def share_line(label: str, seconds: list[float], flops: float, sgemm_all: list[float]) -> str:
    """'label  ms  GFLOP/s = x % of sgemm on all cores  ok|FAILED' (medians; the share per round)."""
    speed = [flops / t / 1e9 for t in seconds]
    share = statistics.median(s / g for s, g in zip(speed, sgemm_all))
    verdict = "ok" if share >= TARGET_SHARE else "FAILED"
    return (f"{label:34s} {statistics.median(seconds) * 1000:8.1f} ms {statistics.median(speed):6.1f} GFLOP/s = "
            f"{share:.0%} of sgemm on all cores  {verdict}")


def iwae_extrapolation(seconds: list[float], images: int, k: int) -> str:
    """The whole test set's time at this speed (and load), from the estimate on `images` images."""
    whole = statistics.median(seconds) / images * TEST_SET
    return (f"IWAE, k = {k}, on {TEST_SET} test images at this speed: {whole / 60:.1f} min (target on an idle "
            f"machine: <= {IWAE_TARGET_SECONDS // 60} min; {load_average()})")


def numpy_against_sgemm(rounds: int, n: int, k: int = 1000) -> None:
    """The NumPy grid and the IWAE estimate against sgemm with OpenBLAS on all cores, in fresh processes:
    vaestudio imported first, and NumPy imported first (OpenBLAS starts with its own threads)."""
    import json
    import subprocess

    from vaestudio.core.architecture import Architecture

    orders = {"vaestudio first": "import vaestudio", "numpy first": "import numpy; import vaestudio"}
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("OPENBLAS_NUM_THREADS", None)
    results: dict[str, dict[str, list[float]]] = {order: {} for order in orders}
    for round_ in range(rounds):
        for order in (list(orders) if round_ % 2 == 0 else list(orders)[::-1]):
            code = NUMPY_AGAINST_SGEMM_CHILD.format(first=orders[order], n=n, k=k, images=IWAE_IMAGES, repeats=3)
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
            for name, values in json.loads(out.stdout.split("TIMES", 1)[1]).items():
                results[order].setdefault(name, []).extend(values)
    flops = {"grid": decoder_flops(Architecture(2)) * n * n, "iwae": decoder_flops(Architecture(2)) * k * IWAE_IMAGES}
    print(f"\nNumPy decodes against sgemm (1024^3 float32), fresh processes, {rounds} rounds x 3 interleaved "
          f"measurements each (medians); target: >= {TARGET_SHARE:.0%} of sgemm on all {os.cpu_count()} cores; "
          f"{load_average()}:")
    for order, times in results.items():
        all_cores = [2 * 1024 ** 3 / t / 1e9 for t in times["sgemm_all"]]
        one = [2 * 1024 ** 3 / t / 1e9 for t in times["sgemm_1"]]
        print(f"  {order}: sgemm {statistics.median(all_cores):.1f} GFLOP/s on all cores, "
              f"{statistics.median(one):.1f} on one")
        for name, label in (("grid", f"{n}x{n} grid"), ("iwae", f"IWAE estimate, {IWAE_IMAGES} images, k = {k}")):
            print("    " + share_line(label, times[name], flops[name], all_cores))
        # Per CPU-second of this process (all its threads): what each core does while it runs, which other
        # processes' load changes far less than the wall-clock figures (OpenBLAS's threads on all cores
        # spin and lose most under load).
        per_cpu = {name: statistics.median(work / t for t in times[name + "_cpu"])
                   for name, work in (("grid", flops["grid"]), ("iwae", flops["iwae"]), ("sgemm_1", 2 * 1024 ** 3))}
        print(f"    per CPU-second: grid {per_cpu['grid'] / 1e9:.1f}, IWAE {per_cpu['iwae'] / 1e9:.1f}, sgemm on "
              f"one thread {per_cpu['sgemm_1'] / 1e9:.1f} GFLOP (IWAE {per_cpu['iwae'] / per_cpu['sgemm_1']:.0%} "
              f"of sgemm's)")
    print("  " + iwae_extrapolation(results["vaestudio first"]["iwae"], IWAE_IMAGES, k))
    grid_ratio = (statistics.median(results["numpy first"]["grid"])
                  / statistics.median(results["vaestudio first"]["grid"]))
    print(f"  grid time, NumPy imported first / vaestudio first: x{grid_ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--blas", action="store_true", help="only: the NumPy grid with OpenBLAS's default "
                        "threads against one, in fresh processes")
    parser.add_argument("--numpy", action="store_true", help="only: the NumPy grid and IWAE decodes against "
                        "sgemm on all cores, NumPy imported before and after vaestudio (fresh processes)")
    args = parser.parse_args()
    print(header(), flush=True)
    if args.numpy:
        numpy_against_sgemm(min(args.rounds, 4), args.n)
        return
    if args.blas:
        numpy_blas_threads(args.rounds, args.n)
        return

    import tensorflow as tf
    from threadpoolctl import threadpool_limits

    import tutorial_reference as article
    from vaestudio.core.iwae import iwae_log_likelihood
    from vaestudio.core.architecture import Architecture
    from vaestudio.core.latent import grid_points
    from vaestudio.core.numpy_vae import NumpyVAE
    from vaestudio.core.tf.model import build_cvae
    from vaestudio.core.weights import VaeWeights

    n = args.n
    arch = Architecture(2)
    article_model = article.CVAE(2)
    article_model.decoder.build((None, 2))
    model = build_cvae(arch)
    points = tf.constant(grid_points(n, 2))

    def batched_function(xla: bool):
        @tf.function(jit_compile=xla)
        def grid():
            return tf.cast(model.decoder(points, training=False), tf.float32)
        return lambda: grid().numpy()

    numpy_vae = NumpyVAE(VaeWeights.from_model(model))
    numpy_points = grid_points(n, 2)
    iwae_images = (np.random.default_rng(2).random((IWAE_IMAGES, 28, 28, 1)) > 0.5).astype(np.float32)
    a = np.random.default_rng(0).standard_normal((1024, 1024), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((1024, 1024), dtype=np.float32)

    def sgemm_all():
        with threadpool_limits(os.cpu_count(), user_api="blas"):
            return a @ b

    contenders = {
        "article": (lambda: article.plot_latent_images(article_model, n), 1),
        "batched": (batched_function(False), 5),
        "xla": (batched_function(True), 5),
        "numpy": (lambda: numpy_vae.decode_logits(numpy_points), 5),
        "iwae": (lambda: iwae_log_likelihood(numpy_vae, iwae_images, k=1000), 1),
        "sgemm": (lambda: a @ b, 5),
        "sgemm_all": (sgemm_all, 5),
    }
    reference = contenders["batched"][0]()
    for name in ("xla",):
        difference = float(np.max(np.abs(contenders[name][0]() - reference)))
        print(f"  {name} grid differs from the batched one by at most {difference:.2e}")
    print(f"  numpy grid differs from the batched one by at most "
          f"{float(np.max(np.abs(numpy_vae.decode_logits(numpy_points) - reference))):.2e}")
    for function, _ in contenders.values():
        function()  # trace / compile / warm up
    times: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for round_ in range(args.rounds):
        for name in (names if round_ % 2 == 0 else names[::-1]):
            function, repeats = contenders[name]
            times[name].append(timed(function, repeats))
    median = {name: statistics.median(values) for name, values in times.items()}
    flops = decoder_flops(arch) * n * n
    sgemm_gflops = [2 * 1024 ** 3 / t / 1e9 for t in times["sgemm"]]
    all_cores = [2 * 1024 ** 3 / t / 1e9 for t in times["sgemm_all"]]
    clock = nominal_clock_ghz() or 0.0
    peak = peak_float32_gflops(clock) if clock else float("nan")

    print("\n" + header(with_tensorflow=True))
    print(f"\n{n}x{n} grid ({n * n} decodes, {flops / 1e9:.2f} GFLOP float32); median of {args.rounds} "
          f"interleaved rounds; speed-up = median over rounds of article / contender; share = median over rounds "
          f"of the contender's GFLOP/s / sgemm's on all cores:")
    for name in ("article", "batched", "xla", "numpy"):
        ratios = [x / y for x, y in zip(times["article"], times[name])]
        share = [flops / t / 1e9 / g for t, g in zip(times[name], all_cores)]
        verdict = ("  ok" if statistics.median(share) >= TARGET_SHARE else "  FAILED") if name == "numpy" else ""
        print(f"  {name:8s} {median[name] * 1000:7.1f} ms   x{statistics.median(ratios):5.1f} "
              f"(rounds {min(ratios):.1f}..{max(ratios):.1f})   {flops / median[name] / 1e9:6.1f} GFLOP/s "
              f"= {flops / median[name] / 1e9 / peak:.0%} of peak, {statistics.median(share):.0%} of sgemm's{verdict}")
    print("  " + share_line(f"iwae: {IWAE_IMAGES} images, k = 1000", times["iwae"],
                            decoder_flops(arch) * 1000 * IWAE_IMAGES, all_cores))
    print("  " + iwae_extrapolation(times["iwae"], IWAE_IMAGES, 1000))
    print(f"  sgemm    {statistics.median(all_cores):6.1f} GFLOP/s on all {os.cpu_count()} cores, "
          f"{statistics.median(sgemm_gflops):6.1f} on one (1024^3 float32, OpenBLAS); {load_average()}")
    print(f"float32 peak at the reported {clock:.2f} GHz: {peak:.0f} GFLOP/s (2 cores x 2 FMA pipes x 8 lanes x 2); "
          f"the grid at peak: {flops / peak / 1e6:.1f} ms; x30 over the article's loop here needs "
          f"{median['article'] / 30 * 1000:.1f} ms = {flops / (median['article'] / 30) / 1e9:.0f} GFLOP/s")


if __name__ == "__main__":
    main()
