"""The devices training runs on: one (a GPU when TensorFlow sees one, else the CPU, with the reason) or
several, with `tf.distribute.MirroredStrategy` splitting each batch across them.

Several devices are N GPUs, or, on a machine without GPUs, the CPU split into N logical devices (or the
machines TF_CONFIG names: workers.py). The split must happen before TensorFlow initialises its devices
(its first operation), so `plan_devices` is called before anything else runs on TensorFlow; asked for
later, it says that a restart is needed.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from typing import Any, Callable, Sequence, Union

from vaestudio.core.errors import ConfigError

# What `--devices` (and the window's setting) may say: "all", a number of devices, or "workers".
DevicesRequest = Union[int, str]
ALL = "all"
WORKERS = "workers"  # the machines TF_CONFIG names (core/tf/workers.py); not offered in the window
# The setting's description (the window's tooltip; the CLI adds WORKERS_HELP).
DEVICES_HELP = ("devices to train on: 1 (default) is one device, the GPU if there is one, else the CPU; N splits "
                "each batch across N GPUs with TensorFlow's MirroredStrategy, all across every GPU. Without a GPU, "
                "N > 1 splits the CPU into N logical devices: the same results, not faster (they share the cores)")
WORKERS_HELP = ("workers: across the machines TF_CONFIG names (MultiWorkerMirroredStrategy); run the same command "
                "on each, worker 0 writes the run folder")


@dataclass(frozen=True)
class DeviceInfo:
    name: str  # e.g. "GPU: NVIDIA H100" or "CPU"
    is_gpu: bool
    detail: str  # why the CPU, or the GPU details
    compute_capability: tuple[int, int] = (0, 0)
    gpu_count: int = 0  # GPUs TensorFlow sees (0 when hidden by the CPU-only setting)

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
    return DeviceInfo(f"GPU: {name}{more}", True, "memory growth on", capability, gpu_count=len(gpus))


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
        from vaestudio.core.machine import cpu_flags as read_flags

        flags = set(read_flags())
    else:
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


# -- several devices --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DevicePlan:
    """The devices one run trains on, and how to say so."""

    replicas: int  # devices each batch is split across, on all workers (1: no distribution)
    device_names: tuple[str, ...]  # TensorFlow's names of this machine's devices ("/device:GPU:0", ...)
    label: str  # "2 × GPU: NVIDIA A100", "2 × CPU (logical)", "2 workers × CPU", or the one device
    note: str = ""  # what was done and why, for a status line ("the CPU split into 2 logical devices: ...")
    workers: int = 1  # processes training together (--devices workers), this one included
    rank: int = 0  # this process among them; 0 writes the run folder

    @property
    def distributed(self) -> bool:
        return self.replicas > 1 or self.workers > 1

    @property
    def writes_run(self) -> bool:
        """Whether this process records the run (every single-machine plan; the chief of several workers)."""
        return self.rank == 0

    def strategy(self):
        """The tf.distribute strategy over the devices (MultiWorkerMirroredStrategy for workers), or None
        for one device (the plain, undistributed path)."""
        if self.workers > 1:
            from vaestudio.core.tf.workers import multi_worker_strategy

            return multi_worker_strategy()
        if not self.distributed:
            return None
        import tensorflow as tf

        # One strategy per set of devices for the whole process: runs that followed each other on fresh
        # strategies with models of other shapes met collective ops whose instance keys collided
        # ("Shape mismatch in the collective instance").
        names = tuple(self.device_names)
        if names not in _MIRRORED:
            _MIRRORED[names] = tf.distribute.MirroredStrategy(devices=list(names))
        return _MIRRORED[names]


_MIRRORED: dict[tuple[str, ...], object] = {}  # DevicePlan.strategy's, by device names


def parse_devices(value: DevicesRequest | None) -> DevicesRequest | None:
    """Check a device request without TensorFlow: None (the default: one device), "all", "workers", or
    a whole number from 1 to `max_devices()`. ConfigError names the value otherwise."""
    if value is None:
        return None
    expected = "expected 'all', 'workers' or a number of devices"
    if isinstance(value, str):
        text = value.strip().lower()
        if text in (ALL, WORKERS):
            return text
        if not (text.isascii() and text.isdigit()):  # "²" is a digit to isdigit, not to int
            raise ConfigError(f"--devices {value!r}: {expected}")
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"--devices {value!r}: {expected}")
    if not 1 <= value <= max_devices():
        raise ConfigError(f"--devices {value}: expected 'all', 'workers' or a number from 1 to {max_devices()}")
    return value


def writes_run(request: DevicesRequest | None) -> bool:
    """Whether this process will record the run, known before TensorFlow starts: False only for a worker
    of `--devices workers` other than the chief (TF_CONFIG is checked here)."""
    if parse_devices(request) != WORKERS:
        return True
    from vaestudio.core.tf.workers import worker_role

    return worker_role().rank == 0


def max_devices() -> int:
    """The most devices a request may name before the machine is known (plan_devices then checks them)."""
    return max(64, os.cpu_count() or 1)


def max_logical_cpus() -> int:
    """The CPU is split into at most as many logical devices as it has cores (at least 2, so that the
    distributed path can be tried anywhere)."""
    return max(2, os.cpu_count() or 1)


def plan_devices(request: DevicesRequest | None = None, *, cpu_only: bool = False,
                 list_gpus: Callable[[], Sequence[Any]] | None = None) -> DevicePlan:
    """Prepare the devices `request` asks for (see `parse_devices`) and describe them.

    GPUs: N of them (all: every one). Without GPUs, N > 1 splits the CPU into N logical devices, which
    TensorFlow allows only before it initialises its devices: asked for later in the same process with
    another count, this raises ConfigError saying to restart. "workers": see core/tf/workers.py.
    `list_gpus` replaces TensorFlow's GPU list in tests.
    """
    from vaestudio.core.tf.quiet import import_tensorflow

    request = parse_devices(request)
    tf = import_tensorflow()
    if request == WORKERS:
        return _plan_workers(list_gpus)
    info = detect_device(cpu_only=cpu_only, list_gpus=list_gpus)
    wanted = 1 if request is None else request
    if info.is_gpu:
        gpus = info.gpu_count
        count = gpus if wanted == ALL else wanted
        if count > gpus:
            raise ConfigError(f"--devices {count}: this machine has {gpus} GPU{'s' if gpus != 1 else ''}")
        if count == 1:
            return DevicePlan(1, ("/device:GPU:0",), str(info))
        return DevicePlan(count, tuple(f"/device:GPU:{i}" for i in range(count)), describe_gpus(count, list_gpus),
                          f"each batch split across {count} GPUs")
    if wanted == ALL or wanted == 1:
        note = "no GPU: training on the CPU as one device" if wanted == ALL else ""
        return DevicePlan(1, ("/device:CPU:0",), str(info), note)
    if wanted > max_logical_cpus():
        raise ConfigError(f"--devices {wanted}: without a GPU the CPU is split into at most {max_logical_cpus()} "
                          f"logical devices (its cores)")
    names = split_cpu(wanted, tf)
    return DevicePlan(wanted, names, f"{wanted} × CPU (logical)",
                      f"{info.detail or 'no GPU'}: the CPU split into {wanted} logical devices, each batch "
                      f"split across them (they share the cores: no faster than one)")


def _plan_workers(list_gpus=None) -> DevicePlan:
    """The DevicePlan of this worker: the strategy over all workers, created now (before TensorFlow starts)."""
    from vaestudio.core.tf.workers import join_workers, worker_role

    role = worker_role()
    strategy = join_workers()
    local = detect_device(list_gpus=list_gpus)
    on_each = describe_gpus(local.gpu_count, list_gpus) if local.is_gpu else "CPU"
    writer = "this worker writes the run folder" if role.rank == 0 else \
        "the chief (worker 0) writes the run folder; this worker writes nothing"
    return DevicePlan(strategy.num_replicas_in_sync, (), f"{role.count} workers × {on_each}",
                      f"{role.task}, one of {role.count} (TF_CONFIG); {writer}", workers=role.count, rank=role.rank)


def split_cpu(count: int, tf=None) -> tuple[str, ...]:
    """Split the CPU into `count` logical devices (before TensorFlow initialises its devices); their names.

    Asking again for the split already in place is fine; any other count once TensorFlow has started
    raises ConfigError."""
    if tf is None:
        import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is None or len(current) != count:
        try:
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
        except RuntimeError:  # "Virtual devices cannot be modified after being initialized"
            have = len(tf.config.list_logical_devices("CPU"))
            raise ConfigError(f"--devices {count}: TensorFlow has already started in this process with {have} CPU "
                              f"device{'s' if have != 1 else ''}; the CPU can be split only before it starts "
                              "(restart vaestudio with this setting)") from None
    return tuple(device.name for device in tf.config.list_logical_devices("CPU")[:count])


def device_choices(info: DeviceInfo | None = None) -> list[tuple[str, str]]:
    """What the window's device setting offers, as (value for `plan_devices`, label): one device, then
    each number of GPUs and "all" when there are several, or, without GPUs, the CPU split in 2 (or
    more, up to its cores) logical devices. `info` is what `detect_device` found (None: not known yet,
    only one device is offered)."""
    if info is None:
        return [("1", "1 device")]
    choices = [("1", f"1 device: {info.name}")]
    if info.is_gpu:
        gpus = max(info.gpu_count, 1)
        choices += [(str(n), f"{n} GPUs") for n in range(2, gpus + 1)]
        if gpus > 1:
            choices.append((ALL, f"all GPUs ({gpus})"))
        return choices
    choices += [(str(n), f"{n} × CPU (logical): tests the distributed path, no faster")
                for n in range(2, max_logical_cpus() + 1)]
    return choices


def describe_gpus(count: int, list_gpus: Callable[[], Sequence[Any]] | None = None) -> str:
    """ "2 × GPU: NVIDIA A100" for the first `count` GPUs ("GPU: ..." for one; models joined when they differ)."""
    import tensorflow as tf

    gpus = list(list_gpus() if list_gpus is not None else tf.config.list_physical_devices("GPU"))[:count]
    names = ", ".join(dict.fromkeys(_gpu_details(tf, gpu)[0] for gpu in gpus))
    return f"{count} × GPU: {names}" if count > 1 else f"GPU: {names}"
