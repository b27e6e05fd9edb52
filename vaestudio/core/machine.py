"""What this machine's CPU is: its model and the flags that decide the fast paths, read once from
/proc/cpuinfo (Linux). Elsewhere, or when it cannot be read: the platform's name and no flags.

    cpu_summary()   "AMD EPYC 7B13, 2 CPUs, flags: avx2 fma"   (the self-test, Help → About devices)
    cpu_flags()     frozenset({"avx2", "fma", ...})             (is bfloat16 native here?)
    cpu_info()      everything read: model, flags, family and model numbers, clock
"""

from __future__ import annotations

import functools
import os
import platform
from dataclasses import dataclass

CPUINFO = "/proc/cpuinfo"
# The flags worth naming: they decide TensorFlow's and NumPy's fast paths here.
NOTABLE_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile")


@dataclass(frozen=True)
class CpuInfo:
    """The first processor of /proc/cpuinfo (all cores of a machine are alike here)."""

    model: str  # "model name", else the platform's processor name
    flags: frozenset[str]
    family: int | None = None  # "cpu family"
    model_number: int | None = None  # "model"
    mhz: float | None = None  # "cpu MHz": the nominal clock under a hypervisor


def read_cpu_info(path: str = CPUINFO) -> CpuInfo:
    """Parse the first processor's block of a cpuinfo file; a missing or unreadable file gives the
    platform's processor name and no flags."""
    fields: dict[str, str] = {}
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            for line in handle:
                if not line.strip():
                    if fields:
                        break
                    continue
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return CpuInfo(model=fields.get("model name") or platform.processor() or platform.machine() or "CPU",
                   flags=frozenset(fields.get("flags", "").split()), family=_number(fields.get("cpu family")),
                   model_number=_number(fields.get("model")), mhz=_number(fields.get("cpu MHz"), float))


@functools.lru_cache(maxsize=1)
def cpu_info() -> CpuInfo:
    """This machine's CPU (read once)."""
    return read_cpu_info()


def cpu_flags() -> frozenset[str]:
    """This CPU's flags ("avx2", "avx512_bf16", ...); empty when unknown."""
    return cpu_info().flags


def cpu_summary(info: CpuInfo | None = None) -> str:
    """The CPU's model, core count and the flags that matter to TensorFlow here (AVX-512, bfloat16, AMX)."""
    info = info or cpu_info()
    shown = [flag for flag in NOTABLE_FLAGS if flag in info.flags] or ["no AVX-512/AMX flags read"]
    return f"{info.model}, {os.cpu_count()} CPUs, flags: {' '.join(shown)}"


def _number(text: str | None, kind=int):
    try:
        return kind(text) if text is not None else None
    except ValueError:
        return None
