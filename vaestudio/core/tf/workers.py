"""Training across machines: `tf.distribute.MultiWorkerMirroredStrategy` over the workers TF_CONFIG names.

Every worker runs the same `vaestudio train ... --devices workers` command with its own TF_CONFIG (the
same cluster, its own task). The chief (the "chief" task, or worker 0 when there is none) writes the run
folder; the other workers train in step with it and write nothing. Each worker trains on all of its GPUs,
or on its CPU; each global batch is split across all of them. The strategy must be created before
TensorFlow's first operation, so `device.plan_devices("workers")` is called before anything else runs
on TensorFlow. This module knows nothing of device plans (device.py builds them from it).
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from vaestudio.core.errors import ConfigError

_JOBS = ("chief", "worker")
_strategy = None  # one MultiWorkerMirroredStrategy per process: TensorFlow allows no second
_gather = None  # its compiled all-gather


@dataclass(frozen=True)
class WorkerRole:
    """This process's place in the cluster TF_CONFIG describes."""

    rank: int  # 0: the chief (or worker 0 without one), which writes the run folder
    count: int  # all workers, the chief included
    task: str  # e.g. "worker 1"


def worker_role(environ: Mapping[str, str] | None = None) -> WorkerRole:
    """Read and check TF_CONFIG; ConfigError names what is wrong with it."""
    environ = os.environ if environ is None else environ
    raw = environ.get("TF_CONFIG", "").strip()
    if not raw:
        raise ConfigError("--devices workers: TF_CONFIG is not set; on every worker it names all the workers "
                          "(host:port) and this worker's index (see the README, 'Training on several machines')")
    try:
        config = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(f"TF_CONFIG: not valid JSON ({exc})") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise ConfigError("TF_CONFIG: expected {\"cluster\": {\"worker\": [\"host:port\", ...]}, "
                          "\"task\": {\"type\": \"worker\", \"index\": i}}")
    for job, addresses in cluster.items():
        if job not in _JOBS:
            raise ConfigError(f"TF_CONFIG: the job {str(job)[:40]!r} is not supported (only 'worker', and at most "
                              "one 'chief')")
        if (not isinstance(addresses, list) or not addresses
                or not all(isinstance(a, str) and a.rpartition(":")[2].isdigit() for a in addresses)):
            raise ConfigError(f"TF_CONFIG: cluster '{job}' must be a list of host:port addresses")
    chiefs, workers = len(cluster.get("chief", [])), len(cluster.get("worker", []))
    if chiefs > 1:
        raise ConfigError("TF_CONFIG: at most one 'chief'")
    kind, index = task.get("type"), task.get("index", 0)
    if kind not in cluster or isinstance(index, bool) or not isinstance(index, int) \
            or not 0 <= index < len(cluster[kind]):
        raise ConfigError(f"TF_CONFIG: the task {kind!r} {index!r} is not in the cluster")
    rank = index if kind == "chief" else index + chiefs
    return WorkerRole(rank, chiefs + workers, f"{kind} {index}")


def multi_worker_strategy():
    """The process's MultiWorkerMirroredStrategy, created on first use."""
    global _strategy
    if _strategy is None:
        import tensorflow as tf

        try:
            _strategy = tf.distribute.MultiWorkerMirroredStrategy()
        except (RuntimeError, ValueError) as exc:
            raise ConfigError(f"--devices workers: TensorFlow cannot join the workers here ({exc}); start "
                              "vaestudio again with TF_CONFIG set") from None
    return _strategy


def gather_rows(values) -> np.ndarray:
    """Every worker's `values` (a short int64 vector), one row per replica, on every worker: a collective
    that all workers must reach together."""
    global _gather
    import tensorflow as tf

    strategy = multi_worker_strategy()
    if _gather is None:
        def replica_rows(local):
            return tf.distribute.get_replica_context().all_gather(local[None], axis=0)

        @tf.function
        def gather(local):
            return strategy.experimental_local_results(strategy.run(replica_rows, args=(local,)))[0]

        _gather = gather
    return _gather(tf.constant(np.asarray(values, dtype=np.int64))).numpy()


def check_workers_agree(config, dataset, step: int, requested: Any = None) -> None:
    """Before anything is written: every worker must train on the same images with the same settings from
    the same step, or their steps would mix different batches. ConfigError on every worker otherwise."""
    fingerprint = 0
    for images in (dataset.train_images, dataset.test_images):
        fingerprint = zlib.crc32(np.ascontiguousarray(images).data, fingerprint)
    settings = {**config.to_dict(), "data_dir": None,  # the same data may lie elsewhere on each machine
                "requested": repr(requested)}
    mine = [len(dataset.train_images), fingerprint, zlib.crc32(json.dumps(settings, sort_keys=True).encode()), step]
    rows = gather_rows(mine)
    names = ("the number of training images", "their images", "their settings", "the checkpoint they resume from")
    differ = [name for column, name in enumerate(names) if (rows[:, column] != rows[0, column]).any()]
    if differ:
        raise ConfigError(f"--devices workers: the workers differ in {differ[0]}; run the same command on every "
                          "worker, with the same data (and, resuming, the same run folder)")
