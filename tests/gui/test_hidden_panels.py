"""Panels behind a tab skip their refreshes and catch up when shown (widgets.RefreshWhenShown): a step of
the timeline in the default layout refreshes only the docks a user can see."""

from __future__ import annotations

import numpy as np


def _settled(window, index: int) -> bool:
    pictures = window.studio.explorer.pictures
    return (pictures.info is not None and pictures.info.index == index and pictures.kl_per_dimension is not None
            and not window.executor.busy(("diagnosis-worst", "diagnosis-quality")))


def test_a_panel_behind_a_tab_catches_up_when_its_tab_is_chosen(qtbot, window, recorded_run):
    history = window.opening.open_run(recorded_run[0])  # conftest's finished run
    assert history is not None, window.last_error
    qtbot.waitUntil(lambda: not window.opening.is_replaying(history) and len(history.snapshots) >= 3,
                    timeout=60_000)
    kl_dock, kl = window.docks["kl"], window.panel("kl")
    tabbed_with = [d for d in window.tabifiedDockWidgets(kl_dock)]
    assert tabbed_with, "the KL dock shares its area with other docks in the default layout"
    tabbed_with[0].raise_()  # another tab in front: the KL panel cannot be seen
    qtbot.waitUntil(lambda: kl_dock.visibleRegion().isEmpty())

    shows = []
    original = kl._show
    kl._show = lambda *args: (shows.append(args), original(*args))[1]
    first, last = history.snapshots[1].index, history.snapshots[-1].index
    for index in (first, last, first):  # steps of the timeline while the KL panel is hidden
        history.select(index)
        qtbot.waitUntil(lambda index=index: _settled(window, index), timeout=30_000)
    assert shows == []  # nothing drawn that nobody sees
    assert kl.kl is not window.studio.explorer.pictures.kl_per_dimension

    kl_dock.raise_()  # the user chooses the KL tab: it shows the moment shown, at once
    qtbot.waitUntil(lambda: not kl_dock.visibleRegion().isEmpty())
    assert len(shows) == 1
    np.testing.assert_array_equal(kl.kl, window.studio.explorer.pictures.kl_per_dimension)
    history.select(last)  # shown, it follows every step again
    qtbot.waitUntil(lambda: _settled(window, last) and len(shows) == 2, timeout=30_000)
    np.testing.assert_array_equal(kl.kl, window.studio.explorer.pictures.kl_per_dimension)
