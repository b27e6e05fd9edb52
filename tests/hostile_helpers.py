"""Tools for the hostile tests (issue 9): real processes, real kills, real OS errors, no mocks.

- tiny data (`tiny_idx`), run folders trained in-process and copied per test (`trained_runs`);
- `vaestudio` as a subprocess, optionally with a file-size limit (EFBIG, a "full disk" for one file),
  without root's permission override (so chmod bites as root too), or killed at a crash point;
- what a user would check afterwards: `tree_state` (bytes and mtimes of every file, for "nothing
  changed"), `assert_run_complete` (metrics continuous, snapshots 0..n-1, GIF as long as the index,
  no temporary files), `stderr_problems` (tracebacks, "Exception ignored" noise, more than one line).

Its fixtures `tiny_idx` and `trained_runs` are session-scoped and registered by tests/conftest.py.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pytest

from idx_files import write_idx_folder
from vaestudio.cli import main
from vaestudio.core.data import synthetic_dataset

REPO = Path(__file__).resolve().parent.parent
N_TRAIN, N_TEST, BATCH = 128, 64, 32
STEPS_PER_EPOCH = math.ceil(N_TRAIN / BATCH)
# Small and quick: 4 steps per epoch, a 4 x 4 grid. Snapshots: before training, after batch 1, each epoch end.
COMMON = ["--batch-size", str(BATCH), "--lr", "2e-3", "--grid", "4", "--seed", "3"]
PART = re.compile(r"^\..+\.part(\.|$)")  # atomic writes' temporary files: .<name>.<random>.part<suffix>
TF_LOG_LINE = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\)|[IWEF]\d{4} )")


# ---------------------------------------------------------------------------------------------- data


def write_tiny_idx(folder: Path, seed: int = 2) -> Path:
    data = synthetic_dataset(n_train=N_TRAIN, n_test=N_TEST, seed=seed)
    return write_idx_folder(folder, (data.train_images, data.train_labels, data.test_images, data.test_labels))


# Session fixtures, registered for every module by tests/conftest.py. A module that still imports them
# gets fixture definitions of its own, so they also remember what they made: it is made once per test run.
_made: dict[tuple[str, Path], object] = {}


def _once(name: str, tmp_path_factory, make):
    key = (name, tmp_path_factory.getbasetemp())
    if key not in _made:
        _made[key] = make()
    return _made[key]


@pytest.fixture(scope="session")
def tiny_idx(tmp_path_factory) -> Path:
    """The four IDX files of 128 train / 64 test synthetic images."""
    return _once("tiny_idx", tmp_path_factory, lambda: write_tiny_idx(tmp_path_factory.mktemp("idx")))


def train_args(data: Path, out: Path, epochs: int = 2, *extra: str) -> list[str]:
    return ["train", "--data", str(data), "--epochs", str(epochs), *COMMON, *extra, "--out", str(out)]


@dataclass(frozen=True)
class TrainedRuns:
    """Run folders trained once per test run; copy them (`copy_run`) before touching them."""

    finished: Path  # 2 epochs, complete, its checkpoint after epoch 2
    stale: Path  # the same run, but its checkpoint is the one of epoch 1: as if killed in epoch 2 just
    #              after its metrics and snapshot were written and before its checkpoint was
    foreign_checkpoint: Path  # checkpoint.npz of a 1-epoch run with latent_dim 3


@pytest.fixture(scope="session")
def trained_runs(tiny_idx, tmp_path_factory) -> TrainedRuns:
    return _once("trained_runs", tmp_path_factory, lambda: train_runs(tiny_idx, tmp_path_factory.mktemp("runs")))


def train_runs(data: Path, root: Path) -> TrainedRuns:
    """Train the `TrainedRuns` folders under `root` (in this process: no TensorFlow start-up per run)."""
    finished = root / "finished"
    assert main(train_args(data, finished, 1)) == 0
    epoch_1_checkpoint = (finished / "checkpoint.npz").read_bytes()
    assert main(["train", "--resume", str(finished), "--epochs", "2"]) == 0
    stale = root / "stale"
    shutil.copytree(finished, stale)
    (stale / "checkpoint.npz").write_bytes(epoch_1_checkpoint)
    foreign = root / "foreign"
    assert main(train_args(data, foreign, 1, "--latent-dim", "3")) == 0
    return TrainedRuns(finished, stale, foreign / "checkpoint.npz")


def copy_run(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, copy_function=shutil.copy2)
    return target


# ---------------------------------------------------------------------------------------------- files


def tree_state(folder: Path) -> dict[str, tuple[str, int, int]]:
    """Every file and folder below `folder` (hidden ones too): sha256, mtime_ns, mode."""
    state = {}
    for path in sorted(Path(folder).rglob("*")):
        info = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        state[str(path.relative_to(folder))] = (digest, info.st_mtime_ns, info.st_mode)
    return state


def assert_unchanged(before: dict, folder: Path) -> None:
    after = tree_state(folder)
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(name for name in set(before) & set(after)
                     if before[name][0] != after[name][0] or (before[name][0] != "dir" and before[name] != after[name]))
    assert not (added or removed or changed), f"{folder} was changed: added {added}, removed {removed}, changed {changed}"


def part_files(folder: Path) -> list[Path]:
    """Temporary files of atomic writes left anywhere below `folder`."""
    return sorted(p for p in Path(folder).rglob("*") if PART.match(p.name))


def empty_files(folder: Path) -> list[Path]:
    """Visible files of 0 bytes (a run never writes an empty metrics, index, config, image or model)."""
    return sorted(p for p in Path(folder).rglob("*") if p.is_file() and not p.name.startswith(".")
                  and p.stat().st_size == 0)


def metrics_rows(folder: Path) -> list[dict[str, str]]:
    with open(Path(folder) / "metrics.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def epoch_rows(folder: Path) -> list[dict[str, str]]:
    path = Path(folder) / "metrics.csv"
    return [r for r in metrics_rows(folder) if r["kind"] == "epoch"] if path.exists() else []


def index_rows(folder: Path) -> list[list[str]]:
    with open(Path(folder) / "snapshots" / "index.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows and rows[0][:3] == ["frame", "epoch", "step"], f"snapshots/index.csv header is {rows[:1]}"
    return rows[1:]


def gif_frame_count(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as image:
        return image.n_frames


def assert_snapshots_consistent(folder: Path, where: str = "") -> None:
    """snapshots/index.csv lists distinct frames in order, each one on disk, and training.gif shows exactly them."""
    folder = Path(folder)
    frames = [int(r[0]) for r in index_rows(folder)]
    assert frames == sorted(set(frames)), f"{where or folder}: snapshots/index.csv frames {frames}"
    missing = [f for f in frames if not (folder / "snapshots" / f"frame-{f:05d}.png").is_file()]
    assert not missing, f"{where or folder}: frames {missing} listed but not on disk"
    assert gif_frame_count(folder / "training.gif") == len(frames), f"{where or folder}: training.gif frames != index rows"
    assert part_files(folder) == [], f"{where or folder}: temporary files left: {part_files(folder)}"


def assert_run_complete(folder: Path, epochs: int, context: str = "") -> None:
    """What a user expects of a finished run folder, whatever happened to it on the way."""
    folder = Path(folder)
    where = f"{folder}{' (' + context + ')' if context else ''}"
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    assert config["epochs"] == epochs, f"{where}: config.json says {config['epochs']} epochs, expected {epochs}"

    rows = metrics_rows(folder)
    epochs_seen = [int(r["epoch"]) for r in rows if r["kind"] == "epoch"]
    assert epochs_seen == list(range(1, epochs + 1)), f"{where}: metrics.csv epoch rows {epochs_seen}"
    epoch_steps = [int(r["step"]) for r in rows if r["kind"] == "epoch"]
    assert epoch_steps == [STEPS_PER_EPOCH * e for e in range(1, epochs + 1)], \
        f"{where}: epoch rows end at steps {epoch_steps}"
    steps = [int(r["step"]) for r in rows if r["kind"] == "step"]
    assert all(a < b for a, b in zip(steps, steps[1:])), f"{where}: step rows not strictly increasing: {steps}"
    assert steps and steps[-1] == STEPS_PER_EPOCH * epochs, f"{where}: step rows {steps}"

    index = index_rows(folder)
    frames = [int(r[0]) for r in index]
    assert frames == list(range(len(frames))), f"{where}: snapshots/index.csv frames {frames}"
    snapshot_steps = [int(r[2]) for r in index]
    assert snapshot_steps == sorted(snapshot_steps), f"{where}: snapshot steps go back: {snapshot_steps}"
    # Before training, after batch 1, and one at the end of each epoch (the tutorial's schedule).
    assert len(frames) == epochs + 2, f"{where}: {len(frames)} snapshots for {epochs} epochs: {index}"
    pngs = sorted(p.name for p in (folder / "snapshots").glob("frame-*.png"))
    assert pngs == [f"frame-{f:05d}.png" for f in frames], f"{where}: snapshot files {pngs} for index {frames}"
    assert gif_frame_count(folder / "training.gif") == len(frames), f"{where}: training.gif frames != index rows"
    assert (folder / "grid_final.png").stat().st_size > 0
    with zipfile.ZipFile(folder / "model.keras") as archive:
        assert archive.testzip() is None and "config.json" in archive.namelist(), f"{where}: model.keras damaged"
    assert part_files(folder) == [], f"{where}: temporary files left: {part_files(folder)}"
    assert empty_files(folder) == [], f"{where}: empty files: {empty_files(folder)}"


# ---------------------------------------------------------------------------------------------- processes


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("VAESTUDIO_KILL_AT", None)
    env.pop("VAESTUDIO_DEBUG", None)
    env.update(extra)
    return env


# Sets limits and drops capabilities in a fresh interpreter, then becomes `python -m vaestudio ...`
# (exec keeps the file-size limit, the ignored SIGXFSZ and the reduced capability bounding set).
_LAUNCHER = r"""
import ctypes, os, resource, signal, sys
fsize, drop_dac = int(sys.argv[1]), sys.argv[2] == "1"
if fsize >= 0:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
if drop_dac:  # root without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH: file modes apply to it
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            sys.exit(f"launcher: cannot drop capability {cap}: {os.strerror(ctypes.get_errno())}")
os.execv(sys.executable, [sys.executable, "-m", "vaestudio", *sys.argv[3:]])
"""


def command(args: Sequence[str], *, fsize: int | None = None, drop_dac: bool = False) -> list[str]:
    if fsize is None and not drop_dac:
        return [sys.executable, "-m", "vaestudio", *args]
    return [sys.executable, "-c", _LAUNCHER, str(-1 if fsize is None else fsize), "1" if drop_dac else "0", *args]


def run_cli(args: Sequence[str], *, env: dict[str, str] | None = None, fsize: int | None = None,
            drop_dac: bool = False, timeout: float = 240) -> subprocess.CompletedProcess:
    """`vaestudio ARGS` in a subprocess; stdout/stderr as text (undecodable bytes escaped)."""
    return subprocess.run(command(args, fsize=fsize, drop_dac=drop_dac), capture_output=True, env=env or cli_env(),
                          timeout=timeout, cwd=REPO, text=True, errors="backslashreplace")


def start_cli(args: Sequence[str], *, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(command(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env or cli_env(),
                            cwd=REPO, text=True, errors="backslashreplace")


def kill_at(spec: str) -> dict[str, str]:
    """Environment that makes vaestudio SIGKILL itself at a crash point (see core/store/faults.py)."""
    return cli_env(VAESTUDIO_KILL_AT=spec)


def wait_for(condition, process: subprocess.Popen | None = None, timeout: float = 120, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"process ended (exit {process.returncode}) before {what}: {err[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def stop_process(process: subprocess.Popen, sig: int = signal.SIGKILL) -> tuple[str, str]:
    if process.poll() is None:
        process.send_signal(sig)
    return process.communicate(timeout=120)


def meaningful_lines(stderr: str) -> list[str]:
    """stderr without TensorFlow's C++ start-up log lines (issue 10 removes those separately)."""
    return [line for line in stderr.splitlines() if line.strip() and not TF_LOG_LINE.match(line)]


