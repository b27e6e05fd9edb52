"""Issue 20: File → Export report… writes the run shown as an HTML page, on a task, without freezing the
window (the page itself is tested in tests/test_report.py and tests/test_report_browser.py)."""

from __future__ import annotations

import os

import pytest


def test_export_report_writes_the_page_off_the_ui_thread(qtbot, window, recorded_run, tmp_path):
    from vaestudio.report.tfjs import TfjsMissing, find_tfjs

    try:
        find_tfjs()
    except TfjsMissing as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    folder, _config = recorded_run
    history = window.opening.open_run(folder)
    assert history is not None, window.last_error
    qtbot.waitUntil(lambda: not window.opening.is_replaying(history) and bool(history.snapshots), timeout=60_000)
    assert window.export_report_action in window.menuBar().actions()[0].menu().actions()
    out = tmp_path / "run.html"
    window.commands.answers["exports"] = str(out)
    window.export_report_action.trigger()
    assert not out.exists()  # the action returned at once: the page is written by a task
    assert "Writing the report" in window.status_text()
    qtbot.waitUntil(lambda: "Exported the report" in window.status_text(), timeout=120_000)
    text = out.read_text(encoding="utf-8")
    assert "Decoder of snapshot" in text and folder.name in text
    assert window.errors == []
