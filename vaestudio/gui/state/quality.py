"""Quality on demand, without Qt: the importance-weighted estimate of log p(x) (IWAE, Burda et al. 2016)
of the active run's snapshot shown, one estimate at a time, in the background.

The estimate is a task (gui/state/tasks.py) on the executor handed in, which decodes with the snapshot's
NumPy VAE (core/iwae.py; core/tf/iwae.py is its TensorFlow reference). It first waits for the window's one
TensorFlow loader (`studio.tf_status`: the window's test images come with it), reports
its status and progress after each batch, and stops within one batch when cancelled. Starting again, or
the user moving to another snapshot, cancels a running estimate (its result is never delivered); a new
snapshot arriving while the timeline follows training does not (the result names the snapshot it belongs
to). Results are remembered per snapshot, so scrubbing back shows them again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from psygnal import Signal

from vaestudio.gui.state.run_history import RunHistory, SnapshotInfo
from vaestudio.gui.state.studio import FAILED, READY, Studio
from vaestudio.gui.state.tasks import Executor, TaskState

DEFAULT_K = 100
DEFAULT_IMAGES = 500
MAX_K = 5000
TF_POLL_SECONDS = 0.1  # how often a waiting estimate looks whether it was cancelled
_NEVER_STARTED = threading.Event()
_NEVER_STARTED.set()


@dataclass
class Estimate:
    """One estimate: what it is for, and its task (which stops it)."""

    number: int
    history: RunHistory
    info: SnapshotInfo
    k: int
    images: int
    task: TaskState | None = None  # set once started
    tf_ready: threading.Event = field(default_factory=threading.Event)

    @property
    def stopped(self) -> threading.Event:
        """Set once the estimate's work has returned (or, cancelled before it began, will never run)."""
        return self.task.finished if self.task is not None else _NEVER_STARTED

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    @property
    def key(self) -> tuple:
        return (id(self.history), self.info.index, self.k, self.images)

    def describe(self) -> str:
        return f"{self.info.label or f'step {self.info.step}'} (k = {self.k}, N = {self.images})"


