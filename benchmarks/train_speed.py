"""Training and grid-decoding speed: the article's code against vaestudio, in one run on one machine.

    python benchmarks/train_speed.py               # 10 epochs of each on all of Fashion-MNIST (~15 min, 2 cores)
    python benchmarks/train_speed.py --limit 6000  # a quick look

The article's loop, vaestudio's `tutorial` preset and its `fast` preset run interleaved, a slice of
each in turn, so that load from other processes falls on all three alike. Each is charged only the
time spent inside it. Printed: (1) train images/s of the article's loop and of vaestudio at the
tutorial settings, compared slice by slice, (2) the test ELBO after 10 epochs of each and the compute
time each preset needs to reach the article's, (3) the 20x20 grid decode: the article's per-point loop
against vaestudio's batched call and its NumPy cursor decoder.
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

import numpy as np  # noqa: E402

import tutorial_reference as article  # noqa: E402
from vaestudio.core.config import TrainConfig  # noqa: E402
from vaestudio.core.data import load_dataset  # noqa: E402
from vaestudio.core.numpy_vae import NumpyVAE  # noqa: E402
from vaestudio.core.tf.model import decode_grid  # noqa: E402
from vaestudio.core.weights import VaeWeights  # noqa: E402
from vaestudio.core.events import EpochEnd, Finished, Started, StepMetrics  # noqa: E402
from vaestudio.core.tf.trainer import Trainer  # noqa: E402

SLICE_STEPS = 200  # batches of 32 per slice at the tutorial settings


class Contender:
    """A generator of events, advanced one slice at a time, charged with the time spent inside it."""

    def __init__(self, name: str, events):
        self.name, self.events = name, events
        self.seconds = 0.0
        self.epochs: list[tuple[int, float, float]] = []  # (epoch, test ELBO, compute seconds so far)
        self.rates: list[float] = []  # images/s of each slice
        self.done = False
        self.result = None

    def advance(self) -> None:
        """Run until the next slice report, epoch end or the end."""
        while not self.done:
            started = time.perf_counter()
            try:
                event = next(self.events)
            except StopIteration:
                event = None
            self.seconds += time.perf_counter() - started
            if event is None:
                self.done = True
            elif self._take(event):
                return

    def _take(self, event) -> bool:
        if isinstance(event, tuple):  # the article's generator
            if event[0] == "steps":
                self.rates.append(event[1] / event[2])
                return True
            if event[0] == "epoch":
                self._epoch(event[1], event[2])
                return True
            self.result, self.done = event[1], True
            return True
        if isinstance(event, StepMetrics):
            self.rates.append(event.images_per_second)
            return True
        if isinstance(event, EpochEnd):
            self._epoch(event.epoch, event.test_elbo)
            return True
        if isinstance(event, Finished):
            self.done = True
            return True
        return isinstance(event, Started) and False

    def _epoch(self, epoch: int, elbo: float) -> None:
        self.epochs.append((epoch, elbo, self.seconds))
        print(f"  {self.name:9s} epoch {epoch:2d}: test ELBO {elbo:8.2f}   compute {self.seconds:7.1f} s", flush=True)

    def seconds_to_reach(self, target: float) -> float | None:
        return next((seconds for _, elbo, seconds in self.epochs if elbo >= target), None)


def vaestudio_contender(name: str, config: TrainConfig, data) -> tuple[Contender, Trainer]:
    trainer = Trainer(config, data)
    return Contender(name, trainer.events()), trainer


def grid_timings(article_model, model, n: int = 20, repeats: int = 5) -> None:
    """The 20x20 grid: decode only, and decode plus the PNG each snapshot writes."""
    import tempfile

    from vaestudio.core.store.images import save_png

    def timed(function, times):
        function()  # the first call traces
        started = time.perf_counter()
        for _ in range(times):
            function()
        return (time.perf_counter() - started) / times

    folder = Path(tempfile.mkdtemp())
    per_point = timed(lambda: article.plot_latent_images(article_model, n), 2)
    batched = timed(lambda: decode_grid(model, n), repeats)
    try:
        per_point_png = timed(lambda: article.plot_latent_images(article_model, n, save_to=folder / "a.png"), 2)
    except ImportError:
        per_point_png = None
    batched_png = timed(lambda: save_png(decode_grid(model, n), folder / "b.png"), repeats)
    cursor = NumpyVAE(VaeWeights.from_model(model))
    numpy_grid = timed(lambda: cursor.grid(n), repeats)
    points = np.random.default_rng(0).normal(size=(200, model.latent_dim))
    started = time.perf_counter()
    for z in points:
        cursor.decode_uint8(np.asarray(z, np.float32)[None])
    point_ms = (time.perf_counter() - started) / len(points) * 1000
    print(f"20x20 grid, decode only: article per-point {per_point * 1000:.0f} ms, vaestudio batched "
          f"{batched * 1000:.0f} ms ({per_point / batched:.0f}x faster)")
    if per_point_png is not None:
        print(f"20x20 grid snapshot with its PNG (article: matplotlib figure + savefig; vaestudio: save_png): "
              f"article {per_point_png * 1000:.0f} ms, vaestudio {batched_png * 1000:.0f} ms "
              f"({per_point_png / batched_png:.0f}x faster)")
    print(f"NumPy cursor decoder: 20x20 grid {numpy_grid * 1000:.0f} ms, one point {point_ms:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="first N train and test images (default: all)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--fast-epochs", type=int, default=5, help="most epochs the fast preset may take")
    parser.add_argument("--grid-only", action="store_true", help="only the grid timings, on untrained models")
    args = parser.parse_args()
    if args.grid_only:
        from vaestudio.core.tf.model import build_cvae

        article_model = article.CVAE(2)
        article_model.decoder.build((None, 2))
        grid_timings(article_model, build_cvae(2))
        return

    data = load_dataset("fashion_mnist", limit=args.limit)
    n_train = len(data.train_images)
    print(f"data: {data.describe()}; {os.cpu_count()} CPUs", flush=True)
    common = dict(epochs=args.epochs, snapshot_every=0, limit=args.limit)
    tutorial_config = TrainConfig.from_preset("tutorial", metrics_every=SLICE_STEPS, **common)
    fast_config = TrainConfig.from_preset("fast", metrics_every=SLICE_STEPS // 4,
                                          **(common | {"epochs": args.fast_epochs}))
    reference = Contender("article", article.training(data.train_images, data.test_images, epochs=args.epochs,
                                                      report_every=SLICE_STEPS))
    tutorial, tutorial_trainer = vaestudio_contender("tutorial", tutorial_config, data)
    fast, _ = vaestudio_contender("fast", fast_config, data)
    print(f"fast preset: batch {fast_config.batch_size}, lr {fast_config.learning_rate:g}, "
          f"precision {fast_config.precision}", flush=True)

    # Slice by slice: article, tutorial preset, fast preset. The first slice of each (tracing) is not rated.
    ratios = []
    while not (reference.done and tutorial.done and fast.done):
        rated = (len(reference.rates), len(tutorial.rates))
        for contender in (reference, tutorial, fast):
            contender.advance()
        if (len(reference.rates), len(tutorial.rates)) == (rated[0] + 1, rated[1] + 1) and rated[0] > 0:
            ratios.append(tutorial.rates[-1] / reference.rates[-1])

    target = reference.epochs[-1][1]
    ours_elbo = tutorial.epochs[-1][1]
    print("\n== results ==")
    print(f"train images/s at the tutorial settings (median of {len(ratios)} interleaved slices of "
          f"{SLICE_STEPS} steps): article {statistics.median(reference.rates[1:]):.0f}, "
          f"vaestudio {statistics.median(tutorial.rates[1:]):.0f}; ratio {statistics.median(ratios):.2f} "
          f"(slice ratios {min(ratios):.2f}..{max(ratios):.2f})")
    print(f"test ELBO after {args.epochs} epochs: article {target:.2f}, vaestudio tutorial preset {ours_elbo:.2f} "
          f"({ours_elbo - target:+.2f} nats)")
    tutorial_time = tutorial.seconds_to_reach(target) or tutorial.seconds
    fast_time = fast.seconds_to_reach(target)
    print(f"compute time to reach the article's {args.epochs}-epoch test ELBO {target:.2f}: article "
          f"{reference.seconds:.0f} s (all {args.epochs} epochs), tutorial preset {tutorial_time:.0f} s, "
          + (f"fast preset {fast_time:.0f} s = {100 * fast_time / tutorial_time:.0f}% of the tutorial preset"
             if fast_time else f"fast preset did not reach it in {args.fast_epochs} epochs "
                               f"(best {max(e for _, e, _ in fast.epochs):.2f})"))

    grid_timings(reference.result, tutorial_trainer.model)
    print(f"({n_train} training images)")


if __name__ == "__main__":
    main()
