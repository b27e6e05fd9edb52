"""The window's state as a whole: TensorFlow and the device, the runs that are open, the one being
explored, whether training runs, and what the status bar says.

Qt-free and evented. Panels read it and subscribe to its signals; controllers (training, files) change
it; nothing here knows about widgets. Model-to-model wiring (the active run to the explorer) is done
here, so it is testable without a window.

The active run's own events are forwarded as `active_<event>` (`active_moment_changed`,
`active_snapshot_added`, …), so a panel that follows "the run shown" subscribes once, to the studio,
and never to each run it is shown in turn; `compared_metrics_added` does the same for the runs whose
curves are overlaid.
"""

from __future__ import annotations

from functools import partial

from psygnal import Signal

from vaestudio.gui.state.compare import Comparison
from vaestudio.gui.state.explorer import Executor, Explorer, Probe
from vaestudio.gui.state.latent_view import LatentView
from vaestudio.gui.state.linked_timelines import LinkedTimelines
from vaestudio.gui.state.own_images import refit_own_images
from vaestudio.gui.state.run_history import RunHistory

IDLE, WAITING, TRAINING, PAUSED, STOPPING = "idle", "waiting", "training", "paused", "stopping"
TRAINING_STATES = (IDLE, WAITING, TRAINING, PAUSED, STOPPING)
LOADING, READY, FAILED = "loading", "ready", "failed"
# RunHistory's events, each forwarded from the active run as Studio.active_<name>
FORWARDED = ("cleared", "started", "metrics_added", "epoch_ended", "hyper_changed", "snapshot_added",
             "moment_changed", "following_changed", "finished")


