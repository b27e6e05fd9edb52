"""The one background-task life-cycle (gui/state/tasks.py), without Qt: progress, status and partial results
reach the owner; a new task of a key cancels the running one, whose result is never delivered; cancelling
stops a running loop; failures arrive as one line."""

from __future__ import annotations

import threading

import pytest

from vaestudio.core.errors import DataError
from vaestudio.gui.state.tasks import (CANCELLED, DONE, FAILED, Cancelled, InlineExecutor, TaskState,
                                       ThreadedExecutor, run_work)


class Owner:
    """Records what an executor tells the owner of a task."""

    def __init__(self):
        self.seen: list[tuple[str, object]] = []

    def callbacks(self) -> dict:
        callbacks = {name: (lambda value, kind=kind: self.seen.append((kind, value)))
                     for name, kind in (("on_done", "done"), ("on_error", "error"), ("on_partial", "partial"),
                                        ("on_status", "status"))}
        return {**callbacks, "on_progress": lambda done, total: self.seen.append(("progress", (done, total)))}

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.seen]


def counting(n: int):
    def work(task: TaskState) -> int:
        task.set_status("counting")
        for i in range(n):
            task.check()
            task.set_progress(i + 1, n)
        return n
    return work


def test_progress_status_and_the_result_reach_the_owner_in_order():
    owner = Owner()
    task = InlineExecutor().start(counting(4), **owner.callbacks())
    assert owner.seen == [("status", "counting"), ("progress", (1, 4)), ("progress", (2, 4)), ("progress", (3, 4)),
                          ("progress", (4, 4)), ("done", 4)]
    assert task.stage == DONE and task.fraction == 1.0 and task.status == "counting"


def test_a_generator_s_yields_are_partial_results_and_its_return_value_the_result():
    def frames(task):
        for i in range(3):
            yield i * 10
        return "all"

    owner = Owner()
    InlineExecutor().start(frames, **owner.callbacks())
    assert owner.seen == [("partial", 0), ("partial", 10), ("partial", 20), ("done", "all")]


def test_batched_partial_results_arrive_as_lists_with_nothing_lost():
    def many(task):
        yield from range(50)

    parts: list = []
    InlineExecutor().start(many, on_partial=parts.append, batch_seconds=60.0)
    assert parts == [list(range(50))]  # one batch: the last items are flushed when the generator ends


def test_a_failure_is_one_line_and_no_result_is_delivered():
    def broken(task):
        raise DataError("/data/x.idx: truncated")

    owner = Owner()
    task = InlineExecutor().start(broken, **owner.callbacks())
    assert owner.seen == [("error", "/data/x.idx: truncated")] and task.stage == FAILED
    owner = Owner()
    InlineExecutor().start(lambda task: 1 / 0, **owner.callbacks())
    assert owner.seen == [("error", "ZeroDivisionError: division by zero")]


def test_submit_runs_a_plain_function_like_before():
    results: list = []
    InlineExecutor().submit(lambda: 7, results.append, results.append, key="grid")
    assert results == [7]


def test_cancelling_stops_a_running_loop_between_chunks():
    started, chunks = threading.Event(), []

    def endless(task):
        started.set()
        while True:
            task.check()
            chunks.append(1)
            task.wait_cancelled(0.001)

    executor = ThreadedExecutor()
    owner = Owner()
    task = executor.start(endless, **owner.callbacks())
    assert started.wait(10)
    task.cancel()
    assert executor.wait(10), "the loop did not stop"
    executor.deliver()
    assert task.stage == CANCELLED and owner.seen == []  # neither a result nor an error


def test_a_new_task_of_a_key_cancels_the_running_one_whose_result_is_never_delivered():
    first_running, release = threading.Event(), threading.Event()
    checked_after_release: list[bool] = []

    def slow(task):
        first_running.set()
        release.wait(10)
        try:
            task.check()
        except Cancelled:
            checked_after_release.append(True)
            raise
        return "old grid"

    executor = ThreadedExecutor()
    old, new = Owner(), Owner()
    first = executor.start(slow, key="grid", **old.callbacks())
    assert first_running.wait(10)
    second = executor.start(lambda task: "new grid", key="grid", **new.callbacks())
    assert first.cancelled and not second.cancelled
    release.set()
    assert executor.wait(10)
    executor.deliver()
    assert old.seen == [] and new.seen == [("done", "new grid")]
    assert checked_after_release == [True] and first.stage == CANCELLED and second.stage == DONE


def test_a_cancelled_task_reports_nothing_more_even_if_its_work_ignores_the_cancel():
    def stubborn(task):
        task.set_progress(0.5)
        task.cancel()  # as the owner would, from the UI thread
        task.set_progress(0.9)  # the work does not check: what it reports is dropped
        return "late"

    owner = Owner()
    task = InlineExecutor().start(stubborn, **owner.callbacks())
    assert owner.seen == [("progress", (0.5, 1.0))] and task.stage == CANCELLED


def test_a_generator_is_closed_in_the_worker_when_cancelled():
    closed_in: list[str] = []
    started = threading.Event()

    def producer(task):
        try:
            while True:
                started.set()
                yield 1
                task.wait_cancelled(0.001)
        finally:
            closed_in.append(threading.current_thread().name)

    executor = ThreadedExecutor()
    task = executor.start(producer, key="replay")
    assert started.wait(10)
    task.cancel()
    assert executor.wait(10)
    assert closed_in == ["vaestudio-task-replay"]


def test_run_work_of_a_task_cancelled_before_it_starts_does_not_run_it():
    ran: list = []
    task = TaskState("grid")
    task.cancel()
    assert run_work(task, lambda t: ran.append(1)) == (CANCELLED, None) and ran == []


@pytest.mark.parametrize("done,total,shown", [(-1, 1, 0.0), (3, 10, 0.3), (7, 1, 1.0), (0, 0, 0.0)])
def test_progress_as_a_fraction_is_kept_between_0_and_1(done, total, shown):
    task = TaskState()
    assert task.fraction is None
    task.set_progress(done, total)
    assert task.fraction == pytest.approx(shown) and task.progress == (done, total)


def test_a_threaded_executor_hands_its_callbacks_to_the_owner_s_post():
    posted: list = []
    executor = ThreadedExecutor(post=posted.append, name="vaestudio-iwae")
    executor.start(counting(2), on_done=lambda value: posted.append(("done", value)), key="iwae")
    assert executor.wait(10)
    while any(callable(item) for item in posted):  # what the UI thread would run, in order
        posted.pop(next(i for i, item in enumerate(posted) if callable(item)))()
    assert posted == [("done", 2)]
