"""Running work off the UI thread and getting the results back onto it.

`QtExecutor` runs callables on a small private thread pool and calls `on_done` / `on_error` on the UI
thread. A task submitted with a `key` replaces a queued task of the same key that has not started yet,
so a burst of requests (scrubbing the timeline, dragging a slider) costs one computation, not a queue.
"""

from __future__ import annotations

import threading
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal, Slot

from vaestudio.core.errors import VaeStudioError


def collect_cycles_here() -> None:
    """Collect reference cycles now, on the calling thread.

    Keras models live in reference cycles. Left to the collector, they were freed at a random moment on a
    random thread: on the UI thread while a run trained, TensorFlow deadlocked; on a training thread (a
    QThread), freeing Qt objects of closed windows waited forever for the interpreter lock it held. So
    cycles are collected where that is safe: a Keras model dropped in a worker, in that worker; an ended
    run's, on the UI thread while no run trains; closed windows' (tests), on the UI thread.
    """
    import gc

    gc.collect()


def describe_error(exc: BaseException) -> str:
    """User errors keep their one-line message; anything else also names its type."""
    if isinstance(exc, VaeStudioError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class _Relay(QObject):
    result = Signal(int, object, object)  # task id, value, error message or None


class _Task(QRunnable):
    def __init__(self, task_id: int, fn: Callable[[], Any], relay: _Relay):
        super().__init__()
        self.task_id, self.fn, self.relay = task_id, fn, relay
        self.setAutoDelete(False)  # the executor keeps it until delivered, so tryTake stays safe

    def run(self) -> None:
        try:
            value, error = self.fn(), None
        except Exception as exc:  # noqa: BLE001 - every failure is reported on the UI thread
            if not isinstance(exc, VaeStudioError):
                traceback.print_exc()
            value, error = None, describe_error(exc)
        try:
            self.relay.result.emit(self.task_id, value, error)
        except RuntimeError:  # the window closed while this task ran: nobody is left to tell
            pass


class QtExecutor(QObject):
    """Runs callables on a private pool; callbacks run on the thread that owns the executor (the UI)."""

    def __init__(self, parent: QObject | None = None, threads: int = 2):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._relay = _Relay(self)
        self._relay.result.connect(self._deliver)
        self._lock = threading.Lock()
        self._next_id = 0
        self._pending: dict[int, tuple[_Task, Callable, Callable | None]] = {}
        self._queued_by_key: dict[str, int] = {}

    def submit(self, fn: Callable[[], Any], on_done: Callable[[Any], None],
               on_error: Callable[[str], None] | None = None, key: str | None = None) -> int:
        self._next_id += 1
        task_id = self._next_id
        if key is not None:
            previous = self._queued_by_key.get(key)
            if previous is not None and previous in self._pending:
                task = self._pending[previous][0]
                if self._pool.tryTake(task):  # not started yet: drop it
                    del self._pending[previous]
            self._queued_by_key[key] = task_id
        task = _Task(task_id, fn, self._relay)
        self._pending[task_id] = (task, on_done, on_error)
        self._pool.start(task)
        return task_id

    def busy(self) -> bool:
        return bool(self._pending)

    def wait(self, timeout_ms: int = -1) -> bool:
        """Drop queued tasks and wait for the running ones to end (callbacks are not called)."""
        self._pool.clear()
        done = self._pool.waitForDone(timeout_ms)
        self._pending.clear()
        return done

    @Slot(int, object, object)
    def _deliver(self, task_id: int, value: Any, error: str | None) -> None:
        entry = self._pending.pop(task_id, None)
        if entry is None:
            return
        _task, on_done, on_error = entry
        if error is None:
            on_done(value)
        elif on_error is not None:
            on_error(error)


# -- long-running producers -------------------------------------------------------------------------------

TRAINING_NICENESS = 5  # how much lower than the UI thread training threads run


def yield_cpu_to_the_window() -> None:
    """Lower the calling thread's CPU priority, so the UI thread gets a core the moment it wakes.

    Linux keeps a nice value per thread and new threads inherit it, so TensorFlow's thread pools,
    started from a lowered thread, also give way. Elsewhere this does nothing.
    """
    import os
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        thread = threading.get_native_id()
        niceness = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, niceness + TRAINING_NICENESS))
    except OSError:
        pass


class StreamThread(QThread):
    """Iterates `produce()` (a generator) in its own thread and hands its items to the UI thread in lists.

    With `batch_seconds` = 0 every item is sent at once (training events); otherwise items are gathered
    for that long (replaying a long run: the curves grow a few times a second, not per row). `cancel()`
    closes the generator in its own thread after the item being handled (its `finally` blocks run there).
    Signals: `items(list)`, `failed(str)`, and `ended()` always last.
    """

    items = Signal(object)
    failed = Signal(str)
    ended = Signal()

    def __init__(self, produce: Callable[[], Any], name: str, batch_seconds: float = 0.0, lower_priority: bool = False,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.setObjectName(name)
        self._produce = produce
        self._batch_seconds = batch_seconds
        self._lower_priority = lower_priority
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def run(self) -> None:
        import time

        if self._lower_priority:
            yield_cpu_to_the_window()
        batch: list = []
        sent = time.monotonic()
        generator = None
        try:
            generator = self._produce()
            for item in generator:
                batch.append(item)
                now = time.monotonic()
                if self._batch_seconds <= 0 or now - sent >= self._batch_seconds:
                    self.items.emit(batch)
                    batch, sent = [], now
                if self._cancelled.is_set():
                    break
            if batch:
                self.items.emit(batch)
        except Exception as exc:  # noqa: BLE001 - a failure is reported in the window, never raised into Qt
            if batch:
                self.items.emit(batch)
            if not isinstance(exc, VaeStudioError):
                traceback.print_exc()
            self.failed.emit(describe_error(exc))
        finally:
            if generator is not None and hasattr(generator, "close"):
                try:
                    generator.close()  # runs the producer's finally blocks (locks, files) in this thread
                except Exception as exc:  # noqa: BLE001
                    self.failed.emit(describe_error(exc))
            self.ended.emit()
