"""The run pipeline: a new run records everything, a replay yields what the live run yielded, resume rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from vaestudio.core.config import TrainConfig
from vaestudio.core.data import synthetic_dataset
from vaestudio.core.errors import RunFolderError
from vaestudio.core.events import (DataLoaded, EpochEnd, Finished, HyperChanged, Saved, Snapshot, Started,
                                   Status, StepMetrics)
from vaestudio.core.replay import ReplayPosition, replay
from vaestudio.core.runs import ResumeChanges, Run
from vaestudio.core.store.checkpoint import load_checkpoint
from vaestudio.core.store.lock import RunLock, holder_pid


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset(n_train=128, n_test=32, seed=0)


def config(**overrides) -> TrainConfig:
    values = dict(epochs=2, batch_size=32, learning_rate=3e-3, grid_size=4, metrics_every=2, snapshot_every=2,
                  snapshot_every_later=3, steps_per_call=2, seed=1)
    values.update(overrides)
    return TrainConfig.from_preset("custom", **values)


def live_events(run: Run) -> list:
    return [e for e in run.events() if not isinstance(e, (Status, DataLoaded, Saved))]


def test_a_replay_yields_the_events_the_live_run_yielded(tmp_path, data):
    run = Run.new(tmp_path / "run", config(), load_dataset=lambda _: data)
    live = []
    for event in run.events():
        if isinstance(event, StepMetrics) and event.step == 2:
            run.set_learning_rate(1e-3)
        live.append(event)
    assert isinstance(live[-1], Saved) and {p.name for p in live[-1].paths} == {"model.keras", "grid_final.png",
                                                                                "training.gif"}
    live = [e for e in live if not isinstance(e, (Status, DataLoaded, Saved))]
    replayed = list(replay(run.path))
    assert [type(e) for e in replayed] == [type(e) for e in live]
    assert any(isinstance(e, HyperChanged) for e in replayed)
    for a, b in zip(live, replayed):
        if isinstance(a, Snapshot):
            assert (a.epoch, a.step, a.label, a.frame) == (b.epoch, b.step, b.label, b.frame)
            assert np.array_equal(a.mosaic, b.mosaic)
            assert all(np.array_equal(x, y) for x, y in zip(a.weights.encoder + a.weights.decoder,
                                                            b.weights.encoder + b.weights.decoder))
        elif isinstance(a, Started):
            assert (a.total_epochs, a.steps_per_epoch, a.device, a.precision) == \
                   (b.total_epochs, b.steps_per_epoch, b.device, b.precision)
        else:
            assert a == b
    assert [s.frame for s in replayed if isinstance(s, Snapshot)] == list(range(len(
        [s for s in replayed if isinstance(s, Snapshot)])))


def _position_after(events: list) -> ReplayPosition:
    """What a reader holds after reading `events`, as the window's follower computes it."""
    metrics = [e.step for e in events if isinstance(e, StepMetrics)]
    frames = [e.frame for e in events if isinstance(e, Snapshot)]
    epochs = [e.epoch for e in events if isinstance(e, EpochEnd)]
    hypers = [e.step for e in events if isinstance(e, HyperChanged)]
    return ReplayPosition(step=max(metrics, default=0), frame=max(frames, default=-1),
                          epoch=max(epochs, default=0), hyper=max(hypers, default=-1))


def test_a_replay_after_a_position_yields_only_what_is_newer_in_order(tmp_path, data):
    run = Run.new(tmp_path / "run", config(), load_dataset=lambda _: data)
    for event in run.events():
        if isinstance(event, StepMetrics) and event.step == 6:
            run.set_beta(0.5)
    whole = list(replay(run.path))
    body = whole[1:-1]  # without Started and Finished
    assert any(isinstance(e, HyperChanged) for e in body) and any(isinstance(e, EpochEnd) for e in body)

    def same(a, b) -> bool:
        if isinstance(a, Snapshot):
            return type(b) is Snapshot and (a.step, a.frame, a.label) == (b.step, b.frame, b.label)
        return a == b

    for cut in range(len(body) + 1):  # a reader that has read the first `cut` events asks for the rest
        newer = list(replay(run.path, after=_position_after(body[:cut])))
        assert len(newer) == len(body) - cut, cut
        assert all(same(a, b) for a, b in zip(newer, body[cut:])), cut
    assert list(replay(run.path, after=_position_after(body))) == []


