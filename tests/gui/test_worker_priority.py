"""Training threads give way to the UI thread, so the cursor stays smooth while the CPU is busy."""

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
