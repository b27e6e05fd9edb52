"""Training threads give way to the UI thread, so the cursor stays smooth while the CPU is busy; the window's
pools run below the UI thread too, which never waits for them."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from vaestudio.gui.threads import TRAINING_NICENESS, yield_cpu_to_the_window

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")


def _niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_a_training_thread_and_the_threads_it_starts_run_below_the_ui_thread():
    ui = _niceness()
    seen: dict[str, int] = {}

    def child():  # like a TensorFlow pool thread started from the training thread
        seen["child"] = _niceness()

    def training():
        yield_cpu_to_the_window()
        seen["training"] = _niceness()
        worker = threading.Thread(target=child)
        worker.start()
        worker.join()

    thread = threading.Thread(target=training)
    thread.start()
    thread.join()
    expected = min(19, ui + TRAINING_NICENESS)
    assert seen == {"training": expected, "child": expected}
    assert _niceness() == ui  # the calling (UI) thread keeps its priority


def test_the_windows_pool_runs_below_the_ui_thread(qtbot):
    from vaestudio.gui.threads import POOL_NICENESS, QtExecutor

    assert 0 < TRAINING_NICENESS <= 2 and 0 < POOL_NICENESS  # training: only just below (a busy machine's
    # other programs took its cores at +5)
    ui = _niceness()
    executor = QtExecutor(threads=2)
    seen: list[int] = []
    for _ in range(4):
        executor.submit(_niceness, seen.append)
    qtbot.waitUntil(lambda: len(seen) == 4, timeout=5_000)
    assert set(seen) == {min(19, ui + POOL_NICENESS)}  # every task, however many times a thread is reused
    assert _niceness() == ui
    executor.wait()


def test_the_background_scans_run_on_threads_of_their_own(qtbot):
    """The test-image scans (background keys), however long they take, hold none of the threads the
    pictures the user waits for run on; both pools run below the UI thread."""
    from vaestudio.gui.threads import BACKGROUND_NICENESS, POOL_NICENESS, QtExecutor

    assert 0 < BACKGROUND_NICENESS
    ui = _niceness()
    executor = QtExecutor(threads=2, background_keys=("scan-a", "scan-b"))
    release = threading.Event()
    scans: list[int] = []

    def scan(_task):
        scans.append(_niceness())
        release.wait(10)

    executor.start(scan, lambda _: None, key="scan-a")
    executor.start(scan, lambda _: None, key="scan-b")
    qtbot.waitUntil(lambda: len(scans) == 2, timeout=5_000)  # as many scans as the pool has threads
    pictures: list[int] = []
    for _ in range(3):
        executor.submit(_niceness, pictures.append)
    qtbot.waitUntil(lambda: len(pictures) == 3, timeout=5_000)  # done while both scans still run
    assert executor.busy() and not executor.busy(ignoring=("scan-a", "scan-b"))
    assert set(scans) == {min(19, ui + BACKGROUND_NICENESS)}
    assert set(pictures) == {min(19, ui + POOL_NICENESS)}
    release.set()
    qtbot.waitUntil(lambda: not executor.busy(), timeout=10_000)
    executor.wait()
