"""The IWAE estimates' state without Qt (and without TensorFlow: a stand-in estimate counts batches):
waiting for TensorFlow, progress, results kept per snapshot, cancelling that stops the work, and moving
to another snapshot cancelling while a new live snapshot does not.
"""

from __future__ import annotations

import queue
import threading
from types import SimpleNamespace

import numpy as np

from test_explorer_state import explored, live_run
from vaestudio.core.config import TrainConfig
from vaestudio.core.errors import Cancelled
from vaestudio.core.events import Snapshot
from vaestudio.gui.state.explorer import InlineExecutor
from vaestudio.gui.state.quality import QualityEstimates
from vaestudio.gui.state.run_history import RunHistory
from vaestudio.gui.state.studio import Studio
from vaestudio.gui.state.tasks import ThreadedExecutor


def counting_estimate(batches: int = 3, gate: threading.Event | None = None):
    """An estimate of `batches` batches whose mean is minus the number of images; with `gate`, each batch
    waits for it (so a test can cancel in the middle)."""

    def estimate(weights, inputs, k, cancelled, progress):
        for done in range(1, batches + 1):
            while gate is not None and not gate.wait(0.01):
                if cancelled():
                    raise Cancelled("cancelled")
            if cancelled():
                raise Cancelled("cancelled")
            progress(done, batches)
        return SimpleNamespace(mean=-float(len(inputs)), standard_error=0.5, samples=k, count=len(inputs), seconds=0.1)

    return estimate


class Heard:
    def __init__(self, estimates: QualityEstimates):
        self.status: list[str] = []
        self.progress: list[tuple[int, int]] = []
        self.running: list[bool] = []
        estimates.status_changed.connect(self.status.append)
        estimates.progress.connect(lambda done, total: self.progress.append((done, total)))
        estimates.running_changed.connect(self.running.append)


class UiQueue:
    """What the window's UI thread would run, in order; a test runs it with `drain`."""

    def __init__(self):
        self.calls: queue.Queue = queue.Queue()

    def post(self, fn) -> None:
        self.calls.put(fn)

    def drain(self, until=lambda: True, timeout: float = 10.0) -> None:
        deadline = threading.Event()
        timer = threading.Timer(timeout, deadline.set)
        timer.start()
        try:
            while True:
                try:
                    self.calls.get(timeout=0.01)()
                except queue.Empty:
                    if until() or deadline.is_set():
                        return
        finally:
            timer.cancel()


def ready_studio():
    history = live_run()
    studio = explored(history)
    studio.set_device(None, "test")
    return studio, history


def test_an_estimate_is_kept_for_its_snapshot_and_shown_again_when_coming_back():
    studio, history = ready_studio()
    estimates = QualityEstimates(studio, InlineExecutor(), estimate=counting_estimate())
    heard = Heard(estimates)
    assert estimates.start(k=7, images=12)
    assert heard.progress == [(0, 0), (1, 3), (2, 3), (3, 3)] and heard.running == [True, False]
    assert heard.status[0].startswith("Estimating log p(x) for step 2 (k = 7, N = 12)") and heard.status[-1] == ""
    info, result = estimates.result_for(history, 7, 12)
    assert info == history.current and result.mean == -12.0 and result.samples == 7
    history.select(0)
    assert estimates.result_for(history, 7, 12) is None
    history.select(2)
    assert estimates.result_for(history, 100, 500)[1] is result  # another k and N: the one made, still
    assert estimates.result_for(live_run(), 7, 12) is None  # another run


def test_while_following_training_the_newest_estimate_stays_shown_named_with_its_snapshot():
    studio, history = ready_studio()
    estimates = QualityEstimates(studio, InlineExecutor(), estimate=counting_estimate())
    estimates.start(k=3, images=5)
    estimated = history.current
    history.feed(Snapshot(0, 9, "step 9", np.zeros((112, 112), np.uint8), history.weights_at(estimated), frame=9))
    info, _result = estimates.result_for(history, 3, 5)
    assert history.current.label == "step 9" and info == estimated


def test_the_estimate_waits_for_tensorflow():
    history = live_run()
    studio = explored(history)
    ui = UiQueue()
    estimates = QualityEstimates(studio, ThreadedExecutor(ui.post), estimate=counting_estimate())
    heard = Heard(estimates)
    job = estimates.start(k=2, images=4) and estimates.job
    ui.drain(until=lambda: "Waiting for TensorFlow to load…" in heard.status)
    assert estimates.running and "Waiting for TensorFlow to load…" in heard.status
    studio.set_device(None, "test")  # the window's loader is done
    ui.drain(until=lambda: not estimates.running)
    assert job.stopped.is_set() and estimates.result_for(history, 2, 4)[1].mean == -4.0


def test_cancelling_stops_the_work_and_drops_its_result():
    studio, history = ready_studio()
    ui, gate = UiQueue(), threading.Event()
    estimates = QualityEstimates(studio, ThreadedExecutor(ui.post), estimate=counting_estimate(gate=gate))
    heard = Heard(estimates)
    assert estimates.start(k=2, images=4)
    job = estimates.job
    estimates.cancel()
    assert not estimates.running and heard.status[-1] == "Cancelled." and heard.running == [True, False]
    assert job.stopped.wait(10)  # the work itself ended, within one batch
    gate.set()
    ui.drain()
    assert estimates.result_for(history, 2, 4) is None and heard.status[-1] == "Cancelled."


def test_moving_to_another_snapshot_cancels_and_a_new_live_snapshot_does_not():
    studio, history = ready_studio()
    ui, gate = UiQueue(), threading.Event()
    estimates = QualityEstimates(studio, ThreadedExecutor(ui.post), estimate=counting_estimate(gate=gate))
    heard = Heard(estimates)
    estimates.start(k=2, images=4)
    history.feed(Snapshot(0, 9, "step 9", np.zeros((112, 112), np.uint8), history.weights_at(history.current),
                          frame=9))
    assert estimates.running  # training went on: the estimate is for the snapshot it names
    gate.set()
    ui.drain(until=lambda: not estimates.running)
    assert estimates.result_for(history, 2, 4) is not None
    gate.clear()
    estimates.start(k=2, images=4)
    job = estimates.job
    history.select(0)  # the user scrubs back
    assert not estimates.running and heard.status[-1] == "Cancelled: you moved to another snapshot."
    assert job.stopped.wait(10)
    another = live_run(name="another")
    estimates.start(k=2, images=4)
    job = estimates.job
    studio.add_run(another)  # another run shown: cancelled too
    assert not estimates.running and job.stopped.wait(10)


def test_what_cannot_be_estimated_is_said():
    studio = Studio(InlineExecutor())
    estimates = QualityEstimates(studio, InlineExecutor(), estimate=counting_estimate())
    heard = Heard(estimates)
    assert not estimates.start(k=2, images=4) and "No snapshot" in heard.status[-1]
    history = RunHistory(config=TrainConfig())
    history.feed(Snapshot(0, 0, "before training", np.zeros((28, 28), np.uint8), None, frame=0))
    studio.add_run(history)
    assert not estimates.start(k=2, images=4) and "without model weights" in heard.status[-1]
    studio, _history = ready_studio()
    estimates = QualityEstimates(studio, InlineExecutor(), estimate=counting_estimate())
    heard = Heard(estimates)
    studio.set_tensorflow_failed("no TensorFlow here")
    assert not estimates.start(k=2, images=4) and "no TensorFlow here" in heard.status[-1]
