"""Fresh processes that a module starts before its other tests and whose results its last tests check: such a
process spends seconds starting (Python, Qt, TensorFlow) mostly on one core, beside tests that leave much of a
second core idle. Their output goes to files (nobody need read it while they run)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Sequence


class Background:
    """`args` started now (stdin closed); `result()` waits for it like `subprocess.run(..., capture_output=True,
    text=True)` and returns the same CompletedProcess; `discard()` kills it if still running."""

    def __init__(self, args: Sequence[str], **popen) -> None:
        self.args = list(args)
        self.folder = Path(tempfile.mkdtemp(prefix="vaestudio-background-"))
        with open(self.folder / "stdout", "wb") as out, open(self.folder / "stderr", "wb") as err:
            self.process = subprocess.Popen(self.args, stdout=out, stderr=err, stdin=subprocess.DEVNULL, **popen)

    def result(self, timeout: float) -> subprocess.CompletedProcess:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.discard()
            raise
        read = lambda name: (self.folder / name).read_text(encoding="utf-8", errors="replace")  # noqa: E731
        return subprocess.CompletedProcess(self.args, self.process.returncode, read("stdout"), read("stderr"))

    def discard(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)
