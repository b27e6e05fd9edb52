"""Issue 20: `vaestudio report` without a browser: what the page holds, that every string from the run is
escaped, and bad input (missing run, a run without weights, a read-only folder, a full disk, no
TensorFlow.js): one line naming the file and what is wrong, exit 2, nothing half-written.
(tests/test_report_browser.py opens the page in Chromium.)"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import re
from pathlib import Path

import pytest

from hostile_helpers import copy_run, part_files, run_cli, stderr_problems, tiny_idx, trained_runs
from vaestudio.cli import main
from vaestudio.report import tfjs
from vaestudio.report.page import render_page, script_json

__all__ = ["tiny_idx", "trained_runs"]  # session fixtures

TESTS = Path(__file__).resolve().parent
OLD_RUN = TESTS / "data" / "run-0.1.0"
HOSTILE = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>']


@pytest.fixture(scope="module")
def have_tfjs() -> str:
    try:
        return tfjs.read_tfjs()
    except tfjs.TfjsMissing as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{exc} (packaging/bootstrap.sh test fetches it)")
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def hostile_run(trained_runs, tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("report")
    return copy_run(trained_runs.finished, base / "<script>alert(1)<" / 'script>"><img src=x onerror=alert(1)>')


@pytest.fixture(scope="module")
def page(have_tfjs, hostile_run, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("page") / "run.html"
    assert main(["report", str(hostile_run), "--iwae-k", "5", "--out", str(out)]) == 0
    return out, out.read_text(encoding="utf-8")


def _refused(result, *names: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert stderr_problems(result.stderr) == [], result.stderr[-2000:]
    for name in names:
        assert name in result.stderr, result.stderr


def test_script_data_cannot_end_its_script_element():
    text = script_json({"label": "</script><script>alert(1)</script><!-- & \u2028"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"label": "</script><script>alert(1)</script><!-- & \u2028"}


def test_the_page_is_self_contained_and_holds_every_section(page):
    out, text = page
    assert out.stat().st_size < 10_000_000
    for section in ("settings", "curves", "snapshots", "plane", "figures", "animation"):
        assert f'<section id="{section}">' in text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text, re.I)  # nothing fetched
    assert "default-src 'none'" in text  # and the browser is told so
    assert 'src="data:image/gif;base64,' in text  # the training animation
    assert "Apache-2.0" in text and f"TensorFlow.js {tfjs.VERSION}" in text
    assert "log p(x) (IWAE)" in text and "k = 5 importance samples" in text
    assert "Active units" in text and "Decoder of snapshot" in text


def test_markup_in_folder_names_is_escaped(page, hostile_run):
    _out, text = page
    for markup in HOSTILE:
        assert markup not in text
    assert html.escape(hostile_run.name) in text
    assert html.escape(str(hostile_run)) in text
    assert "<img src=x" not in text
    data = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', text, re.S).group(1)
    assert "<" not in data


def test_labels_class_names_and_settings_from_the_run_are_escaped(have_tfjs, hostile_run):
    from vaestudio.report.content import gather

    content = gather(hostile_run, iwae_k=0, images=16)
    content.figures.class_names = ("<b>bold</b>", HOSTILE[1])
    content.settings["data_dir"] = HOSTILE[0]
    content.lineage = [(HOSTILE[0], 0), (HOSTILE[1], 0)]
    content.snapshots = [dataclasses.replace(s, label=HOSTILE[0]) for s in content.snapshots]
    content.chosen = content.snapshots[-1]
    content.figures.diagnosis = [HOSTILE[1]]
    text = render_page(content, "/* TensorFlow.js */")
    for markup in HOSTILE + ["<b>bold</b>"]:
        assert markup not in text
    assert html.escape("<b>bold</b>") in text
    assert text.count("<script") == 3


def test_a_chosen_frame_is_the_planes_snapshot(have_tfjs, hostile_run, tmp_path):
    out = tmp_path / "first.html"
    assert main(["report", str(hostile_run), "--at", "frame:0", "--iwae-k", "0", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert re.search(r"Decoder of snapshot <b>[^<]*</b> \(step 0, frame 0\)", text)


@pytest.mark.parametrize("at, message", [("frame:99", "no snapshot frame 99"), ("epoch:7", "no snapshot at the end "
                                                                                             "of epoch 7"),
                                          ("soon", "expected an epoch number")])
def test_an_unknown_snapshot_is_one_line(have_tfjs, trained_runs, tmp_path, capsys, at, message):
    out = tmp_path / "run.html"
    assert main(["report", str(trained_runs.finished), "--at", at, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_a_missing_run_is_one_line_and_writes_nothing(have_tfjs, tmp_path, capsys):
    out = tmp_path / "run.html"
    assert main(["report", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'nowhere'}: no such run folder" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_a_run_without_weights_names_the_missing_file(have_tfjs, tmp_path, capsys):
    out = tmp_path / "run.html"
    assert main(["report", str(OLD_RUN), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "frame-00002.npz" in err and "without model weights" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_out_must_be_an_html_file_in_an_existing_folder(trained_runs, tmp_path, capsys):
    assert main(["report", str(trained_runs.finished), "--out", str(tmp_path / "run.png")]) == 2
    assert "must end in .html" in capsys.readouterr().err
    assert main(["report", str(trained_runs.finished), "--out", str(tmp_path / "no" / "run.html")]) == 2
    assert f"{tmp_path / 'no'}: no such folder" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_without_tensorflow_js_the_report_says_how_to_get_it(trained_runs, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(tfjs, "candidates", lambda: [tmp_path / "absent" / "tf.min.js"])
    assert main(["report", str(trained_runs.finished), "--out", str(tmp_path / "run.html")]) == 2
    err = capsys.readouterr().err
    assert "python -m vaestudio.report.tfjs fetch" in err and "tf.min.js" in err and err.count("\n") == 1
    assert not (tmp_path / "run.html").exists()


def test_a_tensorflow_js_that_is_not_the_pinned_file_is_refused(trained_runs, tmp_path, capsys, monkeypatch):
    other = tmp_path / "tf.min.js"
    other.write_text("window.tf = {};")
    monkeypatch.setenv(tfjs.ENVIRONMENT, str(other))
    assert main(["report", str(trained_runs.finished), "--out", str(tmp_path / "run.html")]) == 2
    assert "sha256 differs" in capsys.readouterr().err
    assert not (tmp_path / "run.html").exists()


def test_a_read_only_folder_is_refused_by_name(have_tfjs, trained_runs, tmp_path):
    if os.geteuid() == 0 and run_cli(["--version"], drop_dac=True, timeout=60).returncode != 0:
        pytest.skip("cannot drop root's permission override here")
    folder = tmp_path / "read-only"
    folder.mkdir()
    os.chmod(folder, 0o555)
    try:
        result = run_cli(["report", str(trained_runs.finished), "--out", str(folder / "run.html")],
                         drop_dac=os.geteuid() == 0, timeout=120)
        _refused(result, str(folder / "run.html"), "read-only")
        assert list(folder.iterdir()) == []
    finally:
        os.chmod(folder, 0o755)


def test_a_full_disk_leaves_the_previous_report_whole(have_tfjs, trained_runs, tmp_path):
    out = tmp_path / "run.html"
    out.write_text("the previous report")
    result = run_cli(["report", str(trained_runs.finished), "--iwae-k", "0", "--out", str(out)],
                     fsize=1_000_000, timeout=240)  # the page (TensorFlow.js alone is 1.5 MB) does not fit
    _refused(result, str(out))
    assert out.read_text() == "the previous report"
    assert part_files(tmp_path) == []


def test_over_its_budget_the_page_leaves_out_the_animation_and_spreads_fewer_grids(have_tfjs, trained_runs,
                                                                                 monkeypatch):
    from vaestudio.report import content as report_content

    monkeypatch.setattr(report_content, "PAGE_BUDGET", report_content.FIXED_BYTES + 10)
    monkeypatch.setattr(report_content, "GRID_BUDGET", 1)
    gathered = report_content.gather(trained_runs.finished, iwae_k=0, images=16)
    records = len(gathered.snapshots)
    assert gathered.animation_gif is None
    assert any("training.gif" in note and "not embedded" in note for note in gathered.notes)
    assert records <= 3 and gathered.chosen in gathered.snapshots  # two spread, and the chosen one
    text = render_page(gathered, "/* TensorFlow.js */")
    assert "training.gif" in text and "the slider shows" in text


def test_a_branched_run_shows_its_lineage(have_tfjs, trained_runs, tmp_path):
    child, out = tmp_path / "child", tmp_path / "child.html"
    assert main(["train", "--from", f"{trained_runs.finished}@epoch:1", "--out", str(child), "--epochs", "2"]) == 0
    assert main(["report", str(child), "--iwae-k", "0", "--images", "16", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    lineage = re.search(r'<ol class="lineage">(.*?)</ol>', text, re.S).group(1)
    assert lineage.index(html.escape(str(child))) < lineage.index(html.escape(str(trained_runs.finished)))
    assert "branched from the next at step 4" in lineage and "the first run" in lineage
