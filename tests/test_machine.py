"""What the machine's CPU is, read from /proc/cpuinfo in one place."""

from __future__ import annotations

from vaestudio.core.machine import CpuInfo, cpu_flags, cpu_info, cpu_summary, read_cpu_info
from vaestudio.core.tf.device import bfloat16_is_fast

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC 9B14
cpu MHz\t\t: 2600.000
flags\t\t: fpu sse2 avx2 fma avx512f avx512_bf16

processor\t: 1
model name\t: another one
flags\t\t: fpu
"""


def test_the_first_processor_is_read(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO)
    info = read_cpu_info(str(path))
    assert info == CpuInfo("AMD EPYC 9B14", frozenset({"fpu", "sse2", "avx2", "fma", "avx512f", "avx512_bf16"}),
                           family=25, model_number=17, mhz=2600.0)
    summary = cpu_summary(info)
    assert summary.startswith("AMD EPYC 9B14, ") and summary.endswith("flags: avx2 fma avx512f avx512_bf16")


def test_an_unreadable_file_gives_the_platform_name_and_no_flags(tmp_path):
    info = read_cpu_info(str(tmp_path / "missing"))
    assert info.model and info.flags == frozenset() and info.mhz is None
    assert cpu_summary(info).endswith("flags: no AVX-512/AMX flags read")
    garbled = tmp_path / "garbled"
    garbled.write_text("model\t: not a number\nflags : avx2\n")
    assert read_cpu_info(str(garbled)).model_number is None


def test_this_machine_is_described_consistently():
    assert cpu_flags() == cpu_info().flags
    assert cpu_info().model in cpu_summary()
    native = bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})
    assert bfloat16_is_fast() in (native, False)  # False also when oneDNN is switched off
