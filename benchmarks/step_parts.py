"""Where a training step's time goes, piece by piece: each layer's forward + backward, the loss, Adam's
update, the input pipeline, a whole step, and vaestudio's 16-step chunk (issue 22 item 6).

    python benchmarks/step_parts.py [--batch 64] [--rounds 7] [--only conv-T,chunk]

Each piece is a compiled function timed alone on random inputs of the shapes it sees in training; the
pieces take turns, round after round (medians printed), so that load from other processes falls on all
alike. `profile_training.py` samples a whole run with perf instead.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from machine import header  # noqa: E402


def pieces(batch: int) -> dict:
    """name -> (function running the piece, steps it stands for)."""
    import keras
    import tensorflow as tf
    import tensorflow_probability as tfp

    from train_levers import VaestudioSteps
    from vaestudio.core.data import load_dataset
    from vaestudio.core.tf.model import build_cvae
    from vaestudio.core.tf.objective import elbo_terms, log_likelihood_of, prior_log_prob
    from vaestudio.core.tf.output_layer import output_convolution
    from phase_upsampling import stride2_convolution

    keras.utils.set_random_seed(0)
    model = build_cvae(2)
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)
    variables = model.trainable_variables
    x = tf.cast(tf.random.uniform([batch, 28, 28, 1]) > 0.5, tf.float32)
    eps = tf.random.normal([batch, 2])
    encoder, decoder = model.encoder.layers, model.decoder.layers

    def layer(piece, shape, call=None):
        inputs = tf.random.normal([batch, *shape])
        call = call or piece

        @tf.function
        def forward_backward(inputs):
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                outputs = call(inputs)
                total = tf.reduce_sum(outputs * outputs)
            return tape.gradient(total, [inputs, *piece.trainable_variables])

        return lambda: forward_backward(inputs)

    zeros = [tf.zeros_like(v) for v in variables]
    adam = tf.function(lambda: optimizer.apply_gradients(zip(zeros, variables)))
    logits, mean, logvar = (tf.Variable(tf.random.normal(shape)) for shape in ([batch, 28, 28, 1], [batch, 2], [batch, 2]))

    @tf.function
    def loss():
        with tf.GradientTape() as tape:
            std = tf.exp(0.5 * logvar)
            z = mean + eps * std
            posterior = tfp.distributions.MultivariateNormalDiag(loc=mean, scale_diag=std)
            total = tf.reduce_sum(log_likelihood_of("bernoulli", x, logits) - posterior.log_prob(z)
                                  + prior_log_prob(None, z))
        return tape.gradient(total, [logits, mean, logvar])

    @tf.function
    def steps16():
        for _ in tf.range(16):
            with tf.GradientTape() as tape:
                objective = -tf.reduce_mean(elbo_terms(model, x, eps).elbo)
            optimizer.apply_gradients(zip(tape.gradient(objective, variables), variables))
        return objective

    trainer = VaestudioSteps(load_dataset("fashion_mnist"), batch)
    trainer.train(32)
    batches = trainer.inputs.epoch_iterator(7)
    endless = iter(trainer.inputs.train.shuffle(trainer.inputs.train_count, seed=1).repeat().batch(batch).prefetch(2))

    @tf.function(autograph=False)
    def bare_chunk(iterator, steps):
        """vaestudio's chunk without its bookkeeping: the same while loop over the same uint8 batches (of
        unknown size), a fixed eps, the mean ELBO's gradient, Adam; no schedules, stateless noise or sums."""
        def body(done, total):
            x = tf.cast(iterator.get_next(), tf.float32)
            with tf.GradientTape() as tape:
                elbo = elbo_terms(trainer.model, x, eps[:tf.shape(x)[0]]).elbo
                objective = -tf.reduce_mean(elbo)
            trainer_variables = trainer.model.trainable_variables
            trainer.steps.optimizer.apply_gradients(zip(tape.gradient(objective, trainer_variables), trainer_variables))
            return done + 1, total + tf.reduce_sum(elbo)

        return tf.while_loop(lambda done, _: done < steps, body, (tf.constant(0), tf.constant(0.0)))[1]

    @tf.function
    def drain(iterator, count):
        total = tf.constant(0.0)
        for _ in tf.range(count):
            total += tf.reduce_sum(tf.cast(next(iterator), tf.float32))
        return total

    return {
        "encoder conv 1->32 (28 -> 13)": (layer(encoder[0], [28, 28, 1]), 1),
        "encoder conv 32->64 (13 -> 6)": (layer(encoder[1], [13, 13, 32]), 1),
        "encoder dense 2304 -> 4": (layer(encoder[3], [2304]), 1),
        "decoder dense 2 -> 1568": (layer(decoder[0], [2]), 1),
        "decoder conv-T 32->64 (7 -> 14)": (layer(decoder[2], [7, 7, 32]), 1),
        "decoder conv-T 32->64 (7 -> 14), on phases": (layer(decoder[2], [7, 7, 32],
                                                             lambda i: stride2_convolution(decoder[2], i)), 1),
        "decoder conv-T 64->32 (14 -> 28)": (layer(decoder[3], [14, 14, 64]), 1),
        "decoder conv-T 64->32 (14 -> 28), on phases": (layer(decoder[3], [14, 14, 64],
                                                              lambda i: stride2_convolution(decoder[3], i)), 1),
        "output conv-T 32->1, Keras": (layer(decoder[4], [28, 28, 32]), 1),
        "output conv-T 32->1, vaestudio": (layer(decoder[4], [28, 28, 32], lambda i: output_convolution(decoder[4], i)), 1),
        "loss (tensorflow-probability) + gradients": (loss, 1),
        "Adam update": (adam, 1),
        "input pipeline, steady state": (lambda: drain(batches, 16), 16),
        "whole step, fixed batch (16 per call)": (steps16, 16),
        "bare chunk, same iterator (16 steps)": (lambda: bare_chunk(endless, tf.constant(16)), 16),
        "vaestudio's chunk (TrainingSteps, 16 steps)": (lambda: trainer.train(16), 16),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--only", help="pieces whose names contain one of these words, comma-separated")
    args = parser.parse_args()
    print(header(), flush=True)
    import tensorflow as tf

    cases = pieces(args.batch)
    if args.only:
        cases = {name: case for name, case in cases.items() if any(word in name for word in args.only.split(","))}
    for function, _ in cases.values():
        function()
        function()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for round_ in range(args.rounds):
        for name in (list(cases) if round_ % 2 == 0 else list(cases)[::-1]):
            function, steps = cases[name]
            repeats = 1 if steps > 1 else 20
            started = time.perf_counter()
            for _ in range(repeats):
                result = function()
            if result is not None and not isinstance(result, int):
                tf.nest.map_structure(lambda value: value.numpy(), result)
            times[name].append((time.perf_counter() - started) / repeats / steps * 1000)
    print(f"\nbatch {args.batch}, milliseconds per training step, medians of {args.rounds} interleaved rounds; "
          f"load now {os.getloadavg()[0]:.1f}:")
    for name, values in times.items():
        print(f"  {name:46s} {statistics.median(values):7.2f} ms   ({min(values):.2f}-{max(values):.2f})")


if __name__ == "__main__":
    main()
