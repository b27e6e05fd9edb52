"""Branching (issue 17): a new run from any snapshot of another, its steps continuing the parent's count,
its lineage recorded, the parent never written, and the hostile requests refused in one line."""

from __future__ import annotations

import json
import shutil
import threading

import numpy as np
import pytest
from hostile_helpers import assert_unchanged, kill_at, run_cli, train_args, tree_state

from vaestudio.cli import main
from vaestudio.core.branching import children, family, lineage, plan_branch
from vaestudio.core.events import EpochEnd, Snapshot, Started, StepMetrics
from vaestudio.core.replay import replay
from vaestudio.core.runs import ResumeChanges, Run
from vaestudio.core.store.checkpoint import load_checkpoint
from vaestudio.core.store.lock import holder_pid
from vaestudio.core.store.run_folder import RunFolder

STEPS_PER_EPOCH = 4  # tiny_idx: 128 training images, batches of 32 (hostile_helpers)


@pytest.fixture(scope="module")
def family_root(tiny_idx, tmp_path_factory):
    """A 2-epoch parent (snapshots at steps 0, 1, 4, 8; checkpoint at 8), a child branched at the end of
    epoch 1 with beta 2 to 3 epochs, and a grandchild branched from the child's last snapshot."""
    root = tmp_path_factory.mktemp("family")
    parent = root / "parent"
    assert main(train_args(tiny_idx, parent, 2)) == 0
    before = tree_state(parent)
    assert main(["train", "--from", f"{parent}@epoch:1", "--out", str(root / "child"), "--beta", "2",
                 "--epochs", "3"]) == 0
    assert main(["train", "--from", str(root / "child"), "--out", str(root / "grandchild"), "--epochs", "4",
                 "--lr", "1e-3"]) == 0
    return root, before


def _facts(folder) -> dict:
    return json.loads((folder / "run.json").read_text())


def _snapshots(folder) -> list[Snapshot]:
    return [e for e in replay(folder) if isinstance(e, Snapshot)]


def test_a_branch_starts_from_the_parent_snapshot_and_continues_its_count(family_root):
    root, parent_before = family_root
    parent, child = root / "parent", root / "child"
    assert_unchanged(parent_before, parent)
    parent_epoch_1 = [s for s in _snapshots(parent) if s.label == "epoch 1"][-1]
    child_snapshots = _snapshots(child)
    first = child_snapshots[0]
    # The child's first moment is the parent's snapshot: same step, same weights.
    assert (first.step, first.label, first.frame) == (4, "branched at epoch 1", 0)
    for a, b in zip(first.weights.encoder + first.weights.decoder,
                    parent_epoch_1.weights.encoder + parent_epoch_1.weights.decoder):
        assert np.array_equal(a, b)
    # Its steps and epochs continue the parent's: epochs 2 and 3, steps 5..12.
    events = list(replay(child))
    started = events[0]
    assert isinstance(started, Started) and started.start_step == 4 and started.start_epoch == 2
    steps = [e.step for e in events if isinstance(e, StepMetrics)]
    assert steps[0] > 4 and steps[-1] == 12
    assert [(e.epoch, e.step) for e in events if isinstance(e, EpochEnd)] == [(2, 8), (3, 12)]
    assert all(1 <= e.epoch_step <= STEPS_PER_EPOCH for e in events if isinstance(e, StepMetrics))
    assert all(e.beta == 2.0 for e in events if isinstance(e, StepMetrics))
    facts = _facts(child)
    assert facts["parent"] == {"folder": str(parent), "step": 4, "epoch": 1, "frame": parent_epoch_1.frame,
                               "label": "epoch 1", "optimizer": "fresh"}
    config = json.loads((child / "config.json").read_text())
    assert config["beta"] == 2.0 and config["epochs"] == 3 and config["latent_dim"] == 2
    assert (child / "model.keras").is_file() and (child / "training.gif").is_file()


