"""Running work off the UI thread and getting what it reports back onto it, in the one task life-cycle
of gui/state/tasks.py (status, progress, partial results, cancel; a new task of a key cancels the old).

`QtExecutor` runs tasks on a small private thread pool and calls their callbacks on the UI thread: a
burst of requests of one key (scrubbing the timeline, dragging a slider) costs one computation, not a
queue, and a running task of that key stops at its next check. Tasks of its `background_keys` (the
test-image scans, a second or more each) run on a second pool, so they never hold a thread that the
pictures the user waits for need. `TaskThread` runs one task on a thread of
its own: the long-running producers (training, replaying a run) and the TensorFlow import.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, QTimer, Signal, Slot

from vaestudio.gui.state.tasks import DONE, FAILED, Callbacks, KeyedTasks, TaskState, describe_error, plain, run_work

__all__ = ["QtExecutor", "TaskThread", "StreamThread", "describe_error", "collect_cycles_here",
           "yield_cpu_to_the_window", "TRAINING_NICENESS"]


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


POOL_NICENESS = 2  # the pool's threads: below the UI thread (it must not wait for them) and a step below training
BACKGROUND_NICENESS = POOL_NICENESS  # the background pool's. Below training (+8) the self-test's scrub p95 was
# 32-125 ms against 27-40 ms at +2 (4 alternated rounds, load 0.7-2): a scan thread preempted by training while it
# holds the interpreter lock keeps the UI thread and the pictures waiting for it



class _Relay(QObject):
    report = Signal(int, str, object)  # task id, kind (partial, progress, status, done, error, ended), value


class _Runnable(QRunnable):
    def __init__(self, task_id: int, task: TaskState, work: Callable[[TaskState], Any], relay: _Relay,
                 niceness: int):
        super().__init__()
        self.task_id, self.task, self.work, self.relay, self.niceness = task_id, task, work, relay, niceness
        self.setAutoDelete(False)  # the executor keeps it until it has ended, so tryTake stays safe

    def run(self) -> None:
        keep_thread_below_the_window(self.niceness)
        stage, value = run_work(self.task, self.work)
        kind = {DONE: "done", FAILED: "error"}.get(stage, "ended")
        _send(self.relay, self.task_id, kind, value)


def _send(relay: _Relay, task_id: int, kind: str, value: Any) -> None:
    try:
        relay.report.emit(task_id, kind, value)
    except RuntimeError:  # the window closed while this task ran: nobody is left to tell
        pass


class QtExecutor(QObject):
    """Runs tasks on a private pool; callbacks run on the thread that owns the executor (the UI).

    Tasks whose key is one of `background_keys` run on a second pool of `threads` threads: they neither
    wait for the others nor hold up their threads."""

    def __init__(self, parent: QObject | None = None, threads: int = 2, background_keys: tuple[str, ...] = ()):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._background_keys = frozenset(background_keys)
        self._background_pool = QThreadPool(self)
        self._background_pool.setMaxThreadCount(threads)
        self._relay = _Relay(self)
        self._relay.report.connect(self._deliver)
        self._next_id = 0
        self._pending: dict[int, tuple[_Runnable, Callbacks]] = {}
        self._soon_calls: deque[tuple[int, Callable[[], None]]] = deque()  # (round, fn) not yet run
        self._round = 0  # wait() drops the call_soon calls made before it
        self._keyed = KeyedTasks()

    def start(self, work: Callable[[TaskState], Any], on_done: Callable[[Any], None] | None = None,
              on_error: Callable[[str], None] | None = None, key: str | None = None,
              on_partial: Callable[[Any], None] | None = None,
              on_progress: Callable[[float, float], None] | None = None,
              on_status: Callable[[str], None] | None = None) -> TaskState:
        """Run `work(task)` on the pool (see gui/state/tasks.py for the life-cycle); its TaskState."""
        self._next_id += 1
        task_id = self._next_id
        task = TaskState(key, lambda kind, value: _send(self._relay, task_id, kind, value))
        replaced = self._keyed.replace(task)
        if replaced is not None:
            self._drop_if_queued(replaced)
        background = key in self._background_keys
        runnable = _Runnable(task_id, task, work, self._relay, BACKGROUND_NICENESS if background else POOL_NICENESS)
        self._pending[task_id] = (runnable, Callbacks(on_done, on_error, on_partial, on_progress, on_status))
        (self._background_pool if background else self._pool).start(runnable)
        return task

    def submit(self, fn: Callable[[], Any], on_done: Callable[[Any], None],
               on_error: Callable[[str], None] | None = None, key: str | None = None) -> TaskState:
        """Run `fn()` (which takes no task) on the pool."""
        return self.start(plain(fn), on_done, on_error, key)

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run `fn()` on this executor's thread at a later turn of its event loop (busy() until then). The
        calls run in order, one per turn: what is ready at once (a moment's kept pictures) reaches the panels
        one part per turn, and the cursor, the clock and each part's repaint get the UI thread in between
        (posted all at once, they ran in one turn: 40-100 ms for a step back to a moment seen)."""
        self._soon_calls.append((self._round, fn))
        if len(self._soon_calls) == 1:
            QTimer.singleShot(1, self, self._run_one_soon)

    def _run_one_soon(self) -> None:
        round_, fn = self._soon_calls.popleft()
        if self._soon_calls:  # posted before fn runs, so it comes after what fn posts (its repaint)
            QTimer.singleShot(1, self, self._run_one_soon)
        if round_ == self._round:
            fn()

    def busy(self, ignoring: tuple[str, ...] = ()) -> bool:
        """Whether a task (other than those of the keys `ignoring`) or a call_soon call is still to come."""
        if self._soon_calls:
            return True
        return any(runnable.task.key is None or runnable.task.key not in ignoring
                   for runnable, _callbacks in self._pending.values())

    def wait(self, timeout_ms: int = -1) -> bool:
        """Cancel every task (queued ones are dropped, running ones stop at their next check) and wait for the
        running ones to end; no callback is called."""
        for runnable, _callbacks in self._pending.values():
            runnable.task.cancel()
        self._keyed.cancel_all()
        self._pool.clear()
        self._background_pool.clear()
        if timeout_ms < 0:
            done = self._pool.waitForDone(-1) and self._background_pool.waitForDone(-1)
        else:
            deadline = time.monotonic() + timeout_ms / 1000.0
            done = self._pool.waitForDone(timeout_ms)
            left = max(0, int((deadline - time.monotonic()) * 1000.0))
            done = self._background_pool.waitForDone(left) and done
        self._pending.clear()
        self._round += 1
        return done

    def _drop_if_queued(self, task: TaskState) -> None:
        for task_id, (runnable, _callbacks) in list(self._pending.items()):
            if runnable.task is task and (self._pool.tryTake(runnable) or self._background_pool.tryTake(runnable)):
                # not started yet: dropped
                del self._pending[task_id]

    @Slot(int, str, object)
    def _deliver(self, task_id: int, kind: str, value: Any) -> None:
        entry = self._pending.get(task_id)
        if entry is None:
            return
        runnable, callbacks = entry
        if kind in ("done", "error", "ended"):
            del self._pending[task_id]
            self._keyed.forget(runnable.task)
            if kind == "ended":
                return
        callbacks.deliver(runnable.task, kind, value)


