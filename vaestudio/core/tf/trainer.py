"""The training loop as a plain object: it yields events and can be paused, resumed and stopped.

`Trainer.events()` runs in whichever thread iterates it (the CLI's main thread, the window's worker
thread). `pause()`, `resume()` and `stop()` may be called from any other thread; they take effect
between graph calls, which last at most `steps_per_call` steps.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from vaestudio.core.store.checkpoint import Checkpoint
from vaestudio.core.config import TrainConfig
from vaestudio.core.errors import RunFolderError
from vaestudio.core.data import Dataset, preprocess
from vaestudio.core.events import EpochEnd, Event, Finished, Snapshot, Started, StepMetrics

PROBE_SIZE = 1000  # test images encoded for the latent-means overlay
TEST_BATCH = 1000
POLL_SECONDS = 0.05


@dataclass
class TrainerState:
    """Where a run stands; what a checkpoint stores besides weights."""

    epoch: int = 0  # last completed epoch
    step: int = 0  # optimizer updates so far
    epoch_step: int = 0  # steps taken in the epoch under way
    last_good_weights: list[np.ndarray] | None = field(default=None, repr=False)


class Trainer:
    """Trains a CVAE on a Dataset, yielding Started, StepMetrics, Snapshot, EpochEnd and Finished events."""

    def __init__(self, config: TrainConfig, dataset: Dataset, *, model=None,
                 resume_from: Checkpoint | None = None, device: str | None = None):
        self.config = config.validate()
        self.dataset = dataset
        self.model = model
        self.optimizer = None
        self.state = TrainerState()
        self.resume_from = resume_from
        if resume_from is not None:
            if resume_from.latent_dim != self.config.latent_dim:
                raise RunFolderError(f"the checkpoint is of a {resume_from.latent_dim}-d model, the config asks for "
                                     f"latent_dim {self.config.latent_dim}")
            self.state = TrainerState(resume_from.epoch, resume_from.step, resume_from.epoch_step)
        self.device = device
        self._graph: _Graph | None = None
        self._running = threading.Event()
        self._running.set()
        self._stop = threading.Event()

    # -- control, from any thread ------------------------------------------------------------
    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()

    @property
    def is_paused(self) -> bool:
        return not self._running.is_set()

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.dataset.train_images) / self.config.batch_size)

    def checkpoint(self) -> Checkpoint:
        """Everything needed to continue exactly from here; call between events, in the training thread."""
        if self._graph is None:
            raise RuntimeError("the trainer has not started")
        return Checkpoint(self.state.epoch, self.state.step, self.state.epoch_step, self.config.latent_dim,
                          self.model.get_weights(), [v.numpy() for v in self.optimizer.variables],
                          self._graph.noise.state.numpy())

    # -- the loop ----------------------------------------------------------------------------
    def events(self) -> Iterator[Event]:
        """Run training to the end (or until stopped), yielding events as they happen."""
        graph = self._graph = _Graph(self)
        cfg, state = self.config, self.state
        steps_per_epoch = self.steps_per_epoch
        start_epoch = state.epoch + 1
        yield Started(cfg.epochs, steps_per_epoch, start_epoch, self.device or graph.device_name(), graph.precision)
        if state.step == 0:
            yield graph.snapshot(0, 0, "before training")
        state.last_good_weights = self.model.get_weights()

        for epoch in range(start_epoch, cfg.epochs + 1):
            epoch_step, busy = state.epoch_step, 0.0
            batches = graph.epoch_iterator(epoch, skip=epoch_step)
            window = _Window()
            while epoch_step < steps_per_epoch:
                if not self._wait_while_paused():
                    yield Finished("stopped", state.epoch, state.step, "stopped by the user")
                    return
                chunk = min(cfg.steps_per_call, self._next_boundary(epoch, epoch_step) - epoch_step)
                started = time.perf_counter()
                sums = graph.train_chunk(batches, chunk)
                seconds = time.perf_counter() - started
                busy += seconds
                epoch_step += chunk
                state.step += chunk
                state.epoch_step = epoch_step
                if not np.all(np.isfinite(sums)):
                    yield self._diverged(epoch)
                    return
                window.add(sums, chunk, seconds)
                if epoch_step % cfg.metrics_every == 0 or epoch_step == steps_per_epoch:
                    self._remember_good_weights()
                    yield window.report(epoch, state.step, epoch_step, steps_per_epoch)
                    window = _Window()
                if epoch == 1 and cfg.snapshot_every and (epoch_step - 1) % cfg.snapshot_every == 0:
                    yield graph.snapshot(epoch, state.step, f"epoch 1, batch {epoch_step}")
            test = graph.test_elbo(epoch, self._stop)
            if test is None:  # stopped during the test pass: a resumed run repeats just the test pass
                yield Finished("stopped", state.epoch, state.step, "stopped by the user")
                return
            if not np.all(np.isfinite(test)):
                yield self._diverged(epoch)
                return
            state.epoch, state.epoch_step = epoch, 0
            self._remember_good_weights()
            yield EpochEnd(epoch, state.step, *map(float, test), seconds=busy)
            yield graph.snapshot(epoch, state.step, f"epoch {epoch}")
            if self._stop.is_set() and epoch < cfg.epochs:
                yield Finished("stopped", epoch, state.step, "stopped by the user")
                return
        yield Finished("completed", state.epoch, state.step, f"trained {cfg.epochs} epochs")

    # -- helpers -------------------------------------------------------------------------------
    def _wait_while_paused(self) -> bool:
        """Block while paused; False when a stop was asked for."""
        while not self._running.wait(POLL_SECONDS):
            pass
        return not self._stop.is_set()

    def _next_boundary(self, epoch: int, epoch_step: int) -> int:
        """The next epoch step after which something is reported."""
        cfg = self.config
        every = cfg.metrics_every
        candidates = [self.steps_per_epoch, (epoch_step // every + 1) * every]
        if epoch == 1 and cfg.snapshot_every:
            # the tutorial snapshots after batch indices 0, 75, 150, ... i.e. after steps 1, 76, 151, ...
            k = cfg.snapshot_every
            candidates.append(((epoch_step - 1) // k + 1) * k + 1 if epoch_step >= 1 else 1)
        return min(c for c in candidates if c > epoch_step)

    def _remember_good_weights(self) -> None:
        weights = self.model.get_weights()
        if all(np.all(np.isfinite(w)) for w in weights):
            self.state.last_good_weights = weights

    def _diverged(self, epoch: int) -> Finished:
        if self.state.last_good_weights is not None:
            self.model.set_weights(self.state.last_good_weights)
        lr = self.config.learning_rate
        return Finished(
            "diverged", self.state.epoch, self.state.step,
            f"the loss became NaN or infinite in epoch {epoch} (step {self.state.step}); the last good weights "
            f"were restored. Try a lower learning rate than {lr:g} (e.g. {lr / 10:g}).")


class _Window:
    """Sums of the train metrics since the last report."""

    def __init__(self) -> None:
        self.sums = np.zeros(4)
        self.steps = 0
        self.seconds = 0.0

    def add(self, sums: np.ndarray, steps: int, seconds: float) -> None:
        self.sums += sums
        self.steps += steps
        self.seconds += seconds

    def report(self, epoch: int, step: int, epoch_step: int, steps_per_epoch: int) -> StepMetrics:
        elbo, log_likelihood, kl, images = self.sums
        images = max(images, 1.0)
        return StepMetrics(epoch, step, epoch_step, steps_per_epoch, elbo / images, log_likelihood / images,
                           kl / images, images / max(self.seconds, 1e-9))


class _Graph:
    """The TensorFlow side of a Trainer: model, optimizer, input pipelines and compiled functions."""

    def __init__(self, trainer: Trainer):
        import keras
        import tensorflow as tf

        from vaestudio.core.tf.model import build_cvae
        from vaestudio.core.tf.objective import elbo_parts

        self.tf = tf
        cfg = trainer.config
        data = trainer.dataset
        keras.utils.set_random_seed(cfg.seed)
        self.precision = "mixed_bfloat16" if _wants_bfloat16(cfg.precision, tf) else "float32"
        if trainer.model is None:
            if self.precision == "mixed_bfloat16":
                previous = keras.config.dtype_policy()
                keras.config.set_dtype_policy("mixed_bfloat16")
                try:
                    trainer.model = build_cvae(cfg.latent_dim)
                finally:
                    keras.config.set_dtype_policy(previous)
            else:
                trainer.model = build_cvae(cfg.latent_dim)
        if trainer.optimizer is None:
            trainer.optimizer = keras.optimizers.Adam(cfg.learning_rate)
        model, optimizer = trainer.model, trainer.optimizer
        optimizer.build(model.trainable_variables)
        self.model, self.config = model, cfg
        self.latent_dim = model.latent_dim
        self.noise = tf.random.Generator.from_seed(cfg.seed)
        if trainer.resume_from is not None:
            _restore(trainer.resume_from, model, optimizer, self.noise)

        train = tf.constant((data.train_images > 127).astype(np.uint8)[..., None])
        self.train = tf.data.Dataset.from_tensor_slices(train)
        self.test = (tf.data.Dataset.from_tensor_slices(preprocess(data.test_images))
                     .batch(TEST_BATCH).prefetch(tf.data.AUTOTUNE))
        probe = data.test_images[:PROBE_SIZE]
        self.probe = tf.constant(preprocess(probe))
        self.probe_labels = np.asarray(data.test_labels[:PROBE_SIZE]).copy()

        from vaestudio.core.latent import grid_points

        self.grid_points = tf.constant(grid_points(cfg.grid_size, self.latent_dim))
        variables = model.trainable_variables
        latent_dim = self.latent_dim
        noise = self.noise

        def one_step(x):
            eps = noise.normal([tf.shape(x)[0], latent_dim])
            with tf.GradientTape() as tape:
                elbo, log_likelihood, kl = elbo_parts(model, x, eps)
                loss = -tf.reduce_mean(elbo)
            gradients = tape.gradient(loss, variables)
            optimizer.apply_gradients(zip(gradients, variables))
            count = tf.cast(tf.shape(x)[0], tf.float32)
            return tf.stack([tf.reduce_sum(elbo), tf.reduce_sum(log_likelihood), tf.reduce_sum(kl), count])

        @tf.function
        def train_chunk(iterator, steps):
            sums = tf.zeros([4], tf.float32)
            for _ in tf.range(steps):
                x = tf.cast(next(iterator), tf.float32)
                sums += one_step(x)
            return sums

        @tf.function
        def test_sums(x, seed):
            eps = tf.random.stateless_normal([tf.shape(x)[0], latent_dim], seed=seed)
            elbo, log_likelihood, kl = elbo_parts(model, x, eps)
            count = tf.cast(tf.shape(x)[0], tf.float32)
            return tf.stack([tf.reduce_sum(elbo), tf.reduce_sum(log_likelihood), tf.reduce_sum(kl), count])

        @tf.function
        def picture():
            grid = tf.sigmoid(tf.cast(model.decoder(self.grid_points, training=False), tf.float32))
            means = tf.cast(model.encoder(self.probe, training=False)[:, :latent_dim], tf.float32)
            return grid, means

        self._train_chunk, self._test_sums, self._picture = train_chunk, test_sums, picture

    def device_name(self) -> str:
        gpus = self.tf.config.list_logical_devices("GPU")
        return f"GPU: {gpus[0].name}" if gpus else "CPU"

    def epoch_iterator(self, epoch: int, skip: int = 0):
        """A fresh shuffle for each epoch, seeded by (seed, epoch) so a resumed run sees the same order;
        `skip` batches already trained on before an interruption."""
        tf, cfg = self.tf, self.config
        shuffled = self.train.shuffle(len(self.train), seed=cfg.seed * 10_007 + epoch, reshuffle_each_iteration=False)
        return iter(shuffled.batch(cfg.batch_size).skip(skip).prefetch(tf.data.AUTOTUNE))

    def train_chunk(self, iterator, steps: int) -> np.ndarray:
        return self._train_chunk(iterator, self.tf.constant(steps, self.tf.int32)).numpy().astype(np.float64)

    def test_elbo(self, epoch: int, stop: threading.Event) -> np.ndarray | None:
        """Mean (elbo, log_likelihood, kl) over the whole test set, batch by batch so that a stop is
        honoured within one batch (None then). The noise depends only on (seed, epoch, batch)."""
        tf = self.tf
        sums = np.zeros(4)
        for index, x in enumerate(self.test):
            if stop.is_set():
                return None
            seed = tf.constant([self.config.seed * 7919 + epoch, index], tf.int64)
            sums += self._test_sums(x, seed).numpy()
        elbo, log_likelihood, kl, count = sums
        return np.array([elbo, log_likelihood, kl]) / max(count, 1.0)

    def snapshot(self, epoch: int, step: int, label: str) -> Snapshot:
        from vaestudio.core.latent import mosaic as to_mosaic
        from vaestudio.core.weights import VaeWeights

        grid, means = self._picture()
        return Snapshot(epoch, step, label, to_mosaic(grid.numpy(), self.config.grid_size),
                        weights=VaeWeights.from_model(self.model),
                        latent_means=means.numpy(), latent_labels=self.probe_labels)


def _restore(checkpoint: Checkpoint, model, optimizer, noise) -> None:
    """Put a checkpoint's arrays back into a freshly built model, optimizer and noise generator."""
    variables = list(optimizer.variables)
    saved_shapes = [tuple(w.shape) for w in checkpoint.model_weights]
    if saved_shapes != [tuple(w.shape) for w in model.get_weights()]:
        raise RunFolderError("the checkpoint's weights do not fit this model's architecture")
    if [tuple(v.shape) for v in checkpoint.optimizer_variables] != [tuple(v.shape) for v in variables]:
        raise RunFolderError("the checkpoint's optimizer state does not fit this model")
    model.set_weights(checkpoint.model_weights)
    for variable, value in zip(variables, checkpoint.optimizer_variables):
        variable.assign(value)
    noise.reset(checkpoint.noise_state)


def _wants_bfloat16(precision: str, tf) -> bool:
    if precision != "auto":
        return precision == "mixed_bfloat16"
    from vaestudio.core.tf.device import bfloat16_is_fast

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        try:
            capability = tuple(tf.config.experimental.get_device_details(gpus[0]).get("compute_capability", (0, 0)))
        except Exception:
            return False
        return capability >= (8, 0)
    return bfloat16_is_fast()
