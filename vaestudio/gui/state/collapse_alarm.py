"""The active run's posterior-collapse alarm, without Qt: recomputed from the run's epoch ends (their
per-dimension KL, core/diagnosis/collapse.py LiveWatch) when an epoch ends or the active run changes, so it
is raised live and for any opened run; announced only when raised, cleared or started elsewhere."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psygnal import Signal

if TYPE_CHECKING:
    from vaestudio.gui.state.studio import Studio


class CollapseAlarm:
    """Follows the studio's active run and keeps `alarm` (collapse.Alarm | None) current."""

    alarm_changed = Signal(object)  # collapse.Alarm | None

    def __init__(self, studio: Studio):
        self.studio = studio
        self.alarm = None
        studio.active_changed.connect(self.update)
        studio.active_epoch_ended.connect(self.update)
        studio.active_cleared.connect(self.update)

    def update(self, *_args) -> None:
        """Recompute the alarm from the active run's epoch ends; announce it if it changed."""
        from vaestudio.core.diagnosis import collapse

        history = self.studio.active
        alarm = None
        if history is not None:
            config = history.config
            beta = history.hyper_changes[-1].beta if history.hyper_changes else (config.beta if config else None)
            watch = collapse.LiveWatch(config.kl_warmup_steps if config else 0, beta)
            for end in history.epoch_ends:
                watch.epoch_ended(end.epoch, end.step, end.kl_per_dimension)
            alarm = watch.alarm

        def start(value):
            return None if value is None else (value.started_step, value.last_healthy_step)

        announce = start(alarm) != start(self.alarm)  # raised, cleared or started elsewhere: not every epoch
        self.alarm = alarm
        if announce:
            self.alarm_changed.emit(alarm)
