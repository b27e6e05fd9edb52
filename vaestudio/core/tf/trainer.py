"""The training loop as a plain object: it yields events and can be paused, stopped and re-tuned.

`Trainer.events()` runs in whichever thread iterates it (the CLI's main thread, the window's worker
thread). Its `control` (a `core.control.TrainingControl`: pause, resume, stop, learning rate, β; a run
hands it its own) may be used from any other thread; requests take effect between graph calls, which
last at most `steps_per_call` steps, but for a stop, which ends the call in flight after its current step
(on one worker; several workers agree on a stop between calls).

`devices` (a `device.DevicePlan`, or a request such as 2 or "all") trains on several devices with a
MirroredStrategy; the default is one device without any strategy, as always. Across several workers
(`--devices workers`) every worker runs this loop in step, and a stop asked of any of them is agreed
before each graph call, so that all stop after the same step (a worker left alone would wait forever in
the next all-reduce).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from vaestudio.core.config import TrainConfig
from vaestudio.core.control import TrainingControl
from vaestudio.core.errors import RunFolderError
from vaestudio.core.events import EpochEnd, Event, Finished, HyperChanged, Snapshot, Started, StepMetrics
from vaestudio.core.store.checkpoint import Checkpoint
from vaestudio.core.tf.steps import TRAIN_SUMS, noise_state

# Sums every objective reports; others (beta-TCVAE's MI, TC, dim-KL) go into StepMetrics.terms.
_ELBO_SUMS = frozenset(TRAIN_SUMS)

@dataclass
class TrainerState:
    """Where a run stands; what a checkpoint stores besides weights."""

    epoch: int = 0  # last completed epoch
    step: int = 0  # optimizer updates so far
    epoch_step: int = 0  # steps taken in the epoch under way
    learning_rate: float = 0.0  # base learning rate in force
    beta: float = 1.0  # beta in force
    epoch_metrics: dict[str, float] | None = None  # test metrics of the last completed epoch
    last_good_weights: list[np.ndarray] | None = field(default=None, repr=False)


class Trainer:
    """Trains a CVAE on a Dataset, yielding Started, StepMetrics, Snapshot, HyperChanged, EpochEnd, Finished."""

    def __init__(self, config: TrainConfig, dataset, *, resume_from: Checkpoint | None = None,
                 device: str | None = None, devices=None, learning_rate: float | None = None,
                 beta: float | None = None, first_snapshot: str | None = "before training",
                 control: TrainingControl | None = None):
        self.config = config.validate()
        self.dataset = dataset
        self.architecture = config.architecture
        self.resume_from = resume_from
        self.device = device
        self.devices = devices  # None: one device, no strategy
        self.plan = None  # the DevicePlan in force, once built
        self.strategy = None
        state = TrainerState(learning_rate=config.learning_rate, beta=config.beta)
        if resume_from is not None:
            if resume_from.architecture != self.architecture:
                raise RunFolderError(f"the checkpoint is of a model of {resume_from.architecture.describe()}, the "
                                     f"config asks for {self.architecture.describe()}")
            state.epoch, state.step, state.epoch_step = resume_from.epoch, resume_from.step, resume_from.epoch_step
            state.learning_rate = resume_from.learning_rate or state.learning_rate
            state.beta = resume_from.beta if resume_from.beta is not None else state.beta
        # The snapshot taken before the first step: "before training" for a new run; a resume passes the
        # label of an epoch-end snapshot that was lost, or None.
        self.first_snapshot = first_snapshot if resume_from is None or first_snapshot != "before training" else None
        self._requested_lr = learning_rate  # overrides for the start (a resume that changes them)
        self._requested_beta = beta
        self.state = state
        self.model = None
        self.optimizer = None
        self._steps = None
        self._batches = None  # the epoch's input iterator
        self.control = control if control is not None else TrainingControl()

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.dataset.train_images) / self.config.batch_size)

    def checkpoint(self) -> Checkpoint:
        """Everything needed to continue exactly from here; call between events, in the training thread."""
        if self._steps is None:
            raise RuntimeError("the trainer has not started")
        return Checkpoint(self.state.epoch, self.state.step, self.state.epoch_step, self.architecture,
                          self.model.get_weights(), [v.numpy() for v in self.optimizer.variables],
                          noise_state(self.config.seed, self.state.step), learning_rate=self.state.learning_rate,
                          beta=self.state.beta,
                          epoch_metrics=self.state.epoch_metrics if self.state.epoch_step == 0 else None)

    # -- the loop ----------------------------------------------------------------------------
    def events(self) -> Iterator[Event]:
        """Run training to the end (or until stopped), yielding events as they happen."""
        precision = self._build()
        cfg, state, steps = self.config, self.state, self._steps
        steps_per_epoch = self.steps_per_epoch
        plan = self.plan
        device = plan.label if plan is not None and plan.distributed else self.device or _device_name()
        if self.model.batch_parts > 1:  # core/tf/threads.py
            device += f", each batch in {self.model.batch_parts} parts, one per core"
        yield Started(cfg.epochs, steps_per_epoch, state.epoch + 1, device, precision, start_step=state.step,
                      replicas=plan.replicas if plan is not None else 1)
        if self.first_snapshot:
            yield self._snapshot(state.epoch, self.first_snapshot)
        changed = self._apply_pending(initial=True)
        if changed is not None:
            yield changed
        state.last_good_weights = self.model.get_weights()
        if not self._several_workers:  # a worker cut short alone would wait forever in the next all-reduce
            steps.request_stop(False)
            self.control.on_stop(steps.request_stop)

        for epoch in range(state.epoch + 1, cfg.epochs + 1):
            epoch_step, busy = state.epoch_step, 0.0
            # Kept on the trainer: freeing an input iterator mid-epoch joins its prefetch threads (up to
            # seconds on a loaded machine), so a stopped run frees it with the trainer, after its files.
            batches = self._batches = self._inputs.epoch_iterator(epoch, skip=epoch_step)
            window = _Window()
            while epoch_step < steps_per_epoch:
                if not self._wait_while_paused():
                    yield Finished("stopped", state.epoch, state.step, "stopped by the user")
                    return
                changed = self._apply_pending()
                if changed is not None:
                    yield changed
                chunk = min(cfg.steps_per_call, self._next_boundary(epoch, epoch_step) - epoch_step)
                started = time.perf_counter()
                done, sums = steps.train_steps(batches, chunk)  # fewer than chunk: stopped meanwhile
                seconds = time.perf_counter() - started
                if not done:
                    continue
                busy += seconds
                epoch_step += done
                state.step += done
                state.epoch_step = epoch_step
                if not all(math.isfinite(v) for v in sums.values()):
                    yield self._diverged(epoch)
                    return
                window.add(sums, done, seconds)
                if epoch_step % cfg.metrics_every == 0 or epoch_step == steps_per_epoch:
                    self._remember_good_weights()
                    yield window.report(epoch, state.step, epoch_step, steps_per_epoch, self._in_force())
                    window = _Window()
                label = self._snapshot_label(epoch, epoch_step, steps_per_epoch)
                if label:
                    yield self._snapshot(epoch, label)
            test = self._test_pass(epoch)
            if test is None:  # stopped during the test pass: a resumed run repeats just the test pass
                yield Finished("stopped", state.epoch, state.step, "stopped by the user")
                return
            if not all(np.all(np.isfinite(v)) for v in test.values()):
                yield self._diverged(epoch)
                return
            state.epoch, state.epoch_step = epoch, 0
            state.epoch_metrics = dict(test_elbo=test["elbo"], test_log_likelihood=test["log_likelihood"],
                                       test_kl=test["kl"], seconds=busy)
            self._remember_good_weights()
            yield self._snapshot(epoch, f"epoch {epoch}")
            yield EpochEnd(epoch, state.step, test["elbo"], test["log_likelihood"], test["kl"], seconds=busy,
                           kl_per_dimension=tuple(float(v) for v in test["kl_dims"]))
            if self._stop_asked() and epoch < cfg.epochs:
                yield Finished("stopped", epoch, state.step, "stopped by the user")
                return
        yield Finished("completed", state.epoch, state.step, f"trained {cfg.epochs} epochs")

    # -- building ------------------------------------------------------------------------------
    def _build(self) -> str:
        """Devices, model, optimizer, input pipeline and compiled steps; returns the precision used.

        On one device the parts prepared ahead for this config are taken (core.tf.prepare: the window
        prepares them before Start), else built here, and compiled at their first call."""
        import contextlib

        from vaestudio.core.tf.quiet import import_tensorflow

        import_tensorflow()  # its CPU threads planned before its first operation (threads.py), if not yet
        import keras

        from vaestudio.core.tf.device import DevicePlan, plan_devices
        from vaestudio.core.tf.inputs import InputPipeline
        from vaestudio.core.tf.prepare import build_training, take_prepared
        from vaestudio.core.tf.steps import Schedule

        cfg = self.config
        parts = take_prepared(cfg) if self.devices is None else None
        if parts is None:
            if self.devices is not None:  # first: splitting the CPU must precede TensorFlow's first operation
                self.plan = self.devices if isinstance(self.devices, DevicePlan) else plan_devices(self.devices)
                self.strategy = self.plan.strategy()
            parts = build_training(cfg, self.strategy)
        else:
            keras.utils.set_random_seed(cfg.seed)  # as when built here: the same global generators after
        self.model, self.optimizer, steps = parts.model, parts.optimizer, parts.steps
        with self.strategy.scope() if self.strategy is not None else contextlib.nullcontext():
            if self.resume_from is not None:
                _restore(self.resume_from, self.model, self.optimizer)
            else:  # a VampPrior's pseudo-inputs start at training images (zoo/vamp.py)
                from vaestudio.core.tf.variants import start_pseudo_inputs

                start_pseudo_inputs(self.model, self.dataset.train_images, cfg.seed)
        self._inputs = steps.inputs = InputPipeline(self.dataset, self.architecture, cfg.batch_size, cfg.seed,
                                                    self.strategy)
        # 0 but for a branch (core.branching): its steps continue the parent's count, with a fresh optimizer
        # (steps ahead of the optimizer's count) or on other data (steps ahead of epochs x batches).
        state = self.state
        ahead_of_optimizer = state.step - int(self.optimizer.iterations.numpy())
        ahead_of_epochs = state.step - (state.epoch * self.steps_per_epoch + state.epoch_step)
        schedule = Schedule.of(cfg, self.steps_per_epoch)
        schedule = dataclasses.replace(schedule, total_steps=schedule.total_steps + ahead_of_epochs)
        steps.set_run(schedule, ahead_of_optimizer, len(self.dataset.train_images))
        steps.set_hyper(state.learning_rate, state.beta)
        self._steps = steps
        return parts.precision

    # -- helpers -------------------------------------------------------------------------------
    def _wait_while_paused(self) -> bool:
        """Block while paused; False when a stop was asked for (of any worker: the point where they agree)."""
        self.control.wait_while_paused()
        stop = self.control.stop_requested
        if self._several_workers:
            from vaestudio.core.tf.workers import gather_rows

            return not gather_rows([int(stop)]).any()
        return not stop

    def _stop_asked(self) -> bool:
        """A stop between the agreed points: only without other workers, which would not follow."""
        return self.control.stop_requested and not self._several_workers

    @property
    def _several_workers(self) -> bool:
        return self.plan is not None and self.plan.workers > 1

    def _apply_pending(self, initial: bool = False) -> HyperChanged | None:
        """Put requested hyper-parameter changes in force; the event to record, or None."""
        pending = self.control.take_changes()
        if initial:
            if self._requested_lr is not None:
                pending.setdefault("learning_rate", self._requested_lr)
            if self._requested_beta is not None:
                pending.setdefault("beta", self._requested_beta)
        state = self.state
        lr, beta = pending.get("learning_rate", state.learning_rate), pending.get("beta", state.beta)
        if (lr, beta) == (state.learning_rate, state.beta):
            return None
        state.learning_rate, state.beta = lr, beta
        self._steps.set_hyper(lr, beta)
        return HyperChanged(state.step, lr, beta)

    def _in_force(self) -> tuple[float, float]:
        """(learning rate, beta) the last step used, after schedules."""
        schedule, step = self._steps.schedule, max(self.state.step - 1, 0)
        return (self.state.learning_rate * schedule.lr_factor(step), self.state.beta * schedule.beta_factor(step))

    def _next_boundary(self, epoch: int, epoch_step: int) -> int:
        """The next epoch step after which something is reported."""
        cfg = self.config
        every = cfg.metrics_every
        candidates = [self.steps_per_epoch, (epoch_step // every + 1) * every]
        if epoch == 1 and cfg.snapshot_every:
            # the tutorial snapshots after batch indices 0, 75, 150, ... i.e. after steps 1, 76, 151, ...
            k = cfg.snapshot_every
            candidates.append(((epoch_step - 1) // k + 1) * k + 1 if epoch_step >= 1 else 1)
        elif epoch > 1 and cfg.snapshot_every_later:
            k = cfg.snapshot_every_later
            candidates.append((epoch_step // k + 1) * k)
        return min(c for c in candidates if c > epoch_step)

    def _snapshot_label(self, epoch: int, epoch_step: int, steps_per_epoch: int) -> str | None:
        """The label of a snapshot due after this step inside an epoch (epoch ends have their own)."""
        cfg = self.config
        if epoch == 1 and cfg.snapshot_every and (epoch_step - 1) % cfg.snapshot_every == 0:
            return f"epoch 1, batch {epoch_step}"
        if (epoch > 1 and cfg.snapshot_every_later and epoch_step % cfg.snapshot_every_later == 0
                and epoch_step < steps_per_epoch):
            return f"epoch {epoch}, batch {epoch_step}"
        return None

    def _snapshot(self, epoch: int, label: str) -> Snapshot:
        from vaestudio.core.latent import mosaic
        from vaestudio.core.numpy_vae import display_values
        from vaestudio.core.weights import VaeWeights

        grid = display_values(self._steps.grid_logits(), self.architecture.likelihood)
        return Snapshot(epoch, self.state.step, label, mosaic(grid, self.config.grid_size),
                        weights=VaeWeights.from_model(self.model))

    def _test_pass(self, epoch: int) -> dict[str, np.ndarray] | None:
        """Means over the whole test set, batch by batch so that a stop is honoured within one batch
        (None then). The noise depends only on (seed, epoch, batch)."""
        sums: dict[str, np.ndarray] = {}
        for index, batch in enumerate(self._inputs.test):
            if self._stop_asked():
                return None
            batch_sums = self._steps.test_batch(batch, (self.config.seed * 7919 + epoch, index))
            for name, value in batch_sums.items():
                sums[name] = sums.get(name, 0.0) + value
        count = max(float(sums.pop("count")), 1.0)
        return {name: (float(value) if np.ndim(value) == 0 else value) / count for name, value in sums.items()}

    def _remember_good_weights(self) -> None:
        weights = self.model.get_weights()
        if all(np.all(np.isfinite(w)) for w in weights):
            self.state.last_good_weights = weights

    def _diverged(self, epoch: int) -> Finished:
        if self.state.last_good_weights is not None:
            self.model.set_weights(self.state.last_good_weights)
        return Finished("diverged", self.state.epoch, self.state.step,
                        f"the loss became NaN or infinite in epoch {epoch} (step {self.state.step}) at learning "
                        f"rate {self.state.learning_rate:g}; the last good weights were restored")


class _Window:
    """Sums of the train metrics since the last report."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.seconds = 0.0

    def add(self, sums: dict[str, float], steps: int, seconds: float) -> None:
        for name, value in sums.items():
            self.sums[name] = self.sums.get(name, 0.0) + value
        self.seconds += seconds

    def report(self, epoch: int, step: int, epoch_step: int, steps_per_epoch: int,
               in_force: tuple[float, float]) -> StepMetrics:
        images = max(self.sums.get("count", 0.0), 1.0)
        mean = {name: value / images for name, value in self.sums.items()}
        learning_rate, beta = in_force
        objective = mean["objective"] if not math.isclose(mean["objective"], mean["elbo"], abs_tol=1e-9) else None
        terms = {name: value for name, value in mean.items() if name not in _ELBO_SUMS} or None
        return StepMetrics(epoch, step, epoch_step, steps_per_epoch, mean["elbo"], mean["log_likelihood"],
                           mean["kl"], images / max(self.seconds, 1e-9), objective=objective,
                           learning_rate=learning_rate, beta=beta, terms=terms)


def _device_name() -> str:
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    return f"GPU: {gpus[0].name}" if gpus else "CPU"


def _restore(checkpoint: Checkpoint, model, optimizer) -> None:
    """Put a checkpoint's arrays back into a freshly built model and optimizer. Its noise_state is not
    needed: the training noise is a function of the seed and the step (steps.noise_state); checkpoints
    of earlier versions (noise from a stateful generator) continue with the stateless noise from their step.
    No optimizer variables (a branch from a moment that is not its parent's checkpoint): a fresh optimizer."""
    variables = list(optimizer.variables)
    if [tuple(w.shape) for w in checkpoint.model_weights] != [tuple(w.shape) for w in model.get_weights()]:
        raise RunFolderError("the checkpoint's weights do not fit this model's architecture")
    fresh = not checkpoint.optimizer_variables
    if not fresh and [tuple(v.shape) for v in checkpoint.optimizer_variables] != [tuple(v.shape) for v in variables]:
        raise RunFolderError("the checkpoint's optimizer state does not fit this model")
    model.set_weights(checkpoint.model_weights)
    for variable, value in zip([] if fresh else variables, checkpoint.optimizer_variables):
        variable.assign(value)

