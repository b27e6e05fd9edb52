"""Training throughput levers, measured interleaved: batch size, steps per graph call, XLA, the input
pipeline, bfloat16, and (in fresh processes) oneDNN on or off and TensorFlow's thread pools.

    python benchmarks/train_levers.py                      # in-process levers, ~10 min on 2 shared cores
    python benchmarks/train_levers.py --only b128,b128-xla  # a subset
    python benchmarks/train_levers.py --processes default,no-onednn,intra2-inter1 --rounds 3
                                                           # oneDNN, thread pools: alternating fresh processes

Every contender trains the tutorial's CVAE on the real Fashion-MNIST training set with vaestudio's
objective (single-sample ELBO, tensorflow-probability). The contenders advance in turn, one slice of
about SLICE_IMAGES images each per round, so that load from other processes falls on all alike; each
round's images/s is divided by the baseline's of the same round, and the median ratio is printed.

Contenders:
  vaestudio's own TrainingSteps (core/tf/steps.py) as the Trainer uses it: tf.data shuffle of uint8
  images, `steps_per_call` steps per tf.function call. Names `bB` (batch B, 16 steps per call),
  `bB-sS` (S steps per call), `bB-bf16` (mixed bfloat16 policy), `bB-kerasout` (the decoder's output
  layer run by Keras' Conv2DTranspose instead of core/tf/output_layer.py), `bB-phaseup` (its stride-2
  layers as matrix products on phases, phase_upsampling.py: a rejected lever).
  A variant built here from vaestudio's modules (model.build_cvae, objective.elbo_parts): the uint8
  training set as one tensor, each epoch an index permutation, each step a gather of its batch — the
  chunk one graph with no iterator. Names `bB-gather`, and `bB-xla` where each step (the model, the
  objective, its gradient and the Adam update) is compiled by XLA (jit_compile=True; compiling the whole
  chunk loop instead took minutes).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

import numpy as np  # noqa: E402

from machine import header  # noqa: E402

SLICE_IMAGES = 4096
DEFAULT = "b128,b32,b64,b256,b512,b128-s1,b128-s64,b128-gather,b128-xla,b128-bf16"


class VaestudioSteps:
    """vaestudio's TrainingSteps over its InputPipeline, as the Trainer drives them."""

    def __init__(self, data, batch: int, steps_per_call: int = 16, precision: str = "float32",
                 learning_rate: float = 1e-3, seed: int = 0):
        import keras

        from vaestudio.core.architecture import Architecture
        from vaestudio.core.latent import grid_points
        from vaestudio.core.tf.inputs import InputPipeline
        from vaestudio.core.tf.model import build_cvae
        from vaestudio.core.tf.steps import Schedule, TrainingSteps

        from vaestudio.core.tf.quiet import import_tensorflow
        from vaestudio.core.tf.threads import batch_parts

        import_tensorflow()  # its CPU threads planned (core/tf/threads.py), as in the app
        arch = Architecture(2)
        keras.utils.set_random_seed(seed)
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(precision)
        try:
            self.model = build_cvae(arch)
        finally:
            keras.config.set_dtype_policy(previous)
        self.model.batch_parts = batch_parts()  # as training's builder sets it
        optimizer = keras.optimizers.Adam(learning_rate)
        optimizer.build(self.model.trainable_variables)
        self.inputs = InputPipeline(data, arch, batch, seed)
        self.steps_per_epoch = math.ceil(self.inputs.train_count / batch)
        schedule = Schedule("constant", 0, 0, 10 * self.steps_per_epoch)
        self.steps = TrainingSteps(self.model, optimizer, self.inputs, seed,
                                   schedule, learning_rate, 1.0, grid_points(20, 2))
        self.batch, self.per_call = batch, steps_per_call
        self.epoch, self.epoch_step, self.iterator = 0, 0, None

    def train(self, steps: int) -> int:
        """Run `steps` optimizer steps (across epochs); returns images trained on."""
        images = 0
        while steps > 0:
            if self.iterator is None or self.epoch_step >= self.steps_per_epoch:
                self.epoch += 1
                self.epoch_step, self.iterator = 0, self.inputs.epoch_iterator(self.epoch)
            chunk = min(self.per_call, steps, self.steps_per_epoch - self.epoch_step)
            sums = self.steps.train_chunk(self.iterator, chunk)
            images += int(sums["count"])
            steps -= chunk
            self.epoch_step += chunk
        return images


