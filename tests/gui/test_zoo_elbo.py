"""The ELBO panel of a beta-TCVAE run (issue 19): its objective beside the ELBO, and in the Split view the
KL's terms (MI, TC, dimension-wise KL), replayed from metrics.csv."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def tcvae_run(zoo_run):
    return zoo_run("tcvae")


def test_the_split_view_shows_the_tcvae_terms_and_the_objective(qtbot, window, tcvae_run, recorded_run):
    from vaestudio.core.store.metrics_log import MetricsLog

    window.commands.answers["runs"] = tcvae_run
    window.open_run_action.trigger()
    history = window.studio.active
    qtbot.waitUntil(lambda: not window.opening.is_replaying(history), timeout=30_000)
    elbo = window.elbo
    elbo.refresh()
    labels = lambda: [label.text for _, label in elbo.legend.items]  # noqa: E731
    assert "train β-TCVAE objective (EMA)" in labels() and not any("total correlation" in t for t in labels())
    steps = [row for row in MetricsLog(tcvae_run / "metrics.csv").rows() if row["kind"] == "step"]
    objective = elbo.objective.objective.getData()[1]
    assert len(objective) == len(steps) and np.isclose(objective[0], steps[0]["objective"])  # the EMA starts there

    elbo.split_check.setChecked(True)
    assert {"train index-code MI (right axis)", "train total correlation (right axis)",
            "train dimension-wise KL (right axis)"} <= set(labels())
    tc = elbo.objective.terms["tc"].getData()[1]
    assert len(tc) == len(steps) and np.isclose(tc[0], steps[0]["tc"])

    window.commands.answers["runs"] = recorded_run[0]  # a tutorial run: no objective, no terms
    window.open_run_action.trigger()
    qtbot.waitUntil(lambda: window.studio.active is not history, timeout=10_000)
    qtbot.waitUntil(lambda: not window.opening.is_replaying(window.studio.active), timeout=30_000)
    elbo.refresh()
    assert not any(word in text for text in labels() for word in ("objective", "MI", "total correlation",
                                                                  "dimension-wise"))
