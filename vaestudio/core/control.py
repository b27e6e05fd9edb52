"""What a training loop is asked from other threads: pause, resume, stop, a new learning rate or β.

    control = TrainingControl()
    control.pause(); control.resume(); control.stop()       # from any thread
    control.set_learning_rate(1e-4); control.set_beta(0.5)  # checked at once; ConfigError names the value

A `Run` creates one and hands it to its `Trainer`, which reads it between graph calls: it waits while
paused, ends after its current step once stopped (`on_stop` lets it cut the graph call in flight), and puts
requested values in force from its next graph call (`take_changes`). Requests made before the trainer exists
are kept until it starts.
"""

from __future__ import annotations

import threading
from typing import Callable

POLL_SECONDS = 0.05  # how often a paused loop looks again (a stop ends the wait at once)


class TrainingControl:
    """Thread-safe requests to one training loop; see the module docstring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = threading.Event()
        self._running.set()
        self._stop = threading.Event()
        self._changes: dict[str, float] = {}
        self._on_stop: list[Callable[[], None]] = []

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        """End after the current step (a paused loop wakes up to end)."""
        with self._lock:
            self._stop.set()
            callbacks = list(self._on_stop)
        self._running.set()
        for callback in callbacks:
            callback()

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Call `callback` (in the stopping thread) when a stop is requested; at once if it already was."""
        with self._lock:
            self._on_stop.append(callback)
            stopped = self._stop.is_set()
        if stopped:
            callback()

    @property
    def is_paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def set_learning_rate(self, value: float) -> None:
        """Ask for a base learning rate from the next graph call on (recorded as HyperChanged)."""
        self._request("learning_rate", value)

    def set_beta(self, value: float) -> None:
        """Ask for β (the KL weight) from the next graph call on (recorded as HyperChanged)."""
        self._request("beta", value)

    def _request(self, name: str, value: float) -> None:
        from vaestudio.core.config import LIMITS, checked_number

        low, high, kind = LIMITS[name]
        checked = checked_number(name, value, low, high, kind)
        with self._lock:
            self._changes[name] = checked

    def take_changes(self) -> dict[str, float]:
        """The values asked for since the last call ({"learning_rate": ..., "beta": ...}), now cleared."""
        with self._lock:
            changes, self._changes = self._changes, {}
        return changes

    def wait_while_paused(self) -> None:
        """Block the training loop while paused; returns at once once a stop is asked for."""
        while not self._running.wait(POLL_SECONDS) and not self._stop.is_set():
            pass