class GatherSteps:
    """The same objective and model, the training set held as one uint8 tensor and batches gathered by
    an index permutation inside the compiled chunk; `xla` compiles the chunk with jit_compile."""

    def __init__(self, data, batch: int, steps_per_call: int = 16, xla: bool = False,
                 learning_rate: float = 1e-3, seed: int = 0):
        import keras
        import tensorflow as tf

        from vaestudio.core.architecture import Architecture
        from vaestudio.core.tf.model import build_cvae
        from vaestudio.core.tf.objective import elbo_parts

        keras.utils.set_random_seed(seed)
        self.model = model = build_cvae(Architecture(2))
        optimizer = keras.optimizers.Adam(learning_rate)
        optimizer.build(model.trainable_variables)
        images = (np.asarray(data.train_images) > 127).astype(np.uint8)[..., None]
        self.count = len(images)
        self.steps_per_epoch = self.count // batch  # whole batches only: a fixed shape for XLA
        self.train_set = tf.constant(images)
        self.order = tf.Variable(tf.zeros([self.steps_per_epoch * batch], tf.int32), trainable=False)
        self.rng = np.random.default_rng(seed)
        noise = tf.random.Generator.from_seed(seed)
        variables = model.trainable_variables
        self.tf, self.batch, self.per_call = tf, batch, steps_per_call
        self.epoch_step = self.steps_per_epoch  # a new permutation before the first step

        @tf.function(jit_compile=xla)
        def one_step(x):
            eps = noise.normal([batch, 2])
            with tf.GradientTape() as tape:
                elbo, _, _ = elbo_parts(model, x, eps)
                loss = -tf.reduce_mean(elbo)
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return tf.reduce_sum(elbo)

        @tf.function
        def chunk(first_step, steps):
            total = tf.constant(0.0)
            for i in tf.range(steps):
                index = tf.slice(self.order, [(first_step + i) * batch], [batch])
                x = tf.cast(tf.gather(self.train_set, index), tf.float32)
                total += one_step(x)
            return total

        self._chunk = chunk

    def train(self, steps: int) -> int:
        tf = self.tf
        images = 0
        while steps > 0:
            if self.epoch_step >= self.steps_per_epoch:
                order = self.rng.permutation(self.count)[: self.steps_per_epoch * self.batch]
                self.order.assign(order.astype(np.int32))
                self.epoch_step = 0
            chunk = min(self.per_call, steps, self.steps_per_epoch - self.epoch_step)
            total = self._chunk(tf.constant(self.epoch_step, tf.int32), tf.constant(chunk, tf.int32))
            if not math.isfinite(float(total)):
                raise SystemExit("diverged")
            images += chunk * self.batch
            steps -= chunk
            self.epoch_step += chunk
        return images


def make(name: str, data):
    """A contender from its name: bB[-sS][-bf16|-gather|-xla|-kerasout|-phaseup]."""
    parts = name.split("-")
    batch = int(parts[0][1:])
    per_call = next((int(p[1:]) for p in parts[1:] if p.startswith("s") and p[1:].isdigit()), 16)
    if "xla" in parts or "gather" in parts:
        return GatherSteps(data, batch, per_call, xla="xla" in parts)
    return VaestudioSteps(data, batch, per_call, precision="mixed_bfloat16" if "bf16" in parts else "float32")


