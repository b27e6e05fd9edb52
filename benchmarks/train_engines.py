"""Training throughput of the tutorial's CVAE: vaestudio against other engines and the machine's sgemm.

    python benchmarks/train_engines.py                          # batch 64, 3 rounds
    python benchmarks/train_engines.py --batch 32,64,128 --rounds 5 --busy
    python benchmarks/train_engines.py --only vaestudio,article,sgemm

Each round starts every contender in a FRESH process, in turn (the order reversed every other round), so
that load from other processes falls on all alike; each process warms up (traces, compiles), then
trains ~--images images per batch size and prints its images/s. Printed per batch size: the median
images/s of each contender, the median over rounds of its ratio to vaestudio in the same round, and its
GFLOP/s against the machine's practical float32 limit measured in the same round: the better of a 1024^3
sgemm with OpenBLAS on all cores and a one-thread sgemm times the cores (issue 22 item 6: the target is
60 % of that). `--busy` runs one CPU-bound process per core beside the whole measurement.

Contenders:
  vaestudio      its TrainingSteps as the Trainer drives them (train_levers.VaestudioSteps: tf.data shuffle
                 of uint8 images, 16 steps per compiled call), float32
  vaestudio-whole  the same with TensorFlow's own thread settings and whole batches (VAESTUDIO_CPU_SPLIT=0,
                 core/tf/threads.py), as before 2026-12-07
  vaestudio-keras  the same with Keras' own output layer (vaestudio.core.tf.output_layer.ENABLED = False)
  article        the tutorial's own code (tutorial_reference.py): a tf.function per step, a Python loop
                 over a tf.data pipeline of float32 images
  torch-eager, torch-compile     torch_reference.py in the PyTorch virtualenv (--torch-python), PyTorch's
                 default threads; names ending in -1t: one thread (torch.set_num_threads(1))
  sgemm          NumPy's 1024^3 float32 product with OpenBLAS on all cores (threadpoolctl), GFLOP/s
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from machine import header  # noqa: E402

DEFAULT = "vaestudio,vaestudio-whole,vaestudio-keras,article,torch-eager-1t,torch-compile-1t,sgemm"
TORCH_PYTHON = "/work/torchvenv/bin/python"


def training_mflop_per_image(latent_dim: int = 2) -> float:
    """Multiply-adds x 2 of one training image: the forward pass, and twice it for the backward pass (the
    gradients of the inputs and of the weights) less the first layer's input gradient, which is not needed."""
    encoder = [(13 * 13, 9 * 1, 32), (6 * 6, 9 * 32, 64), (1, 6 * 6 * 64, 2 * latent_dim)]  # (outputs, fan-in, channels)
    decoder = [(1, latent_dim, 7 * 7 * 32), (7 * 7, 9 * 64, 32), (14 * 14, 9 * 32, 64), (28 * 28, 9 * 32, 1)]
    # Transposed convolutions as (input positions, output channels x 9, input channels): same multiply-adds.
    forward = sum(a * b * c for a, b, c in encoder + decoder)
    first_input_gradient = 13 * 13 * 9 * 32
    return 2 * (3 * forward - first_input_gradient) / 1e6


