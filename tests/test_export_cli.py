"""Issue 20: `vaestudio export` picks the snapshot asked for, writes what it is asked for, and refuses bad input in
one line naming the file, exit 2, with nothing half-written left behind (a read-only folder and a full disk are
real: a subprocess without root's permission override, and one with a file-size limit)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from hostile_helpers import assert_unchanged, run_cli, stderr_problems, tree_state
from vaestudio.cli import main
from vaestudio.core import probes
from vaestudio.core.export.tfjs import read_layers_weights
from vaestudio.core.numpy_vae import NumpyVAE
from vaestudio.core.store.run_folder import RunFolder
from vaestudio import reports

LEGACY_RUN = Path(__file__).resolve().parent / "data" / "run-0.1.0"


def _snapshot_weights(run: Path, frame: int):
    store = RunFolder(run).snapshots
    return store.load_weights(next(r for r in store.records() if r.frame == frame))


def _refused(capsys, args: list[str], *names: str) -> str:
    """Exit 2 and one stderr line that names each of `names`."""
    assert main(args) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("vaestudio: error: "), err
    for name in names:
        assert str(name) in lines[0], lines[0]
    return lines[0]


def _leftovers(folder: Path) -> list[str]:
    """Staging folders or temporary files of an export left in `folder`."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and (".part" in p.name or p.name.endswith(".old")))


def test_export_writes_the_snapshot_asked_for_and_the_test_set_codes(trained_runs, tmp_path, capsys):
    run = trained_runs.finished
    args = ["export", str(run), "--at", "frame:1", "--format", "tfjs", "--out", str(tmp_path / "tfjs"),
            "--latents", str(tmp_path / "codes.npz"), "--projector", str(tmp_path / "projector"), "--limit", "20"]
    assert main(args) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert out.count("Wrote ") == 3 and "tensorboard --logdir" in out
    weights = _snapshot_weights(run, 1)
    stored = read_layers_weights(tmp_path / "tfjs" / "decoder")
    assert [a.tobytes() for a in stored.values()] == [a.tobytes() for a in weights.decoder]
    description = json.loads((tmp_path / "tfjs" / "vaestudio-export.json").read_text(encoding="utf-8"))
    assert "step 1" in description["source"] and description["architecture"]["latent_dim"] == 2
    images = reports.test_split(RunFolder(run).read_config(), None)[0]
    with np.load(tmp_path / "codes.npz") as codes:
        assert codes["mean"].shape == (64, 2) and codes["label"].shape == (64,)
        expected, _logvar = NumpyVAE(weights).encode(probes.model_inputs(images, weights.architecture))
        np.testing.assert_array_equal(codes["mean"], expected)
    assert len((tmp_path / "projector" / "tensors.tsv").read_text().splitlines()) == 20
    assert _leftovers(tmp_path) == []
    # The same export again replaces the earlier one; --at epoch:N picks that epoch's end.
    assert main(["export", str(run), "--at", "epoch:2", "--format", "tfjs", "--out", str(tmp_path / "tfjs")]) == 0
    last = RunFolder(run).snapshots.records()[-1]
    stored = read_layers_weights(tmp_path / "tfjs" / "decoder")
    assert [a.tobytes() for a in stored.values()] == [a.tobytes() for a in _snapshot_weights(run, last.frame).decoder]
    assert _leftovers(tmp_path) == []


def test_a_model_file_exports_like_a_run(trained_runs, tmp_path, capsys):
    model = trained_runs.finished / "model.keras"
    assert main(["export", str(model), "--format", "keras", "--out", str(tmp_path / "keras")]) == 0
    assert sorted(p.name for p in (tmp_path / "keras").iterdir()) == ["decoder.keras", "encoder.keras",
                                                                      "vaestudio-export.json"]
    _refused(capsys, ["export", str(model), "--at", "epoch:1", "--format", "keras", "--out", str(tmp_path / "k2")],
             "--at")


