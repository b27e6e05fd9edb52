"""The Compare view's timeline and the main one move together for the active run, while the view is shown.

Moving the shared point (`Comparison.point_changed`) shows, on the main timeline, the active run's snapshot at
or before it (the one its column shows); choosing a moment on the main timeline (`Studio.active_moment_changed`)
moves the shared point to that snapshot, and every column with it. Only when the active run is one of the
compared columns and the view is shown (`Comparison.wanted`): ticking runs, or the view's own reset to the
latest common point while it is hidden, never moves the main timeline. While the window's run trains and
its timeline follows the newest snapshot, the Compare view stays where it is (each column's pictures cost
~0.1 s of CPU, and training makes a snapshot every second or so). Qt-free, state to state.
"""

from __future__ import annotations

from vaestudio.gui.state.run_history import RunHistory, SnapshotInfo


class LinkedTimelines:
    """Keeps the active run's moment and the Compare view's shared point on the same snapshot."""

    def __init__(self, studio, comparison):
        self.studio, self.comparison = studio, comparison
        comparison.point_changed.connect(self._on_point)
        studio.active_moment_changed.connect(self._on_moment)

    def _linked_run(self) -> RunHistory | None:
        """The active run, when the Compare view shows it as a column; else None."""
        active, comparison = self.studio.active, self.comparison
        if not comparison.wanted or active is None or not any(h is active for h in comparison.runs):
            return None
        return active

    def _on_point(self, _value: float) -> None:
        history = self._linked_run()
        if history is None:
            return
        index = self.comparison.index_at(history)
        if index is not None and index != history.current_index:
            history.select(index)  # its column's snapshot; the newest one follows training again

    def _on_moment(self, info: SnapshotInfo | None) -> None:
        history = self._linked_run()
        if history is None or info is None or self.comparison.index_at(history) == info.index:
            return  # the column already shows this snapshot (e.g. the point just moved the timeline)
        if history.following and history is self.studio.live and self.studio.is_training:
            return  # following training: a new snapshot every second or so would recompute every column
        positions = self.comparison.positions(history)
        if 0 <= info.index < len(positions):
            self.comparison.set_point(float(positions[info.index]))
