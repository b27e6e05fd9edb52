"""Quality on demand: the importance-weighted estimate of log p(x) (IWAE, Burda et al. 2016) for the
snapshot shown, computed in the background beside that snapshot's test ELBO.

The estimate runs TensorFlow (core/tf/iwae.py) in a worker thread of its own that first waits for the
shell's one TensorFlow loader (`studio.tf_status`), reports progress after each batch, and stops within
one batch when cancelled. Starting again, or the user moving to another snapshot, cancels a running
estimate; a new snapshot arriving while the timeline follows training does not (the result names the
snapshot it belongs to). Results are remembered per snapshot, so scrubbing back shows them again.
Defaults are cheap (k = 100 samples on 500 test images); `vaestudio inspect` gives the full report.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QProgressBar, QPushButton, QSpinBox, QVBoxLayout,
                               QWidget)

from vaestudio.gui.commands import Commands
from vaestudio.gui.state.run_history import RunHistory, SnapshotInfo
from vaestudio.gui.state.studio import FAILED, READY, Studio
from vaestudio.gui.widgets import subscribe

DEFAULT_K = 100
DEFAULT_IMAGES = 500
MAX_K = 5000


def nats(value: float, digits: int = 2) -> str:
    """A number of nats with a real minus sign."""
    return f"{value:.{digits}f}".replace("-", "−")


@dataclass
class _Job:
    """One estimate: what it is for, and how to stop it."""

    number: int
    history: RunHistory
    info: SnapshotInfo
    k: int
    images: int
    cancel: threading.Event
    tf_ready: threading.Event
    thread: threading.Thread | None = None

    @property
    def key(self) -> tuple:
        return (id(self.history), self.info.index, self.k, self.images)


def _stop(panel_ref, timeout: float = 2.0) -> None:
    """Cancel the panel's running estimate and wait (up to `timeout` s) for its thread; no Qt calls, so it
    is safe while the window is being torn down."""
    panel = panel_ref()
    job = getattr(panel, "job", None) if panel is not None else None
    if job is not None:
        job.cancel.set()
        if job.thread is not None:
            job.thread.join(timeout)


class _Relay(QObject):
    """Carries the worker thread's news to the UI thread (queued connections)."""

    progress = Signal(int, int, int)  # job number, batches done, batches in all
    waiting = Signal(int)  # job number: waiting for TensorFlow
    done = Signal(int, object)  # job number, IwaeResult
    failed = Signal(int, str)  # job number, one line ("" when cancelled)


