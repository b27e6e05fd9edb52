"""Pacing the diagnosis' scans over the test images while the window's own run trains.

Scoring every test image (the worst images) and measuring the latent space (kNN, probe, prior samples)
each decode a thousand or more images: on a 2-core machine one such scan per new snapshot took more CPU
than the training itself (issue 22: the run trained at x0.27 of its headless speed with every dock shown).
While the run trains, each kind of scan therefore has a pacer: after a scan of d seconds the next of its
kind waits d * (1/share - 1), so that it takes at most `share` of the time. The panels meanwhile show the
last scanned moment, labelled with its step; pausing or ending the training lifts the pacing at once.
"""

from __future__ import annotations

import time
from typing import Callable

SCAN_SHARE = 0.05  # of the wall time for each kind of scan, while the window's run trains
LONGEST_WAIT = 10.0  # seconds: no scan waits longer (a first scan slowed by the model build made a short run show
# the "before training" scan throughout)
LOST_AFTER = 60.0  # seconds: a scan running longer is taken for lost (its end never reported); on a busy machine
# one may take more than LONGEST_WAIT, and replacing it then (a new scan of its kind cancels it) left none finished


class ScanPacer:
    """When the next scan of one kind may start; `begin()` and `end()` around each scan."""

    def __init__(self, share: float = SCAN_SHARE, clock: Callable[[], float] = time.monotonic):
        if not 0.0 < share <= 1.0:
            raise ValueError(f"share must be in (0, 1], got {share!r}")
        self.share = share
        self.clock = clock
        self._started: float | None = None  # while a scan runs
        self._free_at = float("-inf")

    @property
    def running(self) -> bool:
        return self._started is not None

    def wait(self) -> float:
        """Seconds until the next scan may start (0: now). While one runs, as if it ended now."""
        now = self.clock()
        if self._started is not None:
            ran = now - self._started
            if ran > LOST_AFTER:  # its end was never reported (or it is hopelessly slow): do not wait on it
                return 0.0
            return min(LONGEST_WAIT, ran * (1.0 / self.share - 1.0) + 1e-3)
        return min(LONGEST_WAIT, max(0.0, self._free_at - now))

    def begin(self) -> None:
        self._started = self.clock()

    def end(self) -> None:
        """The scan begun last ended (done, failed or cancelled); a second call does nothing."""
        if self._started is None:
            return
        now = self.clock()
        self._free_at = now + (now - self._started) * (1.0 / self.share - 1.0)
        self._started = None


class ScanTurns:
    """One pacer per kind of scan, and the one retry pending for those that had to wait.

    `may_start(part)`: True, after which the scan is begun (`ended(part)` when it is done, failed or
    cancelled); or False, and `retry()` runs on the UI thread once the earliest wait is over (through
    `later(seconds, fn)`)."""

    def __init__(self, parts, later: Callable[[float, Callable[[], None]], None], retry: Callable[[], None],
                 clock: Callable[[], float] = time.monotonic):
        self.pacers = {part: ScanPacer(clock=clock) for part in parts}
        self._later, self._retry = later, retry
        self._pending = False

    def may_start(self, part: str) -> bool:
        wait = self.pacers[part].wait()
        if wait > 0.0:
            if not self._pending:
                self._pending = True
                self._later(wait, self._run_retry)
            return False
        self.pacers[part].begin()
        return True

    def ended(self, part: str) -> None:
        self.pacers[part].end()

    def _run_retry(self) -> None:
        self._pending = False
        self._retry()
