"""The collapse alarm of a run being trained, kept in its folder: the run pipeline (core/runs.py) hands
every recorded event to a RunCollapseWatch, which raises a CollapseAlarm event at the epoch end that shows
the collapse and writes diagnosis.json then; replaying the folder (core/replay.py) yields it again.

diagnosis.json exists only once an alarm was raised: {"collapse": true, reason, started, last_healthy,
advice} while the run is in collapse; {"collapse": false, "reason": "...recovered...", "earlier": {...}}
when a later epoch end is healthy again. A healthy run has none.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from vaestudio.core.diagnosis import collapse
from vaestudio.core.events import CollapseAlarm, EpochEnd, HyperChanged


class RunCollapseWatch:
    """Watches one run's epoch ends (live), seeded with what its folder already recorded (a resumed run)."""

    def __init__(self, folder: str | Path, warmup_steps: int = 0, beta: float | None = None,
                 recorded_rows: Iterable[dict] = (), step: int = 0):
        self.folder = Path(folder)
        self.watch = collapse.LiveWatch(warmup_steps, beta)
        self.watch.moments = collapse.health_from_metrics(recorded_rows)
        self.watch.alarm = collapse.detect_collapse(self.watch.moments, warmup_steps, beta)
        self._drop_alarm_beyond(step)

    def observe(self, event: object) -> CollapseAlarm | None:
        """Take one recorded event; returns the CollapseAlarm to yield after it when the alarm is raised
        (diagnosis.json is written first)."""
        if isinstance(event, HyperChanged):
            self.watch.beta = event.beta
            return None
        if not isinstance(event, EpochEnd):
            return None
        before = self.watch.alarm
        raised = self.watch.epoch_ended(event.epoch, event.step, event.kl_per_dimension)
        if raised is not None:
            collapse.record_alarm(self.folder, raised)
            return CollapseAlarm(raised.started_epoch, raised.started_step, raised)
        if before is not None and self.watch.alarm is None:
            _record_recovery(self.folder, before, event)
        return None

    def _drop_alarm_beyond(self, step: int) -> None:
        """A resumed run is cut back to its checkpoint: an alarm recorded after it goes too."""
        recorded = collapse.read_alarm(self.folder)
        if recorded is None or self.watch.alarm is not None:
            return
        started = alarm_from_json(recorded) if recorded.get("collapse") else None
        if started is not None and started.started_step > step:
            (self.folder / collapse.DIAGNOSIS_FILE).unlink(missing_ok=True)


def _record_recovery(folder: Path, earlier: collapse.Alarm, event: EpochEnd) -> None:
    from vaestudio.core.store.atomic import write_text_atomic

    payload = {"collapse": False, "reason": f"no posterior collapse since epoch {event.epoch}, step {event.step} "
               f"(recovered)", "earlier": earlier.to_json()}
    write_text_atomic(folder / collapse.DIAGNOSIS_FILE, json.dumps(payload, indent=2) + "\n")


def alarm_from_json(payload: dict) -> collapse.Alarm | None:
    """The Alarm a diagnosis.json holds (collapse.Alarm.to_json's shape), or None when it holds none or
    is malformed."""
    try:
        if payload.get("collapse") is not True:
            return None
        started, healthy = payload["started"], payload.get("last_healthy")
        return collapse.Alarm(int(started["step"]), int(started["epoch"]), str(payload["reason"]),
                              tuple(str(a) for a in payload.get("advice") or ()),
                              None if not healthy else int(healthy["step"]),
                              None if not healthy else int(healthy["epoch"]))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def recorded_alarm(folder: str | Path) -> CollapseAlarm | None:
    """The CollapseAlarm event a run folder recorded (its diagnosis.json says the run is in collapse)."""
    payload = collapse.read_alarm(folder)
    alarm = None if payload is None else alarm_from_json(payload)
    return None if alarm is None else CollapseAlarm(alarm.started_epoch, alarm.started_step, alarm)
