"""Issue 21, hangs and unbounded reads: FIFOs, /dev/zero, sparse files and deeply nested JSON in the files
of a run folder, a dataset and the image cache. Each must be refused at once, in one line naming the file."""

from __future__ import annotations

import json
import os
import signal
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from hostile_helpers import copy_run, read_npz, run_cli, stderr_problems

NESTED = "[" * 100_000


@contextmanager
def no_hang(seconds: int = 20):
    """Fail (instead of blocking the suite) when the body does not return within `seconds`."""
    def expired(signum, frame):
        raise AssertionError(f"blocked for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def refused_in_one_line(result, *words: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert not stderr_problems(result.stderr), stderr_problems(result.stderr)
    assert len(result.stderr) < 600, f"a {len(result.stderr)}-character message"
    for word in words:
        assert word in result.stderr, (word, result.stderr)


def make_fifo(path: Path) -> None:
    path.unlink(missing_ok=True)
    os.mkfifo(path)


def make_dev_zero(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.symlink_to("/dev/zero")


def make_sparse(path: Path) -> None:
    with open(path, "wb") as handle:
        handle.truncate(1 << 30)  # 1 GB of NULs that take no disk


@pytest.mark.parametrize("make", [make_fifo, make_dev_zero, make_sparse], ids=["fifo", "dev-zero", "sparse-1GB"])
@pytest.mark.parametrize("name", ["run.json", "metrics.csv", "snapshots/index.csv", "config.json"])
def test_resume_refuses_special_or_huge_run_files_at_once(trained_runs, tmp_path, name, make):
    run = copy_run(trained_runs.finished, tmp_path / "run")
    make(run / name)
    result = run_cli(["train", "--resume", str(run), "--epochs", "3"], timeout=60)
    if name == "run.json":  # a side-car: an unreadable one is ignored, never a reason to hang or grow
        assert result.returncode in (0, 2), result.stderr[-2000:]
        assert "Traceback" not in result.stderr
        return
    refused_in_one_line(result, name)


@pytest.mark.parametrize("kind", ["fifo", "folder", "missing", "dev-zero"])
def test_a_damaged_snapshot_weights_file_is_named(trained_runs, tmp_path, kind):
    run = copy_run(trained_runs.finished, tmp_path / "run")
    weights = sorted((run / "snapshots").glob("frame-*.npz"))[-1]
    weights.unlink()
    if kind == "fifo":
        os.mkfifo(weights)
    elif kind == "folder":
        weights.mkdir()
    elif kind == "dev-zero":
        weights.symlink_to("/dev/zero")
    result = run_cli(["inspect", str(run), "--iwae-k", "0", "--images", "8"], timeout=60)
    refused_in_one_line(result, weights.name)
    assert "without model weights" not in result.stderr


@pytest.mark.parametrize("where", ["checkpoint", "snapshot"])
def test_deeply_nested_meta_is_a_one_line_error(trained_runs, tmp_path, where):
    from hostile_helpers import replace_npz_member

    run = copy_run(trained_runs.finished, tmp_path / "run")
    target = run / "checkpoint.npz" if where == "checkpoint" else sorted((run / "snapshots").glob("*.npz"))[-1]
    buffer = __import__("io").BytesIO()
    np.save(buffer, np.array(NESTED))
    replace_npz_member(target, "meta.npy", buffer.getvalue())
    args = (["train", "--resume", str(run), "--epochs", "3"] if where == "checkpoint"
            else ["inspect", str(run), "--iwae-k", "0", "--images", "8"])
    refused_in_one_line(run_cli(args, timeout=60), target.name, "nested too deeply")


def test_deeply_nested_run_json_is_ignored_by_replay(trained_runs, tmp_path):
    from vaestudio.core.events import Finished
    from vaestudio.core.runs import replay

    run = copy_run(trained_runs.finished, tmp_path / "run")
    (run / "run.json").write_text(NESTED)
    with no_hang():
        events = list(replay(run))
    assert isinstance(events[-1], Finished)


def test_data_files_and_the_image_cache_never_block(tmp_path):
    from vaestudio.core.data.cache import read_cache
    from vaestudio.core.data.npz import read_npz as read_dataset
    from vaestudio.core.errors import DataError

    fifo = tmp_path / "mnist.npz"
    os.mkfifo(fifo)
    with no_hang(), pytest.raises(DataError, match="mnist.npz: is a FIFO"):
        read_dataset(fifo)
    with no_hang(), pytest.raises(DataError, match="zero: is a device"):
        read_dataset(Path("/dev/zero"))
    cache = tmp_path / "cache.bin"
    os.mkfifo(cache)
    with no_hang():
        assert read_cache(cache, tmp_path, 28, 1) is None  # not a cache: rebuilt, never waited on


def png_header_only(width: int, height: int, bit_depth: int, colour_type: int) -> bytes:
    """A PNG whose header claims `width` x `height` (its pixel data is left out: nothing to decode)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    pixels = chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + pixels + chunk(b"IEND", b"")


def test_a_huge_16_bit_png_is_refused_before_decoding():
    import time

    from vaestudio.core.data.decode import ImageDecodeError, decode_image

    started = time.perf_counter()
    with pytest.raises(ImageDecodeError, match="too large to decode.*9400 x 9400"):
        decode_image(png_header_only(9400, 9400, 16, 0), 28, 1)
    assert time.perf_counter() - started < 2


def test_render_and_inspect_refuse_sizes_they_cannot_hold(trained_runs, tmp_path):
    run = copy_run(trained_runs.finished, tmp_path / "run")
    config = json.loads((run / "config.json").read_text())
    config["grid_size"] = 40
    (run / "config.json").write_text(json.dumps(config))
    refused_in_one_line(run_cli(["render", str(run), "--grid", "--scale", "16", "--out", str(tmp_path / "g.png")]),
                        "megapixels", "--scale")
    assert not (tmp_path / "g.png").exists()
    refused_in_one_line(run_cli(["inspect", str(run), "--iwae-k", "1000000000"]), "--iwae-k", "100000")


def test_absurd_or_foreign_snapshot_weights_are_refused_by_name(trained_runs, tmp_path):
    run = copy_run(trained_runs.finished, tmp_path / "run")
    weights = sorted((run / "snapshots").glob("frame-*.npz"))[-1]
    content = read_npz(weights)
    content["decoder_0"] = np.full_like(content["decoder_0"], 3e38)
    with open(weights, "wb") as handle:
        np.savez(handle, **content)
    result = run_cli(["render", str(run), "--grid", "--out", str(tmp_path / "g.png")])
    refused_in_one_line(result, weights.name, "absurd")
    assert "overflow" not in result.stderr.lower()

    foreign = sorted((copy_run(trained_runs.foreign_checkpoint.parent, tmp_path / "foreign") / "snapshots")
                     .glob("frame-*.npz"))[-1]
    weights.write_bytes(foreign.read_bytes())
    refused_in_one_line(run_cli(["render", str(run), "--grid", "--out", str(tmp_path / "g.png")]),
                        weights.name, "latent")


def test_inspect_json_never_prints_nan():
    from vaestudio.reports import json_safe

    report = json_safe({"elbo": float("nan"), "kl_per_dimension": [1.0, float("inf")], "iwae": {"log_px": 2.0}})
    text = json.dumps(report, allow_nan=False)
    assert json.loads(text)["elbo"] is None
    assert report["not_finite"]["values"] == ["elbo", "kl_per_dimension[1]"]
    assert "diverged" in report["not_finite"]["reason"]


def test_replay_skips_one_damaged_snapshot_and_shows_the_rest(trained_runs, tmp_path):
    from vaestudio.core.events import EpochEnd, Snapshot, Status
    from vaestudio.core.runs import replay

    run = copy_run(trained_runs.finished, tmp_path / "run")
    frames = sorted((run / "snapshots").glob("frame-*.png"))
    middle = frames[len(frames) // 2]
    middle.write_bytes(b"not a png")
    events = list(replay(run))
    shown = [e for e in events if isinstance(e, Snapshot)]
    assert len(shown) == len(frames) - 1
    assert any(isinstance(e, Status) and middle.name in e.text for e in events)
    assert [e.epoch for e in events if isinstance(e, EpochEnd)] == [1, 2]
