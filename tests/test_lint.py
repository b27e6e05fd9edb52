"""The code passes the linter the project configures (pyproject.toml [tool.ruff]: syntax errors, unused
imports and variables, undefined names), so a name left behind by a refactor fails the suite."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise",
                             "vaestudio", "tests", "benchmarks", "packaging"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