def interleaved(names: list[str], rounds: int, data) -> None:
    from phase_upsampling import decode_with_phases
    from vaestudio.core.tf import output_layer
    from vaestudio.core.tf.model import CVAE

    contenders = {}
    keras_decode = CVAE.decode
    for name in names:
        started = time.perf_counter()
        output_layer.ENABLED = "kerasout" not in name.split("-")  # read when the step is traced, just below
        if "phaseup" in name.split("-"):
            CVAE.decode = lambda model, z, apply_sigmoid=False: decode_with_phases(model, z)
        contenders[name] = make(name, data)
        contenders[name].train(contenders[name].per_call * 2)  # trace and warm up
        output_layer.ENABLED, CVAE.decode = True, keras_decode
        print(f"  built and traced {name} in {time.perf_counter() - started:.1f} s", flush=True)
    rates: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(rounds):
        for name in (names if round_ % 2 == 0 else names[::-1]):  # alternate the order too
            contender = contenders[name]
            steps = max(contender.per_call, SLICE_IMAGES // contender.batch // contender.per_call * contender.per_call)
            started = time.perf_counter()
            images = contender.train(steps)
            rates[name].append(images / (time.perf_counter() - started))
        print(f"  round {round_ + 1}: " + ", ".join(f"{n} {rates[n][-1]:.0f}" for n in names), flush=True)
    from train_engines import child_sgemm, training_mflop_per_image

    limit = child_sgemm()["gflops_1x"]  # one-thread sgemm x cores, measured now (issue 22 item 6's limit)
    mflop = training_mflop_per_image()
    base = names[0]
    print(f"\ntrain images/s, median of {rounds} interleaved slices of ~{SLICE_IMAGES} images; "
          f"ratio = median over rounds of (contender / {base} in the same round); ms per step; GFLOP/s at "
          f"{mflop:.1f} MFLOP per image and its share of one-thread sgemm x cores ({limit:.0f} GFLOP/s now):")
    for name in names:
        ratios = [r / b for r, b in zip(rates[name], rates[base])]
        rate = statistics.median(rates[name])
        print(f"  {name:14s} {rate:6.0f} images/s   x{statistics.median(ratios):.3f} "
              f"(rounds {min(ratios):.2f}..{max(ratios):.2f})   {contenders[name].batch / rate * 1000:6.2f} ms/step"
              f"   {rate * mflop / 1000:5.1f} GFLOP/s = {100 * rate * mflop / 1000 / limit:.0f} %")


PROCESS_SETTINGS = {
    # name: (environment, intra-op threads, inter-op threads); 0 = TensorFlow's default (one per core)
    "default": ({}, 0, 0),
    "no-onednn": ({"TF_ENABLE_ONEDNN_OPTS": "0"}, 0, 0),  # oneDNN is on by default here (its log says so)
    "intra2-inter1": ({}, 2, 1),
    "intra1-inter1": ({}, 1, 1),
}


def process_child(name: str, batch: int, steps: int) -> None:
    import tensorflow as tf

    _, intra, inter = PROCESS_SETTINGS[name]
    tf.config.threading.set_intra_op_parallelism_threads(intra)
    tf.config.threading.set_inter_op_parallelism_threads(inter)
    from vaestudio.core.data import load_dataset

    contender = VaestudioSteps(load_dataset("fashion_mnist"), batch)
    contender.train(32)
    started = time.perf_counter()
    images = contender.train(steps)
    print(f"RATE {images / (time.perf_counter() - started):.1f}")


def processes(names: list[str], rounds: int, batch: int) -> None:
    """Settings that must be in place before TensorFlow starts: each run in a fresh process, in turn."""
    rates: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(rounds):
        for name in (names if round_ % 2 == 0 else names[::-1]):
            env = dict(os.environ, **PROCESS_SETTINGS[name][0])
            out = subprocess.run([sys.executable, __file__, "--process-child", name, "--batch", str(batch)],
                                 capture_output=True, text=True, check=True, env=env).stdout
            rates[name].append(float(out.split("RATE")[1]))
        print(f"  round {round_ + 1}: " + ", ".join(f"{n} {rates[n][-1]:.0f}" for n in names), flush=True)
    base = names[0]
    print(f"\nbatch {batch}, 16 steps/call, train images/s per process setting (fresh process each, "
          f"ratio to {base} in the same round):")
    for name in names:
        ratios = [r / b for r, b in zip(rates[name], rates[base])]
        environment, intra, inter = PROCESS_SETTINGS[name]
        print(f"  {name:14s} {statistics.median(rates[name]):6.0f} images/s   x{statistics.median(ratios):.2f} "
              f"(rounds {min(ratios):.2f}..{max(ratios):.2f})   env {environment or '-'}, intra {intra or 'default'}, "
              f"inter {inter or 'default'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=DEFAULT, help=f"contenders, comma-separated (default {DEFAULT})")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--processes", help="compare settings made before TensorFlow starts, in fresh "
                        f"processes, comma-separated, of {', '.join(PROCESS_SETTINGS)}")
    parser.add_argument("--batch", type=int, default=64, help="batch for --processes")
    parser.add_argument("--process-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.process_child:
        process_child(args.process_child, args.batch, 16 * 16)
        return
    print(header(), flush=True)
    if args.processes:
        processes(args.processes.split(","), args.rounds, args.batch)
        return
    from vaestudio.core.data import load_dataset

    data = load_dataset("fashion_mnist")
    interleaved(args.only.split(","), args.rounds, data)
    print(header(with_tensorflow=True).splitlines()[3])


if __name__ == "__main__":
    main()
