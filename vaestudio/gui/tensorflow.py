"""The one TensorFlow loader of the window: everything that needs TensorFlow waits for it.

TensorFlow is imported once, in a background task on a thread of its own started after the window shows
(the window is up in well under a second; the import takes several). Anything that needs TensorFlow —
training, opening or saving a `.keras` model, the IWAE estimate — asks `when_ready(action)`: the action
runs on the UI thread as soon as the import has finished, or at once if it already has. Two imports
racing each other broke TensorFlow for the whole session (issue 9 #6: "Registering two gradient …
ReduceDataset"), so nothing else in the window imports it.

Once loaded, the window launched as the app (`prepare_training_ahead`) has the training of the settings shown
prepared in the background (core.tf.prepare: the model and its compiled steps), so that Start trains within
seconds; a run with other settings builds its own.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject

from vaestudio.gui.state.studio import FAILED, READY, Studio
from vaestudio.gui.threads import TaskThread


def import_tensorflow_for_the_window(cpu_only: bool, split_cpu: int = 1) -> tuple:
    """Import TensorFlow and what training and model files need, and find the device (the loader's task,
    on its own thread): (DeviceInfo, TensorFlow version)."""
    from vaestudio.core.tf.quiet import import_tensorflow

    tf = import_tensorflow()
    from vaestudio.core.tf.device import detect_device

    info = detect_device(cpu_only=cpu_only)
    if not info.is_gpu and split_cpu > 1:  # only possible before TensorFlow starts its devices
        from vaestudio.core.tf.device import split_cpu as split

        split(split_cpu, tf)
    # Import what training and model files need now, not when Start is pressed: an import holds the
    # interpreter for long stretches, which would freeze the window mid-run.
    import vaestudio.core.tf.model  # noqa: F401
    import vaestudio.core.tf.model_file  # noqa: F401
    import vaestudio.core.tf.objective  # noqa: F401
    import vaestudio.core.tf.prepare  # noqa: F401
    import vaestudio.core.tf.trainer  # noqa: F401
    return info, str(tf.__version__)


class TensorFlowLoader(QObject):
    """Loads TensorFlow once and runs what waits for it; the result goes into `studio` (device, version)."""

    def __init__(self, studio: Studio, parent: QObject | None = None):
        super().__init__(parent)
        self.studio = studio
        self._thread: TaskThread | None = None
        self._waiting: list[tuple[Callable[[], None], Callable[[str], None] | None]] = []
        self.settings: Callable[[], tuple[bool, int]] | None = None  # (cpu only, logical CPU devices)
        # The config Start would train now (None: nothing to prepare); its steps are built and compiled in the
        # background once TensorFlow is loaded, so that Start trains within seconds (core.tf.prepare).
        self.training_config: Callable[[], object | None] | None = None

    @property
    def started(self) -> bool:
        return self._thread is not None

    @property
    def ready(self) -> bool:
        return self.studio.tf_status == READY

    @property
    def loading(self) -> bool:
        return self._thread is not None and self.studio.tf_status not in (READY, FAILED)

    def start(self, cpu_only: bool | None = None, split_cpu: int | None = None) -> None:
        """Begin the import (once; later calls do nothing). Without a GPU, `split_cpu` > 1 splits the CPU
        into that many logical devices (the window's device setting, which TensorFlow allows only now).
        Arguments left out come from `settings()`, which the window sets (also used when something that
        needs TensorFlow starts the import early)."""
        if self._thread is not None:
            return
        default_cpu_only, default_split = self.settings() if self.settings is not None else (False, 1)
        cpu_only = default_cpu_only if cpu_only is None else cpu_only
        split_cpu = default_split if split_cpu is None else split_cpu
        # TensorFlow's thread pools start in this thread and inherit its lower priority.
        self._thread = TaskThread(lambda: import_tensorflow_for_the_window(cpu_only, split_cpu),
                                  "vaestudio-tensorflow-loader", lower_priority=True, parent=self)
        self._thread.done.connect(self._on_loaded)
        self._thread.failed.connect(self._on_failed)
        self._thread.start()

    def when_ready(self, action: Callable[[], None], on_failed: Callable[[str], None] | None = None) -> bool:
        """Run `action` once TensorFlow is loaded (now, if it is); `on_failed(message)` if it cannot load.
        Returns True when the action ran at once."""
        if self.studio.tf_status == READY:
            action()
            return True
        if self.studio.tf_status == FAILED:
            if on_failed is not None:
                on_failed(self.studio.tf_error or "TensorFlow could not be loaded")
            return False
        self._waiting.append((action, on_failed))
        self.start()
        return False

    def forget_waiting(self) -> None:
        """Drop the actions still waiting (the window is closing, or the user cancelled)."""
        self._waiting.clear()

    def wait(self, timeout_ms: int = -1) -> bool:
        """Wait for the import thread to end (an import cannot be interrupted)."""
        if self._thread is None:
            return True
        return self._thread.wait() if timeout_ms < 0 else self._thread.wait(timeout_ms)

    def _on_loaded(self, loaded: tuple) -> None:
        info, version = loaded
        self.studio.set_device(info, version)
        waiting, self._waiting = self._waiting, []
        for action, _ in waiting:
            action()
        self._prepare_training()

    def _prepare_training(self) -> None:
        """Start preparing the training of the config Start would train (its own thread, at a lower priority:
        the UI thread never calls TensorFlow)."""
        try:
            config = self.training_config() if self.training_config is not None else None
        except Exception:  # noqa: BLE001  a head start only: never a reason for the loader to fail
            config = None
        if config is not None:
            from vaestudio.core.tf.prepare import start_preparing
            from vaestudio.gui.threads import yield_cpu_to_the_window

            start_preparing(config, first=yield_cpu_to_the_window)

    def _on_failed(self, message: str) -> None:
        self.studio.set_tensorflow_failed(message)
        waiting, self._waiting = self._waiting, []
        for _, on_failed in waiting:
            if on_failed is not None:
                on_failed(message)
