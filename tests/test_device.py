"""Device detection with injected device lists: GPU, none, broken driver, CPU-only setting."""

from types import SimpleNamespace

import pytest

pytest.importorskip("tensorflow")
from vaestudio.core.tf.device import DeviceInfo, bfloat16_is_fast, detect_device  # noqa: E402


def test_a_gpu_is_used_and_named():
    fake = SimpleNamespace(name="/physical_device:GPU:0", device_type="GPU")
    info = detect_device(list_gpus=lambda: [fake, fake])
    assert info.is_gpu and info.name.startswith("GPU:") and "(+1 more)" in info.name


def test_no_gpu_says_why():
    info = detect_device(list_gpus=lambda: [])
    assert not info.is_gpu and info.name == "CPU" and "no GPU found" in info.detail


def test_a_broken_driver_falls_back_to_the_cpu_with_the_reason():
    def broken():
        raise RuntimeError("driver version mismatch")

    info = detect_device(list_gpus=broken)
    assert not info.is_gpu and "driver version mismatch" in info.detail


def test_cpu_only_setting_wins_over_a_gpu():
    fake = SimpleNamespace(name="/physical_device:GPU:0", device_type="GPU")
    info = detect_device(cpu_only=True, list_gpus=lambda: [fake])
    assert not info.is_gpu and "Use CPU only" in info.detail


def test_bfloat16_only_where_the_hardware_has_it():
    assert bfloat16_is_fast(cpu_flags="flags : fpu avx2 avx512f avx512_bf16")
    assert bfloat16_is_fast(cpu_flags="flags : fpu amx_bf16 amx_tile")
    assert not bfloat16_is_fast(cpu_flags="flags : fpu sse4_2 avx2")
    assert bfloat16_is_fast(DeviceInfo("GPU: A100", True, "", (8, 0)))
    assert not bfloat16_is_fast(DeviceInfo("GPU: T4", True, "", (7, 5)))