def test_snapshot_weights_are_compact_and_memory_stays_in_the_folder(tmp_path, data):
    run = Run.new(tmp_path / "run", config(epochs=1), load_dataset=lambda _: data)
    list(run.events())
    weights = sorted((run.path / "snapshots").glob("frame-*.npz"))
    pngs = sorted((run.path / "snapshots").glob("frame-*.png"))
    assert len(weights) == len(pngs) >= 3
    assert all(path.stat().st_size < 400_000 for path in weights)  # the tutorial model: 70k float32


def test_a_new_run_needs_a_new_or_empty_folder_and_changes_nothing_else(tmp_path, data):
    (tmp_path / "empty").mkdir()
    Run.new(tmp_path / "empty", config(), load_dataset=lambda _: data)  # accepted
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "training.gif").write_bytes(b"a user's file")
    with pytest.raises(RunFolderError, match="busy: is not empty"):
        Run.new(busy, config(), load_dataset=lambda _: data)
    assert (busy / "training.gif").read_bytes() == b"a user's file"


def test_resume_may_change_epochs_learning_rate_and_beta_and_records_them(tmp_path, data):
    run = Run.new(tmp_path / "run", config(epochs=1), load_dataset=lambda _: data)
    list(run.events())
    with pytest.raises(RunFolderError, match="complete: it has trained all its 1 epochs"):
        Run.resuming(run.path, load_dataset=lambda _: data)
    with pytest.raises(RunFolderError, match="already trained 1 epochs"):
        Run.resuming(run.path, ResumeChanges(epochs=1), load_dataset=lambda _: data)
    before = (run.path / "config.json").read_text()
    with pytest.raises(Exception, match="beta must be"):
        Run.resuming(run.path, ResumeChanges(epochs=2, beta=-1), load_dataset=lambda _: data)
    assert (run.path / "config.json").read_text() == before  # a refused resume writes nothing
    resumed = Run.resuming(run.path, ResumeChanges(epochs=2, learning_rate=5e-4, beta=0.5),
                           load_dataset=lambda _: data)
    events = live_events(resumed)
    assert HyperChanged(4, 5e-4, 0.5) in events
    steps = [e for e in events if isinstance(e, StepMetrics)]
    assert steps and all(e.learning_rate == pytest.approx(5e-4) and e.beta == 0.5 for e in steps)
    assert json.loads((run.path / "config.json").read_text())["epochs"] == 2
    checkpoint = load_checkpoint(run.path / "checkpoint.npz")
    assert (checkpoint.epoch, checkpoint.learning_rate, checkpoint.beta) == (2, 5e-4, 0.5)


def test_a_folder_without_checkpoint_resumes_from_step_0(tmp_path, data):
    run = Run.new(tmp_path / "run", config(epochs=1), load_dataset=lambda _: data)
    for event in run.events():
        if isinstance(event, StepMetrics):
            break  # abandoning the run checkpoints it; remove that to stand for a kill before the first one
    (run.path / "checkpoint.npz").unlink()
    assert (run.path / "metrics.csv").exists()
    (run.path / ".checkpoint.npz.k3x9_q2a.part.npz").write_bytes(b"half")  # what a kill mid-write leaves
    resumed = Run.resuming(run.path, load_dataset=lambda _: data)
    assert resumed.state.checkpoint is None
    events = live_events(resumed)
    assert isinstance(events[-1], Finished) and events[-1].reason == "completed"
    assert [e.label for e in replay(run.path) if isinstance(e, Snapshot)][0] == "before training"
    assert not list(run.path.glob(".*.part*"))


def test_a_checkpoint_whose_metrics_row_was_lost_brings_it_back(tmp_path, data):
    run = Run.new(tmp_path / "run", config(epochs=1), load_dataset=lambda _: data)
    list(run.events())
    metrics = run.path / "metrics.csv"
    lines = metrics.read_text().splitlines(keepends=True)
    metrics.write_text("".join(line for line in lines if not line.startswith("epoch,")))  # killed before the row
    list(Run.resuming(run.path, ResumeChanges(epochs=2), load_dataset=lambda _: data).events())
    epochs = [e.epoch for e in replay(run.path) if isinstance(e, EpochEnd)]
    assert epochs == [1, 2]


