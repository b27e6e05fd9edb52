"""Crash points for fault-injection tests: a real SIGKILL at a chosen moment of a chosen write.

Set `VAESTUDIO_KILL_AT=<point>:<file name>[:<n>]` and the process kills itself (SIGKILL: no clean-up,
like a power cut) the n-th time (default 1) it reaches that point for that file. Points:
`atomic` (a temporary file is fully written but not yet renamed over the target) and `append` (half
of a line has been appended). Without the variable this costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

VARIABLE = "VAESTUDIO_KILL_AT"
_seen: dict[tuple[str, str], int] = {}


def crash_point(point: str, file_name: str) -> None:
    """Die here if the environment asks for it (tests only)."""
    spec = os.environ.get(VARIABLE)
    if not spec:
        return
    parts = spec.split(":")
    if len(parts) < 2 or parts[0] != point or parts[1] != file_name:
        return
    wanted = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 1
    key = (point, file_name)
    _seen[key] = _seen.get(key, 0) + 1
    if _seen[key] == wanted:
        os.kill(os.getpid(), signal.SIGKILL)
