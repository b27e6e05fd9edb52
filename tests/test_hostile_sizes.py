"""Issue 21, unbounded work on long runs: training.gif and the TensorBoard rebuild read a bounded number of
snapshots, evenly spread over the run (real snapshot files, written as a run writes them)."""

from __future__ import annotations

import numpy as np

from hostile_helpers import gif_frame_count


def test_spread_keeps_the_first_and_last_and_bounds_the_count():
    from vaestudio.core.store.snapshots import spread

    items = list(range(10_000))
    picked = spread(items, 300)
    assert len(picked) == 300 and picked[0] == 0 and picked[-1] == 9_999 and picked == sorted(set(picked))
    assert spread(items[:5], 300) == items[:5]


def test_the_animation_of_a_long_run_shows_a_bounded_number_of_snapshots(tmp_path):
    from vaestudio.core.events import Snapshot
    from vaestudio.core.store.recorder import save_pictures
    from vaestudio.core.store.run_folder import RunFolder

    folder = RunFolder(tmp_path / "run")
    for step in range(40):
        mosaic = np.full((8, 8), step * 6, np.uint8)
        folder.snapshots.add(Snapshot(step // 10, step, f"step {step}", mosaic))
    written = save_pictures(folder, max_frames=7)
    assert [p.name for p in written] == ["grid_final.png", "training.gif"]
    assert gif_frame_count(folder.file("training.gif")) == 7
    from PIL import Image

    with Image.open(folder.file("grid_final.png")) as last:
        assert np.asarray(last)[0, 0] == 39 * 6
