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


# -- several devices ------------------------------------------------------------------------------------------
from vaestudio.core.errors import ConfigError  # noqa: E402
from vaestudio.core.tf.device import (ALL, DevicePlan, device_choices, max_logical_cpus,  # noqa: E402
                                      parse_devices, plan_devices)


def _gpus(count):
    return [SimpleNamespace(name=f"/physical_device:GPU:{i}", device_type="GPU") for i in range(count)]


@pytest.mark.parametrize("value, expected", [(None, None), ("all", ALL), (" ALL ", ALL), ("2", 2), (3, 3),
                                             ("workers", "workers")])
def test_a_device_request_is_all_or_a_count(value, expected):
    assert parse_devices(value) == expected


@pytest.mark.parametrize("value", ["0", 0, "-1", "two", "2.5", "", True, 2.0, 10**6, "1e3"])
def test_a_bad_device_request_is_refused_by_name(value):
    with pytest.raises(ConfigError, match="--devices"):
        parse_devices(value)


def test_n_gpus_are_split_across_and_named():
    plan = plan_devices(2, list_gpus=lambda: _gpus(3))
    assert plan.replicas == 2 and plan.distributed
    assert plan.device_names == ("/device:GPU:0", "/device:GPU:1")
    assert plan.label.startswith("2 × GPU: ")


def test_all_means_every_gpu_and_one_gpu_is_not_distributed():
    assert plan_devices(ALL, list_gpus=lambda: _gpus(4)).replicas == 4
    single = plan_devices(ALL, list_gpus=lambda: _gpus(1))
    assert single.replicas == 1 and not single.distributed and single.strategy() is None
    assert single.label.startswith("GPU: ")


def test_more_gpus_than_the_machine_has_is_refused():
    with pytest.raises(ConfigError, match="--devices 3: this machine has 2 GPUs"):
        plan_devices(3, list_gpus=lambda: _gpus(2))


def test_the_default_is_one_device_as_before():
    plan = plan_devices(None, list_gpus=lambda: [])
    assert plan == DevicePlan(1, ("/device:CPU:0",), str(detect_device(list_gpus=lambda: [])))
    assert plan_devices(1, list_gpus=lambda: _gpus(2)).replicas == 1


def test_all_without_a_gpu_trains_on_the_cpu_and_says_so():
    plan = plan_devices(ALL, list_gpus=lambda: [])
    assert plan.replicas == 1 and "no GPU" in plan.note


def test_the_cpu_is_split_into_at_most_its_cores():
    too_many = max_logical_cpus() + 1
    with pytest.raises(ConfigError, match=f"--devices {too_many}: .* at most {max_logical_cpus()} logical"):
        plan_devices(too_many, list_gpus=lambda: [])


def test_the_windows_device_choices():
    assert device_choices(None) == [("1", "1 device")]
    gpus = detect_device(list_gpus=lambda: _gpus(3))
    assert [value for value, _ in device_choices(gpus)] == ["1", "2", "3", ALL]
    cpu = detect_device(list_gpus=lambda: [])
    choices = device_choices(cpu)
    assert choices[0] == ("1", "1 device: CPU")
    assert [value for value, _ in choices[1:]] == [str(n) for n in range(2, max_logical_cpus() + 1)]
    assert all("CPU (logical)" in label for _, label in choices[1:])
    for value, _ in choices:  # every choice is a valid request
        parse_devices(value)


# -- several machines: TF_CONFIG --------------------------------------------------------------------------------
from vaestudio.core.tf.workers import WorkerRole, worker_role  # noqa: E402


def _tf_config(cluster, task):
    import json

    return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": task})}


def test_the_workers_role_comes_from_tf_config():
    cluster = {"worker": ["10.0.0.1:2222", "10.0.0.2:2222", "10.0.0.3:2222"]}
    assert worker_role(_tf_config(cluster, {"type": "worker", "index": 2})) == WorkerRole(2, 3, "worker 2")
    with_chief = {"chief": ["10.0.0.9:2222"], **cluster}
    assert worker_role(_tf_config(with_chief, {"type": "chief", "index": 0})).rank == 0
    assert worker_role(_tf_config(with_chief, {"type": "worker", "index": 0})) == WorkerRole(1, 4, "worker 0")


@pytest.mark.parametrize("environ, message", [
    ({}, "TF_CONFIG is not set"),
    ({"TF_CONFIG": "{not json"}, "not valid JSON"),
    ({"TF_CONFIG": "[1, 2]"}, "expected"),
    (_tf_config({"worker": ["a:1"], "ps": ["b:2"]}, {"type": "worker", "index": 0}), "'ps' is not supported"),
    (_tf_config({"worker": ["no-port"]}, {"type": "worker", "index": 0}), "host:port"),
    (_tf_config({"worker": ["a:1", "b:2"]}, {"type": "worker", "index": 2}), "not in the cluster"),
    (_tf_config({"worker": ["a:1"]}, {"type": "chief", "index": 0}), "not in the cluster"),
    (_tf_config({"worker": ["a:1"], "chief": ["b:1", "c:1"]}, {"type": "worker", "index": 0}), "one 'chief'"),
])
def test_a_bad_tf_config_is_refused_by_name(environ, message):
    with pytest.raises(ConfigError, match=message):
        worker_role(environ)