# -- long-running producers -------------------------------------------------------------------------------

TRAINING_NICENESS = 1  # how much lower than the UI thread training threads run: the UI thread wins a core
# when it wakes, while other programs do not crowd training out. At +5, with one busy loop per core beside
# the window (nice 0), training got 0.52-0.60 cores against 0.91-0.93 headless (x0.39-0.42 of headless); at 0,
# x0.92, the UI's stalls alike (70-75 ms longest, drag p95 11-13 ms; benchmarks/RESULTS.md, sixth round)


def yield_cpu_to_the_window() -> None:
    """Lower the calling thread's CPU priority, so the UI thread gets a core the moment it wakes.

    Linux keeps a nice value per thread and new threads inherit it, so TensorFlow's thread pools,
    started from a lowered thread, also give way. Elsewhere this does nothing.
    """
    lower_thread_priority(TRAINING_NICENESS)


def keep_thread_below_the_window(by: int) -> None:
    """Make the calling thread's nice value at least the window's (the process's at start) + `by` (Linux).

    A syscall or two per call: pool threads call it before each task (Qt threads keep no Python
    thread-locals between calls, and a pool thread may be new)."""
    import os
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        thread = threading.get_native_id()
        wanted = min(19, _WINDOW_NICENESS + by)
        if os.getpriority(os.PRIO_PROCESS, thread) < wanted:
            os.setpriority(os.PRIO_PROCESS, thread, wanted)
    except OSError:
        pass


def _niceness_now() -> int:
    import os

    try:
        return os.getpriority(os.PRIO_PROCESS, 0)
    except (OSError, AttributeError):
        return 0


_WINDOW_NICENESS = _niceness_now()  # the importing (UI) thread's


def lower_thread_priority(by: int) -> None:
    """Raise the calling thread's nice value by `by` (Linux; elsewhere nothing). Threads it starts inherit it."""
    import os
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        thread = threading.get_native_id()
        niceness = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, niceness + by))
    except OSError:
        pass


class TaskThread(QThread):
    """Runs one task (gui/state/tasks.py) on a thread of its own: a long-running producer or an import.

    The work is `produce()`, taking no task: a generator's items are handed to the UI thread in lists
    (`items`), each at once when `batch_seconds` is 0 (training events), otherwise gathered for that long
    (replaying a long run: the curves grow a few times a second, not per row). `cancel()` stops the task
    at its next check (a generator: before its next item) and closes the generator in this thread (its
    `finally` blocks run here). Signals: `items(list)`, `done(result)`, `failed(str)`, and `ended()`
    always last.
    """

    items = Signal(object)
    done = Signal(object)
    failed = Signal(str)
    ended = Signal()

    def __init__(self, produce: Callable[[], Any], name: str, batch_seconds: float = 0.0, lower_priority: bool = False,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.setObjectName(name)
        self._produce = produce
        self._batch_seconds = batch_seconds
        self._lower_priority = lower_priority
        self.task = TaskState(name, self._relay)

    def cancel(self) -> None:
        self.task.cancel()

    @property
    def cancelled(self) -> bool:
        return self.task.cancelled

    def _relay(self, kind: str, value: Any) -> None:
        if kind == "partial":
            self.items.emit(value if self._batch_seconds > 0 else [value])

    def run(self) -> None:
        if self._lower_priority:
            yield_cpu_to_the_window()
        stage, value = run_work(self.task, lambda _task: self._produce(), self._batch_seconds)
        if stage == DONE:
            self.done.emit(value)
        elif stage == FAILED:
            self.failed.emit(value)
        self.ended.emit()


StreamThread = TaskThread  # the name the training and replay controllers use
