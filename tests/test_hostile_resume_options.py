"""Issue 9 #13 and #15: what `--resume` may change, what it must refuse by name, and finished runs.

Resume may change the learning rate, beta and the epoch count, and the change must take effect and be
recorded; everything that fixes the data, the model or the data order is refused by name (exit 2) with
nothing changed. A finished run is not "resumed" silently: it says it is finished and how to continue.
"""

from __future__ import annotations

import json
import math

import pytest

from hostile_helpers import (assert_run_complete, assert_unchanged, copy_run, epoch_rows, metrics_rows, tiny_idx,
                             trained_runs, tree_state)
from vaestudio.cli import main

__all__ = ["tiny_idx", "trained_runs"]  # fixtures


def _refused(run, capsys, *args: str) -> str:
    before = tree_state(run)
    code = main(["train", "--resume", str(run), *args])
    err = capsys.readouterr().err
    assert code == 2, f"exit {code}: {err}"
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert_unchanged(before, run)
    return err


# -- #13: options that cannot change on resume are refused by name -----------------------------------------------

FIXED_BY_THE_RUN = [
    ("--batch-size", "64"), ("--latent-dim", "3"), ("--dataset", "mnist"), ("--data", "{idx}"),
    ("--preset", "fast"), ("--grid", "5"), ("--seed", "4"), ("--limit", "32"),
    # not in the list, but it fixes the model's dtype policy (config.RESUMABLE leaves it out)
    ("--precision", "mixed_bfloat16"),
]


@pytest.mark.parametrize("option, value", FIXED_BY_THE_RUN, ids=[o for o, _ in FIXED_BY_THE_RUN])
def test_resume_refuses_options_it_cannot_apply_by_name(option, value, trained_runs, tiny_idx, tmp_path, capsys):
    run = copy_run(trained_runs.stale, tmp_path / "run")
    err = _refused(run, capsys, option, value.format(idx=tiny_idx))
    assert option in err


def test_resume_refuses_an_explicit_option_even_when_it_equals_the_default(trained_runs, tmp_path, capsys):
    """`--dataset fashion_mnist` is argparse's default: the refusal must come from the user typing it."""
    run = copy_run(trained_runs.stale, tmp_path / "run")
    err = _refused(run, capsys, "--dataset", "fashion_mnist")
    assert "--dataset" in err


def test_resume_without_fixed_options_is_not_refused_for_argparse_defaults(trained_runs, tmp_path):
    """The control for the refusals: `--dataset` and `--preset` have defaults; not typing them is fine."""
    run = copy_run(trained_runs.stale, tmp_path / "run")
    assert main(["train", "--resume", str(run)]) == 0
    assert_run_complete(run, 2)


# -- #13: learning rate, beta and epochs can change on resume, take effect, and are recorded ----------------------


def _recorded(run, name: str) -> list[float]:
    """Values of `name` in force: metrics.csv's column for epoch 2 if the log has one, else config.json."""
    rows = [r for r in metrics_rows(run) if int(r["epoch"]) == 2 and r.get(name) not in (None, "")]
    if rows:
        return sorted({float(r[name]) for r in rows})
    return [float(json.loads((run / "config.json").read_text())[name])]


def test_resume_with_a_new_learning_rate_uses_and_records_it(trained_runs, tmp_path, capsys):
    plain = copy_run(trained_runs.stale, tmp_path / "plain")
    changed = copy_run(trained_runs.stale, tmp_path / "changed")
    assert main(["train", "--resume", str(plain)]) == 0
    assert main(["train", "--resume", str(changed), "--lr", "5e-4"]) == 0, capsys.readouterr().err
    assert _recorded(changed, "learning_rate") == [5e-4]
    assert epoch_rows(changed)[1]["test_elbo"] != epoch_rows(plain)[1]["test_elbo"]  # it took effect
    assert [r["test_elbo"] for r in epoch_rows(changed)[:1]] == [r["test_elbo"] for r in epoch_rows(plain)[:1]]
    assert_run_complete(changed, 2)


def test_resume_with_a_new_beta_uses_and_records_it(trained_runs, tmp_path, capsys):
    plain = copy_run(trained_runs.stale, tmp_path / "plain")
    changed = copy_run(trained_runs.stale, tmp_path / "changed")
    assert main(["train", "--resume", str(plain)]) == 0
    assert main(["train", "--resume", str(changed), "--beta", "0.5"]) == 0, capsys.readouterr().err
    assert _recorded(changed, "beta") == [0.5]
    assert epoch_rows(changed)[1]["test_elbo"] != epoch_rows(plain)[1]["test_elbo"]
    assert_run_complete(changed, 2)


def test_resume_with_more_epochs_trains_them_once(trained_runs, tmp_path):
    run = copy_run(trained_runs.stale, tmp_path / "run")
    assert main(["train", "--resume", str(run), "--epochs", "3"]) == 0
    assert_run_complete(run, 3)


@pytest.mark.parametrize("args, words", [
    pytest.param(["--lr", "nan"], "learning_rate", id="lr_nan"),
    pytest.param(["--lr", "-1"], "learning_rate", id="lr_negative"),
    pytest.param(["--lr", "1e999"], "learning_rate", id="lr_infinite"),
    pytest.param(["--epochs", "0"], "epochs", id="epochs_0"),
    pytest.param(["--epochs", "-3"], "epochs", id="epochs_negative"),
    pytest.param(["--epochs", "1"], "epochs", id="epochs_below_the_checkpoint_of_a_stale_run"),
])
def test_resume_refuses_bad_values_with_nothing_changed(args, words, trained_runs, tmp_path, capsys):
    run = copy_run(trained_runs.stale, tmp_path / "run")
    err = _refused(run, capsys, *args)
    assert words in err


def test_divergence_after_a_resume_gives_advice_a_resume_can_follow(trained_runs, tmp_path, capsys):
    run = copy_run(trained_runs.stale, tmp_path / "run")
    code = main(["train", "--resume", str(run), "--epochs", "3", "--lr", "100"])
    err = capsys.readouterr().err
    assert code == 2 and "diverged" in err, err
    assert "--lr" in err, f"the advice names no option a resume accepts: {err}"
    assert "--out" not in err  # a resumed run is continued, not restarted elsewhere
    # Following the advice works: the folder resumes with a lower rate and completes.
    assert main(["train", "--resume", str(run), "--epochs", "3", "--lr", "1e-3"]) == 0, capsys.readouterr().err
    assert_run_complete(run, 3)


# -- #15: a finished run -----------------------------------------------------------------------------------------


def test_resuming_a_finished_run_says_so_and_how_to_continue(trained_runs, tmp_path, capsys):
    run = copy_run(trained_runs.finished, tmp_path / "run")
    err = _refused(run, capsys)
    assert "2" in err and "--epochs" in err, err


@pytest.mark.parametrize("epochs", ["1", "2"])
def test_resuming_a_finished_run_with_no_more_epochs_is_refused(epochs, trained_runs, tmp_path, capsys):
    run = copy_run(trained_runs.finished, tmp_path / "run")
    err = _refused(run, capsys, "--epochs", epochs)
    assert "--epochs" in err or "epochs" in err, err


def test_a_finished_run_continues_with_more_epochs(trained_runs, tmp_path):
    run = copy_run(trained_runs.finished, tmp_path / "run")
    assert main(["train", "--resume", str(run), "--epochs", "3"]) == 0
    assert_run_complete(run, 3)
    assert math.isfinite(float(epoch_rows(run)[-1]["test_elbo"]))