# -- children (each in a fresh process) -------------------------------------------------------------------
def child_vaestudio(batches: list[int], images: int, fast_output: bool = True) -> dict[int, float]:
    from train_levers import VaestudioSteps
    from vaestudio.core.data import load_dataset
    from vaestudio.core.tf import output_layer

    output_layer.ENABLED = fast_output
    data, rates = load_dataset("fashion_mnist"), {}
    for batch in batches:
        steps = VaestudioSteps(data, batch)
        steps.train(32)
        started = time.perf_counter()
        trained = steps.train(max(images // batch // 16, 1) * 16)
        rates[batch] = trained / (time.perf_counter() - started)
    return rates


def child_article(batches: list[int], images: int) -> dict[int, float]:
    import tensorflow as tf

    import tutorial_reference as article
    from vaestudio.core.data import load_dataset

    train = article.preprocess_images(load_dataset("fashion_mnist").train_images)
    rates = {}
    for batch in batches:
        tf.keras.utils.set_random_seed(0)
        dataset = tf.data.Dataset.from_tensor_slices(train).shuffle(len(train)).batch(batch).repeat()
        model, optimizer = article.CVAE(2), tf.keras.optimizers.Adam(1e-4)
        step = tf.function(article.train_step.python_function)
        batches_ = iter(dataset)
        for _ in range(20):
            step(model, next(batches_), optimizer)
        count = max(images // batch, 1)
        started = time.perf_counter()
        for _ in range(count):
            step(model, next(batches_), optimizer)
        float(model.trainable_variables[0][0, 0, 0, 0])  # the last step done
        rates[batch] = count * batch / (time.perf_counter() - started)
    return rates


def child_sgemm(repeats: int = 5) -> dict[str, float]:
    """GFLOP/s of a 1024^3 float32 product with OpenBLAS on all cores ("gflops"), and on one thread times
    the cores ("gflops_1x"; OpenBLAS's threads wait for each other on a busy machine, one thread does not)."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    a, b = (np.random.default_rng(i).standard_normal((1024, 1024), dtype=np.float32) for i in (1, 2))
    result = {}
    for key, threads in (("gflops", os.cpu_count()), ("gflops_1x", 1)):
        with threadpool_limits(threads, user_api="blas"):
            a @ b
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                a @ b
                times.append(time.perf_counter() - started)
        result[key] = 2 * 1024**3 / statistics.median(times) / 1e9 * (os.cpu_count() if threads == 1 else 1)
    return result


def run_child(name: str, batches: list[int], images: int, torch_python: str) -> dict:
    """One contender in a fresh process: {batch: images/s}, or {"gflops": x} for sgemm; {} if it failed."""
    if name.startswith("torch"):
        mode = "compile" if "compile" in name else "eager"
        command = [torch_python, str(HERE / "torch_reference.py"), "--mode", mode,
                   "--batch", ",".join(map(str, batches)), "--images", str(images)]
        if name.endswith("-1t"):
            command += ["--threads", "1"]
        result = subprocess.run(command, capture_output=True, text=True)
        return {int(b): float(r) for b, r in re.findall(r"RATE batch=(\d+) images_per_second=([\d.]+)", result.stdout)}
    command = [sys.executable, __file__, "--child", name, "--batch", ",".join(map(str, batches)),
               "--images", str(images)]
    env = {**os.environ, "VAESTUDIO_CPU_SPLIT": "0"} if name == "vaestudio-whole" else None
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    match = re.search(r"RESULT (.*)", result.stdout)
    if not match:
        print(f"  {name} failed: {(result.stderr.strip().splitlines() or ['no output'])[-1][:200]}", flush=True)
        return {}
    return {k if k.startswith("gflops") else int(k): v for k, v in json.loads(match[1]).items()}


def spinners(count: int) -> list[subprocess.Popen]:
    """`count` CPU-bound processes (a busy machine)."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=DEFAULT, help=f"contenders, comma-separated (default {DEFAULT})")
    parser.add_argument("--batch", default="64", help="batch sizes, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--images", type=int, default=8192, help="images timed per batch size and process")
    parser.add_argument("--busy", action="store_true", help="one CPU-bound process per core beside the run")
    parser.add_argument("--torch-python", default=TORCH_PYTHON, help="the Python of a virtualenv with torch")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    batches = [int(b) for b in args.batch.split(",")]
    if args.child:
        if args.child == "sgemm":
            print("RESULT " + json.dumps(child_sgemm()))
        else:
            rates = (child_article(batches, args.images) if args.child == "article" else
                     child_vaestudio(batches, args.images, fast_output=args.child != "vaestudio-keras"))
            print("RESULT " + json.dumps(rates))
        return
    names = args.only.split(",")
    if not Path(args.torch_python).exists():
        print(f"no PyTorch at {args.torch_python}: torch contenders left out", flush=True)
        names = [n for n in names if not n.startswith("torch")]
    print(header(), flush=True)
    mflop = training_mflop_per_image()
    print(f"one training image: {mflop:.1f} MFLOP (forward x 3, less the first layer's input gradient)", flush=True)
    busy = spinners(os.cpu_count() or 1) if args.busy else []
    results: list[dict[str, dict]] = []
    loads = []
    try:
        for round_ in range(args.rounds):
            loads.append(os.getloadavg()[0])
            row = {}
            for name in (names if round_ % 2 == 0 else names[::-1]):
                row[name] = run_child(name, batches, args.images, args.torch_python)
            results.append(row)
            text = ", ".join(f"{n} " + (f"{r['gflops']:.0f}/{r.get('gflops_1x', 0):.0f} GFLOP/s" if "gflops" in r else
                                        "/".join(f"{r.get(b, 0):.0f}" for b in batches)) for n, r in row.items())
            print(f"  round {round_ + 1} (load {loads[-1]:.1f}): {text}", flush=True)
    finally:
        for process in busy:
            process.kill()
    print("\n" + header())
    print(f"\n{args.rounds} rounds of fresh processes" + (", one CPU-bound process per core beside them" if busy else "")
          + f", load {min(loads):.1f}-{max(loads):.1f} at the rounds' starts; {args.images} images timed per "
          f"batch size; ratio: median over rounds of contender / vaestudio in the same round")
    limit = {}  # round -> the machine's practical float32 GFLOP/s: the better of the two sgemm figures
    for index, row in enumerate(results):
        if row.get("sgemm", {}).get("gflops"):
            limit[index] = max(row["sgemm"]["gflops"], row["sgemm"].get("gflops_1x", 0))
    for key, what in (("gflops", "OpenBLAS on all cores"), ("gflops_1x", "one thread x cores")):
        values = [row["sgemm"][key] for row in results if row.get("sgemm", {}).get(key)]
        if values:
            print(f"sgemm 1024^3 float32, {what}: {statistics.median(values):.0f} GFLOP/s "
                  f"(rounds {min(values):.0f}-{max(values):.0f})")
    for batch in batches:
        print(f"batch {batch}:")
        for name in names:
            if name == "sgemm":
                continue
            rates = [row[name][batch] for row in results if batch in row.get(name, {})]
            if not rates:
                print(f"  {name:18s} no result")
                continue
            ratios = [row[name][batch] / row["vaestudio"][batch] for row in results
                      if batch in row.get(name, {}) and batch in row.get("vaestudio", {})]
            shares = [row[name][batch] * mflop / 1000 / limit[index] for index, row in enumerate(results)
                      if batch in row.get(name, {}) and index in limit]
            line = (f"  {name:18s} {statistics.median(rates):6.0f} images/s (rounds {min(rates):.0f}-{max(rates):.0f})"
                    f" = {statistics.median(rates) * mflop / 1000:5.1f} GFLOP/s")
            if ratios:
                line += f"   x{statistics.median(ratios):.2f} vaestudio"
            if shares:
                line += f"   {100 * statistics.median(shares):.0f} % of the better sgemm (target 60 %)"
            print(line)


if __name__ == "__main__":
    main()
