"""The compiled TensorFlow functions of training: a chunk of optimizer steps, a test batch, the grid.

The learning rate and beta live in variables, so changing them while a run trains (or following their
schedules) never retraces a function. Metric sums come back by name.

On several devices (a `tf.distribute` strategy) each replica takes its share of the global batch; its
loss is its images' objective summed and divided by the GLOBAL batch size, and Keras 3's TensorFlow
optimizer sums the replicas' gradients (`TFOptimizer._all_reduce_sum_gradients`, an all-reduce with
`ReduceOp.SUM` in replica context) before one update: the gradient of the global batch's mean, as on
one device. The training noise is stateless, a function of (seed, global step, position in the global
batch) only, so a run draws the same eps for the same image whatever the number of devices, and a
resumed run continues exactly without any generator state.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from vaestudio.core.config import TrainConfig
from vaestudio.core.tf.inputs import InputFormat

TRAIN_SUMS = ("elbo", "log_likelihood", "kl", "objective", "count")
# Further sums some objectives report (each a curve): beta-TCVAE's decomposition of the KL.
OBJECTIVE_SUMS = {"elbo": (), "iwae": (), "tcvae": ("mi", "tc", "dim_kl")}


@dataclass(frozen=True)
class Schedule:
    """Learning-rate warm-up and decay, and the KL schedule (linear warm-up or cycles), as functions of the
    global step."""

    lr_schedule: str
    lr_warmup_steps: int
    kl_warmup_steps: int
    total_steps: int
    kl_schedule: str = "linear"
    cycles: int = 1

    @classmethod
    def of(cls, config: TrainConfig, steps_per_epoch: int) -> "Schedule":
        return cls(config.lr_schedule, config.lr_warmup_steps, config.kl_warmup_steps,
                   max(config.epochs * steps_per_epoch, 1), config.kl_schedule, config.cycles)

    def lr_factor(self, step: float) -> float:
        """Multiplier of the base learning rate for the update that makes step `step + 1`."""
        factor = 1.0
        if self.lr_warmup_steps:
            factor = min(1.0, (step + 1) / self.lr_warmup_steps)
        if self.lr_schedule == "cosine":
            progress = min(max(step - self.lr_warmup_steps, 0) / max(self.total_steps - self.lr_warmup_steps, 1), 1.0)
            factor *= 0.5 * (1.0 + math.cos(math.pi * progress))
        return factor

    def beta_factor(self, step: float) -> float:
        from vaestudio.core.zoo.schedules import cyclical_factor, linear_factor

        if self.kl_schedule == "cyclical":
            return cyclical_factor(step, self.total_steps, self.cycles)
        return linear_factor(step, self.kl_warmup_steps)


def noise_key(seed: int) -> int:
    """The first word of the training noise's stateless seed (the second is the global step). Negative,
    so it never meets the test pass's seeds (seed * 7919 + epoch, batch index), which are not."""
    return -1 - int(seed)


def noise_state(seed: int, step: int) -> np.ndarray:
    """What a checkpoint records as `noise_state` (three integers, the format's): the stateless noise of
    global step `step` under `noise_key(seed)`, written as (step, 0, key) like Philox's (counter, key).
    Nothing reads it back: the noise follows from the config's seed and the checkpoint's step."""
    return np.array([step, 0, noise_key(seed)], dtype=np.int64)


@dataclass(frozen=True)
class Variant:
    """The loss-side variant of a run (config.py): objective, its samples, free bits, and the number of
    training images (beta-TCVAE's minibatch-weighted sampling needs it)."""

    objective: str = "elbo"
    samples: int = 1
    free_bits: float = 0.0
    dataset_size: int = 1

    @classmethod
    def of(cls, config: TrainConfig, dataset_size: int) -> "Variant":
        return cls(config.objective, config.samples, config.free_bits, max(int(dataset_size), 1))


