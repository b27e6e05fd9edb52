"""One life-cycle for every piece of work done off the UI thread (Qt-free).

A task is a work function given a `TaskState`. Through it the work reports its status line, its progress
and partial results, and asks between chunks whether it should go on: `task.check()` raises `Cancelled`
once the task has been cancelled, so cancelling stops running work, not only work still queued. Work may
also be a generator: each value it yields is a partial result, and the task is checked between yields
(the long-running producers, training and replay, are such generators). What the work returns is the
result.

An executor runs tasks and calls the owner back (on the owner's thread): `on_partial(value)`,
`on_progress(done, total)`, `on_status(text)` while the task runs, then exactly one of `on_done(result)` or
`on_error(one line)` — or neither when the task was cancelled. Starting a task with the `key` of one
that has not ended cancels that one: its result is never delivered. `submit(fn, on_done, on_error,
key)` runs a plain function that takes no task (it cannot be stopped while it runs, but its result is
dropped once a newer task of its key starts).

Executors: `InlineExecutor` runs each task at once in the calling thread (tests and the self-test's
checks); `ThreadedExecutor` runs each on a daemon thread of its own (long tasks: the IWAE estimate) and delivers
its callbacks through a `post` function the owner hands in (or when the owner calls `deliver()`);
gui/threads.py `QtExecutor` runs tasks on a Qt thread pool and delivers on the UI thread, and its
`TaskThread` runs one task on a QThread of its own (training, replay, the TensorFlow import).
"""

from __future__ import annotations

import inspect
import queue
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from vaestudio.core.errors import Cancelled, VaeStudioError

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
ENDED = (DONE, FAILED, CANCELLED)


__all__ = ["Cancelled", "TaskState", "Callbacks", "run_work", "plain", "Executor", "KeyedTasks", "InlineExecutor",
           "ThreadedExecutor", "describe_error", "QUEUED", "RUNNING", "DONE", "FAILED", "CANCELLED"]


