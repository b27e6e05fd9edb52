"""The one control object of a training run: pause, resume, stop, learning rate and β, from any thread."""

from __future__ import annotations

import threading

import pytest

from vaestudio.core.control import TrainingControl
from vaestudio.core.errors import ConfigError


def _waiting(control: TrainingControl) -> tuple[threading.Thread, threading.Event]:
    """A training loop's thread blocked in wait_while_paused; the event is set once it returns."""
    returned = threading.Event()

    def loop() -> None:
        control.wait_while_paused()
        returned.set()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread, returned


def test_a_paused_loop_waits_until_resumed():
    control = TrainingControl()
    assert not control.is_paused
    _, returned = _waiting(control)
    assert returned.wait(5)  # not paused: no wait at all
    control.pause()
    assert control.is_paused
    thread, returned = _waiting(control)
    assert not returned.wait(0.3)  # held
    control.resume()
    assert returned.wait(5) and not control.is_paused
    thread.join(5)


def test_a_stop_wakes_a_paused_loop_and_stays_asked_for():
    control = TrainingControl()
    control.pause()
    _, returned = _waiting(control)
    assert not returned.wait(0.2)
    control.stop()
    assert returned.wait(5)
    assert control.stop_requested
    control.pause()  # a stopped loop is never held again
    _, returned = _waiting(control)
    assert returned.wait(5)


def test_requested_values_are_checked_and_taken_once_the_last_of_each_winning():
    control = TrainingControl()
    assert control.take_changes() == {}
    control.set_learning_rate(1e-3)
    control.set_beta(0.5)
    control.set_learning_rate(2e-4)
    assert control.take_changes() == {"learning_rate": 2e-4, "beta": 0.5}
    assert control.take_changes() == {}  # taken: the loop puts each request in force once
    with pytest.raises(ConfigError, match="learning_rate must be"):
        control.set_learning_rate(-1)
    with pytest.raises(ConfigError, match="beta"):
        control.set_beta(float("nan"))
    assert control.take_changes() == {}  # a refused value is not kept


def test_requests_from_many_threads_are_all_seen():
    control = TrainingControl()
    barrier = threading.Barrier(8)

    def ask(index: int) -> None:
        barrier.wait()
        for _ in range(200):
            control.set_beta(float(index + 1))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    seen = []
    while any(t.is_alive() for t in threads):
        seen.extend(control.take_changes().values())
    for thread in threads:
        thread.join()
    seen.extend(control.take_changes().values())
    assert seen and set(seen) <= {float(i + 1) for i in range(8)}
    assert control.take_changes() == {}


def test_on_stop_is_told_of_a_stop_once_whenever_it_was_registered():
    """What lets the trainer cut a graph call in flight: told when the stop comes, or at once if it came first."""
    control, calls = TrainingControl(), []
    control.on_stop(lambda: calls.append("early"))
    assert calls == []
    control.stop()
    assert calls == ["early"]
    control.on_stop(lambda: calls.append("late"))
    assert calls == ["early", "late"]
