"""Training speed on one device against two logical CPU devices (the overhead of the distributed path).

    python benchmarks/devices_speed.py                      # 5 rounds, batch 32 and 128 (~10 min on 2 cores)
    python benchmarks/devices_speed.py --rounds 3 --steps 200
    python benchmarks/devices_speed.py --baseline /tmp/old  # also the one-device path of another checkout

Each contender trains in a fresh interpreter (the CPU can be split into logical devices only before
TensorFlow starts), one after another and in alternating order within each round, so that load from
other processes falls on all of them alike. A contender reports the train images/s of its steps after
the first report (which holds the tracing), timed inside the training loop. On a machine without GPUs,
two logical devices share the same cores: no speed-up is expected; the ratio is the price of
MirroredStrategy (splitting each batch, two replicas' kernels, the all-reduce of the gradients).
`--baseline DIR` adds the one-device path of the vaestudio at DIR (e.g. `git archive <commit> | tar -x
-C DIR`), to check that the default path did not get slower.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def child(devices: int, batch: int, steps: int, report_every: int) -> None:
    """Train `steps` steps on `devices` device(s) and print one JSON line with the images/s."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if devices > 1:
        from vaestudio.core.tf.device import plan_devices

        plan = plan_devices(devices)  # before TensorFlow starts
        extra = {"devices": plan}
    else:
        extra = {}
    import tensorflow as tf

    from vaestudio.core.config import TrainConfig
    from vaestudio.core.data import synthetic_dataset
    from vaestudio.core.events import Started, StepMetrics
    from vaestudio.core.tf.trainer import Trainer

    data = synthetic_dataset(n_train=batch * steps, n_test=batch, seed=1)
    config = TrainConfig.from_preset("custom", epochs=1, batch_size=batch, learning_rate=1e-3, grid_size=2,
                                     metrics_every=report_every, steps_per_call=16, snapshot_every=0, seed=0)
    rates, label = [], "?"
    for event in Trainer(config, data, **extra).events():
        if isinstance(event, Started):
            label = f"{event.device} ({event.replicas} replica{'s' if event.replicas > 1 else ''})"
        elif isinstance(event, StepMetrics):
            rates.append((event.step, event.images_per_second))
    measured = [rate for step, rate in rates if step > report_every]  # the first report holds the tracing
    print(json.dumps({"device": label, "images_per_second": statistics.median(measured),
                      "threads": [tf.config.threading.get_inter_op_parallelism_threads(),
                                  tf.config.threading.get_intra_op_parallelism_threads()],
                      "tensorflow": tf.__version__}))


def cpu_description() -> str:
    from vaestudio.core.machine import cpu_info

    info = cpu_info()
    shown = sorted(info.flags & {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"})
    return f"{info.model}, {os.cpu_count()} logical CPUs, flags: {' '.join(shown) or 'none of avx2/avx512/amx'}"


def run_child(code_root: Path, devices: int, batch: int, steps: int, report_every: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code_root), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, __file__, "--child", str(devices), "--batch", str(batch),
                           "--steps", str(steps), "--report-every", str(report_every)],
                          cwd=code_root, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"contender failed ({devices} device(s), batch {batch}):\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=320, help="steps per contender and round")
    parser.add_argument("--batches", default="32,128", help="global batch sizes to measure")
    parser.add_argument("--baseline", type=Path, help="another vaestudio checkout: its one-device path too")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--report-every", type=int, default=32, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.batch, args.steps, args.report_every)
        return

    contenders = [("1 device", ROOT, 1), ("2 logical CPU devices", ROOT, 2)]
    if args.baseline:
        contenders.append((f"1 device, baseline {args.baseline}", args.baseline.resolve(), 1))
    print(f"CPU: {cpu_description()}")
    print(f"Python {platform.python_version()}; {args.rounds} rounds of {args.steps} steps per contender, "
          "each in a fresh process, order alternating")
    for batch in (int(b) for b in args.batches.split(",")):
        rates: dict[str, list[float]] = {name: [] for name, _, _ in contenders}
        ratios: dict[str, list[float]] = {name: [] for name, _, _ in contenders[1:]}
        for round_index in range(args.rounds):
            order = contenders if round_index % 2 == 0 else contenders[::-1]
            measured = {}
            for name, code_root, devices in order:
                result = run_child(code_root, devices, batch, args.steps, args.report_every)
                measured[name] = result["images_per_second"]
                rates[name].append(result["images_per_second"])
                if round_index == 0:
                    print(f"  batch {batch}, {name}: {result['device']}, TensorFlow {result['tensorflow']}, "
                          f"inter/intra-op threads {result['threads'][0]}/{result['threads'][1]} (0: TF's default)")
            for name in ratios:
                ratios[name].append(measured[name] / measured[contenders[0][0]])
            print(f"  batch {batch}, round {round_index + 1}: " +
                  ", ".join(f"{name} {measured[name]:.0f} img/s" for name, _, _ in contenders), flush=True)
        print(f"Global batch {batch}: median images/s " +
              ", ".join(f"{name} {statistics.median(values):.0f}" for name, values in rates.items()))
        for name, values in ratios.items():
            print(f"  {name} / 1 device: median {statistics.median(values):.2f} "
                  f"(rounds: {', '.join(f'{v:.2f}' for v in values)})")


if __name__ == "__main__":
    main()
