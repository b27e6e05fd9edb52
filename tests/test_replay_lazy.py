"""Opening a long run reads its index, not every snapshot (issue 21: a run of 10 000 snapshots took the
window minutes of "Reading…"): a lazy replay yields the same moments without their grids and weights, and
the window's history reads a moment's files only when that moment is shown."""

from pathlib import Path

import numpy as np

from hostile_helpers import copy_run
from vaestudio.core.events import Snapshot
from vaestudio.core.replay import replay
from vaestudio.gui.state.run_history import RunHistory


def _snapshots(events) -> list[Snapshot]:
    return [event for event in events if isinstance(event, Snapshot)]


def test_a_lazy_replay_yields_every_moment_without_reading_its_files(trained_runs, tmp_path):
    run = copy_run(trained_runs.finished, tmp_path / "run")
    eager = _snapshots(replay(run))
    lazy = _snapshots(replay(run, lazy=True))
    assert [(s.epoch, s.step, s.label, s.frame) for s in lazy] == [(s.epoch, s.step, s.label, s.frame) for s in eager]
    assert all(s.mosaic is None and s.weights is None and s.weights_on_disk for s in lazy)
    # Files are not opened: unreadable frames do not stop a lazy replay (they are reported when shown).
    for path in (run / "snapshots").glob("frame-*.png"):
        path.write_bytes(b"not a png")
    assert len(_snapshots(replay(run, lazy=True))) == len(eager)


def test_the_history_of_a_lazy_replay_reads_a_moment_when_it_is_shown(trained_runs, tmp_path):
    run = copy_run(trained_runs.finished, tmp_path / "run")
    eager = _snapshots(replay(run))
    history = RunHistory("run", run)
    for event in replay(run, lazy=True):
        history.feed(event)
    assert len(history.snapshots) == len(eager) and all(info.has_weights for info in history.snapshots)
    last = history.snapshots[-1]
    weights = history.weights_at(last)
    expected = eager[-1].weights
    assert all(np.array_equal(a, b) for a, b in zip(weights.encoder + weights.decoder,
                                                    expected.encoder + expected.decoder, strict=True))
    assert np.array_equal(history.mosaic_at(last), eager[-1].mosaic)


def test_a_lazy_replay_of_a_folder_without_weights_says_so(trained_runs, tmp_path):
    run = copy_run(trained_runs.finished, tmp_path / "run")
    for path in Path(run, "snapshots").glob("frame-*.npz"):
        path.unlink()
    lazy = _snapshots(replay(run, lazy=True))
    assert lazy and not any(s.weights_on_disk for s in lazy)
