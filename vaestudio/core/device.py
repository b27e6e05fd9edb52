"""Find the device training will run on: a GPU when TensorFlow sees one, else the CPU, with the reason."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from typing import Any, Callable, Sequence


@dataclass(frozen=True)
class DeviceInfo:
    name: str  # e.g. "GPU: NVIDIA H100" or "CPU"
    is_gpu: bool
    detail: str  # why the CPU, or the GPU details

    def __str__(self) -> str:
        return f"{self.name} ({self.detail})" if self.detail else self.name


def detect_device(cpu_only: bool = False,
                  list_gpus: Callable[[], Sequence[Any]] | None = None) -> DeviceInfo:
    """Pick the training device and prepare it.

    GPUs get memory growth (so the app does not grab all GPU memory); `cpu_only` hides them from
    TensorFlow, which must happen before TensorFlow first touches a device. `list_gpus` replaces
    `tf.config.list_physical_devices('GPU')` in tests.
    """
    import tensorflow as tf

    injected = list_gpus is not None
    if list_gpus is None:
        def list_gpus() -> Sequence[Any]:
            return tf.config.list_physical_devices("GPU")

    cpu_name = platform.processor() or platform.machine() or "CPU"
    try:
        gpus = list(list_gpus())
    except Exception as exc:  # a broken driver must not stop the app
        return DeviceInfo("CPU", False, f"could not query GPUs: {exc}")
    if cpu_only:
        if not injected:
            _hide_gpus(tf)
        return DeviceInfo("CPU", False, "GPU disabled by the 'Use CPU only' setting" if gpus else "CPU only")
    if not gpus:
        why = "no GPU found"
        if not tf.test.is_built_with_cuda():
            why += ": this TensorFlow build has no CUDA support"
        elif os.environ.get("CUDA_VISIBLE_DEVICES") == "":
            why += ": CUDA_VISIBLE_DEVICES is empty"
        else:
            why += ": no CUDA driver or device visible"
        return DeviceInfo("CPU", False, f"{why}; {cpu_name}" if cpu_name != "CPU" else why)
    names = []
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except (ValueError, RuntimeError, AttributeError, TypeError):
            pass  # already initialised, or a fake device in tests
        names.append(_gpu_name(tf, gpu))
    more = f" (+{len(gpus) - 1} more)" if len(gpus) > 1 else ""
    return DeviceInfo(f"GPU: {names[0]}{more}", True, "memory growth on")


def _gpu_name(tf, gpu: Any) -> str:
    try:
        details = tf.config.experimental.get_device_details(gpu)
        return details.get("device_name") or getattr(gpu, "name", "GPU")
    except Exception:
        return getattr(gpu, "name", str(gpu))


def _hide_gpus(tf) -> None:
    try:
        tf.config.set_visible_devices([], "GPU")
    except RuntimeError:
        pass  # devices already initialised: takes effect on restart
