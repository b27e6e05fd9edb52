"""Time to quality: training time each contender needs to reach the article code's 10-epoch test ELBO.

    python benchmarks/time_to_quality.py                                  # the article vs the `fast` preset
    python benchmarks/time_to_quality.py --contender fast \\
        --contender "cos2:batch_size=128,learning_rate=3e-3,lr_schedule=cosine,lr_warmup_steps=200,epochs=2"
    python benchmarks/time_to_quality.py --target -194.32 --contender ...  # no article: explore schedules
    python benchmarks/time_to_quality.py --target -194.1 --article-timing-epochs 1 --contender ...
                          # the article trains 1 epoch beside them for its time; 10 epochs = 10 x that

All on the real Fashion-MNIST (60 000 training images, 10 000 test images), same architecture, same
single-sample ELBO. The article's own code (tutorial_reference.py) and each vaestudio contender (its
Trainer, with a preset and overrides) advance in turn, a slice of ~6 400 images each, so that load from
other processes on this shared machine falls on all alike. Each is charged only its training time (not
its test passes, snapshots or the time others run): the article its training loop, a vaestudio contender
the `seconds` of its EpochEnd events. A contender stops at the end of its own epochs, or once it has
reached the target, or after --max-epochs.

Printed: the machine header, every epoch's test ELBO with the training time so far, and per contender
the training time to the target as a fraction of the article's 10-epoch training time (issue 22: <= 0.10),
and its median images/s over the same rounds as the article's, as a ratio.
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

from machine import header  # noqa: E402

SLICE_IMAGES = 6400


class Contender:
    """A generator of events advanced one slice at a time."""

    def __init__(self, name: str, events, max_epochs: int, target: float | None):
        self.name, self.events, self.max_epochs, self.target = name, events, max_epochs, target
        self.train_seconds = 0.0
        self.epochs: list[tuple[int, float, float]] = []  # (epoch, test ELBO, training seconds so far)
        self.rates: list[float | None] = []  # images/s of each round's slice (None: no slice that round)
        self.done = False
        self.model = None

    def advance(self) -> None:
        """Run until the next slice report or epoch end; record the slice's images/s for this round."""
        rate = None
        while not self.done:
            try:
                event = next(self.events)
            except StopIteration:
                self.done = True
                break
            kind = self._take(event)
            if kind == "slice":
                rate = self._last_rate
                break
            if kind == "epoch":
                break
        self.rates.append(rate)

    def _take(self, event) -> str | None:
        from vaestudio.core.events import EpochEnd, Finished, StepMetrics

        if isinstance(event, tuple):  # the article's generator
            if event[0] == "steps":
                self._last_rate = event[1] / event[2]
                return "slice"
            if event[0] == "epoch":
                self.train_seconds += event[3]
                self._epoch(event[1], event[2])
                return "epoch"
            self.model, self.done = event[1], True
            return None
        if isinstance(event, StepMetrics):
            self._last_rate = event.images_per_second
            return "slice"
        if isinstance(event, EpochEnd):
            self.train_seconds += event.seconds
            self._epoch(event.epoch, event.test_elbo)
            return "epoch"
        if isinstance(event, Finished):
            self.done = True
        return None

    def _epoch(self, epoch: int, elbo: float) -> None:
        self.epochs.append((epoch, elbo, self.train_seconds))
        print(f"  {self.name:10s} epoch {epoch:2d}: test ELBO {elbo:8.2f}   training time {self.train_seconds:7.1f} s",
              flush=True)
        reached = self.target is not None and elbo >= self.target
        if epoch >= self.max_epochs or reached:
            self.done = True

    def seconds_to(self, target: float) -> tuple[int, float] | None:
        return next(((epoch, seconds) for epoch, elbo, seconds in self.epochs if elbo >= target), None)


