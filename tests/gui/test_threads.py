"""The Qt executors deliver the task life-cycle on the UI thread: a new task of a key stops the running one
(its result never arrives), progress and partial results arrive in order, and a TaskThread's producer is
stopped and closed in its own thread when cancelled."""

from __future__ import annotations

import threading

from vaestudio.gui.threads import QtExecutor, TaskThread


def test_a_new_task_of_a_key_stops_the_running_one_and_only_its_result_arrives(qtbot):
    executor = QtExecutor(threads=2)
    started, loops = threading.Event(), []
    delivered: list = []

    def endless(task):
        started.set()
        while True:
            task.check()
            loops.append(1)
            task.wait_cancelled(0.001)

    old = executor.start(endless, delivered.append, delivered.append, key="grid")
    assert started.wait(10)
    executor.start(lambda task: "new grid", delivered.append, delivered.append, key="grid")
    qtbot.waitUntil(lambda: not executor.busy(), timeout=10000)  # the old one has ended too
    assert delivered == ["new grid"] and old.cancelled and old.stage == "cancelled"
    ran = len(loops)
    qtbot.wait(20)
    assert len(loops) == ran  # the loop really stopped


def test_progress_and_partial_results_arrive_on_the_ui_thread_in_order(qtbot):
    executor = QtExecutor(threads=1)
    seen: list = []
    ui = threading.current_thread()

    def work(task):
        for i in range(3):
            task.set_progress(i + 1, 3)
            yield i
        return "done"

    def note(kind):
        return lambda *value: seen.append((kind, value, threading.current_thread() is ui))

    executor.start(work, note("done"), note("error"), on_progress=note("progress"), on_partial=note("partial"))
    qtbot.waitUntil(lambda: not executor.busy(), timeout=10000)
    assert seen == [("progress", (1, 3), True), ("partial", (0,), True), ("progress", (2, 3), True),
                    ("partial", (1,), True), ("progress", (3, 3), True), ("partial", (2,), True),
                    ("done", ("done",), True)]


def test_a_task_thread_s_producer_is_closed_in_its_own_thread_when_cancelled(qtbot):
    closed_in: list[str] = []
    items: list = []

    def produce():
        try:
            while True:
                yield len(items)
                threading.Event().wait(0.001)
        finally:
            closed_in.append(threading.current_thread().name)

    thread = TaskThread(produce, "vaestudio-replay")
    thread.items.connect(items.extend)
    with qtbot.waitSignal(thread.ended, timeout=10000):
        thread.start()
        qtbot.waitUntil(lambda: len(items) > 3, timeout=10000)
        thread.cancel()
    assert thread.wait(5000) and closed_in and closed_in[0] != threading.current_thread().name


def test_busy_can_leave_out_the_tasks_of_some_keys(qtbot):
    executor = QtExecutor(threads=2)
    release = threading.Event()
    executor.start(lambda task: release.wait(10), lambda _: None, key="diagnosis-worst")
    assert executor.busy() and not executor.busy(ignoring=("diagnosis-worst",))
    executor.start(lambda task: release.wait(10), lambda _: None, key="grid")
    assert executor.busy(ignoring=("diagnosis-worst",))
    release.set()
    qtbot.waitUntil(lambda: not executor.busy(), timeout=10000)


def test_call_soon_runs_the_calls_in_order_with_the_clock_ticking_between_them(qtbot):
    """A moment's kept parts are published through call_soon: one per turn of the event loop, so a timer
    (the cursor's drag, the heartbeat of a stall watch) runs between them instead of after all of them
    (posted all at once they ran in one turn, and Qt ran its timers only after the last)."""
    import time

    from PySide6.QtCore import QTimer

    executor = QtExecutor(threads=1)
    order: list = []
    clock = QTimer()
    clock.setInterval(1)
    clock.timeout.connect(lambda: order.append("tick"))

    def part(index: int):
        def publish() -> None:
            end = time.perf_counter() + 0.005  # a part's panels take some milliseconds
            while time.perf_counter() < end:
                pass
            order.append(index)
        return publish

    clock.start()
    qtbot.wait(10)
    order.clear()
    for index in range(5):
        executor.call_soon(part(index))
    assert executor.busy()
    qtbot.waitUntil(lambda: not executor.busy(), timeout=5000)
    clock.stop()
    calls = [entry for entry in order if entry != "tick"]
    assert calls == [0, 1, 2, 3, 4]
    between = order[order.index(0):order.index(4)]
    assert between.count("tick") >= 3  # the clock ran between (nearly) every two parts
