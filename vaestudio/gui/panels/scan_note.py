"""The line a diagnosis panel adds when its scan is of an earlier moment than the one shown (paced while
the window's run trains: gui/state/pacing.py)."""

from __future__ import annotations


def older_scan_note(info) -> str:
    """HTML for a scan of moment `info` (a SnapshotInfo) that is not the moment shown; "" for None."""
    if info is None:
        return ""
    return (f"<br><i>Of {info.label}: while the run trains, the test images are scanned every few seconds "
            f"(pause to scan the moment shown now).</i>")
