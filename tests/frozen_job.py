"""The frozen build and the runs of it that tests/test_packaging.py checks, as one job that tests/conftest.py
starts when those tests are collected (it takes minutes, mostly on one core, and needs nothing of them):

    python tests/frozen_job.py FOLDER

builds FOLDER/dist with packaging/build.py (exit code: build.py's when it fails), then runs the built
executable's self-test and a short training, each in FOLDER/<run>/ as its HOME and current folder, and
writes what each printed and its exit code to FOLDER/<run>/result.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PACKAGING = Path(__file__).resolve().parent.parent / "packaging"
RUNS = {  # name: the executable's arguments, given its folder
    "self_test": lambda home: ["--self-test", "--screenshot", str(home / "window.png")],
    "train": lambda home: ["train", "--limit", "512", "--epochs", "1", "--out", str(home / "run")],
}


def frozen_env(home: Path) -> dict[str, str]:
    """The environment of a user's shell: none of this checkout's Python settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(QT_QPA_PLATFORM="offscreen", HOME=str(home), TF_CPP_MIN_LOG_LEVEL="2")
    return env


def main(folder: Path) -> int:
    code = subprocess.run([sys.executable, str(PACKAGING / "build.py"), "--dist", str(folder / "dist"),
                           "--work", str(folder / "work"), "--format", "gz"]).returncode
    if code != 0:
        return code
    executable = folder / "dist" / "vaestudio" / "vaestudio"
    for name, args in RUNS.items():
        home = folder / name
        home.mkdir()
        try:
            done = subprocess.run([str(executable), *args(home)], capture_output=True, text=True, env=frozen_env(home),
                                  cwd=home, timeout=900)
            result = dict(returncode=done.returncode, stdout=done.stdout, stderr=done.stderr)
        except subprocess.TimeoutExpired as exc:
            result = dict(returncode=None, stdout=str(exc.stdout), stderr=f"timed out after {exc.timeout} s")
        (home / "result.json").write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} FOLDER")
    sys.exit(main(Path(sys.argv[1])))
