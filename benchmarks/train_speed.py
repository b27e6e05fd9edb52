"""Training and grid-decoding speed: the article's code against vaestudio, in one run on one machine.

    python benchmarks/train_speed.py                # full: 10 epochs of each on all of Fashion-MNIST (~15 min on 2 cores)
    python benchmarks/train_speed.py --limit 6000   # a quick look

Prints (1) images/s of the article's loop and of vaestudio's trainer at the tutorial settings and their
ratio, (2) the test ELBO after the article's 10 epochs and each preset's wall time to reach it, and
(3) the 20x20 grid time of the article's per-point decoding against vaestudio's batched decode.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402

import tutorial_reference as article  # noqa: E402
from vaestudio.core.config import TrainConfig  # noqa: E402
from vaestudio.core.data import load_dataset  # noqa: E402
from vaestudio.core.decoding import LatentDecoder, decode_grid  # noqa: E402
from vaestudio.core.events import EpochEnd  # noqa: E402
from vaestudio.core.trainer import Trainer  # noqa: E402


def run_vaestudio(config: TrainConfig, data, target: float | None = None, label: str = ""):
    """Train; returns (model, [(epoch, test_elbo, train_seconds)], wall seconds to reach target or None)."""
    results, reached = [], None
    started = time.perf_counter()
    trainer = Trainer(config, data)
    for event in trainer.events():
        if isinstance(event, EpochEnd):
            results.append((event.epoch, event.test_elbo, event.seconds))
            print(f"  {label} epoch {event.epoch}: test ELBO {event.test_elbo:.2f}, {event.seconds:.1f} s", flush=True)
            if target is not None and reached is None and event.test_elbo >= target:
                reached = time.perf_counter() - started
                trainer.stop()
    return trainer.model, results, reached if target is not None else time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="first N train and test images (default: all)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--fast-epochs", type=int, default=10, help="most epochs the fast preset may take")
    parser.add_argument("--skip-article", action="store_true", help="use --target instead of running the article")
    parser.add_argument("--target", type=float, help="test ELBO to reach when --skip-article")
    args = parser.parse_args()

    data = load_dataset("fashion_mnist", limit=args.limit)
    n_train = len(data.train_images)
    print(f"data: {data.describe()}; {os.cpu_count()} CPUs", flush=True)

    if args.skip_article:
        target, article_seconds, article_model = args.target, None, None
    else:
        print("article's loop (batch 32, Adam 1e-4):", flush=True)
        started = time.perf_counter()
        article_model, results = article.train(
            data.train_images, data.test_images, epochs=args.epochs,
            on_epoch=lambda e, elbo, s: print(f"  article epoch {e}: test ELBO {elbo:.2f}, {s:.1f} s", flush=True))
        article_seconds = time.perf_counter() - started
        target = results[-1][1]
        article_rate = n_train * len(results[1:]) / sum(s for _, _, s in results[1:])  # epoch 1 includes tracing

    print("vaestudio, preset tutorial:", flush=True)
    tutorial = TrainConfig.from_preset("tutorial", epochs=args.epochs, snapshot_every=0, limit=args.limit)
    model, results, tutorial_seconds = run_vaestudio(tutorial, data, label="tutorial")
    tutorial_elbo = results[-1][1]
    ours_rate = n_train * len(results[1:]) / sum(s for _, _, s in results[1:])

    print("vaestudio, preset fast (until it reaches the article's 10-epoch test ELBO):", flush=True)
    fast = TrainConfig.from_preset("fast", epochs=args.fast_epochs, snapshot_every=0, limit=args.limit)
    _, fast_results, fast_seconds = run_vaestudio(fast, data, target=target, label="fast")

    print("\n== results ==")
    if not args.skip_article:
        print(f"train images/s at the tutorial settings: article {article_rate:.0f}, vaestudio {ours_rate:.0f}, "
              f"ratio {ours_rate / article_rate:.2f}")
        print(f"test ELBO after {args.epochs} epochs: article {target:.2f}, vaestudio tutorial preset "
              f"{tutorial_elbo:.2f} (difference {tutorial_elbo - target:+.2f} nats)")
        print(f"wall time for {args.epochs} epochs: article {article_seconds:.0f} s, "
              f"tutorial preset {tutorial_seconds:.0f} s")
    else:
        print(f"vaestudio tutorial preset: {ours_rate:.0f} images/s, test ELBO {tutorial_elbo:.2f}")
    if fast_seconds is None:
        print(f"fast preset did not reach {target:.2f} in {args.fast_epochs} epochs "
              f"(best {max(e for _, e, _ in fast_results):.2f})")
    else:
        print(f"fast preset reached {target:.2f} in {fast_seconds:.0f} s, "
              f"{100 * fast_seconds / tutorial_seconds:.0f}% of the tutorial preset's {tutorial_seconds:.0f} s")

    n = 20
    reference = article_model or article.CVAE(2)
    if article_model is None:
        reference.decoder.build((None, 2))
    started = time.perf_counter()
    article.plot_latent_images(reference, n)
    per_point = time.perf_counter() - started
    started = time.perf_counter()
    decode_grid(model, n)
    batched_first = time.perf_counter() - started
    repeats = 5
    started = time.perf_counter()
    for _ in range(repeats):
        decode_grid(model, n)
    batched = (time.perf_counter() - started) / repeats
    cursor = LatentDecoder(2, model.decoder.get_weights())
    started = time.perf_counter()
    for _ in range(repeats):
        cursor.decode_grid(n)
    numpy_grid = (time.perf_counter() - started) / repeats
    started = time.perf_counter()
    for z in np.random.default_rng(0).normal(size=(200, 2)):
        cursor.decode_point(z)
    point_ms = (time.perf_counter() - started) / 200 * 1000
    print(f"20x20 grid: article per-point {per_point:.2f} s, vaestudio batched {batched * 1000:.0f} ms "
          f"(first call {batched_first * 1000:.0f} ms), {per_point / batched:.0f}x faster; "
          f"NumPy cursor decoder grid {numpy_grid * 1000:.0f} ms, single point {point_ms:.2f} ms")


if __name__ == "__main__":
    main()
