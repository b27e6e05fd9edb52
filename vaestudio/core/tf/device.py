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
    compute_capability: tuple[int, int] = (0, 0)

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
    details = []
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except (ValueError, RuntimeError, AttributeError, TypeError):
            pass  # already initialised, or a fake device in tests
        details.append(_gpu_details(tf, gpu))
    more = f" (+{len(gpus) - 1} more)" if len(gpus) > 1 else ""
    name, capability = details[0]
    return DeviceInfo(f"GPU: {name}{more}", True, "memory growth on", capability)


def _gpu_details(tf, gpu: Any) -> tuple[str, tuple[int, int]]:
    fallback = getattr(gpu, "name", str(gpu))
    try:
        details = tf.config.experimental.get_device_details(gpu)
    except Exception:
        return fallback, (0, 0)
    capability = tuple(details.get("compute_capability") or (0, 0))
    return details.get("device_name") or fallback, (int(capability[0]), int(capability[1]))


def _hide_gpus(tf) -> None:
    try:
        tf.config.set_visible_devices([], "GPU")
    except RuntimeError:
        pass  # devices already initialised: takes effect on restart


def bfloat16_is_fast(device: DeviceInfo | None = None, cpu_flags: str | None = None) -> bool:
    """Whether mixed bfloat16 speeds training up here: a GPU of compute capability 8 or newer, or a CPU
    with native bfloat16 instructions (AVX512-BF16 or AMX). Elsewhere it is emulated and much slower."""
    if device is not None and device.is_gpu:
        return device.compute_capability >= (8, 0)
    if cpu_flags is None:
        try:
            with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
                cpu_flags = next((line for line in handle if line.startswith("flags")), "")
        except OSError:
            return False
    flags = set(cpu_flags.split())
    return bool(flags & {"avx512_bf16", "amx_bf16"}) and os.environ.get("TF_ENABLE_ONEDNN_OPTS") != "0"


def use_bfloat16(precision: str, device: DeviceInfo | None = None) -> bool:
    """The one rule for mixed bfloat16: asked for explicitly, or "auto" where the device has it natively."""
    if precision != "auto":
        return precision == "mixed_bfloat16"
    if device is None:
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            name, capability = _gpu_details(tf, gpus[0])
            device = DeviceInfo(f"GPU: {name}", True, "", capability)
    return bfloat16_is_fast(device)
