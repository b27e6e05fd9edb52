"""The studio without a window: the runs it has open, the active run's forwarded events, the live run,
the compared runs, and the latent view following the active run.

Runs are fed by hand with tiny random weights (tests/test_explorer_state.py builds them).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from random_weights import random_weights
from test_explorer_state import DeferredExecutor, explored, live_run, tiny_probe
from vaestudio.core.architecture import Architecture
from vaestudio.core.events import EpochEnd, HyperChanged, Snapshot, StepMetrics
from vaestudio.gui.state.explorer import InlineExecutor
from vaestudio.gui.state.latent_view import Endpoint
from vaestudio.gui.state.run_history import RunHistory
from vaestudio.gui.state.studio import FORWARDED, Studio


class Heard:
    """Every `active_<name>` event of a studio, in order, as (name, arguments)."""

    def __init__(self, studio: Studio):
        self.events: list[tuple] = []
        for name in FORWARDED:
            getattr(studio, f"active_{name}").connect(lambda *args, name=name: self.events.append((name, args)))

    def names(self) -> list[str]:
        return [name for name, _args in self.events]


def metrics(step: int) -> StepMetrics:
    return StepMetrics(epoch=0, step=step, epoch_step=step, steps_per_epoch=100, elbo=-200.0 + step,
                       log_likelihood=-180.0 + step, kl=20.0, images_per_second=500.0)


def test_the_active_runs_events_are_forwarded_and_another_runs_are_not():
    first, second = live_run(name="first"), live_run(name="second")
    studio = Studio(InlineExecutor())
    studio.add_run(first)
    studio.add_run(second, activate=False)
    heard = Heard(studio)
    first.select(0)
    first.feed(metrics(5))
    second.select(0)  # not the active run: nothing forwarded
    second.feed(metrics(5))
    assert heard.names() == ["following_changed", "moment_changed", "metrics_added"]
    assert heard.events[1][1] == (first.current,)
    heard.events.clear()
    studio.activate(second)
    first.feed(metrics(6))
    second.follow()
    assert heard.names() == ["following_changed", "moment_changed"]
    assert heard.events[1][1] == (second.current,)


def test_every_forwarded_event_reaches_the_studio_with_its_value():
    history = live_run()
    studio = Studio(InlineExecutor())
    studio.add_run(history)
    heard = Heard(studio)
    end = EpochEnd(epoch=0, step=3, test_elbo=-150.0, test_log_likelihood=-140.0, test_kl=10.0, seconds=1.0)
    history.feed(end)
    change = HyperChanged(step=3, learning_rate=1e-3, beta=1.0)
    history.feed(change)
    history.clear()
    assert heard.events == [("epoch_ended", (end,)), ("hyper_changed", (change,)), ("cleared", ()),
                            ("moment_changed", (None,))]


def test_a_closed_active_run_stops_being_forwarded():
    first, second = live_run(name="first"), live_run(name="second")
    studio = Studio(InlineExecutor())
    studio.add_run(first)
    studio.add_run(second)
    studio.close_run(second)
    assert studio.active is first
    heard = Heard(studio)
    second.feed(metrics(9))
    first.feed(metrics(9))
    assert heard.names() == ["metrics_added"]


def test_the_studio_owns_the_live_run():
    studio = Studio(InlineExecutor())
    history = RunHistory("training")
    lives, changes = [], []
    studio.live_changed.connect(lives.append)
    studio.runs_changed.connect(lambda: changes.append("runs"))
    studio.set_live(history)
    studio.add_run(history)
    assert studio.live is history and history.live and lives == [history]
    with pytest.raises(ValueError, match="stop it first"):
        studio.close_run(history)
    changes.clear()
    studio.set_live(None)
    assert studio.live is None and not history.live and lives == [history, None] and changes == ["runs"]
    studio.set_live(None)  # no change: no event
    assert lives == [history, None]
    studio.close_run(history)
    assert studio.runs == []


def test_a_run_read_to_its_end_announces_that_the_runs_changed():
    studio = Studio(InlineExecutor())
    history, stranger = live_run(), live_run()
    studio.add_run(history)
    changes = []
    studio.runs_changed.connect(lambda: changes.append("runs"))
    studio.run_read(history)
    studio.run_read(stranger)  # not open (closed meanwhile): nothing to say
    assert changes == ["runs"]


def test_compared_runs_forward_their_curves_until_they_are_no_longer_compared():
    active, other = live_run(name="active"), live_run(name="other")
    studio = Studio(InlineExecutor())
    studio.add_run(other)
    studio.add_run(active)
    grew, changed = [], []
    studio.compared_metrics_added.connect(grew.append)
    studio.compared_changed.connect(lambda: changed.append(len(studio.compared)))
    studio.set_compared(other, True)
    studio.set_compared(other, True)  # already: no event
    other.feed(metrics(1))
    assert grew == [other] and studio.compared == [other] and changed == [1]
    studio.set_compared(other, False)
    other.feed(metrics(2))
    assert grew == [other] and changed == [1, 0]
    studio.set_compared(other, True)
    studio.close_run(other)
    other.feed(metrics(3))
    assert grew == [other] and studio.compared == [] and changed == [1, 0, 1, 0]


def test_a_probe_arriving_for_the_active_run_reaches_the_explorer():
    history = live_run()
    studio = explored(history)
    probes = []
    studio.probe_changed.connect(probes.append)
    probe = tiny_probe(30)
    studio.set_probe(history, probe)
    assert probes == [probe] and studio.explorer.probe is probe
    assert studio.explorer.pictures.means.shape == (30, 3)
    assert history.class_names == probe.class_names


def test_the_view_is_checked_on_assignment_too():
    studio = Studio(InlineExecutor())
    studio.add_run(live_run(latent_dim=3))
    view = studio.view
    for name, value in (("axes", (5, 5)), ("axes", (1, 1)), ("held", (0.0, 0.0)), ("cursor", (0.0, float("nan"), 0.0)),
                        ("scale", "log"), ("interpolation_frames", 1), ("interpolation_method", "cubic"),
                        ("dimension_order", (0, 0, 1)), ("inspected_test_image", -1), ("latent_dim", 0)):
        before = getattr(view, name)
        with pytest.raises(ValueError, match=re.escape(repr(value))):
            setattr(view, name, value)
        assert getattr(view, name) == before, name
    changes = []
    view.events.axes.connect(changes.append)
    view.axes = (2, 0)
    assert view.axes == (2, 0) and changes == [(2, 0)]


def test_another_latent_dimension_resets_the_view_and_drops_the_old_runs_pictures():
    """Open a 4-d run, put z4 on the x axis, move a held slider, then open a 2-d model."""
    four, two = live_run(latent_dim=4, name="four-d"), live_run(latent_dim=2, name="two-d")
    studio = explored(four)
    failures, moments = [], []
    studio.explorer.failed.connect(failures.append)
    view = studio.view
    view.set_axes(3, 1)
    view.set_held(2, 1.5)
    view.pick_endpoint(Endpoint.point((1.0, 0.0, 0.0, 0.0)))
    assert studio.explorer.pictures.grid_axes == (3, 1)
    studio.explorer.moment_loaded.connect(moments.append)
    studio.add_run(two)
    studio.set_probe(two, tiny_probe())
    assert failures == []
    assert view.latent_dim == 2 and view.axes == (0, 1) and view.held == (0.0, 0.0) and view.cursor == (0.0, 0.0)
    assert view.endpoint_a is None
    assert moments[0].info is None  # the 4-d run's pictures (its test points) are gone at once
    pictures = studio.explorer.pictures
    assert pictures.info == two.current and pictures.means.shape == (20, 2) and pictures.grid_axes == (0, 1)
    studio.activate(four)  # and back
    assert failures == [] and view.latent_dim == 4 and studio.explorer.pictures.means.shape == (20, 4)


def test_a_result_for_the_run_left_is_dropped():
    four, two = live_run(latent_dim=4), live_run(latent_dim=2)
    executor = DeferredExecutor()
    studio = explored(four, executor)
    executor.run_all()
    studio.view.set_axes(3, 1)  # a grid of the 4-d run is queued...
    studio.add_run(two)  # ...when the 2-d run is opened
    failures = []
    studio.explorer.failed.connect(failures.append)
    executor.run_all()
    assert failures == [] and studio.explorer.pictures.info == two.current
    assert studio.explorer.pictures.grid_axes == (0, 1)


def test_a_live_run_is_followed_until_the_user_goes_back_in_time():
    history = live_run(snapshots=2)
    studio = explored(history)
    heard = Heard(studio)
    weights = random_weights(Architecture(latent_dim=3), seed=7)

    def snapshot(step: int) -> Snapshot:
        return Snapshot(0, step, f"step {step}", np.zeros((112, 112), np.uint8), weights, frame=step)

    history.feed(snapshot(10))
    assert heard.names() == ["snapshot_added", "moment_changed"]
    assert studio.explorer.pictures.info.label == "step 10"
    heard.events.clear()
    history.step(-1)  # the user goes back one snapshot
    history.feed(snapshot(20))  # training goes on: the moment shown stays
    assert heard.names() == ["following_changed", "moment_changed", "snapshot_added"]
    assert studio.explorer.pictures.info.label == "step 1" and not history.following
    history.follow()
    assert studio.explorer.pictures.info.label == "step 20" and history.following


def test_the_state_loads_neither_qt_nor_tensorflow():
    import subprocess
    import sys

    code = ("import sys, vaestudio.gui.state.studio, vaestudio.gui.state.quality, vaestudio.gui.state.own_images; "
            "print(sorted(m for m in ('tensorflow', 'keras', 'PySide6', 'pyqtgraph') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
