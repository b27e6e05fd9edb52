"""Comparing runs without Qt: a run's steps in images seen and wall time, the alignment setting, and the
Compare view's state (which runs, the shared point, each run's snapshot and pictures there).

Runs are fed by hand (tiny random weights, no training), so each test takes milliseconds.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from random_weights import random_weights
from vaestudio.core.architecture import Architecture
from vaestudio.core.config import TrainConfig
from vaestudio.core.events import EpochEnd, Snapshot, StepMetrics
from vaestudio.core.numpy_vae import NumpyVAE
from vaestudio.gui.state.alignment import IMAGES, SECONDS, STEP, RunClock, clock_of, images_before_branch
from vaestudio.gui.state.explorer import Probe
from vaestudio.gui.state.run_history import RunHistory
from vaestudio.gui.state.studio import Studio
from vaestudio.gui.state.tasks import InlineExecutor, KeyedTasks, TaskState, run_work

GRID = 4
STEPS_PER_EPOCH = 4


def fed_run(name: str, batch_size: int, snapshot_steps, epoch_seconds=(2.0, 4.0), rate: float = 64.0,
            latent_dim: int = 2, model: str = "vae") -> RunHistory:
    """A 2-epoch run of 4 steps per epoch: a report every step, snapshots at `snapshot_steps`."""
    history = RunHistory(name, config=TrainConfig(latent_dim=latent_dim, batch_size=batch_size, grid_size=GRID,
                                                  model=model))
    architecture = Architecture(latent_dim=latent_dim, model=model)
    snapshots = list(snapshot_steps)
    for step in range(0, 2 * STEPS_PER_EPOCH + 1):
        epoch = max((step - 1) // STEPS_PER_EPOCH + 1, 1) if step else 0
        if step:
            history.feed(StepMetrics(epoch, step, (step - 1) % STEPS_PER_EPOCH + 1, STEPS_PER_EPOCH, -200.0 + step,
                                     -190.0, 10.0, rate))
        if step in snapshots:  # with the grid training records: the tutorial's, decoded from the weights
            weights = random_weights(architecture, seed=len(name) * 10 + step)
            recorded = NumpyVAE(weights).grid(GRID, (0, 1) if latent_dim > 1 else (0, 0),
                                              np.zeros(latent_dim, np.float32), "quantile")
            history.feed(Snapshot(epoch, step, f"step {step}", recorded, weights, frame=snapshots.index(step)))
        if step and step % STEPS_PER_EPOCH == 0 and epoch_seconds:
            history.feed(EpochEnd(epoch, step, -150.0, -140.0, 10.0, seconds=epoch_seconds[epoch - 1]))
    return history


def tiny_probe(count: int = 30) -> Probe:
    rng = np.random.default_rng(0)
    images = (rng.random((count, 28, 28)) > 0.7).astype(np.uint8) * 255
    return Probe(images, np.arange(count) % 10, tuple(f"class {i}" for i in range(10)))


def compared(*histories: RunHistory, executor=None) -> Studio:
    studio = Studio(executor or InlineExecutor())
    probe = tiny_probe()
    for history in histories:
        studio.add_run(history, activate=history is histories[0])
        studio.set_probe(history, probe)
        studio.set_compared(history, True)
    return studio


# -- the clock ---------------------------------------------------------------------------------------------------
def test_images_seen_are_steps_times_the_batch_size():
    small, large = fed_run("a", 32, [0, 8]), fed_run("b", 64, [0, 4])
    assert list(clock_of(small).convert([0, 1, 8], IMAGES)) == [0, 32, 256]
    assert list(clock_of(large).convert([0, 1, 4], IMAGES)) == [0, 64, 256]
    assert list(clock_of(small).convert([3, 5], STEP)) == [3, 5]
    assert clock_of(large).step_at(192, IMAGES) == 3


def test_wall_time_spreads_each_epochs_training_seconds_over_its_steps_and_goes_on_at_the_last_rate():
    history = fed_run("a", 32, [0, 8], epoch_seconds=(2.0, 4.0), rate=64.0)
    clock = clock_of(history)
    assert not clock.unavailable
    seconds = clock.convert([0, 2, 4, 6, 8], SECONDS)
    assert list(seconds) == pytest.approx([0.0, 1.0, 2.0, 4.0, 6.0])
    # beyond the last finished epoch (a live run): 64 images/s of 32 images a step is 2 steps/s
    assert clock.convert([12], SECONDS)[0] == pytest.approx(8.0)
    assert clock.step_at(5.0, SECONDS) == pytest.approx(7.0) and clock.step_at(8.0, SECONDS) == pytest.approx(12)


def test_a_run_that_recorded_no_training_time_cannot_be_aligned_by_wall_time():
    history = RunHistory("opened model", config=TrainConfig(batch_size=32))
    history.feed(Snapshot(0, 0, "the model", None, random_weights(Architecture()), frame=-1))
    clock = clock_of(history)
    assert clock.unavailable == {SECONDS: "this run recorded no training time"}
    with pytest.raises(ValueError, match="no training time"):
        clock.convert([0], SECONDS)
    assert RunClock().convert([3], IMAGES)[0] == 3


def test_a_branch_counts_its_parents_images_with_their_batch_size(tmp_path):
    root, child = tmp_path / "root", tmp_path / "child"
    for folder, batch in ((root, 32), (child, 128)):
        folder.mkdir()
        TrainConfig(batch_size=batch).save(folder / "config.json")
    (child / "run.json").write_text(json.dumps({"parent": {"folder": str(root), "step": 10}}))
    assert images_before_branch(root) == 0 and images_before_branch(None) == 0
    assert images_before_branch(child) == 320  # 10 steps of 32 images
    clock = RunClock(origin_step=10, batch_size=128, images_before=320)
    assert clock.convert([10, 11], IMAGES).tolist() == [320, 448]


# -- the alignment setting ---------------------------------------------------------------------------------------
def test_the_unit_is_images_seen_by_default_checked_on_assignment_and_announced_once():
    studio = compared(fed_run("a", 32, [0, 8]), fed_run("bb", 64, [0, 4]))
    comparison, seen = studio.comparison, []
    comparison.unit_changed.connect(seen.append)
    assert comparison.unit == IMAGES
    with pytest.raises(ValueError, match="'hours' is not one of images, step, seconds"):
        comparison.unit = "hours"
    comparison.unit = IMAGES
    comparison.unit = STEP
    assert seen == [STEP] and comparison.unit == STEP
    comparison.unit = SECONDS
    assert seen == [STEP, SECONDS]


def test_wall_time_is_refused_while_a_drawn_run_has_no_training_time_and_dropped_when_one_joins():
    timed = fed_run("a", 32, [0, 8])
    untimed = fed_run("bb", 64, [0, 4], epoch_seconds=(), rate=0.0)
    studio = compared(timed)
    studio.comparison.unit = SECONDS
    said = []
    studio.message.connect(lambda text, _ms: said.append(text))
    studio.add_run(untimed, activate=False)
    studio.set_compared(untimed, True)
    assert studio.comparison.unit == IMAGES  # the run that joined cannot be aligned by wall time
    assert said == ["Runs aligned by images seen: bb: this run recorded no training time"]
    assert studio.comparison.unavailable() == {SECONDS: "bb: this run recorded no training time"}
    with pytest.raises(ValueError, match="cannot align by wall time: bb: this run recorded no training time"):
        studio.comparison.unit = SECONDS


# -- the Compare view's state ------------------------------------------------------------------------------------
def test_the_ticked_runs_are_the_columns_and_the_point_starts_where_every_run_has_been():
    a, b = fed_run("a", 32, [0, 3, 4, 8]), fed_run("bb", 64, [0, 1, 2, 3])
    studio = compared(a, b)
    comparison = studio.comparison
    assert comparison.runs == [a, b]
    assert comparison.extent() == (0.0, 256.0)
    assert comparison.point == 192.0  # b's last snapshot: step 3 x 64 images
    assert [m.info.step for m in comparison.columns] == [4, 3]


def test_moving_the_point_shows_each_runs_snapshot_at_or_before_it_in_the_chosen_unit():
    a, b = fed_run("a", 32, [0, 3, 4, 8]), fed_run("bb", 64, [0, 1, 2, 4])
    studio = compared(a, b)
    comparison, changes = studio.comparison, []
    comparison.column_changed.connect(lambda column, moment: changes.append((column, moment.info.step)))
    comparison.set_point(100)  # images: a saw 96 at step 3, b 64 at step 1
    assert [m.info.step for m in comparison.columns] == [3, 1]
    assert changes == [(0, 3), (1, 1)]  # not loaded yet: no view wants the pictures
    comparison.unit = STEP  # the point stays at a's moment, step 3: b's step 2
    assert comparison.point == 3 and [m.info.step for m in comparison.columns] == [3, 2]
    comparison.set_point(1e9)  # clamped to the last snapshot
    assert comparison.point == 8 and [m.info.step for m in comparison.columns] == [8, 4]


def test_each_columns_pictures_are_its_snapshots_numpy_vae_applied_to_the_same_test_images():
    from vaestudio.core import probes
    from vaestudio.core.numpy_vae import NumpyVAE

    a, b = fed_run("a", 32, [0, 3, 4, 8]), fed_run("bb", 64, [0, 1, 2, 4])
    studio = compared(a, b)
    comparison = studio.comparison
    comparison.set_point(130)
    comparison.want(True)
    for column, (history, step) in enumerate(((a, 4), (b, 2))):
        moment = comparison.columns[column]
        assert moment.loaded and moment.info.step == step and moment.note == ""
        vae = NumpyVAE(history.weights_at(moment.info))
        assert np.array_equal(moment.grid, vae.grid(GRID, (0, 1), np.zeros(2, np.float32), "quantile"))
        expected = probes.reconstruct(vae, moment.originals)
        assert np.array_equal(moment.reconstructions.images, expected.images)
        assert moment.kl_per_dimension.shape == (2,)
    assert np.array_equal(comparison.columns[0].originals, comparison.columns[1].originals)
    studio.view.cursor = (1.0, -0.5)
    for column, moment in enumerate(comparison.columns):
        assert np.array_equal(comparison.previews[column],
                              moment.vae.decode_uint8(np.array([[1.0, -0.5]], np.float32))[0])


def test_a_column_shows_the_grid_its_run_recorded_without_decoding_it_again(monkeypatch):
    from vaestudio.core.numpy_vae import NumpyVAE

    history = fed_run("a", 32, [0, 4])
    decoded = []
    original_grid = NumpyVAE.grid
    def grid(self, n, axes, held, spacing, *rest):
        decoded.append(spacing)  # the explorer decodes its own on the view's linear scale
        return original_grid(self, n, axes, held, spacing, *rest)

    monkeypatch.setattr(NumpyVAE, "grid", grid)
    studio = compared(history)
    studio.comparison.want(True)
    moment = studio.comparison.columns[0]
    assert moment.loaded and np.array_equal(moment.grid, history.mosaic_at(moment.info))
    assert "quantile" not in decoded


def test_a_column_of_the_moment_the_explorer_shows_takes_its_encodings(monkeypatch):
    from vaestudio.core import probes
    from vaestudio.gui.state.compare_pictures import KL_IMAGES

    history = fed_run("a", 32, [0, 4])
    studio = compared(history)
    shown = studio.explorer.pictures
    assert shown.means is not None  # the explorer encoded the test images of the moment it shows
    encoded = []
    original = probes.encode
    monkeypatch.setattr(probes, "encode", lambda *a, **k: encoded.append(a) or original(*a, **k))
    studio.comparison.want(True)
    moment = studio.comparison.columns[0]
    assert moment.loaded and moment.info == shown.info
    assert encoded == [] and moment.vae is shown.vae  # not encoded again
    np.testing.assert_allclose(moment.kl_per_dimension,
                               probes.kl_per_dimension(shown.means[:KL_IMAGES], shown.logvars[:KL_IMAGES]))


def test_a_column_of_a_run_the_explorer_does_not_show_encodes_its_own(monkeypatch):
    from vaestudio.core import probes

    shown, other = fed_run("a", 32, [0, 4]), fed_run("bb", 32, [0, 4])
    studio = compared(shown, other)
    encoded = []
    original = probes.encode
    monkeypatch.setattr(probes, "encode", lambda *a, **k: encoded.append(a) or original(*a, **k))
    studio.comparison.want(True)
    assert all(m.loaded and m.kl_per_dimension is not None for m in studio.comparison.columns)
    assert len(encoded) == 1 and studio.comparison.columns[1].vae is not studio.explorer.pictures.vae


def test_a_conditional_runs_column_reconstructs_and_encodes_each_test_image_with_its_own_class():
    from vaestudio.core import probes

    conditional, plain = fed_run("cvae", 32, [0, 4], model="conditional"), fed_run("vae", 32, [0, 4])
    studio = compared(conditional, plain)
    comparison = studio.comparison
    comparison.want(True)
    moment, probe = comparison.columns[0], tiny_probe()
    assert moment.loaded and moment.note == "" and moment.vae.architecture.classes == 10
    indices = list(probe.first_of_each_class()[:6])
    assert np.array_equal(moment.originals, probe.images[indices])
    own = probes.reconstruct(moment.vae, moment.originals, labels=probe.labels[indices])
    as_class_0 = probes.reconstruct(moment.vae, moment.originals)
    assert np.array_equal(moment.reconstructions.images, own.images)
    assert not np.array_equal(own.images, as_class_0.images)
    np.testing.assert_allclose(moment.reconstructions.elbo, own.elbo, rtol=1e-6)
    posterior = probes.encode(moment.vae, probe.images, probe.labels)
    np.testing.assert_allclose(moment.kl_per_dimension, probes.kl_per_dimension(*posterior), rtol=1e-6)
    plain_column = comparison.columns[1]
    assert np.array_equal(plain_column.reconstructions.images,
                          probes.reconstruct(plain_column.vae, plain_column.originals).images)


def test_a_conditional_run_takes_no_test_images_of_classes_it_does_not_know():
    conditional = fed_run("cvae", 32, [0, 4], model="conditional")
    studio = Studio(InlineExecutor())
    studio.add_run(conditional, activate=True)
    rng = np.random.default_rng(0)
    studio.set_probe(conditional, Probe((rng.random((12, 28, 28)) > 0.7).astype(np.uint8) * 255, np.arange(12),
                                        tuple(f"class {i}" for i in range(12))))
    studio.set_compared(conditional, True)
    studio.comparison.want(True)
    moment = studio.comparison.columns[0]
    assert moment.loaded and moment.reconstructions is None and "no reconstructions" in moment.note


class DeferredExecutor(InlineExecutor):
    """Keeps started tasks until `run_all` (a slow thread pool under the test's control)."""

    def __init__(self):
        self.queued: list[tuple] = []
        self.keyed = KeyedTasks()

    def start(self, work, on_done=None, on_error=None, key=None, **_callbacks) -> TaskState:
        task = TaskState(key)
        self.keyed.replace(task)
        self.queued.append((task, work, on_done, on_error))
        return task

    def run_all(self) -> None:
        queued, self.queued = self.queued, []
        for task, work, on_done, _on_error in queued:
            stage, value = run_work(task, work)
            if stage == "done":
                on_done(value)


def test_a_newer_point_cancels_the_columns_older_loads_and_only_its_pictures_arrive():
    executor = DeferredExecutor()
    a, b = fed_run("a", 32, [0, 3, 4, 8]), fed_run("bb", 64, [0, 1, 2, 4])
    studio = compared(a, b, executor=executor)
    comparison = studio.comparison
    comparison.want(True)
    first = [task for task, *_ in executor.queued if task.key.startswith("compare-")]
    assert len(first) == 2
    comparison.set_point(0)
    assert all(task.cancelled for task in first)
    executor.run_all()
    assert [(m.info.step, m.loaded) for m in comparison.columns] == [(0, True), (0, True)]
    comparison.set_point(256)
    comparison.set_point(0)  # seen before: at once, from what was kept
    assert not [task for task, *_ in executor.queued if task.key.startswith("compare-") and not task.cancelled]
    assert all(m.loaded for m in comparison.columns)


def test_closing_a_compared_run_removes_its_column():
    a, b, c = fed_run("a", 32, [0, 8]), fed_run("bb", 64, [0, 4]), fed_run("ccc", 16, [0, 16])
    studio = compared(a, b, c)
    seen = []
    studio.comparison.runs_changed.connect(lambda: seen.append([h.name for h in studio.comparison.runs]))
    studio.close_run(c)
    assert seen == [["a", "bb"]] and len(studio.comparison.columns) == 2


def test_while_the_view_is_shown_the_point_and_the_active_runs_moment_move_together():
    a, b = fed_run("a", 32, [0, 2, 4, 8]), fed_run("b", 64, [0, 1, 2, 4])
    studio = compared(a, b)  # a is active
    comparison = studio.comparison
    comparison.set_point(128.0)  # hidden: the active run keeps its moment
    assert a.current.step == 8 and a.following

    comparison.want(True)
    comparison.set_point(100.0)  # a's snapshot at or before 100 images: step 2 (64 images)
    assert a.current.step == 2 and not a.following and b.current.step == 4  # a column only keeps its own
    a.select(2)  # the main timeline to a's step 4 (128 images): the point follows, the columns with it
    assert comparison.point == 128.0 and [m.info.step for m in comparison.columns] == [4, 2]
    comparison.set_point(256.0)
    assert a.current.step == 8 and a.following  # the last snapshot: following training again

    comparison.want(False)
    a.select(0)
    assert comparison.point == 256.0


def test_following_the_window_s_training_does_not_move_the_compare_view_but_choosing_a_moment_does():
    from vaestudio.gui.state.studio import IDLE, TRAINING

    a, b = fed_run("a", 32, [0, 2, 4]), fed_run("b", 64, [0, 1, 2, 4])
    studio = compared(a, b)
    comparison = studio.comparison
    comparison.want(True)
    comparison.set_point(64.0)
    a.follow()
    studio.set_live(a)
    studio.set_training(TRAINING)
    point = comparison.point
    a.feed(Snapshot(2, 8, "step 8", np.zeros((GRID * 28, GRID * 28), np.uint8),
                    random_weights(Architecture(latent_dim=2), seed=99), frame=3))  # a new snapshot, followed
    assert a.following and a.current.step == 8
    assert comparison.point == point  # the columns are not recomputed for every new snapshot
    a.select(2)  # the user chooses a moment: the Compare view follows
    assert comparison.point == 128.0
    studio.set_training(IDLE)
    a.select(3)
    assert comparison.point == 256.0  # not training: following the last snapshot moves it too
