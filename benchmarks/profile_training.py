"""Where a training step's time goes: `perf` samples of vaestudio training the `fast` preset's step.

    python benchmarks/profile_training.py [--seconds 40] [--batch 128]

Starts a child that trains (vaestudio's TrainingSteps, float32, the real Fashion-MNIST), waits until it
has traced, records it with `perf record` (Linux perf, no call graphs: the kernels are JIT code), and
prints the share of samples by library and the top symbols, grouped as oneDNN JIT kernels (convolutions
and their gradients), Eigen/TensorFlow kernels, Python, and the rest. Needs `perf` (linux-perf).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from machine import header  # noqa: E402

CHILD = """
import sys, time
sys.path.insert(0, {here!r}); sys.path.insert(0, {root!r})
from train_levers import VaestudioSteps
from vaestudio.core.data import load_dataset
steps = VaestudioSteps(load_dataset("fashion_mnist"), {batch})
steps.train(32)
print("TRACED", flush=True)
started = time.perf_counter(); images = 0
while time.perf_counter() - started < {seconds} + 30:
    images += steps.train(16)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    print(header(), flush=True)
    code = CHILD.format(here=str(HERE), root=str(HERE.parent), batch=args.batch, seconds=args.seconds)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             stderr=subprocess.DEVNULL)
    try:
        for line in child.stdout:
            if "TRACED" in line:
                break
        data = Path(tempfile.mkdtemp()) / "perf.data"
        subprocess.run(["perf", "record", "-q", "-F", "499", "-p", str(child.pid), "-o", str(data), "--",
                        "sleep", str(args.seconds)], check=True, stderr=subprocess.DEVNULL)
    finally:
        child.terminate()
        child.wait()
    report = subprocess.run(["perf", "report", "-i", str(data), "--stdio", "--no-children", "--sort", "dso,sym",
                             "--percent-limit", "0.3"], capture_output=True, text=True).stdout
    rows = []
    for line in report.splitlines():
        match = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[[.\w]\]\s+(.*)", line)
        if match:
            rows.append((float(match[1]), match[2], match[3].strip()))
    by_dso: dict[str, float] = {}
    groups = {"oneDNN JIT kernels (convolutions, gradients, GEMM)": 0.0, "TensorFlow/Eigen kernels": 0.0,
              "Python interpreter": 0.0, "kernel, libc, other": 0.0}
    for share, dso, symbol in rows:
        by_dso[dso] = by_dso.get(dso, 0.0) + share
        if "jit" in dso.lower() or "dnnl" in symbol.lower() or "[unknown]" in dso or "anon" in dso:
            groups["oneDNN JIT kernels (convolutions, gradients, GEMM)"] += share
        elif "tensorflow" in dso or "_pywrap" in dso:
            groups["TensorFlow/Eigen kernels"] += share
        elif "python" in dso or "libpython" in dso:
            groups["Python interpreter"] += share
        else:
            groups["kernel, libc, other"] += share
    print(f"\nperf samples of {args.seconds:.0f} s of training at batch {args.batch} (symbols >= 0.3% of samples):")
    for name, share in groups.items():
        print(f"  {share:5.1f}%  {name}")
    print("by library:")
    for dso, share in sorted(by_dso.items(), key=lambda item: -item[1])[:8]:
        print(f"  {share:5.1f}%  {dso}")
    print("top symbols:")
    for share, dso, symbol in rows[:20]:
        print(f"  {share:5.1f}%  {dso[:28]:28s} {symbol[:110]}")


if __name__ == "__main__":
    main()