class QualityEstimates:
    """Starts, cancels and remembers IWAE estimates of the active run's snapshots."""

    status_changed = Signal(str)  # one line on what happens ("" once a result is shown)
    progress = Signal(int, int)  # batches done, batches in all (0, 0: not known yet)
    running_changed = Signal(bool)
    results_changed = Signal()  # an estimate arrived (see `result_for`)

    def __init__(self, studio: Studio, executor: Executor, estimate: Callable[..., Any] | None = None):
        self.studio = studio
        self.executor = executor
        self._estimate = estimate  # iwae_log_likelihood's signature; None: core.iwae's (the NumPy VAE)
        self.job: Estimate | None = None
        self.results: dict[tuple, tuple] = {}  # (history, snapshot, k, N) -> (SnapshotInfo, IwaeResult)
        self.last: tuple | None = None  # (history id, SnapshotInfo, IwaeResult) of the newest estimate
        self._jobs = 0
        self._auto_advance = False
        studio.active_changed.connect(self._on_active)  # bound methods: psygnal holds them weakly
        studio.active_snapshot_added.connect(self._on_snapshot_added)
        studio.active_moment_changed.connect(self._on_moment)
        studio.device_changed.connect(self._on_device)

    @property
    def running(self) -> bool:
        return self.job is not None

    # -- following the studio -----------------------------------------------------------------------------------
    def _on_active(self, history: RunHistory | None) -> None:
        if self.job is not None and self.job.history is not history:
            self.cancel()

    def _on_snapshot_added(self, _info) -> None:
        active = self.studio.active
        self._auto_advance = active is not None and active.following

    def _on_moment(self, info: SnapshotInfo | None) -> None:
        automatic, self._auto_advance = self._auto_advance, False
        if self.job is not None and not automatic and (info is None or info.index != self.job.info.index):
            self.cancel("Cancelled: you moved to another snapshot.")

    def _on_device(self, status: str) -> None:
        job = self.job
        if job is not None:
            if status == READY:
                job.tf_ready.set()
            elif status == FAILED:
                job.cancel()
                self._on_failed(job, "")

    # -- starting and stopping ---------------------------------------------------------------------------------
    def problem(self) -> str | None:
        """Why the snapshot shown cannot be estimated now (None: it can)."""
        history = self.studio.active
        info = history.current if history is not None else None
        probe = self.studio.explorer.probe
        if info is None:
            return "No snapshot to estimate: train or open a run first."
        if not info.has_weights:
            return "This snapshot was recorded without model weights, so log p(x) cannot be estimated."
        if probe is None or len(probe.images) == 0:
            return "The test images of this run are not loaded."
        if self.studio.tf_status == FAILED:
            return f"TensorFlow failed to load ({self.studio.tf_error or 'see the status bar'}): the estimate needs it."
        return None

    def start(self, k: int, images: int) -> bool:
        """Estimate log p(x) with k samples on the first `images` test images, for the snapshot shown
        (cancelling a running estimate). False, and the reason said, if it cannot start."""
        if self.job is not None:
            self.cancel("")
        problem = self.problem()
        if problem is not None:
            self.status_changed.emit(problem)
            return False
        history, probe = self.studio.active, self.studio.explorer.probe
        self._jobs += 1
        job = Estimate(self._jobs, history, history.current, int(k), min(int(images), len(probe.images)))
        if self.studio.tf_status == READY:
            job.tf_ready.set()
        pixels, labels = probe.images[:job.images], probe.labels[:job.images]
        self.job = job
        self.running_changed.emit(True)
        self.progress.emit(0, 0)
        self.status_changed.emit(f"Estimating log p(x) for {job.describe()}…")
        job.task = self.executor.start(
            lambda task: self._work(job, pixels, task, labels), lambda result: self._on_done(job, result),
            lambda message: self._on_failed(job, message), key="iwae",
            on_progress=lambda done, total: self._on_progress(job, int(done), int(total)),
            on_status=lambda text: self._on_status(job, text))
        return True

    def cancel(self, message: str = "Cancelled.") -> None:
        """Stop the running estimate (it ends within one batch); its result, if any, is dropped."""
        job, self.job = self.job, None
        if job is not None:
            job.cancel()
            if message:
                self.status_changed.emit(message)
            self.running_changed.emit(False)

    def stop(self, timeout: float = 2.0) -> bool:
        """Cancel without a word (the window is going) and wait up to `timeout` s for the work to return."""
        job = self.job
        if job is None:
            return True
        job.cancel()
        return job.stopped.wait(timeout)

    # -- the work (on the executor's thread) -----------------------------------------------------------------------
    def _work(self, job: Estimate, pixels, task: TaskState, labels=None):
        """Wait for TensorFlow, then estimate; stops (raising Cancelled) within one batch of a cancel. A
        conditional model's estimate is log p(x | y) with the test images' true `labels`."""
        from vaestudio.core.probes import model_inputs

        if not job.tf_ready.is_set():
            task.set_status("Waiting for TensorFlow to load…")
            while not job.tf_ready.wait(TF_POLL_SECONDS):
                task.check()
        task.check()
        estimate = self._estimate
        if estimate is None:
            from vaestudio.core.iwae import iwae_log_likelihood as estimate
        weights = job.history.weights_at(job.info)
        if weights is None:
            raise RuntimeError("the snapshot's weights could not be read")
        inputs = model_inputs(pixels, weights.architecture)
        given = {"labels": labels} if weights.architecture.classes else {}  # only a conditional model takes them
        return estimate(weights, inputs, k=job.k, cancelled=lambda: task.cancelled, progress=task.set_progress,
                        **given)

    # -- news from the work (on the UI thread) ---------------------------------------------------------------------
    def _on_status(self, job: Estimate, text: str) -> None:
        if job is self.job:
            self.status_changed.emit(text)

    def _on_progress(self, job: Estimate, done: int, total: int) -> None:
        if job is self.job:
            self.progress.emit(done, total)
            self.status_changed.emit(f"Estimating log p(x) for {job.describe()}…")

    def _on_done(self, job: Estimate, result) -> None:
        if job is not self.job:
            return
        self.results[job.key] = (job.info, result)
        self.last = (id(job.history), job.info, result)
        self.job = None
        self.status_changed.emit("")
        self.running_changed.emit(False)
        self.results_changed.emit()

    def _on_failed(self, job: Estimate, message: str) -> None:
        if job is not self.job:
            return
        self.job = None
        if message:
            self.status_changed.emit(f"The estimate failed: {message}")
        elif self.studio.tf_status == FAILED:
            self.status_changed.emit("TensorFlow failed to load: the estimate needs it.")
        else:
            self.status_changed.emit("Cancelled.")
        self.running_changed.emit(False)

    # -- reading ----------------------------------------------------------------------------------------------
    def result_for(self, history: RunHistory | None, k: int, images: int) -> tuple | None:
        """(SnapshotInfo, IwaeResult) to show for the snapshot `history` shows: its estimate with k and N, else
        any earlier estimate of it, else (while following training) the newest estimate of this run, which
        may be of an earlier snapshot. None when there is none."""
        info = history.current if history is not None else None
        if info is None:
            return None
        found = self.results.get((id(history), info.index, k, images))
        if found is None:
            found = next((value for (h, i, _k, _n), value in reversed(self.results.items())
                          if h == id(history) and i == info.index), None)
        if found is None and self.last is not None and self.last[0] == id(history) and history.following:
            found = self.last[1:]
        return found