def test_lineage_of_a_branch_of_a_branch_and_the_family_tree(family_root):
    root, _ = family_root
    parent, child, grandchild = root / "parent", root / "child", root / "grandchild"
    # The grandchild was branched from the child's last snapshot, its checkpoint's moment.
    assert _facts(grandchild)["parent"]["optimizer"] == "restored"
    assert lineage(grandchild) == [(grandchild, 12), (child, 4), (parent, 0)]
    assert lineage(parent) == [(parent, 0)]
    assert children(parent, root) == [child] and children(child, root) == [grandchild]
    (tree,) = family(root)
    assert tree.folder == parent and [n.folder for n in tree.children] == [child]
    assert [n.folder for n in tree.children[0].children] == [grandchild]
    # Moved together to another place, the family is still found (the parent beside its child).
    moved = root.parent / (root.name + "-moved")
    root.rename(moved)
    try:
        assert [p for p, _ in lineage(moved / "grandchild")] == [moved / "grandchild", moved / "child",
                                                                  moved / "parent"]
    finally:
        moved.rename(root)


def test_inspect_shows_the_lineage(family_root, capsys):
    root, _ = family_root
    assert main(["inspect", str(root / "grandchild"), "--iwae-k", "0", "--images", "16"]) == 0
    text = capsys.readouterr().out
    assert f"Lineage: {root / 'grandchild'} (from step 12) ← {root / 'child'} (from step 4) ← {root / 'parent'}" \
        in text


def test_the_optimizer_is_restored_only_at_the_checkpoint_moment(family_root, tmp_path):
    root, _ = family_root
    parent = root / "parent"
    checkpoint = load_checkpoint(parent / "checkpoint.npz")
    said = {"restored": "optimizer state from the parent's checkpoint", "fresh": "a fresh optimizer"}
    for moment, expected in ((f"{parent}@step:8", "restored"), (f"{parent}@step:4", "fresh")):
        plan = plan_branch(moment, tmp_path / expected, {"epochs": 3})
        assert plan.optimizer == expected and said[expected] in plan.describe()
        run = Run.branching(plan)
        for event in run.events():
            if isinstance(event, Started):
                variables = [v.numpy() for v in run.trainer.optimizer.variables]
                run.stop()
        iterations = int(variables[0])
        if expected == "restored":
            assert iterations == 8
            assert all(np.array_equal(a, b) for a, b in zip(variables, checkpoint.optimizer_variables))
        else:
            assert iterations == 0 and all(not np.any(v) for v in variables[1:] if v.ndim)
        assert _facts(tmp_path / expected)["parent"]["optimizer"] == expected


def test_a_branch_at_the_checkpoint_that_changes_nothing_continues_as_the_parent_would(family_root, tmp_path):
    root, _ = family_root
    resumed = tmp_path / "resumed"
    shutil.copytree(root / "parent", resumed)
    resumed_metrics = [(e.step, e.elbo) for e in Run.resuming(resumed, ResumeChanges(epochs=3)).events()
                       if isinstance(e, StepMetrics)]
    run = Run.branching(plan_branch(root / "parent", tmp_path / "branch", {"epochs": 3}))
    branch_metrics = [(e.step, e.elbo) for e in run.events() if isinstance(e, StepMetrics)]
    assert [s for s, _ in branch_metrics] == [s for s, _ in resumed_metrics] and branch_metrics[0][0] > 8
    np.testing.assert_allclose([e for _, e in branch_metrics], [e for _, e in resumed_metrics], rtol=1e-5)


def test_the_parent_is_only_read_while_it_trains(tiny_idx, tmp_path):
    """The parent's writer holds its lock and is paused after epoch 1; a branch from it trains to the end,
    and the parent's files stay byte for byte the same; then the parent finishes."""
    parent = tmp_path / "parent"
    from vaestudio.core.config import TrainConfig

    config = TrainConfig.from_preset("custom", data_dir=str(tiny_idx), epochs=2, batch_size=32,
                                     learning_rate=2e-3, grid_size=4, seed=3)
    writer = Run.new(parent, config)
    paused, failures, finished = threading.Event(), [], []

    def train_parent():
        try:
            for event in writer.events():
                if isinstance(event, EpochEnd) and event.epoch == 1:
                    writer.pause()
                    paused.set()
                finished.append(event)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            failures.append(exc)
            paused.set()

    thread = threading.Thread(target=train_parent)
    thread.start()
    try:
        assert paused.wait(300) and not failures
        assert holder_pid(parent) is not None  # the parent's writer still holds its folder
        before = tree_state(parent)
        assert main(["train", "--from", f"{parent}@epoch:1", "--out", str(tmp_path / "child"), "--epochs", "2",
                     "--beta", "3"]) == 0
        assert_unchanged(before, parent)
        assert _facts(tmp_path / "child")["parent"]["optimizer"] == "restored"  # its checkpoint is at epoch 1
    finally:
        writer.resume()
        thread.join(300)
    assert not failures and finished and RunFolder(parent).read_state().epochs_done == 2


