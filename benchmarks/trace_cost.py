"""What tracing the training function costs, the largest part of Start -> first step, and what cuts it.

    python benchmarks/trace_cost.py [--rounds 3]

In one process with TensorFlow loaded, each round builds a fresh model and optimizer per variant and
times its first call (one step: tracing + one step) and its second call (one step), variants in turn:
  vaestudio   core/tf/steps.py's train_chunk as the Trainer uses it (since issue 22: the objective in plain
              ops, no AutoGraph, an explicit tf.while_loop over a tf.data iterator)
  plain-elbo  a minimal loop with the same single-sample ELBO in plain TensorFlow ops (sigmoid
              cross-entropy, Gaussian log densities: the article's own formulas) under AutoGraph (a
              `for ... in tf.range` loop): what AutoGraph's conversion costs
  plain-noag  plain-elbo with autograph=False and an explicit tf.while_loop
The first call holds the trace and the preparation of the graph; `TrainingSteps.compile` (core.tf.prepare)
does both before the first step.
The objectives are checked to agree on one batch before timing.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

from machine import header  # noqa: E402

LOG_2PI = math.log(2.0 * math.pi)


def plain_elbo(tf, model, x, eps):
    """Per-image single-sample ELBO, log-likelihood and KL estimate without tensorflow-probability."""
    mean, logvar = model.encode(x)
    z = mean + eps * tf.exp(0.5 * logvar)
    logits = model.decode(z)
    log_likelihood = -tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits), axis=[1, 2, 3])
    log_q = tf.reduce_sum(-0.5 * (tf.square(z - mean) * tf.exp(-logvar) + logvar + LOG_2PI), axis=1)
    log_p = tf.reduce_sum(-0.5 * (tf.square(z) + LOG_2PI), axis=1)
    kl = log_q - log_p
    return log_likelihood - kl, log_likelihood, kl


def build(variant: str, data, batch: int):
    import keras
    import tensorflow as tf

    from vaestudio.core.architecture import Architecture
    from vaestudio.core.latent import grid_points
    from vaestudio.core.tf.inputs import InputPipeline
    from vaestudio.core.tf.model import build_cvae
    from vaestudio.core.tf.steps import Schedule, TrainingSteps

    arch = Architecture(2)
    model = build_cvae(arch)
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)
    inputs = InputPipeline(data, arch, batch, 0)
    noise = tf.random.Generator.from_seed(0)
    if variant == "vaestudio":
        steps = TrainingSteps(model, optimizer, inputs, 0, Schedule("cosine", 200, 0, 3000), 1e-3, 1.0,
                              grid_points(20, 2))
        return lambda iterator, n: steps.train_chunk(iterator, n), inputs
    variables = model.trainable_variables

    def one_step(x):
        eps = noise.normal([tf.shape(x)[0], 2])
        with tf.GradientTape() as tape:
            elbo, _, _ = plain_elbo(tf, model, x, eps)
            loss = -tf.reduce_mean(elbo)
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return tf.reduce_sum(elbo)

    if variant == "plain-elbo":
        @tf.function
        def chunk(iterator, steps):
            total = tf.constant(0.0)
            for _ in tf.range(steps):
                total += one_step(inputs.to_inputs(next(iterator)))
            return total
    else:
        @tf.function(autograph=False)
        def chunk(iterator, steps):
            def body(i, total):
                return i + 1, total + one_step(inputs.to_inputs(iterator.get_next()))
            return tf.while_loop(lambda i, total: i < steps, body, (tf.constant(0), tf.constant(0.0)))[1]
    return lambda iterator, n: chunk(iterator, tf.constant(n)), inputs


def check_objectives_agree() -> None:
    import numpy as np
    import tensorflow as tf

    from vaestudio.core.tf.model import build_cvae
    from vaestudio.core.tf.objective import elbo_parts

    model = build_cvae(2)
    x = tf.constant((np.random.default_rng(0).random((16, 28, 28, 1)) > 0.5).astype(np.float32))
    eps = tf.constant(np.random.default_rng(1).standard_normal((16, 2)).astype(np.float32))
    ours = [t.numpy() for t in elbo_parts(model, x, eps)]
    plain = [t.numpy() for t in plain_elbo(tf, model, x, eps)]
    worst = max(float(np.max(np.abs(a - b))) for a, b in zip(ours, plain))
    print(f"  plain ELBO agrees with vaestudio's objective to {worst:.1e} nats per image")
    if worst > 1e-3:
        raise SystemExit("the plain objective differs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    print(header(), flush=True)
    from vaestudio.core.tf.quiet import import_tensorflow

    import_tensorflow()
    import vaestudio.core.tf.trainer  # noqa: F401
    from vaestudio.core.data import load_dataset

    data = load_dataset("fashion_mnist")
    check_objectives_agree()
    variants = ("vaestudio", "plain-elbo", "plain-noag")
    first: dict[str, list[float]] = {v: [] for v in variants}
    second: dict[str, list[float]] = {v: [] for v in variants}
    for round_ in range(args.rounds):
        for variant in (variants if round_ % 2 == 0 else variants[::-1]):
            train, inputs = build(variant, data, args.batch)
            iterator = inputs.epoch_iterator(1)
            next(iterator)  # the shuffle buffer fills here, not in the timed call
            started = time.perf_counter()
            train(iterator, 1)
            first[variant].append(time.perf_counter() - started)
            started = time.perf_counter()
            train(iterator, 1)
            second[variant].append(time.perf_counter() - started)
        print(f"  round {round_ + 1}: " + ", ".join(f"{v} {first[v][-1]:.1f} s" for v in variants), flush=True)
    print(f"\nfirst call (trace + 1 step) and second call (1 step) at batch {args.batch}, median of {args.rounds} "
          f"interleaved rounds; ratio to vaestudio's in the same round:")
    for v in variants:
        ratios = [a / b for a, b in zip(first[v], first["vaestudio"])]
        print(f"  {v:11s} first {statistics.median(first[v]) * 1000:6.0f} ms  x{statistics.median(ratios):.2f}   "
              f"second {statistics.median(second[v]) * 1000:5.0f} ms")
    print(header(with_tensorflow=True))


if __name__ == "__main__":
    main()
