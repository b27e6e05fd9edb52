"""Running work off the UI thread and getting the results back onto it.

`QtExecutor` runs callables on a small private thread pool and calls `on_done` / `on_error` on the UI
thread. A task submitted with a `key` replaces a queued task of the same key that has not started yet,
so a burst of requests (scrubbing the timeline, dragging a slider) costs one computation, not a queue.
"""

from __future__ import annotations

import threading
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from vaestudio.core.errors import VaeStudioError


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
        self.relay.result.emit(self.task_id, value, error)


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
