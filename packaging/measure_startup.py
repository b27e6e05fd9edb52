"""Measure the time from launching vaestudio to its window being visible (for packaging/README.md).

    python packaging/measure_startup.py dist/vaestudio/vaestudio            # the frozen build
    python packaging/measure_startup.py .venv/bin/vaestudio --runs 5        # the pip install, to compare

The clock starts just before the process is spawned and stops when the app reports its window visible
(VAESTUDIO_REPORT_STARTUP=1 makes vaestudio.gui.app print that line); the app is then closed. Without a
display it uses QT_QPA_PLATFORM=offscreen; run it under `xvfb-run -a` to include the X11 plugin.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

MARKER = "window visible after"


def launch_to_window(executable: str, timeout_s: float = 120.0) -> float:
    """Seconds from spawning `executable` until it reports its window visible."""
    with tempfile.TemporaryDirectory(prefix="vaestudio-startup-") as home:
        env = dict(os.environ, VAESTUDIO_REPORT_STARTUP="1", HOME=home, XDG_CONFIG_HOME=home)
        if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
            env.setdefault("QT_QPA_PLATFORM", "offscreen")
        started = time.perf_counter()
        process = subprocess.Popen([executable], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   text=True)
        try:
            for line in process.stderr:
                if MARKER in line:
                    return time.perf_counter() - started
                if time.perf_counter() - started > timeout_s:
                    break
            raise SystemExit(f"measure_startup: {executable} never reported its window (exit {process.poll()})")
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("executable", help="the vaestudio command to start")
    parser.add_argument("--runs", type=int, default=5, help="launches; the first (cold cache) is reported apart")
    args = parser.parse_args(argv)
    times = [launch_to_window(args.executable) for _ in range(args.runs)]
    warm = times[1:] or times
    print(f"first launch {times[0]:.2f} s; then median {statistics.median(warm):.2f} s "
          f"(min {min(warm):.2f}, max {max(warm):.2f}, {len(warm)} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