def stderr_problems(stderr: str, lines: int = 1) -> list[str]:
    """What is wrong with an error report that should be `lines` line(s): tracebacks, noise, extra lines."""
    problems = []
    if "Traceback" in stderr:
        problems.append("a traceback")
    if "Exception ignored" in stderr:
        problems.append("'Exception ignored' noise")
    kept = meaningful_lines(stderr)
    if len(kept) != lines:
        problems.append(f"{len(kept)} lines instead of {lines}: {kept[:6]}")
    return problems


def recover(folder: Path, new_run_args: Sequence[str], epochs: int | None = None, tries: int = 3) -> list[int]:
    """What a user does after a crash: `--resume` the folder (or, when the crash came before its config
    existed, start the same run again) until it completes. Returns the exit codes seen."""
    codes = []
    for _ in range(tries):
        if _already_complete(folder, epochs):
            codes.append(0)  # the crash came after everything was saved: `--resume` would say it is complete
            break
        if (folder / "config.json").exists():
            code = main(["train", "--resume", str(folder), *(["--epochs", str(epochs)] if epochs else [])])
        else:
            code = main(list(new_run_args))
        codes.append(code)
        if code == 0:
            break
    return codes


def _already_complete(folder: Path, epochs: int | None) -> bool:
    from vaestudio.core.errors import VaeStudioError
    from vaestudio.core.store.run_folder import RunFolder

    try:
        state = RunFolder(folder).read_state()
    except VaeStudioError:
        return False
    return state.complete and not state.final_files_missing and (epochs is None or state.config.epochs == epochs)


