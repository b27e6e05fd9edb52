"""The window's state as a whole: TensorFlow and the device, the runs that are open, the one being
explored, whether training runs, and what the status bar says.

Qt-free and evented. Panels read it and subscribe to its signals; controllers (training, files) change
it; nothing here knows about widgets. Model-to-model wiring (the active run to the explorer) is done
here, so it is testable without a window.
"""

from __future__ import annotations

from psygnal import Signal

from vaestudio.gui.state.explorer import Executor, Explorer, Probe
from vaestudio.gui.state.latent_view import LatentView
from vaestudio.gui.state.run_history import RunHistory

IDLE, WAITING, TRAINING, PAUSED, STOPPING = "idle", "waiting", "training", "paused", "stopping"
TRAINING_STATES = (IDLE, WAITING, TRAINING, PAUSED, STOPPING)
LOADING, READY, FAILED = "loading", "ready", "failed"


class Studio:
    """Everything the window shows, without the window."""

    device_changed = Signal(str)  # LOADING, READY or FAILED (read `device`, `tf_version`, `tf_error`)
    runs_changed = Signal()  # a run was opened or closed
    active_changed = Signal(object)  # RunHistory | None: the run the plane and the explorer show
    training_changed = Signal(str)  # one of TRAINING_STATES
    probe_changed = Signal(object)  # Probe | None: the test images of the active run
    compared_changed = Signal()  # the runs whose curves the ELBO plot overlays changed
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
                    self.compared.remove(old)
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
                self.compared.remove(history)
                self.compared_changed.emit()
            self.runs_changed.emit()
            if self.active is history:
                self.activate(self.runs[-1] if self.runs else None)

    def set_compared(self, history: RunHistory, on: bool) -> None:
        """Overlay (or not) the curves of an open run on the ELBO plot."""
        if on and history in self.runs and history not in self.compared:
            self.compared.append(history)
        elif not on and history in self.compared:
            self.compared.remove(history)
        else:
            return
        self.compared_changed.emit()

    def activate(self, history: RunHistory | None) -> None:
        """Explore `history`: the plane, the preview and every explorer panel show it."""
        if history is self.active and history is not None:
            return
        self.active = history
        if history is not None:
            self.view.reset(history.latent_dim)
        self.explorer.show(history, self.probes.get(id(history)) if history is not None else None)
        self.active_changed.emit(history)
        self.probe_changed.emit(self.explorer.probe)

    def set_probe(self, history: RunHistory, probe: Probe | None) -> None:
        """The test images of a run have been loaded (they come with its dataset)."""
        if probe is None:
            self.probes.pop(id(history), None)
        else:
            self.probes[id(history)] = probe
            history.class_names = probe.class_names
        if history is self.active:
            self.explorer.set_probe(probe)
            self.probe_changed.emit(probe)

    def probe_of(self, history: RunHistory | None) -> Probe | None:
        return self.probes.get(id(history)) if history is not None else None

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
