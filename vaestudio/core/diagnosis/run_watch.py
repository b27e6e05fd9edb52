"""The collapse alarm of a run being trained, kept in its folder: the run pipeline (core/runs.py) hands
every recorded event to a RunCollapseWatch, which raises a CollapseAlarm event when a collapse *stays*:
seen at two epoch ends in a row after the KL warm-up (a run's first steps often pass through a moment
of tiny KL that it leaves by itself). It writes diagnosis.json before the event is yielded; replaying the
folder (core/replay.py) yields every alarm again, after the epoch end that raised it.

diagnosis.json exists only once an alarm was raised: the current state on top ({"collapse": true, reason,
started, last_healthy, advice} while the run is in collapse, {"collapse": false, "reason": "...recovered"}
once a later epoch end is healthy), and "alarms": every alarm raised, each with "raised" {epoch, step}.
A healthy run has none.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from vaestudio.core.diagnosis import collapse
from vaestudio.core.events import CollapseAlarm, EpochEnd, HyperChanged

CONFIRMING_EPOCH_ENDS = 2  # collapsed epoch ends in a row (after the warm-up) that raise the alarm


class RunCollapseWatch:
    """Watches one run's epoch ends (live), seeded with what its folder already recorded (a resumed run)."""

    def __init__(self, folder: str | Path, warmup_steps: int = 0, beta: float | None = None,
                 recorded_rows: Iterable[dict] = (), step: int = 0):
        self.folder = Path(folder)
        self.watch = collapse.LiveWatch(warmup_steps, beta)
        self.watch.moments = collapse.health_from_metrics(recorded_rows)
        self.raised: list[CollapseAlarm] = [a for a in recorded_alarms(self.folder) if a.step <= step]
        self.current = self._confirmed(collapse.detect_collapse(self.watch.moments, warmup_steps, beta))
        if self.raised != recorded_alarms(self.folder):  # a resumed run is cut back to its checkpoint
            self._write()

    def observe(self, event: object) -> CollapseAlarm | None:
        """Take one recorded event; returns the CollapseAlarm to yield after it when the alarm is raised
        (diagnosis.json is written first)."""
        if isinstance(event, HyperChanged):
            self.watch.beta = event.beta
            return None
        if not isinstance(event, EpochEnd) or not len(event.kl_per_dimension):
            return None
        self.watch.moments.append(collapse.health_from_epoch(event.epoch, event.step, event.kl_per_dimension))
        before = self.current
        self.current = self._confirmed(collapse.detect_collapse(self.watch.moments, self.watch.warmup_steps,
                                                                self.watch.beta))
        if self.current is not None and before is None:
            raised = CollapseAlarm(event.epoch, event.step, self.current)
            self.raised.append(raised)
            self._write()
            return raised
        if before is not None and self.current is None:
            self._write(f"no posterior collapse since epoch {event.epoch}, step {event.step} (recovered)")
        return None

    def _confirmed(self, alarm: collapse.Alarm | None) -> collapse.Alarm | None:
        """`alarm` when its collapsed stretch spans CONFIRMING_EPOCH_ENDS watched epoch ends, else None."""
        if alarm is None:
            return None
        stretch = [h for h in self.watch.moments if h.step >= alarm.started_step]
        return alarm if len(stretch) >= CONFIRMING_EPOCH_ENDS else None

    def _write(self, recovered: str | None = None) -> None:
        path = self.folder / collapse.DIAGNOSIS_FILE
        if not self.raised:
            path.unlink(missing_ok=True)
            return
        from vaestudio.core.store.atomic import write_text_atomic

        state = self.current.to_json() if self.current is not None else {
            "collapse": False, "reason": recovered or "no posterior collapse (recovered)"}
        state["alarms"] = [a.alarm.to_json() | {"raised": {"epoch": a.epoch, "step": a.step}} for a in self.raised]
        write_text_atomic(path, json.dumps(state, indent=2) + "\n")


def alarm_from_json(payload: dict) -> collapse.Alarm | None:
    """The Alarm of one collapse.Alarm.to_json() record, or None when it holds none or is malformed."""
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


def recorded_alarms(folder: str | Path) -> list[CollapseAlarm]:
    """Every CollapseAlarm a run folder's diagnosis.json recorded, in the order they were raised."""
    payload = collapse.read_alarm(folder)
    found = []
    for record in (payload or {}).get("alarms") or ():
        alarm = alarm_from_json(record) if isinstance(record, dict) else None
        raised = record.get("raised") if alarm is not None else None
        try:
            found.append(CollapseAlarm(int(raised["epoch"]), int(raised["step"]), alarm))
        except (KeyError, TypeError, ValueError):
            continue
    return found
