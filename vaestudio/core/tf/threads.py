"""How TensorFlow uses the CPU's cores when there is no GPU: each operation on one thread, the batch in parts.

With its defaults TensorFlow runs each operation on every core, and the cores wait for each other at the
end of every operation; the tutorial's model is made of many small ones, so on 2 cores a step ran at
about 0.85 of twice one core's speed. Instead, on a machine without a GPU and with 2 to `MAX_CORES` cores,
each operation runs on one thread (intra-op 1) and as many operations at once as there are cores
(inter-op = cores), and the CVAE splits every batch it encodes or decodes into that many parts
(`model.CVAE.batch_parts`): independent chains of operations, forward and backward, that meet only where
the gradients of the weights are summed. Measured on a 2-core Zen 4 (benchmarks/RESULTS.md, fifth round):
×1.11–1.20 training throughput idle, ×1.18 busy. Machines with more cores keep TensorFlow's defaults (not
measured here).

The setting must be made before TensorFlow's first operation, so `quiet.import_tensorflow` makes it;
`VAESTUDIO_CPU_SPLIT=0` keeps TensorFlow's defaults (and whole batches), for comparisons.
"""

from __future__ import annotations

import os
import weakref

MAX_CORES = 4
SPLIT_ENV = "VAESTUDIO_CPU_SPLIT"


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):
        return max(os.cpu_count() or 1, 1)


def planned_parts(cores: int, has_gpu: bool, setting: str | None = None) -> int:
    """Into how many parts a batch is split (and how many single-thread operations run at once): the usable
    cores on a machine without a GPU with 2..MAX_CORES of them, else 1 (TensorFlow's own thread settings).
    `setting` is the VAESTUDIO_CPU_SPLIT environment variable's value ("0": 1)."""
    if has_gpu or (setting or "").strip() == "0" or not 2 <= cores <= MAX_CORES:
        return 1
    return cores


def plan_threads(tf) -> int:
    """Set TensorFlow's thread counts for `planned_parts` (before its first operation); the parts in force.
    TensorFlow already started (its counts can no longer change): its counts stay, and batches whole."""
    parts = planned_parts(usable_cores(), bool(tf.config.list_physical_devices("GPU")), os.environ.get(SPLIT_ENV))
    if parts > 1:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(parts)
        except RuntimeError:  # "... cannot be modified after initialization"
            pass
    return batch_parts(tf)


def batch_parts(tf=None) -> int:
    """Into how many parts a model on this process's CPU splits its batches: the inter-op thread count when
    each operation runs on one thread (what `plan_threads` sets), else 1."""
    if tf is None:
        import tensorflow as tf
    intra = tf.config.threading.get_intra_op_parallelism_threads()
    inter = tf.config.threading.get_inter_op_parallelism_threads()
    return inter if intra == 1 and 2 <= inter <= MAX_CORES else 1


_PART_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def part_functions(model) -> tuple:
    """A CVAE's encoder and decoder as compiled functions of one part of a batch, traced once each (per
    dtype) and called for every part by every graph that encodes or decodes: the parts cost no extra tracing."""
    functions = _PART_FUNCTIONS.get(model)
    if functions is None:
        import tensorflow as tf

        functions = (tf.function(model.encoder.__call__, autograph=False, reduce_retracing=True),
                     tf.function(model.decoder_logits, autograph=False, reduce_retracing=True))
        _PART_FUNCTIONS[model] = functions
    return functions


def in_parts(function, inputs, parts: int):
    """`function(inputs)` for a function that treats each image of a batch on its own, computed on `parts`
    equal slices of the batch and concatenated: independent chains of operations, which TensorFlow runs at
    once on its inter-op threads (`plan_threads`). The batch is padded with zeros to a multiple of `parts`, at
    least one image each (oneDNN's convolutions refuse an empty batch); the padding's outputs are dropped,
    so it adds nothing to any gradient."""
    if parts < 2:
        return function(inputs)
    import tensorflow as tf

    count = tf.shape(inputs)[0]
    size = tf.maximum((count + parts - 1) // parts, 1)
    paddings = tf.concat([[[0, size * parts - count]], tf.zeros([len(inputs.shape) - 1, 2], tf.int32)], 0)
    padded = tf.pad(inputs, paddings)
    outputs = [function(padded[part * size:(part + 1) * size]) for part in range(parts)]
    return tf.concat(outputs, 0)[:count]