class Studio:
    """Everything the window shows, without the window."""

    device_changed = Signal(str)  # LOADING, READY or FAILED (read `device`, `tf_version`, `tf_error`)
    runs_changed = Signal()  # a run was opened, closed, read to its end, or stopped being trained
    live_changed = Signal(object)  # RunHistory | None: the run this window trains (see `set_live`)
    active_changed = Signal(object)  # RunHistory | None: the run the plane and the explorer show
    # the active run's events (RunHistory's, same arguments), whichever run is active
    active_cleared = Signal()
    active_started = Signal(object)  # Started
    active_metrics_added = Signal()
    active_epoch_ended = Signal(object)  # EpochEnd
    active_hyper_changed = Signal(object)  # HyperChanged
    active_snapshot_added = Signal(object)  # SnapshotInfo
    active_moment_changed = Signal(object)  # SnapshotInfo | None
    active_following_changed = Signal(bool)
    active_finished = Signal(object)  # Finished
    training_changed = Signal(str)  # one of TRAINING_STATES
    probe_changed = Signal(object)  # Probe | None: the test images of the active run
    compared_changed = Signal()  # the runs whose curves the ELBO plot overlays changed
    compared_metrics_added = Signal(object)  # RunHistory: a compared run's curves grew
    probe_set = Signal(object)  # RunHistory: the test images of a run (any, active or not) were set
    message = Signal(str, int)  # status-bar text and how long to show it (ms; 0: until replaced)
    error = Signal(str, str)  # title, one-line message: the window shows it without blocking

    def __init__(self, executor: Executor):
        self.view = LatentView()
        self.explorer = Explorer(self.view, executor)
        self.runs: list[RunHistory] = []
        self.active: RunHistory | None = None
        self.live: RunHistory | None = None  # the run this window is training
        self.training = IDLE
        self.tf_status = LOADING
        self.device = None  # core.tf.device.DeviceInfo once TensorFlow has loaded
        self.tf_version: str | None = None
        self.tf_error: str | None = None
        self.probes: dict[int, Probe] = {}  # id(history) -> its test images
        self.compared: list[RunHistory] = []  # runs whose curves are overlaid on the active run's
        # bound-method partials (psygnal holds them weakly: no cycle between runs and the studio)
        self._forwarders = {name: partial(self._forward, name) for name in FORWARDED}
        self._compared_forwarders: dict[int, partial] = {}
        self.diagnosis = None  # gui.state.diagnosis.Diagnosis once `start_diagnosis` is called (the window)
        # how compared runs are aligned (images seen, step, wall time) and the Compare view's columns
        self.comparison = Comparison(self, executor)
        self.linked_timelines = LinkedTimelines(self, self.comparison)  # the Compare view's and the main one

    # -- diagnosis -------------------------------------------------------------------------------------------
    def start_diagnosis(self, executor: Executor, post=None, long_executor: Executor | None = None, later=None):
        """Own a Diagnosis of the active run (the window's; state tests without it stay cheap): its traversal
        sheet, worst images, latent quality and collapse alarm follow the explorer from now on; each part is
        computed only while a panel shows it (Diagnosis.want). With `post` (runs a callable on the UI
        thread) and no `long_executor`, the classifier's training gets a thread of its own. With `later(seconds,
        fn)` (runs a callable on the UI thread after a while) the test-image scans are paced while this
        window's run trains (gui/state/pacing.py)."""
        from vaestudio.gui.state.diagnosis import Diagnosis  # it imports this module
        from vaestudio.gui.state.tasks import ThreadedExecutor

        if long_executor is None and post is not None:
            long_executor = ThreadedExecutor(post, "vaestudio-diagnosis")
        if self.diagnosis is None:
            self.diagnosis = Diagnosis(self, executor, post, long_executor=long_executor, on_demand=True,
                                       later=later)
        return self.diagnosis

    # -- TensorFlow and the device -------------------------------------------------------------------------
    def set_device(self, device, tf_version: str) -> None:
        self.device, self.tf_version, self.tf_status = device, tf_version, READY
        self.device_changed.emit(READY)

    def set_tensorflow_failed(self, message: str) -> None:
        self.tf_status, self.tf_error = FAILED, message
        self.device_changed.emit(FAILED)

    # -- runs -----------------------------------------------------------------------------------------------
    def add_run(self, history: RunHistory, activate: bool = True) -> None:
        """Open a run (live or from a folder); a run already open from the same folder is replaced."""
        for old in list(self.runs):
            if history.folder is not None and old.folder == history.folder and old is not history:
                self.runs.remove(old)
                self.probes.pop(id(old), None)
                if old in self.compared:
                    self._uncompare(old)
        if history not in self.runs:
            self.runs.append(history)
        self.runs_changed.emit()
        if activate:
            self.activate(history)

    def close_run(self, history: RunHistory) -> None:
        if history is self.live:
            raise ValueError("the run being trained cannot be closed; stop it first")
        if history in self.runs:
            self.runs.remove(history)
            self.probes.pop(id(history), None)
            if history in self.compared:
                self._uncompare(history)
                self.compared_changed.emit()
            self.runs_changed.emit()
            if self.active is history:
                self.activate(self.runs[-1] if self.runs else None)

    def set_compared(self, history: RunHistory, on: bool) -> None:
        """Overlay (or not) the curves of an open run on the ELBO plot."""
        if on and history in self.runs and history not in self.compared:
            self.compared.append(history)
            forwarder = self._compared_forwarders[id(history)] = partial(self._forward_compared, history)
            history.metrics_added.connect(forwarder)
        elif not on and history in self.compared:
            self._uncompare(history)
        else:
            return
        self.compared_changed.emit()

    def _uncompare(self, history: RunHistory) -> None:
        self.compared.remove(history)
        forwarder = self._compared_forwarders.pop(id(history), None)
        if forwarder is not None:
            history.metrics_added.disconnect(forwarder)

    def _forward_compared(self, history: RunHistory) -> None:
        self.compared_metrics_added.emit(history)

    def activate(self, history: RunHistory | None) -> None:
        """Explore `history`: the plane, the preview and every explorer panel show it."""
        if history is self.active and history is not None:
            return
        if self.active is not None:
            for name, forwarder in self._forwarders.items():
                getattr(self.active, name).disconnect(forwarder)
        continued = (self.active is not None and history is not None and history.folder is not None
                     and self.active.folder == history.folder and self.active.latent_dim == history.latent_dim)
        self.active = history
        self.explorer.show(None)  # the old run's pictures go first: none is redrawn for the new run's view
        if history is not None and not continued:  # a continued run keeps the view (axes, endpoints, cursor)
            self.view.reset(history.latent_dim)
        self.explorer.show(history, self.probes.get(id(history)) if history is not None else None)
        refit_own_images(self)  # own images made for another image size or colour are prepared again
        if history is not None:  # after the explorer: a new moment reaches panels once its pictures are asked for
            for name, forwarder in self._forwarders.items():
                getattr(history, name).connect(forwarder)
        self.active_changed.emit(history)
        self.probe_changed.emit(self.explorer.probe)

    def set_probe(self, history: RunHistory, probe: Probe | None) -> None:
        """The test images of a run have been loaded (they come with its dataset)."""
        if probe is None:
            self.probes.pop(id(history), None)
        else:
            self.probes[id(history)] = probe
            history.class_names = probe.class_names
        self.probe_set.emit(history)
        if history is self.active:
            self.explorer.set_probe(probe)
            self.probe_changed.emit(probe)

    def _forward(self, name: str, *args) -> None:
        getattr(self, f"active_{name}").emit(*args)

    def set_live(self, history: RunHistory | None) -> None:
        """The run this window trains (None: training ended; the run that was live is read-only now)."""
        if history is self.live:
            return
        if self.live is not None:
            self.live.live = False
        self.live = history
        if history is not None:
            history.live = True
        self.live_changed.emit(history)
        self.runs_changed.emit()

    def run_read(self, history: RunHistory) -> None:
        """A run's folder has been read to its end (its summary in the runs list changed)."""
        if history in self.runs:
            self.runs_changed.emit()

    # -- training ---------------------------------------------------------------------------------------
    def set_training(self, state: str) -> None:
        if state not in TRAINING_STATES:
            raise ValueError(f"unknown training state {state!r}")
        if state != self.training:
            self.training = state
            self.training_changed.emit(state)

    @property
    def is_training(self) -> bool:
        return self.training != IDLE

    def say(self, text: str, milliseconds: int = 0) -> None:
        self.message.emit(text, milliseconds)

    def report(self, title: str, message: str) -> None:
        self.error.emit(title, message)