def describe_error(exc: BaseException) -> str:
    """User errors keep their one-line message; anything else also names its type."""
    if isinstance(exc, VaeStudioError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class TaskState:
    """One task's life-cycle, shared by its work (any thread) and its owner (the thread that started it).

    `stage` is queued, running, done, failed or cancelled; `status`, `progress` ((done, total), None
    while unknown) and `partial` (the last partial result) are what the work last reported. The work
    reports through `set_status`, `set_progress` and `set_partial`, and calls `check()` between chunks.
    """

    def __init__(self, key: str | None = None, report: Callable[[str, Any], None] | None = None):
        self.key = key
        self.stage = QUEUED
        self.status = ""
        self.progress: tuple[float, float] | None = None
        self.partial: Any = None
        self._report = report  # (kind, value) -> None: hands a report to the executor (any thread)
        self._cancelled = threading.Event()
        self.finished = threading.Event()  # set once the work has returned, or will never run

    # -- the work's side ----------------------------------------------------------------------------------
    def set_status(self, text: str) -> None:
        self.status = text
        self._emit("status", text)

    def set_progress(self, done: float, total: float = 1.0) -> None:
        """`done` of `total` (batches, images, ...; a fraction when `total` is left at 1)."""
        self.progress = (done, total)
        self._emit("progress", self.progress)

    @property
    def fraction(self) -> float | None:
        """The progress as a fraction in [0, 1] (None while unknown)."""
        if self.progress is None:
            return None
        done, total = self.progress
        return min(max(done / total, 0.0), 1.0) if total > 0 else 0.0

    def set_partial(self, value: Any) -> None:
        self.partial = value
        self._emit("partial", value)

    def check(self) -> None:
        """Raise `Cancelled` (core.errors', which the IWAE estimate raises too) when the task has been
        cancelled: call it between chunks of work. The executor swallows it."""
        if self._cancelled.is_set():
            raise Cancelled(self.key or "task")

    # -- the owner's side ---------------------------------------------------------------------------------
    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def ended(self) -> bool:
        return self.stage in ENDED

    def cancel(self) -> None:
        """Stop the task: its work stops at its next check, and nothing more of it is delivered."""
        self._cancelled.set()
        if self.stage == QUEUED:
            self.stage = CANCELLED

    def wait_cancelled(self, seconds: float) -> bool:
        """Sleep up to `seconds` in the work, waking at once when cancelled; True when cancelled."""
        return self._cancelled.wait(seconds)

    def _emit(self, kind: str, value: Any) -> None:
        if self._report is not None and not self.cancelled:
            self._report(kind, value)


@dataclass
class Callbacks:
    """What the owner is told of one task (all called on the owner's thread)."""

    on_done: Callable[[Any], None] | None = None
    on_error: Callable[[str], None] | None = None
    on_partial: Callable[[Any], None] | None = None
    on_progress: Callable[[float, float], None] | None = None  # (done, total)
    on_status: Callable[[str], None] | None = None

    def deliver(self, task: TaskState, kind: str, value: Any) -> None:
        """Call the callback for `kind` unless the task was cancelled (its reports are then dropped)."""
        if task.cancelled:
            return
        callback = {"done": self.on_done, "error": self.on_error, "partial": self.on_partial,
                    "progress": self.on_progress, "status": self.on_status}[kind]
        if callback is None:
            return
        if kind == "progress":
            callback(*value)
        else:
            callback(value)


def run_work(task: TaskState, work: Callable[[TaskState], Any], batch_seconds: float = 0.0
             ) -> tuple[str, Any]:
    """Run `work(task)` in the calling thread: (stage, result or one-line error). When the work returns a
    generator, its yields are partial results (gathered into lists for `batch_seconds` when that is > 0);
    it is checked between yields and closed in this thread however it ends (its `finally` blocks run
    here), and what it returns is the result."""
    try:
        return _run(task, work, batch_seconds)
    finally:
        task.finished.set()


def _run(task: TaskState, work: Callable[[TaskState], Any], batch_seconds: float) -> tuple[str, Any]:
    if task.cancelled:
        task.stage = CANCELLED
        return CANCELLED, None
    task.stage = RUNNING
    try:
        outcome = work(task)
        if inspect.isgenerator(outcome):
            outcome = _run_generator(task, outcome, batch_seconds)
        task.check()
    except Cancelled:
        task.stage = CANCELLED
        return CANCELLED, None
    except Exception as exc:  # noqa: BLE001 - every failure is reported to the owner, never raised into Qt
        if not isinstance(exc, VaeStudioError):
            traceback.print_exc()
        task.stage = FAILED
        return FAILED, describe_error(exc)
    task.stage = DONE
    return DONE, outcome


def _run_generator(task: TaskState, generator, batch_seconds: float) -> Any:
    batch: list = []
    sent = time.monotonic()
    try:
        while True:
            task.check()
            try:
                item = next(generator)
            except StopIteration as stop:
                return stop.value
            if batch_seconds <= 0:
                task.set_partial(item)
                continue
            batch.append(item)
            now = time.monotonic()
            if now - sent >= batch_seconds:
                task.set_partial(batch)
                batch, sent = [], now
    finally:
        if batch:
            task.set_partial(batch)
        generator.close()


def plain(fn: Callable[[], Any]) -> Callable[[TaskState], Any]:
    """A function that takes no task, as work."""
    return lambda _task: fn()


class Executor(Protocol):
    """What the state asks of an executor (InlineExecutor, ThreadedExecutor, gui/threads.py QtExecutor)."""

    def start(self, work: Callable[[TaskState], Any], on_done: Callable[[Any], None] | None = None,
              on_error: Callable[[str], None] | None = None, key: str | None = None, **callbacks) -> TaskState: ...

    def submit(self, fn: Callable[[], Any], on_done: Callable[[Any], None],
               on_error: Callable[[str], None] | None = None, key: str | None = None) -> Any: ...


class KeyedTasks:
    """The tasks of an executor not yet ended, by key: starting one cancels the one it replaces."""

    def __init__(self):
        self._by_key: dict[str, TaskState] = {}

    def replace(self, task: TaskState) -> TaskState | None:
        """Register `task` under its key; the task it replaces (cancelled here), if any."""
        if task.key is None:
            return None
        previous = self._by_key.get(task.key)
        self._by_key[task.key] = task
        if previous is not None and not previous.ended:
            previous.cancel()
            return previous
        return None

    def forget(self, task: TaskState) -> None:
        if task.key is not None and self._by_key.get(task.key) is task:
            del self._by_key[task.key]

    def cancel_all(self) -> None:
        for task in list(self._by_key.values()):
            task.cancel()
        self._by_key.clear()


class InlineExecutor:
    """Runs each task at once in the calling thread (tests, and the self-test's checks)."""

    @property
    def _keyed(self) -> KeyedTasks:  # made on first use: subclasses need not call __init__
        return self.__dict__.setdefault("_keyed_tasks", KeyedTasks())

    def start(self, work: Callable[[TaskState], Any], on_done: Callable[[Any], None] | None = None,
              on_error: Callable[[str], None] | None = None, key: str | None = None,
              on_partial: Callable[[Any], None] | None = None,
              on_progress: Callable[[float, float], None] | None = None,
              on_status: Callable[[str], None] | None = None, batch_seconds: float = 0.0) -> TaskState:
        callbacks = Callbacks(on_done, on_error, on_partial, on_progress, on_status)
        task = TaskState(key)
        task._report = lambda kind, value: callbacks.deliver(task, kind, value)
        self._keyed.replace(task)
        stage, value = run_work(task, work, batch_seconds)
        self._keyed.forget(task)
        if stage != CANCELLED:
            callbacks.deliver(task, "done" if stage == DONE else "error", value)
        return task

    def submit(self, fn: Callable[[], Any], on_done: Callable[[Any], None],
               on_error: Callable[[str], None] | None = None, key: str | None = None) -> TaskState:
        return self.start(plain(fn), on_done, on_error, key)


class ThreadedExecutor:
    """Runs each task on a daemon thread of its own (a long task must neither hold a shared pool nor keep
    the process alive when the window goes). Its callbacks reach the owner through `post(fn)`, which runs
    `fn` on the owner's thread (the window hands in a Qt relay); without `post` they wait in a queue until
    the owner calls `deliver()`."""

    def __init__(self, post: Callable[[Callable[[], None]], None] | None = None, name: str = "vaestudio-task"):
        self._keyed = KeyedTasks()
        self._inbox: queue.Queue = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._post, self._name = post, name

    def start(self, work: Callable[[TaskState], Any], on_done: Callable[[Any], None] | None = None,
              on_error: Callable[[str], None] | None = None, key: str | None = None,
              on_partial: Callable[[Any], None] | None = None,
              on_progress: Callable[[float, float], None] | None = None,
              on_status: Callable[[str], None] | None = None, batch_seconds: float = 0.0) -> TaskState:
        callbacks = Callbacks(on_done, on_error, on_partial, on_progress, on_status)
        task = TaskState(key, lambda kind, value: self._send((task, callbacks, kind, value)))
        self._keyed.replace(task)

        def run() -> None:
            stage, value = run_work(task, work, batch_seconds)
            self._send((task, callbacks, {DONE: "done", FAILED: "error"}.get(stage, "ended"), value))

        thread = threading.Thread(target=run, name=self._name if key is None else f"{self._name}-{key}", daemon=True)
        self._threads = [alive for alive in self._threads if alive.is_alive()] + [thread]
        thread.start()
        return task

    def submit(self, fn: Callable[[], Any], on_done: Callable[[Any], None],
               on_error: Callable[[str], None] | None = None, key: str | None = None) -> TaskState:
        return self.start(plain(fn), on_done, on_error, key)

    def _send(self, item: tuple) -> None:
        if self._post is None:
            self._inbox.put(item)
        else:
            self._post(lambda: self._handle(item))

    def _handle(self, item: tuple) -> None:
        task, callbacks, kind, value = item
        if kind in ("done", "error", "ended"):
            self._keyed.forget(task)
            if kind == "ended":
                return
        callbacks.deliver(task, kind, value)

    def deliver(self, timeout: float = 0.0) -> int:
        """Call the callbacks waiting (waiting up to `timeout` seconds for the first); how many ran."""
        delivered = 0
        try:
            item = self._inbox.get(timeout=timeout) if timeout > 0 else self._inbox.get_nowait()
        except queue.Empty:
            return 0
        while True:
            self._handle(item)
            delivered += 1
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return delivered

    def wait(self, seconds: float = 10.0) -> bool:
        """Wait for every task's thread to end; True when they all did."""
        deadline = time.monotonic() + seconds
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        return not any(thread.is_alive() for thread in self._threads)