def test_a_run_folder_has_one_writer_and_the_lock_dies_with_its_process(tmp_path, data):
    run = Run.new(tmp_path / "run", config(epochs=1), load_dataset=lambda _: data)
    list(run.events())
    script = textwrap.dedent(f"""
        import sys, time
        from vaestudio.core.store.lock import RunLock
        RunLock({str(run.path)!r}).acquire()
        print("locked", flush=True)
        time.sleep(60)
    """)
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert holder_pid(run.path) == holder.pid
        resumed = Run.resuming(run.path, ResumeChanges(epochs=2), load_dataset=lambda _: data)
        with pytest.raises(RunFolderError, match=rf"PID {holder.pid}\b"):
            list(resumed.events())
        assert len(list(replay(run.path))) > 0  # reading is never blocked
    finally:
        holder.kill()
        holder.wait()
    assert holder_pid(run.path) is None
    with RunLock(run.path):
        pass


def test_data_loaded_comes_once_the_folder_is_ready_and_before_the_model_is_built(tmp_path, data):
    run = Run.new(tmp_path / "run", config(epochs=1), load_dataset=lambda _: data)
    seen = []
    for event in run.events():
        if isinstance(event, DataLoaded):
            assert (run.path / "config.json").is_file()  # the folder is made and locked
            assert holder_pid(run.path) == os.getpid()
        seen.append(event)
    first = [type(e) for e in seen[:4]]
    assert first == [Status, DataLoaded, Status, Started]
    loaded = seen[1]
    assert (loaded.dataset, loaded.train_count, loaded.test_count) == (run.config.dataset, 128, 32)
    assert loaded.description == data.describe() and loaded.data is data
    assert sum(isinstance(e, DataLoaded) for e in seen) == 1
    assert run.trainer is None and run.dataset is None  # let go of once the events ended
    assert run.learning_rate == pytest.approx(3e-3)


def test_a_resumed_run_can_yield_its_recorded_history_after_data_loaded(tmp_path, data):
    run = Run.new(tmp_path / "run", config(epochs=2), load_dataset=lambda _: data)
    for event in run.events():
        if isinstance(event, StepMetrics) and event.step == 6:  # in epoch 2: stopped mid-epoch
            run.stop()
    recorded = list(replay(run.path))

    plain = list(Run.resuming(run.path, load_dataset=lambda _: data).events())
    started = next(i for i, e in enumerate(plain) if isinstance(e, Started))
    assert [type(e) for e in plain[:started]] == [Status, DataLoaded, Status]  # nothing replayed by default

    # Continue it further with its history, as the window does.
    before = list(replay(run.path))
    again = Run.resuming(run.path, ResumeChanges(epochs=3), load_dataset=lambda _: data)
    events = list(again.events(include_history=True))
    loaded = next(i for i, e in enumerate(events) if isinstance(e, DataLoaded))
    started = next(i for i, e in enumerate(events) if isinstance(e, Started))
    assert all(isinstance(e, Status) for e in events[:loaded])
    history = [e for e in events[loaded + 1:started] if not isinstance(e, Status)]
    expected = [e for e in before if not isinstance(e, (Started, Finished))]
    assert len(history) == len(expected) > len(recorded) - 2  # what both sessions recorded
    assert [(type(e), getattr(e, "step", None)) for e in history] == \
           [(type(e), getattr(e, "step", None)) for e in expected]
    assert isinstance(events[-1], Saved)


def test_the_run_hands_its_control_to_its_trainer_and_early_requests_take_effect_at_the_start(tmp_path, data):
    run = Run.new(tmp_path / "run", config(epochs=1), load_dataset=lambda _: data)
    run.set_beta(0.5)  # before the trainer exists
    run.pause()
    assert run.is_paused
    run.resume()
    seen = []
    for event in run.events():
        if isinstance(event, Started):
            assert run.trainer.control is run.control
        seen.append(event)
    assert HyperChanged(0, 3e-3, 0.5) in seen
    assert all(e.beta == 0.5 for e in seen if isinstance(e, StepMetrics))
    with pytest.raises(Exception, match="beta must be"):
        run.set_beta(-1)


