"""A closing window's writer: a thread at the window's priority that writes the training run's final files.

The training thread runs at a lower priority (gui/threads.py yield_cpu_to_the_window) and an unprivileged
thread cannot raise it again (Linux: RLIMIT_NICE is 0 for users), so on a busy machine its final writes
took their turn behind every other program. Threads inherit the priority of the thread that starts them:
this one is started by the UI thread, and the training thread hands it the writes (core.runs.Run
.write_final_files_with) and waits.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from typing import Any, Callable

__all__ = ["WindowPriorityWriter"]


class WindowPriorityWriter:
    """Runs the callables handed to it (from any thread) one at a time on its own thread, started at the
    starting thread's priority. Call it as `writer(fn)`: fn's result, or fn's error raised in the caller."""

    def __init__(self, name: str = "vaestudio-final-writes"):
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()  # now, from this thread: started by the caller of __call__, it would run at its priority

    def __call__(self, fn: Callable[[], Any]) -> Any:
        if self._closed:  # its thread has ended: in the caller's thread
            return fn()
        result: Future = Future()
        self._jobs.put((fn, result))
        return result.result()

    def close(self) -> None:
        """End the thread once the writes handed to it are done; later ones run in the caller's thread."""
        self._closed = True
        self._jobs.put(None)

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, result = job
            try:
                result.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - raised again in the caller
                result.set_exception(exc)
