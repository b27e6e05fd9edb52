"""TensorBoard event files in each run folder, so `tensorboard --logdir <runs folder>` compares runs.

Scalars: train/elbo, train/log_likelihood, train/kl, train/objective, test/elbo, test/log_likelihood,
test/kl, test/kl_dim_<d> per latent dimension, hparams/learning_rate and hparams/beta; images: the grid
snapshots. The files are derived from metrics.csv and snapshots/: a resumed run rewrites them from there,
so they never hold steps that the run folder has dropped. Written with TensorFlow's own protocol buffers
and record writer (the tensorboard package is not needed to write them).
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import time
from pathlib import Path

import numpy as np

SUBFOLDER = "tensorboard"
# A resume rebuilds the grid images of at most this many snapshots (evenly spread, the last included):
# 10 000 snapshots took 19 minutes and 433 MB; 200 keep the story for a few seconds and megabytes.
MAX_REBUILT_IMAGES = 200


class TensorBoardLog:
    """Appends events to one event file under `<run>/tensorboard/` (call from one thread)."""

    def __init__(self, run_path: str | Path):
        from tensorflow.core.util import event_pb2

        import tensorflow as tf

        from vaestudio.core.errors import RunFolderError
        from vaestudio.core.store.safe_files import refuse_link

        self._event_pb2 = event_pb2
        folder = Path(run_path) / SUBFOLDER
        refuse_link(folder, RunFolderError)  # its files would be written wherever the link points
        folder.mkdir(parents=True, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}.vaestudio.v2"
        self.path = folder / name
        self._writer = tf.io.TFRecordWriter(str(self.path))
        self._write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))

    def scalar(self, tag: str, value: float | None, step: int) -> None:
        if value is None or not np.isfinite(value):
            return
        from tensorflow.core.framework import summary_pb2

        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=float(value))])
        self._write(self._event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary))

    def image(self, tag: str, image: np.ndarray, step: int) -> None:
        """A uint8 grey (H, W) or RGB (H, W, 3) image."""
        from PIL import Image
        from tensorflow.core.framework import summary_pb2

        array = np.asarray(image, dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format="PNG")
        height, width = array.shape[:2]
        picture = summary_pb2.Summary.Image(height=height, width=width, colorspace=1 if array.ndim == 2 else 3,
                                            encoded_image_string=buffer.getvalue())
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, image=picture)])
        self._write(self._event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary))

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()

    def _write(self, event) -> None:
        self._writer.write(event.SerializeToString())

    # -- what a run records ------------------------------------------------------------------------------
    def step_row(self, step: int, elbo, log_likelihood, kl, objective=None, learning_rate=None, beta=None) -> None:
        self.scalar("train/elbo", elbo, step)
        self.scalar("train/log_likelihood", log_likelihood, step)
        self.scalar("train/kl", kl, step)
        self.scalar("train/objective", objective, step)
        self.scalar("hparams/learning_rate", learning_rate, step)
        self.scalar("hparams/beta", beta, step)

    def epoch_row(self, step: int, test_elbo, test_log_likelihood, test_kl, kl_per_dimension=()) -> None:
        self.scalar("test/elbo", test_elbo, step)
        self.scalar("test/log_likelihood", test_log_likelihood, step)
        self.scalar("test/kl", test_kl, step)
        for dim, value in enumerate(kl_per_dimension):
            self.scalar(f"test/kl_dim_{dim + 1}", value, step)


def rebuild(run_path: str | Path) -> TensorBoardLog:
    """Start the run's TensorBoard files afresh from its metrics and snapshots; returns the open log."""
    from vaestudio.core.store.metrics_log import MetricsLog
    from vaestudio.core.store.snapshots import SnapshotStore, spread

    from vaestudio.core.errors import RunFolderError
    from vaestudio.core.store.safe_files import refuse_link

    run_path = Path(run_path)
    refuse_link(run_path / SUBFOLDER, RunFolderError)
    shutil.rmtree(run_path / SUBFOLDER, ignore_errors=True)
    log = TensorBoardLog(run_path)
    metrics = run_path / "metrics.csv"
    if metrics.exists():
        for row in MetricsLog(metrics).rows():
            if row["kind"] == "step":
                log.step_row(row["step"], row["elbo"], row["log_likelihood"], row["kl"], row["objective"],
                             row["learning_rate"], row["beta"])
            elif row["kind"] == "epoch":
                log.epoch_row(row["step"], row["test_elbo"], row["test_log_likelihood"], row["test_kl"],
                              row["kl_per_dimension"] or ())
            elif row["kind"] == "hyper":
                log.scalar("hparams/learning_rate", row["learning_rate"], row["step"])
                log.scalar("hparams/beta", row["beta"], row["step"])
    store = SnapshotStore(run_path / "snapshots")
    for record in spread(store.records(), MAX_REBUILT_IMAGES):
        log.image("grid", store.load_mosaic(record), record.step)
    log.flush()
    return log
