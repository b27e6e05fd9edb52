"""Training across machines: `tf.distribute.MultiWorkerMirroredStrategy` over the workers TF_CONFIG names.

Every worker runs the same `vaestudio train ... --devices workers` command with its own TF_CONFIG (the
same cluster, its own task). The chief (the "chief" task, or worker 0 when there is none) writes the run
folder; the other workers train in step with it and write nothing. Each worker trains on all of its GPUs,
or on its CPU; each global batch is split across all of them. The strategy must be created before
TensorFlow's first operation, so `device.plan_devices("workers")` is called before anything else runs
on TensorFlow. This module knows nothing of device plans (device.py builds them from it).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import sys
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

import numpy as np

from vaestudio.core.errors import ConfigError

WAIT_VARIABLE = "VAESTUDIO_WORKERS_WAIT"  # seconds a worker waits for the others to start (default below)
DEFAULT_WAIT_SECONDS = 300
_JOBS = ("chief", "worker")
_strategy = None  # one MultiWorkerMirroredStrategy per process: TensorFlow allows no second
_gather = None  # its compiled all-gather


@dataclass(frozen=True)
class WorkerRole:
    """This process's place in the cluster TF_CONFIG describes."""

    rank: int  # 0: the chief (or worker 0 without one), which writes the run folder
    count: int  # all workers, the chief included
    task: str  # e.g. "worker 1"
    address: str = field(default="", compare=False)  # this worker's host:port in TF_CONFIG
    peers: tuple[tuple[str, str], ...] = field(default=(), compare=False)  # (task, host:port) of the others


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
    tasks = [(f"{job} {i}", address) for job in _JOBS for i, address in enumerate(cluster.get(job, []))]
    me = f"{kind} {index}"
    return WorkerRole(rank, chiefs + workers, me, cluster[kind][index], tuple(t for t in tasks if t[0] != me))


@contextlib.contextmanager
def holding_port(role: WorkerRole) -> Iterator[None]:
    """Listen on this worker's TF_CONFIG port while it waits for the others (so they see it has started);
    ConfigError naming the port when another process holds it (TensorFlow would fail with a raw gRPC error).
    TensorFlow's own server listens on every interface (0.0.0.0), so that is where the port is taken here."""
    port = int(role.address.rpartition(":")[2])
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("0.0.0.0", port))
        listener.listen(16)
    except OSError as exc:
        listener.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"TF_CONFIG: port {port} of {role.task} ({role.address}) is already in use by another "
                              "process; stop it or give this worker another port") from None
        raise ConfigError(f"TF_CONFIG: cannot listen on port {port} of {role.task} ({exc.strerror or exc})") from None
    try:
        yield
    finally:
        listener.close()  # TensorFlow's server takes the port over now


def wait_seconds(environ: Mapping[str, str] | None = None) -> float:
    """How long to wait for the other workers: $VAESTUDIO_WORKERS_WAIT seconds, else DEFAULT_WAIT_SECONDS."""
    raw = (os.environ if environ is None else environ).get(WAIT_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_WAIT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < 1e7:
        raise ConfigError(f"{WAIT_VARIABLE} {raw[:40]!r}: expected a number of seconds above 0")
    return value


def wait_for_peers(role: WorkerRole, timeout: float, report=None, clock=time.monotonic) -> None:
    """Return once every other worker accepts connections at its TF_CONFIG address; ConfigError naming those
    that did not within `timeout` seconds. `report(text)` is told once whom this worker waits for."""
    deadline = clock() + timeout
    missing = list(role.peers)
    told = False
    while True:
        missing = [(task, address) for task, address in missing if not _accepts(address)]
        if not missing:
            return
        names = ", ".join(f"{task} ({address})" for task, address in missing)
        if clock() >= deadline:
            raise ConfigError(f"--devices workers: {names} did not start within {timeout:g} s; run the same command "
                              f"there, or set {WAIT_VARIABLE}=<seconds> to wait longer")
        if not told and report is not None:
            report(f"waiting for {names} to start (up to {timeout:g} s; {WAIT_VARIABLE}=<seconds> waits longer)")
            told = True
        time.sleep(0.5)


def _accepts(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=1.0):
            return True
    except (OSError, ValueError):
        return False


def join_workers():
    """This worker's MultiWorkerMirroredStrategy, created once the other workers have started (TensorFlow's
    own join would wait for a missing worker forever, silently): whom it waits for is said on stderr."""
    role = worker_role()
    timeout = wait_seconds()
    if _strategy is None:
        with holding_port(role):
            wait_for_peers(role, timeout, report=lambda text: print(f"vaestudio: {role.task}: {text}",
                                                                    file=sys.stderr, flush=True))
    return multi_worker_strategy()


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