class TrainingSteps:
    """Builds the compiled functions over a model, its optimizer and an input format (an InputPipeline, or
    its InputFormat before the data has loaded), on one device or, with `strategy`, on each of its replicas
    (model and optimizer must then be built in its scope).

    What depends on the data or on a checkpoint (the schedule's length, the step offset, beta-TCVAE's
    dataset size) lives in variables set by `set_run`, so that the functions can be compiled before."""

    def __init__(self, model, optimizer, inputs: InputFormat, seed: int, schedule: Schedule,
                 learning_rate: float, beta: float, grid_points: np.ndarray, strategy=None, step_offset: int = 0,
                 variant: "Variant | None" = None):
        import tensorflow as tf

        from vaestudio.core.tf.objective import elbo_terms, kl_per_dimension

        self.tf = tf
        self.model, self.optimizer, self.inputs = model, optimizer, inputs
        self.strategy = strategy
        self.schedule = schedule
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            self.base_lr = tf.Variable(float(learning_rate), trainable=False, dtype=tf.float32, name="base_lr")
            self.base_beta = tf.Variable(float(beta), trainable=False, dtype=tf.float32, name="base_beta")
            self.total_steps = tf.Variable(float(schedule.total_steps), trainable=False, dtype=tf.float32)
            # The run's global step is the optimizer's count plus this (not 0 only for a branch that started
            # with a fresh optimizer from a parent's step: core.branching).
            self.step_offset = tf.Variable(int(step_offset), trainable=False, dtype=tf.int64, name="step_offset")
            self.dataset_size = tf.Variable(float((variant or Variant()).dataset_size), trainable=False,
                                            dtype=tf.float32, name="dataset_size")
            # Set (from any thread, `request_stop`) to end the chunk under way after its current step. Read
            # only by the chunk's loop condition, which runs once per step outside the replicas (cross-replica
            # context), so on several devices every replica stops after the same step.
            self.stop_flag = tf.Variable(False, trainable=False, dtype=tf.bool, name="stop_flag")
        self.grid_points = tf.constant(grid_points)
        latent_dim = model.architecture.latent_dim
        global_batch = inputs.batch_size
        key = tf.constant(noise_key(seed), tf.int64)
        offset = self.step_offset
        variables = model.trainable_variables
        pi = tf.constant(math.pi, tf.float32)
        lr_warmup = float(schedule.lr_warmup_steps)
        kl_warmup = float(schedule.kl_warmup_steps)
        cosine = schedule.lr_schedule == "cosine"
        cyclical = schedule.kl_schedule == "cyclical"
        cycles = float(schedule.cycles)
        variant = variant or Variant()
        self.variant = variant
        sum_names = TRAIN_SUMS + OBJECTIVE_SUMS[variant.objective]
        samples = variant.samples if variant.objective == "iwae" else None
        noise_shape = [global_batch, latent_dim] if samples is None else [global_batch, samples, latent_dim]

        def beta_factor(step):
            if cyclical:
                # as zoo.schedules.cyclical_factor: within each cycle beta rises over its first half
                cycle = tf.maximum(self.total_steps, 1.0) / cycles
                position = tf.math.floormod(step, cycle)
                return tf.minimum(1.0, (position + 1.0) / tf.maximum(0.5 * cycle, 1.0))
            return tf.minimum(1.0, (step + 1.0) / kl_warmup) if kl_warmup else tf.constant(1.0)

        def factors(step):
            lr = tf.constant(1.0)
            if lr_warmup:
                lr = tf.minimum(1.0, (step + 1.0) / lr_warmup)
            if cosine:
                span = tf.maximum(self.total_steps - lr_warmup, 1.0)
                progress = tf.clip_by_value((step - lr_warmup) / span, 0.0, 1.0)
                lr = lr * 0.5 * (1.0 + tf.cos(pi * progress))
            return lr, beta_factor(step)

        def prepare_step():
            """Cross-replica: put this step's learning rate in force; (global step, (beta, schedule's factor))
            for the replicas."""
            iterations = tf.cast(optimizer.iterations, tf.int64) + offset
            lr_factor, kl_factor = factors(tf.cast(iterations, tf.float32))
            optimizer.learning_rate.assign(self.base_lr * lr_factor)
            return iterations, tf.stack([self.base_beta, kl_factor])

        def share(batch, positions, sizes):
            """A replica's images `batch` at `positions` of a global batch whose size each image carries in
            `sizes` (positions None: the whole global batch, on one device), as (inputs, images, positions,
            weights, global batch size)."""
            x = inputs.to_inputs(batch)
            count = tf.shape(x)[0]
            if positions is None:
                return x, count, None, tf.ones([count]), count
            # A replica may get no image of a short last batch. oneDNN's fused convolutions (on CPUs with
            # AVX-512) refuse an empty batch, so such a replica works on one blank image whose weight is 0:
            # its sums and its gradient are then 0, as they should be.
            padding = tf.maximum(1 - count, 0)
            x = tf.concat([x, tf.zeros(tf.concat([[padding], tf.shape(x)[1:]], 0), x.dtype)], 0)
            positions = tf.concat([positions, tf.zeros([padding], positions.dtype)], 0)
            weight = tf.concat([tf.ones([count]), tf.zeros([padding])], 0)
            return x, count, positions, weight, tf.reduce_max(tf.concat([sizes, [1]], 0))

        def replica_step(batch, positions, sizes, iterations, beta, kl_sums=None):
            """One replica's share of a step (see `share`); kl_sums: free bits' KL per dimension summed over
            the global batch (None: this share is the batch)."""
            x, count, positions, weight, global_count = share(batch, positions, sizes)
            eps_all = tf.random.stateless_normal(noise_shape, seed=tf.stack([key, iterations]))
            eps = eps_all[:count] if positions is None else tf.gather(eps_all, positions)
            with tf.GradientTape() as tape:
                sums, loss = variant_sums(x, eps, weight, global_count, beta, kl_sums)
            gradients = tape.gradient(loss, variables)
            optimizer.apply_gradients(zip(gradients, variables))
            return {**sums, "count": tf.cast(count, tf.float32)}

        def replica_kl_sums(batch, positions, sizes):
            """This share's analytic KL per latent dimension summed over its images (free bits' mask)."""
            x, _, _, weight, _ = share(batch, positions, sizes)
            mean, logvar = model.encode(x)
            return tf.reduce_sum(kl_per_dimension(mean, logvar) * weight[:, None], axis=0)

        def variant_sums(x, eps, weight, global_count, beta, kl_sums):
            """Sums over this share's images of the ELBO terms, the objective and its own terms, and the
            loss (minus this share's objective over the global batch size)."""
            from vaestudio.core.tf import variants

            base_beta, kl_factor = beta[0], beta[1]
            scale = tf.cast(global_count, tf.float32)
            if variant.objective == "iwae":
                terms = variants.iwae_terms(model, x, eps, base_beta * kl_factor)
            elif variant.objective == "tcvae":
                terms = variants.tcvae_terms(model, x, eps, self.dataset_size, weight)
                terms["objective"] = variants.tcvae_objective(terms, base_beta, kl_factor)
            else:
                full = elbo_terms(model, x, eps)
                terms = {"elbo": full.elbo, "log_likelihood": full.log_likelihood, "kl": full.kl}
                if not variant.free_bits:
                    terms["objective"] = full.log_likelihood - base_beta * kl_factor * full.kl
            sums = {name: tf.reduce_sum(value * weight) for name, value in terms.items()}
            if "objective" not in sums:  # free bits: the KL term is the batch's, not a sum over images
                _, kl_sum = variants.free_bits_kl(full.kl_per_dimension, weight, variant.free_bits, global_count,
                                                  kl_sums)
                sums["objective"] = sums["log_likelihood"] - base_beta * kl_factor * kl_sum
            return sums, -sums["objective"] / scale

        def one_step(element):
            iterations, beta = prepare_step()
            if strategy is None:
                return replica_step(element, None, None, iterations, beta)
            batch, positions, sizes = element
            kl_sums = None
            if variant.free_bits:  # which dimensions are above lambda is the whole batch's: an encoder pass first
                kl_sums = strategy.reduce(tf.distribute.ReduceOp.SUM,
                                          strategy.run(replica_kl_sums, args=(batch, positions, sizes)), axis=None)
            per_replica = strategy.run(replica_step, args=(batch, positions, sizes, iterations, beta, kl_sums))
            return {name: strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
                    for name, value in per_replica.items()}

        # No AutoGraph: nothing here branches on a tensor (every `if` above tests a Python value fixed when the
        # steps are built), and converting these functions' source cost most of the first call (issue 22).
        @tf.function(autograph=False)
        def train_chunk(iterator, steps):
            def body(done, sums):
                step_sums = one_step(iterator.get_next())
                return done + 1, {name: sums[name] + step_sums[name] for name in sum_names}

            def more(done, _):
                return tf.logical_and(done < steps, tf.logical_not(self.stop_flag.read_value()))

            start = (tf.constant(0), {name: tf.constant(0.0) for name in sum_names})
            return tf.while_loop(more, body, start)

        @tf.function(autograph=False)
        def test_sums(batch, seed):
            x = inputs.to_inputs(batch)
            eps = tf.random.stateless_normal([tf.shape(x)[0], latent_dim], seed=seed)
            terms = elbo_terms(model, x, eps)
            return {"elbo": tf.reduce_sum(terms.elbo), "log_likelihood": tf.reduce_sum(terms.log_likelihood),
                    "kl": tf.reduce_sum(terms.kl), "kl_dims": tf.reduce_sum(terms.kl_per_dimension, axis=0),
                    "count": tf.cast(tf.shape(x)[0], tf.float32)}

        @tf.function(autograph=False)
        def grid():
            return tf.cast(model.decode(self.grid_points), tf.float32)

        self._train_chunk, self._test_sums, self._grid = train_chunk, test_sums, grid

    def set_run(self, schedule: Schedule, step_offset: int, dataset_size: int) -> None:
        """What the compiled functions take from the run: its schedule's length (the rest of the schedule must
        be the one they were built with), its step offset and its number of training images."""
        self.schedule = schedule
        self.total_steps.assign(float(schedule.total_steps))
        self.step_offset.assign(int(step_offset))
        self.dataset_size.assign(float(max(int(dataset_size), 1)))
        self.variant = dataclasses.replace(self.variant, dataset_size=max(int(dataset_size), 1))

    def compile(self, iterator) -> None:
        """Trace the training chunk on `iterator` (of the training batches' element spec) and run it for zero
        steps, which prepares its graph without changing any variable; then the grid. What the first call of
        each would otherwise spend."""
        self._train_chunk(iterator, self.tf.constant(0, self.tf.int32))
        self._grid()

    def set_hyper(self, learning_rate: float, beta: float) -> None:
        self.base_lr.assign(float(learning_rate))
        self.base_beta.assign(float(beta))

    def train_chunk(self, iterator, steps: int) -> dict[str, float]:
        """The metric sums of `steps` optimizer steps (fewer if a stop was requested meanwhile)."""
        return self.train_steps(iterator, steps)[1]

    def train_steps(self, iterator, steps: int) -> tuple[int, dict[str, float]]:
        """Up to `steps` optimizer steps in one graph call: (steps done, their metric sums). Fewer once
        `request_stop` was called: the call ends after the step under way (none if asked before)."""
        done, sums = self._train_chunk(iterator, self.tf.constant(steps, self.tf.int32))
        return int(done), {name: float(value) for name, value in sums.items()}

    def request_stop(self, stop: bool = True) -> None:
        """End the graph call in flight after its current step, and every later one at once (False: undo).
        Safe from another thread while the training thread is inside the call."""
        self.stop_flag.assign(bool(stop))

    def test_batch(self, batch, seed: tuple[int, int]) -> dict[str, np.ndarray]:
        sums = self._test_sums(batch, self.tf.constant(seed, self.tf.int64))
        return {name: value.numpy().astype(np.float64) for name, value in sums.items()}

    def grid_logits(self) -> np.ndarray:
        """Decoder logits of the grid (n*n, H, W, C) in latent.grid_points order."""
        return self._grid().numpy()