def test_stop_before_training_begins_writes_nothing(tmp_path, data):
    run = Run.new(tmp_path / "run", config(), load_dataset=lambda _: data)
    run.stop()
    events = list(run.events())
    assert isinstance(events[-1], Finished) and events[-1].reason == "stopped"
    assert not (tmp_path / "run").exists()


def test_a_torn_metrics_append_is_survived(tmp_path, capsys):
    """A kill in the middle of a metrics line (a real SIGKILL at a crash point) leaves a folder that resumes
    (here, in this process: no second TensorFlow start-up)."""
    from idx_files import write_idx_folder
    from vaestudio.cli import main

    sample = synthetic_dataset(n_train=128, n_test=32, seed=2)
    idx = write_idx_folder(tmp_path / "idx", (sample.train_images, sample.train_labels, sample.test_images,
                                              sample.test_labels))
    run = tmp_path / "run"
    env = dict(os.environ, VAESTUDIO_KILL_AT="append:metrics.csv:3")
    command = [sys.executable, "-m", "vaestudio", "train", "--data", str(idx), "--epochs", "2", "--batch-size", "32",
               "--grid", "3", "--out", str(run)]
    killed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9
    assert not (run / "metrics.csv").read_text().endswith("\n")  # torn mid-line
    assert main(["train", "--resume", str(run)]) == 0, capsys.readouterr().err
    epochs = [e.epoch for e in replay(run) if isinstance(e, EpochEnd)]
    assert epochs == [1, 2]


def test_a_stopped_runs_final_files_can_be_written_by_another_thread_and_are_of_its_last_step(tmp_path, data):
    """A closing window hands the run's final writes to a thread at its own priority (gui/final_writes.py):
    the stop's checkpoint, run.json, the model and the pictures are written there, all of the stopped step."""
    import shutil
    import threading

    from vaestudio.core.store.recorder import save_pictures
    from vaestudio.core.store.run_folder import RunFolder
    from vaestudio.core.store.snapshots import SnapshotStore

    writers = []

    def elsewhere(write):
        result = {}

        def work():
            writers.append(threading.current_thread().name)
            try:
                result["value"] = write()
            except BaseException as exc:  # noqa: BLE001
                result["error"] = exc

        thread = threading.Thread(target=work, name="writer")
        thread.start()
        thread.join()
        if "error" in result:
            raise result["error"]
        return result["value"]

    run = Run.new(tmp_path / "run", config(epochs=3), load_dataset=lambda _: data)
    events = []
    for event in run.events():
        events.append(event)
        if isinstance(event, StepMetrics) and event.step == 6:  # in epoch 2
            run.write_final_files_with(elsewhere)
            run.stop()
    saved = events[-1]
    assert isinstance(saved, Saved) and writers == ["writer", "writer"]  # the stop's checkpoint, then the rest
    folder = tmp_path / "run"
    assert {p.name for p in saved.paths} == {"model.keras", "grid_final.png", "training.gif"}
    facts = json.loads((folder / "run.json").read_text())
    checkpoint = load_checkpoint(folder / "checkpoint.npz")
    last_step = max(e.step for e in events if isinstance(e, StepMetrics))
    assert facts["ended"] == "stopped" and facts["saved_step"] == checkpoint.step == last_step
    last_snapshot = SnapshotStore(folder / "snapshots").records()[-1]
    assert (folder / "grid_final.png").read_bytes() == last_snapshot.png.read_bytes()  # the last picture
    again = tmp_path / "again"  # the GIF drawn from the pictures kept in memory is the one the PNGs give
    shutil.copytree(folder, again)
    save_pictures(RunFolder(again))
    assert (again / "training.gif").read_bytes() == (folder / "training.gif").read_bytes()
    resumed = list(Run.resuming(folder, load_dataset=lambda _: data).events())
    assert next(e for e in resumed if isinstance(e, Started)).start_step == checkpoint.step
