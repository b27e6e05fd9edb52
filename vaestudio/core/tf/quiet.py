"""Import TensorFlow without its C++ start-up chatter on the terminal.

TensorFlow's native code logs through absl before its log level applies, so `TF_CPP_MIN_LOG_LEVEL`
alone does not silence lines such as `failed call to cuInit: ... UNKNOWN ERROR (303)` on a machine with
no GPU, which read like failures. While TensorFlow is imported (and its devices are first listed),
file descriptor 2 goes to a temporary file; afterwards every line that is not such a log line is
written to the real stderr, so genuine errors still show.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading

# absl/glog lines ("I0000 00:00:1795645504.056067    2441 cuda_platform.cc:52] ..."), absl's notice
# about them, and the oneDNN/cuda/TensorRT notices TensorFlow prints at start-up.
_NOISE = re.compile(r"^([IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ \S+:\d+\]|WARNING: All log messages before absl"
                    r"|.*oneDNN custom operations are on|.*rounding-off errors from different computation"
                    r"|.*TF_ENABLE_ONEDNN_OPTS|.*This TensorFlow binary is optimized to use available CPU"
                    r"|.*To enable the following instructions|.*Unable to register cu(DNN|FFT|BLAS) factory"
                    r"|.*computation placer already registered|.*TF-TRT Warning|.*Could not find TensorRT"
                    r"|.*Could not find cuda drivers|.*failed call to cuInit)")
_lock = threading.Lock()
_done = False


def import_tensorflow():
    """Import TensorFlow (and list its devices) once, quietly, with its CPU threads planned (threads.py);
    returns the module."""
    global _done
    with _lock:
        if _done:
            import tensorflow as tf

            return tf
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with _stderr_filtered():
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")  # cuInit happens here
        from vaestudio.core.tf.threads import plan_threads

        plan_threads(tf)  # before TensorFlow's first operation
        _done = True
        return tf


@contextlib.contextmanager
def _stderr_filtered():
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real stderr (a windowed launch): nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [line for line in capture.read().decode("utf-8", "replace").splitlines()
                    if line.strip() and not _NOISE.match(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr, flush=True)
