"""Start-up: launch to window, what the first half second goes to, and the first training step.

    python benchmarks/startup.py launch [--runs 7]     # launch to window, vaestudio against floors, interleaved
    python benchmarks/startup.py imports               # -X importtime of a launch, grouped by package
    python benchmarks/startup.py first-step [--runs 3] # after TensorFlow has loaded: data, model, tf.data, tracing

`launch` spawns each contender in turn, in a fresh process, and times spawn -> "window visible" on
stderr (offscreen Qt when there is no display; run under `xvfb-run -a` for a real X server):
  python      `python -c pass`: the interpreter alone
  qt          a QApplication and an empty QMainWindow shown: the floor of any Qt window
  qt+libs     the same after importing what the window's modules import (numpy, pyqtgraph)
  vaestudio   `python -m vaestudio` with VAESTUDIO_REPORT_STARTUP=1 (the window vaestudio shows: its bare
              first frame, before NumPy, pyqtgraph and the panels are imported)
  vaestudio-complete  the same, timed until the window's contents are built ("window complete")
  vaestudio-tf-at-show  the same with its TensorFlow loader started at the first show event (vaestudio
                       starts it 2 s later, main_window.LOADER_DELAY_MS)
  vaestudio-tf-not-niced  the loader as now, without lowering its thread's priority
Each round runs all of them (order alternating); printed: medians and vaestudio's excess over each floor.

`first-step` times, in one process with TensorFlow already imported, what happens between Start and the
first optimizer step of the `fast` preset: loading Fashion-MNIST, building model and optimizer, the input
pipeline (tf.data shuffle of 60 000 uint8 images: its buffer fills before the first batch; against an
index permutation), building the compiled steps, tracing the grid (the "before training" snapshot) and the
first graph call (tracing train_chunk) — then the whole Trainer from Start to its first StepMetrics.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = Path(__file__).parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from machine import header  # noqa: E402

MARKER = "window visible"
COMPLETE = "window complete"  # vaestudio's panels built, after its bare first frame
TARGET_RATIO = 1.5
QT_WINDOW = """
import sys, time
{imports}
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv)
window = QMainWindow()
window.resize(1280, 800)
window.show()
app.processEvents()
print("window visible", file=sys.stderr, flush=True)
"""
FLOORS = {
    "python": [sys.executable, "-c", "import sys; print('window visible', file=sys.stderr)"],
    "qt": [sys.executable, "-c", QT_WINDOW.format(imports="")],
    "qt+libs": [sys.executable, "-c", QT_WINDOW.format(imports="import numpy, pyqtgraph")],
    "vaestudio": [sys.executable, "-m", "vaestudio"],
    "vaestudio-complete": [sys.executable, "-m", "vaestudio"],  # the same, timed to its panels built
    # vaestudio with its TensorFlow loader started at its first show event instead of 2 s later: what
    # importing TensorFlow in the background costs the window's first appearance.
    "vaestudio-tf-at-show": [sys.executable, "-c", """
import sys
from vaestudio.gui import main_window
main_window.LOADER_DELAY_MS = 0
from vaestudio.cli import main
sys.exit(main([]))
"""],
    # vaestudio with its TensorFlow loader started at the first show event as it is, but not niced: a
    # niced thread that holds the interpreter lock while importing TensorFlow starves the UI thread
    # whenever other processes keep the cores busy (priority inversion).
    "vaestudio-tf-not-niced": [sys.executable, "-c", """
