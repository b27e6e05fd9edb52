"""Quality on demand: the importance-weighted estimate of log p(x) (IWAE) for the snapshot shown, beside
that snapshot's test ELBO. The estimates themselves (the background work, cancelling, the results kept per
snapshot) are `state.quality.QualityEstimates`; this panel shows them and forwards the user's clicks.
Defaults are cheap (k = 100 samples on 500 test images); `vaestudio inspect` gives the full report.
"""

from __future__ import annotations

import weakref

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal, Slot
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QProgressBar, QPushButton, QSpinBox, QVBoxLayout,
                               QWidget)

from vaestudio.gui.commands import Commands
from vaestudio.gui.state.quality import DEFAULT_IMAGES, DEFAULT_K, MAX_K, QualityEstimates
from vaestudio.gui.state.tasks import ThreadedExecutor
from vaestudio.gui.state.run_history import RunHistory, SnapshotInfo
from vaestudio.gui.state.studio import FAILED, Studio
from vaestudio.gui.widgets import SteadyLabel, subscribe

__all__ = ["DEFAULT_IMAGES", "DEFAULT_K", "MAX_K", "QualityPanel", "nats"]


def nats(value: float, digits: int = 2) -> str:
    """A number of nats with a real minus sign."""
    return f"{value:.{digits}f}".replace("-", "−")


class _Relay(QObject):
    """Runs a function handed over from a worker thread on the UI thread (a queued connection)."""

    call = Signal(object)

    def __init__(self, parent: QObject):
        super().__init__(parent)
        self.call.connect(self._run)  # a slot of this UI-thread object: queued when emitted elsewhere

    @Slot(object)
    def _run(self, fn) -> None:
        fn()

    def post(self, fn) -> None:
        try:
            self.call.emit(fn)
        except RuntimeError:  # the panel is gone: nobody is left to tell
            pass


def _stop(estimates_ref) -> None:
    """Cancel a running estimate and wait briefly for its work to return; no Qt calls, so it is safe while
    the window is being torn down."""
    estimates = estimates_ref()
    if estimates is not None:
        estimates.stop()


class QualityPanel(QWidget):
    """'Estimate log-likelihood' for the snapshot shown, with progress, Cancel, k and the number of images."""

    title = "Quality"

    def __init__(self, studio: Studio, commands: Commands, parent: QWidget | None = None):
        super().__init__(parent)
        self.studio, self.commands = studio, commands
        self._relay = _Relay(self)
        # A long task on a daemon thread of its own (not the explorer's pool), its news posted to the UI thread.
        self.estimates = QualityEstimates(studio, ThreadedExecutor(self._relay.post, "vaestudio-iwae"))

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
        self.cancel_button.clicked.connect(lambda: self.estimates.cancel())
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.result = SteadyLabel()
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.elbo = SteadyLabel()
        self.status = SteadyLabel()
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
            estimates_ref = weakref.ref(self.estimates)
            application.aboutToQuit.connect(lambda: _stop(estimates_ref))
        estimates = self.estimates
        subscribe(self, [
            (estimates.status_changed, self._on_status), (estimates.progress, self._on_progress),
            (estimates.running_changed, self._update_controls), (estimates.results_changed, self._show_result),
            (studio.probe_changed, self._on_probe)] + [(signal, self._show_result) for signal in (
                studio.active_changed, studio.device_changed, studio.active_moment_changed,
                studio.active_epoch_ended)])
        self._on_probe(studio.explorer.probe)

    # -- forwarding the user's clicks ------------------------------------------------------------------------
    def start(self) -> bool:
        """Estimate log p(x) for the snapshot shown (cancelling a running estimate). False if it cannot start."""
        return self.estimates.start(self.samples.value(), self.images.value())

    def cancel(self, message: str = "Cancelled.") -> None:
        self.estimates.cancel(message)

    def wait(self, timeout: float = 5.0) -> bool:
        """Cancel and wait for the estimate's work to return (the window calls this when closing)."""
        job = self.estimates.job
        self.estimates.cancel("")
        return job is None or job.stopped.wait(timeout)

    @property
    def job(self):
        return self.estimates.job

    @property
    def running(self) -> bool:
        return self.estimates.running

    # -- news from the estimates ---------------------------------------------------------------------------------
    def _on_probe(self, probe) -> None:
        count = len(probe.images) if probe is not None else DEFAULT_IMAGES
        self.images.setMaximum(max(1, count))
        self._show_result()

    def _on_status(self, text: str) -> None:
        self.status.setText(text)

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)  # (0, 0): busy until the first batch says how many there are
        self.progress.setValue(done)
        if total:
            self.progress.setFormat(f"batch {done} of {total}")

    # -- showing ---------------------------------------------------------------------------------------------
    def _update_controls(self, *_args) -> None:
        running = self.estimates.running
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
        found = self.estimates.result_for(history, self.samples.value(), self.images.value())
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