def parse_contender(spec: str) -> tuple[str, str, dict]:
    """'name:key=value,...' (a preset 'fast' or 'tutorial', or overrides of the tutorial preset) ->
    (name, preset, overrides)."""
    from vaestudio.core.config import PRESETS, TrainConfig

    name, _, rest = spec.partition(":")
    preset = name if name in PRESETS and not rest else "custom"
    overrides: dict = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        field = TrainConfig.__dataclass_fields__[key]
        overrides[key] = value if field.type in ("str", "str | None") else (
            int(value) if field.type in ("int", "int | None") else float(value))
    return name, preset, overrides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contender", action="append", help="name[:key=value,...] (default: fast)")
    parser.add_argument("--target", type=float, help="test ELBO to reach; default: run the article's code for it")
    parser.add_argument("--article-epochs", type=int, default=10)
    parser.add_argument("--article-timing-epochs", type=int, help="with --target: the article trains only this "
                        "many epochs, interleaved, and its 10-epoch time is estimated from them (x 10 / N)")
    parser.add_argument("--max-epochs", type=int, default=4, help="most epochs a contender may take")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, help="first N images only (a smoke test, not a measurement)")
    args = parser.parse_args()
    print(header(), flush=True)

    import tutorial_reference as article
    from vaestudio.core.config import TrainConfig
    from vaestudio.core.data import load_dataset
    from vaestudio.core.tf.trainer import Trainer

    data = load_dataset("fashion_mnist", limit=args.limit)
    print(f"data: {data.describe()}", flush=True)
    contenders: list[Contender] = []
    reference = None
    timing_only = args.target is not None and args.article_timing_epochs
    if args.target is None or timing_only:
        epochs = args.article_timing_epochs if timing_only else args.article_epochs
        reference = Contender("article", article.training(data.train_images, data.test_images,
                                                          epochs=epochs, seed=args.seed,
                                                          report_every=SLICE_IMAGES // 32),
                              epochs, None)
        contenders.append(reference)
    for spec in args.contender or ["fast"]:
        name, preset, overrides = parse_contender(spec)
        config = TrainConfig.from_preset(preset, snapshot_every=0, seed=args.seed, limit=args.limit, **overrides)
        config.metrics_every = max(SLICE_IMAGES // config.batch_size, 1)
        print(f"{name}: preset {preset}, batch {config.batch_size}, lr {config.learning_rate:g} "
              f"({config.lr_schedule}, warm-up {config.lr_warmup_steps} steps), {config.epochs} epochs, "
              f"{config.steps_per_call} steps/call, precision {config.precision}", flush=True)
        trainer = Trainer(config, data)
        contenders.append(Contender(name, trainer.events(), min(config.epochs, args.max_epochs), args.target))

    started = time.perf_counter()
    rounds = 0
    while not all(c.done for c in contenders):
        for contender in contenders:
            if not contender.done:
                contender.advance()
            else:
                contender.rates.append(None)
        rounds += 1
    wall = time.perf_counter() - started

    target = args.target if reference is None or timing_only else reference.epochs[-1][1]
    if timing_only:  # the article's 10-epoch training time, from the epochs it trained beside the contenders
        reference.train_seconds *= args.article_epochs / len(reference.epochs)
    print("\n" + header(with_tensorflow=True))
    print(f"\n== time to quality (target: test ELBO {target:.2f}"
          + (f", the article code's after {args.article_epochs} epochs) ==" if reference else ", given) =="))
    together = max((len(c.epochs) for c in contenders if c is not reference), default=0)
    if reference is not None:
        trained = len(reference.epochs)
        print(f"article: {args.article_epochs} epochs in {reference.train_seconds:.0f} s of training "
              + (f"(estimated: {trained} epochs interleaved took {reference.epochs[-1][2]:.0f} s; "
                 if timing_only else "(") + f"{wall:.0f} s wall for the whole interleaved run)")
        if 0 < together < len(reference.epochs) and not timing_only:
            # After the contenders stop, the article trains alone, under whatever load the machine has then:
            # its epochs run while interleaved give a second, load-matched estimate of its 10 epochs.
            matched = reference.epochs[together - 1][2] / together * args.article_epochs
            print(f"article: {together} epochs interleaved with the contenders took {reference.epochs[together - 1][2]:.0f} s; "
                  f"x{args.article_epochs / together:.2f} = {matched:.0f} s for {args.article_epochs} epochs at that load")
    for contender in contenders:
        if contender is reference:
            continue
        reached = contender.seconds_to(target)
        best = max(elbo for _, elbo, _ in contender.epochs)
        line = f"{contender.name:10s} "
        if reached:
            epoch, seconds = reached
            line += f"reached it at epoch {epoch} after {seconds:.0f} s of training"
            if reference is not None:
                line += f" = {seconds / reference.train_seconds:.3f} of the article's time (issue 22: <= 0.10)"
                if 0 < together < len(reference.epochs) and not timing_only:
                    line += f", {seconds / matched:.3f} of its load-matched estimate"
        else:
            line += (f"did not reach it in {len(contender.epochs)} epochs (best {best:.2f}, "
                     f"{contender.train_seconds:.0f} s)")
        if reference is not None:
            ratios = [c / r for c, r in zip(contender.rates, reference.rates) if c and r]
            if ratios:
                line += (f"; images/s x{statistics.median(ratios):.2f} the article's "
                         f"(median of {len(ratios)} rounds)")
        print(line)


if __name__ == "__main__":
    main()