import sys
from vaestudio.gui import tensorflow
tensorflow.yield_cpu_to_the_window = lambda: None
from vaestudio.cli import main
sys.exit(main([]))
"""],
}


def environment(home: str) -> dict[str, str]:
    env = dict(os.environ, VAESTUDIO_REPORT_STARTUP="1", HOME=home, XDG_CONFIG_HOME=home,
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
        env["DISPLAY"] = ":vaestudio-offscreen"  # vaestudio refuses to start without one; offscreen ignores it
    return env


def spawn_to_marker(command: list[str], env: dict[str, str], extra: list[str] | None = None,
                    timeout_s: float = 120.0, marker: str = MARKER) -> tuple[float, list[str]]:
    """Seconds from spawn to `marker` on stderr, and the stderr lines read until then; the process is ended.
    vaestudio prints "window visible" (its bare first frame) and then "window complete" (panels built)."""
    started = time.perf_counter()
    process = subprocess.Popen(command[:1] + (extra or []) + command[1:], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, cwd=str(ROOT))
    lines: list[str] = []
    try:
        for line in process.stderr:
            lines.append(line)
            if marker in line:
                return time.perf_counter() - started, lines
            if time.perf_counter() - started > timeout_s:
                break
        raise SystemExit(f"startup: {' '.join(command[:3])} never reported its window (exit {process.poll()}): "
                         + "".join(lines[-5:]))
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def launch(runs: int, only: list[str] | None = None) -> None:
    chosen = {name: FLOORS[name] for name in (only or FLOORS)}
    times: dict[str, list[float]] = {name: [] for name in chosen}
    with tempfile.TemporaryDirectory(prefix="vaestudio-startup-") as home:
        env = environment(home)
        spawn_to_marker(FLOORS["vaestudio"], env)  # warm the file cache
        for round_ in range(runs):
            names = list(chosen) if round_ % 2 == 0 else list(chosen)[::-1]
            for name in names:
                if name == "vaestudio-complete":
                    times[name].append(spawn_to_marker(chosen[name], env, marker=COMPLETE)[0])
                else:
                    times[name].append(spawn_to_marker(chosen[name], env)[0])
    print(f"\nlaunch to window (median of {runs} interleaved rounds; offscreen unless DISPLAY is set):")
    for name, values in times.items():
        print(f"  {name:18s} {statistics.median(values) * 1000:6.0f} ms  (min {min(values) * 1000:.0f}, "
              f"max {max(values) * 1000:.0f})")
    for floor in [name for name in chosen if not name.startswith("vaestudio")]:
        if "vaestudio" not in times:
            break
        excess = [v - f for v, f in zip(times["vaestudio"], times[floor])]
        print(f"  vaestudio - {floor:8s} {statistics.median(excess) * 1000:6.0f} ms (median of per-round differences)")
    if "vaestudio" in times and "qt" in times:  # issue 22 item 3: visible within 1.5x the empty Qt window
        ratio = statistics.median(v / q for v, q in zip(times["vaestudio"], times["qt"]))
        print(f"  vaestudio / qt: x{ratio:.2f} (median of per-round ratios; target <= x{TARGET_RATIO}) "
              f"{'ok' if ratio <= TARGET_RATIO else 'FAILED'}")


def imports() -> None:
    with tempfile.TemporaryDirectory(prefix="vaestudio-startup-") as home:
        env = environment(home)
        seconds, lines = spawn_to_marker(FLOORS["vaestudio"], env, extra=["-X", "importtime"])
    pattern = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")
    top: list[tuple[str, int]] = []
    total = 0
    for line in lines:
        match = pattern.search(line)
        if match:
            self_us, cumulative_us, indent, name = int(match[1]), int(match[2]), len(match[3]), match[4]
            total += self_us
            if indent == 1:
                top.append((name, cumulative_us))
    groups: dict[str, int] = {}
    for name, cumulative in top:
        group = name if name.startswith("vaestudio") else name.split(".")[0]
        groups[group] = groups.get(group, 0) + cumulative
    print(f"\nlaunch with -X importtime: window after {seconds * 1000:.0f} ms; imports before it {total / 1000:.0f} ms "
          f"({total / 1e6 / seconds:.0%}). Top-level imports (each with what it pulled in first):")
    for name, micros in sorted(groups.items(), key=lambda item: -item[1])[:18]:
        print(f"  {micros / 1000:7.0f} ms  {micros / total:4.0%}  {name}")


def first_step(runs: int) -> None:
    from vaestudio.core.tf.quiet import import_tensorflow

    started = time.perf_counter()
    tf = import_tensorflow()
    import vaestudio.core.tf.objective  # noqa: F401  (the window's loader imports these too)
    import vaestudio.core.tf.trainer  # noqa: F401
    print(f"\nTensorFlow, tensorflow-probability and the trainer imported in {time.perf_counter() - started:.1f} s "
          f"(in the window this happens in the background while it is shown)")
    rows: dict[str, list[float]] = {}
    for _ in range(runs):
        for name, seconds in one_first_step(tf).items():
            rows.setdefault(name, []).append(seconds)
    print(f"\nStart -> first step of the `fast` preset, TensorFlow loaded (median of {runs}, each with a fresh "
          f"model; later runs reuse TensorFlow's caches as a second Start in the window would):")
    for name, values in rows.items():
        print(f"  {statistics.median(values) * 1000:7.0f} ms  {name}  (runs: "
              + ", ".join(f"{v * 1000:.0f}" for v in values) + ")")
    print(header(with_tensorflow=True))


def one_first_step(tf) -> dict[str, float]:
    import keras
    import numpy as np

    from vaestudio.core.config import TrainConfig
    from vaestudio.core.data import load_dataset
    from vaestudio.core.events import StepMetrics
    from vaestudio.core.latent import grid_points
    from vaestudio.core.tf.inputs import InputPipeline
    from vaestudio.core.tf.model import build_cvae
    from vaestudio.core.tf.steps import Schedule, TrainingSteps
    from vaestudio.core.tf.trainer import Trainer

    clock: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        clock[name] = now - since
        return now

    config = TrainConfig.from_preset("fast")
    t = time.perf_counter()
    data = load_dataset("fashion_mnist")
    t = lap("load Fashion-MNIST (IDX, 70 000 images)", t)
    keras.utils.set_random_seed(0)
    model = build_cvae(config.architecture)
    optimizer = keras.optimizers.Adam(config.learning_rate)
    optimizer.build(model.trainable_variables)
    t = lap("build the model and the optimizer", t)
    inputs = InputPipeline(data, config.architecture, config.batch_size, config.seed)
    t = lap("input pipeline: binarize, tf.data from 60 000 images", t)
    steps_per_epoch = -(-inputs.train_count // config.batch_size)
    steps = TrainingSteps(model, optimizer, inputs, tf.random.Generator.from_seed(0),
                          Schedule.of(config, steps_per_epoch), config.learning_rate, 1.0, grid_points(20, 2))
    t = lap("build the compiled steps (variables, no tracing yet)", t)
    steps.grid_logits()
    t = lap("first grid (traces it): the 'before training' snapshot", t)
    iterator = inputs.epoch_iterator(1)
    t = lap("epoch iterator (tf.data shuffle, batch, prefetch)", t)
    next(iter(inputs.train.shuffle(inputs.train_count, seed=1).batch(config.batch_size)))
    t = lap("  of which: a first batch from a fresh 60 000-image shuffle buffer (measured apart)", t)
    order = tf.constant(np.random.default_rng(0).permutation(inputs.train_count)[: config.batch_size])
    tf.gather(tf.constant(data.train_images), order)
    t = lap("  against: a first batch by index permutation + gather (measured apart)", t)
    steps.train_chunk(iterator, 1)
    t = lap("first graph call, 1 step (traces train_chunk)", t)
    steps.train_chunk(iterator, 1)
    t = lap("second graph call, 1 step", t)

    trainer = Trainer(TrainConfig.from_preset("fast", metrics_every=1, snapshot_every=0), data)
    t = time.perf_counter()
    for event in trainer.events():
        if isinstance(event, StepMetrics):
            break
    lap("whole Trainer (data given): Start -> first StepMetrics", t)
    return clock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("launch", "imports", "first-step"))
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--only", help=f"launch contenders, comma-separated, of {', '.join(FLOORS)}")
    args = parser.parse_args()
    print(header(), flush=True)
    if args.what == "launch":
        launch(args.runs or 7, args.only.split(",") if args.only else None)
    elif args.what == "imports":
        imports()
    else:
        first_step(args.runs or 3)


if __name__ == "__main__":
    main()