# ---------------------------------------------------------------------------------------------- checkpoints


def read_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def rewrite_checkpoint(path: Path, meta: dict | None = None, **arrays: np.ndarray) -> None:
    """Rewrite a checkpoint .npz with some meta values or arrays replaced (keeps everything else)."""
    content = read_npz(path)
    if meta:
        content["meta"] = np.array(json.dumps(json.loads(str(content["meta"])) | meta))
    content.update(arrays)
    with open(path, "wb") as handle:
        np.savez(handle, **content)


def npy_claiming(shape: tuple[int, ...], dtype: str = "<f4", payload: bytes = b"\0" * 64) -> bytes:
    """A .npy member whose header claims `shape` but which holds only `payload`."""
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode("latin1")
    pad = 64 - (10 + len(header) + 1) % 64
    header += b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + payload


def replace_npz_member(path: Path, member: str, data: bytes) -> None:
    """Swap one member of an .npz (a zip) for raw bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(buffer, "w") as target:
        for item in source.infolist():
            target.writestr(item.filename, data if item.filename == member else source.read(item.filename))
    path.write_bytes(buffer.getvalue())


# ---------------------------------------------------------------------------------------------- misc


def non_utf8(folder: Path, name: bytes) -> Path:
    """A path inside `folder` whose last part is the bytes `name` (e.g. b'run-\\xff'): not valid UTF-8."""
    return Path(os.fsdecode(os.fsencode(folder) + b"/" + name))