def test_a_branch_on_other_batches_begins_its_epoch_afresh_and_resumes(family_root, tmp_path, capsys):
    """Batches of 64 instead of 32 (2 per epoch instead of 4), from step 1 (in epoch 1): the child starts
    epoch 1 afresh at step 1, its steps counting on from there, and a resume finds its data fits."""
    root, _ = family_root
    child = tmp_path / "child"
    assert main(["train", "--from", f"{root / 'parent'}@step:1", "--out", str(child), "--batch-size", "64",
                 "--epochs", "2"]) == 0
    assert "a fresh optimizer" in capsys.readouterr().out
    assert _facts(child)["start"] == {"step": 1, "epoch": 0, "epoch_step": 0}
    assert [(e.epoch, e.step) for e in replay(child) if isinstance(e, EpochEnd)] == [(1, 3), (2, 5)]
    assert main(["train", "--resume", str(child), "--epochs", "3"]) == 0
    events = list(replay(child))
    assert [(e.epoch, e.step) for e in events if isinstance(e, EpochEnd)] == [(1, 3), (2, 5), (3, 7)]
    assert all(1 <= e.epoch_step <= 2 for e in events if isinstance(e, StepMetrics))


def test_a_branch_killed_before_its_first_checkpoint_resumes_from_its_parent(family_root, tmp_path):
    root, _ = family_root
    parent, child = root / "parent", tmp_path / "child"
    killed = run_cli(["train", "--from", f"{parent}@epoch:1", "--out", str(child), "--epochs", "3"],
                     env=kill_at("append:metrics.csv:1"))  # its first metrics row, at step 8: no checkpoint yet
    assert killed.returncode == -9 and not (child / "checkpoint.npz").exists(), killed.stderr[-2000:]
    assert main(["train", "--resume", str(child)]) == 0
    snapshots = _snapshots(child)
    parent_epoch_1 = [s for s in _snapshots(parent) if s.label == "epoch 1"][-1]
    assert (snapshots[0].step, snapshots[0].label) == (4, "branched at epoch 1")
    assert all(np.array_equal(a, b) for a, b in zip(snapshots[0].weights.encoder, parent_epoch_1.weights.encoder))
    assert [(e.epoch, e.step) for e in replay(child) if isinstance(e, EpochEnd)] == [(2, 8), (3, 12)]
    assert lineage(child) == [(child, 4), (parent, 0)]


@pytest.mark.parametrize("case", ["missing", "legacy", "epoch beyond", "step between", "out is parent",
                                  "out inside parent", "with resume", "latent dim", "no out", "epochs done"])
def test_hostile_branch_requests_are_refused_in_one_line(family_root, tmp_path, capsys, case):
    root, _ = family_root
    parent = root / "parent"
    legacy = tmp_path / "run-0.1.0"
    from pathlib import Path

    shutil.copytree(Path(__file__).parent / "data" / "run-0.1.0", legacy)
    out = tmp_path / "new"
    args, expected = {
        "missing": (["--from", str(tmp_path / "nothing"), "--out", str(out)], "no such run folder"),
        "legacy": (["--from", str(legacy), "--out", str(out)], "0.1.0"),
        "epoch beyond": (["--from", f"{parent}@epoch:7", "--out", str(out)], "no snapshot at the end of epoch 7"),
        "step between": (["--from", f"{parent}@step:6", "--out", str(out)], "@step:4 ('epoch 1') and @step:8"),
        "out is parent": (["--from", str(parent), "--out", str(parent)], "parent run's folder"),
        "out inside parent": (["--from", str(parent), "--out", str(parent / "sub")], "parent run's folder"),
        "with resume": (["--from", str(parent), "--resume", str(parent)], "give one of them"),
        "latent dim": (["--from", str(parent), "--out", str(out), "--latent-dim", "3"], "--latent-dim cannot change"),
        "no out": (["--from", str(parent)], "--from needs --out"),
        "epochs done": (["--from", str(parent), "--out", str(out)], "ask for more than 2"),
    }[case]
    before, legacy_before = tree_state(parent), tree_state(legacy)
    assert main(["train", *args]) == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists() and not (parent / "sub").exists()
    assert_unchanged(before, parent)
    assert_unchanged(legacy_before, legacy)
