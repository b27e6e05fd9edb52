"""The training steps built and compiled ahead of the run that uses them: Start -> first step in seconds.

Tracing the training step and preparing its graph took most of the time between Start and the first step
(issue 22). None of it needs the data: the model, its optimizer and the compiled functions follow from the
config alone (what depends on the data or on a checkpoint is set afterwards, `TrainingSteps.set_run`). So
the window calls `start_preparing(config)` once TensorFlow is imported, before Start, with the settings shown:
the work runs in a thread of its own, and the trainer of a run with the same settings takes the result with
`take_prepared(config)`, waiting for it if need be. Without a preparation (the CLI, other settings) the
trainer builds the same parts itself. One device only: several devices must be planned before TensorFlow's
first operation, and are built as before.

Not started while a run's data loads: TensorFlow's import redirects the process's stderr while it runs
(core.tf.quiet), which would swallow an error the run reports meanwhile (a missing file, a locked folder).

One preparation is kept at a time (a newer config replaces an older one that nobody took); it is used once.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import Any, Callable

from vaestudio.core.config import TrainConfig

# Config fields that change nothing in what is prepared: the run sets them later (learning rate and beta
# live in variables, the schedule's length is set from the data) or they do not concern the model.
_NOT_BUILT_FROM = frozenset({"epochs", "learning_rate", "beta", "dataset", "data_dir", "limit", "test_fraction",
                             "metrics_every", "snapshot_every", "snapshot_every_later", "steps_per_call", "preset"})


@dataclass
class TrainingParts:
    """A model, its optimizer and their compiled steps; `precision` is the dtype policy they were built in."""

    model: Any
    optimizer: Any
    steps: Any
    precision: str


def build_training(config: TrainConfig, strategy=None, compile_now: bool = False) -> TrainingParts:
    """Model (seeded by the config), Adam, and TrainingSteps over the config's input format, in `strategy`'s
    scope if any. `compile_now` (one device) also traces and prepares the training chunk and the grid."""
    import keras
    import numpy as np

    from vaestudio.core.latent import grid_points
    from vaestudio.core.tf.device import use_bfloat16
    from vaestudio.core.tf.inputs import InputFormat
    from vaestudio.core.tf.model import build_cvae
    from vaestudio.core.tf.steps import Schedule, TrainingSteps, Variant

    architecture = config.architecture
    keras.utils.set_random_seed(config.seed)
    precision = "mixed_bfloat16" if use_bfloat16(config.precision) else "float32"
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(precision)
        try:
            model = build_cvae(architecture)
        finally:
            keras.config.set_dtype_policy(previous)
        optimizer = keras.optimizers.Adam(config.learning_rate)
        optimizer.build(model.trainable_variables)
    if strategy is None:  # one device: on a CPU, batches in parts for its cores (threads.py)
        from vaestudio.core.tf.threads import batch_parts

        model.batch_parts = batch_parts()
    points = grid_points(config.grid_size, architecture.latent_dim)
    if architecture.classes:  # a conditional model's grid: for numpy_vae.DEFAULT_CLASS
        from vaestudio.core.numpy_vae import one_hot

        points = np.concatenate([points, one_hot(None, len(points), architecture.classes)], axis=1)
    inputs = InputFormat(architecture, config.batch_size)
    steps = TrainingSteps(model, optimizer, inputs, config.seed, Schedule.of(config, 1), config.learning_rate,
                          config.beta, points, strategy=strategy, variant=Variant.of(config, 1))
    if compile_now and strategy is None:
        steps.compile(inputs.placeholder_iterator())
    return TrainingParts(model, optimizer, steps, precision)


def preparation_key(config: TrainConfig) -> tuple:
    """What must agree between a preparation's config and a run's for the run to use it."""
    config = config.validate()
    fields = sorted((name, repr(value)) for name, value in config.to_dict().items() if name not in _NOT_BUILT_FROM)
    return (repr(config.architecture), *fields)


class _Preparation:
    def __init__(self, config: TrainConfig, first: Callable[[], None] | None):
        self.key = preparation_key(config)
        self.parts: TrainingParts | None = None
        self.thread = threading.Thread(target=self._run, args=(config, first), name="vaestudio-prepare-training",
                                       daemon=True)

    def _run(self, config: TrainConfig, first: Callable[[], None] | None) -> None:
        try:
            if first is not None:
                first()
            from vaestudio.core.tf.device import detect_device
            from vaestudio.core.tf.quiet import import_tensorflow

            import_tensorflow()
            detect_device()  # before any operation: a GPU's memory growth
            self.parts = build_training(config, compile_now=True)
        except Exception:  # noqa: BLE001  the run then builds its own, and reports what goes wrong there
            self.parts = None


_lock = threading.Lock()
_pending: _Preparation | None = None


def start_preparing(config: TrainConfig, first: Callable[[], None] | None = None) -> None:
    """Prepare the training of `config` on one device in a background thread (nothing if already under way);
    `first` runs first in that thread (the window lowers its priority)."""
    global _pending
    with _lock:
        key = preparation_key(config)
        if _pending is not None and _pending.key == key:
            return
        _pending = _Preparation(config, first)
        _pending.thread.start()


def take_prepared(config: TrainConfig) -> TrainingParts | None:
    """The parts prepared for settings equal to `config`'s (waiting for them), once; None if there are none."""
    global _pending
    with _lock:
        preparation = _pending
        if preparation is None or preparation.key != preparation_key(config):
            return None
        _pending = None
    preparation.thread.join()
    return preparation.parts
