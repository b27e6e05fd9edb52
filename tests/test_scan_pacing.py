"""While the window's own run trains, the scans over the test images (worst images, latent quality) are
paced: a new snapshot right after a scan does not start another, the panels keep the last scanned moment
(labelled), and pausing scans the moment shown at once (issue 22: they took more CPU than the training)."""

from __future__ import annotations

import numpy as np
import pytest

from random_weights import random_weights
from test_diagnosis_state import DATA, Heard, live_run
from vaestudio.core.architecture import Architecture
from vaestudio.core.events import Snapshot
from vaestudio.gui.state.diagnosis import Diagnosis
from vaestudio.gui.state.explorer import InlineExecutor, Probe
from vaestudio.gui.state.pacing import LONGEST_WAIT, LOST_AFTER, ScanPacer
from vaestudio.gui.state.studio import IDLE, PAUSED, TRAINING, Studio


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_after_a_scan_the_next_waits_so_that_scans_take_their_share_of_the_time():
    clock = Clock()
    pacer = ScanPacer(share=0.05, clock=clock)
    assert pacer.wait() == 0.0
    pacer.begin()
    clock.now += 0.5
    assert pacer.running and pacer.wait() > 0  # one runs: the next waits
    pacer.end()
    assert pacer.wait() == pytest.approx(0.5 * 19)  # 0.5 s of 10 s is a twentieth
    clock.now += 9.0
    assert pacer.wait() == pytest.approx(0.5)
    clock.now += 0.6
    assert pacer.wait() == 0.0
    pacer.end()  # a second end changes nothing
    assert pacer.wait() == 0.0


def test_a_scan_whose_end_never_comes_does_not_block_the_next_for_ever():
    clock = Clock()
    pacer = ScanPacer(share=0.05, clock=clock)
    pacer.begin()
    clock.now += 5.0
    assert 0 < pacer.wait() <= LONGEST_WAIT
    clock.now += LONGEST_WAIT  # a slow scan (a busy machine) still runs: the next waits for it
    assert 0 < pacer.wait() <= LONGEST_WAIT
    clock.now += LOST_AFTER
    assert pacer.wait() == 0.0


@pytest.mark.parametrize("share", [0.0, -1.0, 1.5, float("nan")])
def test_an_absurd_share_is_refused(share):
    with pytest.raises(ValueError, match="share"):
        ScanPacer(share=share)


class SlowClockExecutor(InlineExecutor):
    """Runs work inline; each piece of work takes `seconds` on the pacers' clock."""

    def __init__(self, clock: Clock, seconds: float):
        self.clock, self.seconds = clock, seconds

    def start(self, work, *args, **kwargs):
        def timed(task):
            self.clock.now += self.seconds
            return work(task)

        return super().start(timed, *args, **kwargs)


def training_window(clock: Clock):
    """A studio whose live run trains, with the window's paced diagnosis (`later` only recorded)."""
    history = live_run(2)
    executor = SlowClockExecutor(clock, 0.2)
    studio = Studio(executor)
    waits: list[tuple[float, object]] = []
    diagnosis = Diagnosis(studio, executor, worst_count=4, samples=200, on_demand=True,
                          later=lambda seconds, fn: waits.append((seconds, fn)))
    for pacer in diagnosis.turns.pacers.values():
        pacer.clock = clock
    for part in ("worst", "quality", "health"):
        diagnosis.want(part, True)
    heard = Heard(diagnosis)
    studio.add_run(history)
    studio.set_live(history)
    studio.set_training(TRAINING)
    studio.set_probe(history, Probe.from_dataset(DATA))
    diagnosis.set_dataset(history, DATA)
    return history, studio, diagnosis, heard, waits


def new_snapshot(history, index: int) -> None:
    history.feed(Snapshot(index, index * 100, f"epoch {index}", np.zeros((56, 56), np.uint8),
                          random_weights(Architecture(latent_dim=3), seed=index), frame=index))


def test_a_new_snapshot_right_after_a_scan_keeps_the_last_scan_until_its_turn():
    clock = Clock()
    history, studio, diagnosis, heard, waits = training_window(clock)
    first = history.current
    assert diagnosis.worst is not None and diagnosis.scanned["worst"] == first
    assert diagnosis.older_scan("worst") is None  # it is the moment shown's
    scored = diagnosis.worst
    heard.events.clear()

    new_snapshot(history, 2)  # the run follows: a new moment 0.2 s after the scan
    assert history.current.index == 2
    assert diagnosis.worst is scored  # still shown, labelled with its moment ...
    assert diagnosis.older_scan("worst") == first
    assert None not in heard.values("worst")  # ... never emptied
    assert diagnosis.health is not None and diagnosis.health.step == 200  # the cheap parts follow at once
    assert waits and 0 < waits[0][0] <= LONGEST_WAIT  # a retry is due once the scans' share allows

    clock.now += waits[0][0]
    waits.pop(0)[1]()  # the retry: the newest moment is scanned
    assert diagnosis.worst is not scored and diagnosis.scanned["worst"] == history.current
    assert diagnosis.older_scan("worst") is None and diagnosis.older_scan("quality") is None


def test_pausing_scans_the_moment_shown_at_once():
    clock = Clock()
    history, studio, diagnosis, heard, waits = training_window(clock)
    new_snapshot(history, 2)
    assert diagnosis.older_scan("worst") is not None
    studio.set_training(PAUSED)
    assert diagnosis.scanned["worst"] == history.current and diagnosis.older_scan("quality") is None


def test_without_training_every_moment_is_scanned_at_once():
    clock = Clock()
    history, studio, diagnosis, heard, waits = training_window(clock)
    studio.set_training(IDLE)
    waits.clear()
    history.select(0)
    assert diagnosis.scanned["worst"] == history.current and diagnosis.scanned["quality"] == history.current
    history.select(1)
    assert diagnosis.scanned["worst"] == history.current
    assert not waits