def test_bad_formats_paths_and_runs_are_refused_in_one_line(trained_runs, tmp_path, capsys):
    run = str(trained_runs.finished)
    _refused(capsys, ["export", run, "--format", "pickle", "--out", str(tmp_path / "x")], "'pickle'", "onnx")
    _refused(capsys, ["export", run, "--format", "onnx", "--out", "/dev/zero"], "/dev/zero", "device")
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    _refused(capsys, ["export", run, "--latents", str(fifo)], str(fifo), "FIFO")
    _refused(capsys, ["export", run, "--format", "keras", "--out", str(fifo)], str(fifo), "FIFO")
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere")
    _refused(capsys, ["export", run, "--format", "tfjs", "--out", str(link)], str(link), "symbolic link")
    _refused(capsys, ["export", run, "--latents", str(tmp_path / "codes.txt")], "codes.txt", ".npz or .csv")
    _refused(capsys, ["export", run, "--at", "frame:99", "--format", "tfjs", "--out", str(tmp_path / "t")], "frame 99")
    _refused(capsys, ["export", run], "nothing to export")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    before = tree_state(busy)
    _refused(capsys, ["export", run, "--format", "tfjs", "--out", str(busy)], str(busy), "other files")
    assert_unchanged(before, busy)
    logs = tmp_path / "logs"  # a TensorBoard log folder with a projector config of its own is not replaced
    logs.mkdir()
    (logs / "projector_config.pbtxt").write_text("embeddings {}\n")
    (logs / "events.out.tfevents.1.host").write_bytes(b"events")
    before = tree_state(logs)
    _refused(capsys, ["export", run, "--projector", str(logs)], str(logs), "other files")
    assert_unchanged(before, logs)
    legacy = _refused(capsys, ["export", str(LEGACY_RUN), "--format", "tfjs", "--out", str(tmp_path / "old")],
                      "without model weights")
    assert "run-0.1.0" in legacy
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy", "link", "logs", "pipe.npz"]


def test_a_read_only_folder_is_one_line_naming_the_export_and_nothing_is_written(trained_runs, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = run_cli(["export", str(trained_runs.finished), "--format", "tfjs", "--out", str(locked / "tfjs"),
                          "--latents", str(locked / "codes.csv")], drop_dac=True)
        assert result.returncode == 2, result.stderr
        assert stderr_problems(result.stderr) == [], result.stderr
        assert str(locked / "tfjs") in result.stderr and "read-only" in result.stderr
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


@pytest.mark.parametrize("what", ["model", "latents"])
def test_a_full_disk_leaves_the_earlier_export_untouched_and_nothing_half_written(trained_runs, tmp_path, capsys,
                                                                                   what):
    """A file-size limit below the decoder's weights (about 100 KB) or the table makes the write fail with
    EFBIG, as a full disk would."""
    run = str(trained_runs.finished)
    if what == "model":
        args = ["export", run, "--at", "frame:0", "--format", "tfjs", "--out", str(tmp_path / "tfjs")]
        target, limit = tmp_path / "tfjs", 40_000
    else:
        args = ["export", run, "--at", "frame:0", "--latents", str(tmp_path / "codes.csv")]
        target, limit = tmp_path / "codes.csv", 2_000
    assert main(args) == 0
    capsys.readouterr()
    before = tree_state(tmp_path)
    args[args.index("frame:0")] = "frame:2"
    result = run_cli(args, fsize=limit)
    assert result.returncode == 2, result.stderr
    assert stderr_problems(result.stderr) == [], result.stderr
    assert str(target) in result.stderr and "too large" in result.stderr.lower(), result.stderr
    assert_unchanged(before, tmp_path)


def test_a_format_whose_converter_is_missing_is_refused_saying_why(trained_runs, tmp_path, capsys, monkeypatch):
    """Where tf2onnx cannot be installed (or a frozen build left it out), --format onnx says so, writing nothing."""
    from vaestudio.core.export import formats

    monkeypatch.setitem(formats.CONVERTERS, "onnx", ("tf2onnx_not_here",))
    _refused(capsys, ["export", str(trained_runs.finished), "--format", "onnx", "--out", str(tmp_path / "onnx")],
             "--format onnx", "tf2onnx_not_here", "not installed")
    assert list(tmp_path.iterdir()) == []