class QualityPanel(QWidget):
    """'Estimate log-likelihood' for the snapshot shown, with progress, Cancel, k and the number of images."""

    title = "Quality"

    def __init__(self, studio: Studio, commands: Commands, parent: QWidget | None = None):
        super().__init__(parent)
        self.studio, self.commands = studio, commands
        self.job: _Job | None = None
        self.results: dict[tuple, object] = {}  # (history, snapshot, k, N) -> (SnapshotInfo, IwaeResult)
        self.last: tuple | None = None  # (history id, SnapshotInfo, IwaeResult) of the newest estimate
        self._jobs = 0
        self._history: RunHistory | None = None
        self._auto_advance = False
        self._relay = _Relay(self)
        self._relay.progress.connect(self._on_progress)
        self._relay.waiting.connect(self._on_waiting)
        self._relay.done.connect(self._on_done)
        self._relay.failed.connect(self._on_failed)

        self.samples = QSpinBox()
        self.samples.setRange(1, MAX_K)
        self.samples.setValue(DEFAULT_K)
        self.samples.setToolTip("k: importance samples per image. More samples give a tighter bound and take "
                                "longer (k = 1 is the ELBO; reports use k = 1000)")
        self.images = QSpinBox()
        self.images.setRange(1, DEFAULT_IMAGES)
        self.images.setValue(DEFAULT_IMAGES)
        self.images.setToolTip("How many of the run's test images to estimate on")
        self.samples.valueChanged.connect(self._show_result)
        self.images.valueChanged.connect(self._show_result)
        self.estimate_button = QPushButton("Estimate log-likelihood")
        self.estimate_button.setToolTip("Compute the IWAE estimate of log p(x) for the snapshot shown, in the "
                                        "background")
        self.estimate_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(lambda: self.cancel())
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.elbo = QLabel()
        self.elbo.setWordWrap(True)
        self.status = QLabel()
        self.status.setWordWrap(True)
        note = QLabel("log p(x) ≥ ELBO: the gap shows how loose the bound the model is trained on is. The full "
                      "report (k = 1000, every test image) is <code>vaestudio inspect RUN_FOLDER</code>.")
        note.setWordWrap(True)
        note.setEnabled(False)

        buttons = QHBoxLayout()
        buttons.addWidget(self.estimate_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        sizes = QHBoxLayout()
        sizes.addWidget(QLabel("k"))
        sizes.addWidget(self.samples)
        sizes.addWidget(QLabel("samples per image, N"))
        sizes.addWidget(self.images)
        sizes.addWidget(QLabel("test images"))
        sizes.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(buttons)
        layout.addLayout(sizes)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.result)
        layout.addWidget(self.elbo)
        layout.addWidget(note)
        layout.addStretch(1)

        application = QCoreApplication.instance()
        if application is not None:  # quitting ends a running estimate within one batch
            panel_ref = weakref.ref(self)
            application.aboutToQuit.connect(lambda: _stop(panel_ref))
        subscribe(self, [
            (studio.active_changed, self._on_active), (studio.probe_changed, self._on_probe),
            (studio.device_changed, self._on_device), (studio.active_snapshot_added, self._on_snapshot_added),
            (studio.active_moment_changed, self._on_moment), (studio.active_epoch_ended, self._show_result)])
        self._on_active(studio.active)
        self._on_probe(studio.explorer.probe)

    # -- the moment -------------------------------------------------------------------------------------------
    def _on_active(self, history: RunHistory | None) -> None:
        self._history = history
        if self.job is not None and self.job.history is not history:
            self.cancel()
        self._show_result()

    def _on_probe(self, probe) -> None:
        count = len(probe.images) if probe is not None else DEFAULT_IMAGES
        self.images.setMaximum(max(1, count))
        self._show_result()

    def _on_snapshot_added(self, _info) -> None:
        self._auto_advance = self._history is not None and self._history.following

    def _on_moment(self, info: SnapshotInfo | None) -> None:
        automatic, self._auto_advance = self._auto_advance, False
        if self.job is not None and not automatic and (info is None or info.index != self.job.info.index):
            self.cancel("Cancelled: you moved to another snapshot.")
        self._show_result()

    def _on_device(self, status: str) -> None:
        if self.job is not None:
            if status == READY:
                self.job.tf_ready.set()
            elif status == FAILED:
                self.job.cancel.set()
        self._show_result()

    # -- running ------------------------------------------------------------------------------------------
    def start(self) -> bool:
        """Estimate log p(x) for the snapshot shown (cancelling a running estimate). False if it cannot start."""
        history = self.studio.active
        info = history.current if history is not None else None
        probe = self.studio.explorer.probe
        if self.job is not None:
            self.cancel("")
        problem = None
        if info is None:
            problem = "No snapshot to estimate: train or open a run first."
        elif not info.has_weights:
            problem = "This snapshot was recorded without model weights, so log p(x) cannot be estimated."
        elif probe is None or len(probe.images) == 0:
            problem = "The test images of this run are not loaded."
        elif self.studio.tf_status == FAILED:
            problem = f"TensorFlow failed to load ({self.studio.tf_error or 'see the status bar'}): the estimate needs it."
        if problem is not None:
            self.status.setText(problem)
            return False
        self._jobs += 1
        job = _Job(self._jobs, history, info, self.samples.value(), min(self.images.value(), len(probe.images)),
                   threading.Event(), threading.Event())
        if self.studio.tf_status == READY:
            job.tf_ready.set()
        images = probe.images[:job.images]
        job.thread = threading.Thread(target=self._work, args=(job, images), name="vaestudio-iwae", daemon=True)
        self.job = job
        self.progress.setRange(0, 0)  # busy until the first batch says how many there are
        self.status.setText(f"Estimating log p(x) for {info.label or f'step {info.step}'} "
                            f"(k = {job.k}, N = {job.images})…")
        self._update_controls()
        job.thread.start()
        return True

    def _work(self, job: _Job, images) -> None:
        """The worker thread: wait for TensorFlow, then estimate. Reports through the relay only."""
        from vaestudio.core.errors import Cancelled
        from vaestudio.core.probes import model_inputs
        from vaestudio.gui.threads import describe_error

        relay = self._relay
        try:
            if not job.tf_ready.is_set():
                relay.waiting.emit(job.number)
                while not job.tf_ready.wait(0.1):
                    if job.cancel.is_set():
                        raise Cancelled("cancelled while waiting for TensorFlow")
            if job.cancel.is_set():
                raise Cancelled("cancelled")
            from vaestudio.core.tf.iwae import iwae_log_likelihood

            weights = job.history.weights_at(job.info)
            if weights is None:
                raise RuntimeError("the snapshot's weights could not be read")
            inputs = model_inputs(images, weights.architecture)
            result = iwae_log_likelihood(weights, inputs, k=job.k,
                                         progress=lambda done, total: relay.progress.emit(job.number, done, total),
                                         cancelled=job.cancel.is_set)
        except Cancelled:
            relay.failed.emit(job.number, "")
        except Exception as exc:  # noqa: BLE001 - any failure is one line in the panel
            relay.failed.emit(job.number, describe_error(exc))
        else:
            relay.done.emit(job.number, result)

    def cancel(self, message: str = "Cancelled.") -> None:
        """Stop the running estimate (it ends within one batch); its result, if any, is dropped."""
        job, self.job = self.job, None
        if job is not None:
            job.cancel.set()
            if message:
                self.status.setText(message)
        self._update_controls()

    def wait(self, timeout: float = 5.0) -> bool:
        """Cancel and wait for the worker thread to end (the window calls this when closing)."""
        job = self.job
        self.cancel("")
        thread = job.thread if job is not None else None
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    @property
    def running(self) -> bool:
        return self.job is not None

    # -- news from the worker -----------------------------------------------------------------------------
    def _current(self, number: int) -> _Job | None:
        return self.job if self.job is not None and self.job.number == number else None

    def _on_waiting(self, number: int) -> None:
        if self._current(number) is not None:
            self.status.setText("Waiting for TensorFlow to load…")

    def _on_progress(self, number: int, done: int, total: int) -> None:
        job = self._current(number)
        if job is not None:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            self.progress.setFormat(f"batch {done} of {total}")
            self.status.setText(f"Estimating log p(x) for {job.info.label or f'step {job.info.step}'} "
                                f"(k = {job.k}, N = {job.images})…")

    def _on_done(self, number: int, result) -> None:
        job = self._current(number)
        if job is None:
            return
        self.results[job.key] = (job.info, result)
        self.last = (id(job.history), job.info, result)
        self.job = None
        self.status.setText("")
        self._show_result()

    def _on_failed(self, number: int, message: str) -> None:
        job = self._current(number)
        if job is None:
            return
        self.job = None
        if message:
            self.status.setText(f"The estimate failed: {message}")
        elif self.studio.tf_status == FAILED:
            self.status.setText("TensorFlow failed to load: the estimate needs it.")
        else:
            self.status.setText("Cancelled.")
        self._update_controls()

    # -- showing ---------------------------------------------------------------------------------------------
    def _update_controls(self) -> None:
        running = self.job is not None
        self.cancel_button.setEnabled(running)
        self.progress.setVisible(running)
        if not running:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
        history = self.studio.active
        info = history.current if history is not None else None
        self.estimate_button.setEnabled(info is not None and info.has_weights and self.studio.tf_status != FAILED)
        self.estimate_button.setText("Estimate again" if running else "Estimate log-likelihood")

    def _show_result(self, *_args) -> None:
        """The estimate for the snapshot shown beside that snapshot's test ELBO; when the timeline followed
        training past the snapshot an estimate was made for, that one, named."""
        self._update_controls()
        history = self.studio.active
        info = history.current if history is not None else None
        if info is None:
            self.result.setText("<b>log p(x)</b>: no snapshot yet")
            self.elbo.setText("")
            return
        found = self.results.get((id(history), info.index, self.samples.value(), self.images.value()))
        if found is None:  # an earlier estimate of this snapshot, whatever its k and N
            found = next((value for (h, i, _k, _n), value in reversed(self.results.items())
                          if h == id(history) and i == info.index), None)
        if found is None and self.last is not None and self.last[0] == id(history) and history.following:
            found = self.last[1:]
        if found is None:
            self.result.setText(f"<b>log p(x)</b> at {info.label or f'step {info.step}'}: not estimated yet")
            self.elbo.setText(self._elbo_text(history, info))
            return
        at, r = found
        older = "" if at.index == info.index else " (an earlier snapshot than the one shown)"
        self.result.setText(f"<b>log p(x) ≈ {nats(r.mean)} ± {r.standard_error:.2f} nats</b> "
                            f"(k = {r.samples}, N = {r.count}, {r.seconds:.1f} s) at {at.label or f'step {at.step}'}"
                            f"{older}")
        self.elbo.setText(self._elbo_text(history, at))

    @staticmethod
    def _elbo_text(history: RunHistory, info: SnapshotInfo) -> str:
        """The test ELBO measured at this snapshot (or the last one before it)."""
        ends = [end for end in history.epoch_ends if end.step <= info.step]
        if not ends:
            return "Test ELBO: none yet (it is measured at the end of each epoch)."
        end = ends[-1]
        if end.step == info.step:
            return f"Test ELBO at this snapshot (end of epoch {end.epoch}, whole test set): {nats(end.test_elbo)} nats"
        return (f"Test ELBO at the end of epoch {end.epoch} (step {end.step}, before this snapshot; whole test set): "
                f"{nats(end.test_elbo)} nats")
