"""Which machine is this: the header every benchmark prints beside its figures.

    python benchmarks/machine.py        # the header alone

`header()` names the CPU and the flags that decide the fast paths (AVX2, FMA, AVX-512, bfloat16, AMX),
the cores, the load when measured, the versions that matter (Python, NumPy, TensorFlow, Keras, PySide6)
and every thread setting in force (TensorFlow's intra/inter-op pools, OMP/OpenBLAS/MKL variables).
TensorFlow and PySide6 are described only if already imported, so that the header costs a start-up
benchmark nothing; pass `with_tensorflow=True` to import it.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # vaestudio, when run on its own

FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile", "f16c")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                    "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS",
                    "TF_ENABLE_ONEDNN_OPTS", "TF_XLA_FLAGS")


def cpu_description() -> tuple[str, list[str], list[str]]:
    """(model name with family/model, flags present of FLAGS, flags absent)."""
    from vaestudio.core.machine import cpu_info

    info = cpu_info()
    name, family, model = info.model, info.family, info.model_number
    if family is not None and model is not None:
        generation = zen_generation(family, model)
        name += f" (family {family} model {model}" + (f", {generation})" if generation else ")")
    return name, [f for f in FLAGS if f in info.flags], [f for f in FLAGS if f not in info.flags]


def zen_generation(family: int, model: int) -> str:
    """AMD's microarchitecture for the family/model numbers this project meets, else ''."""
    if family == 0x17:
        return "Zen 2" if model >= 0x30 else "Zen/Zen+"
    if family == 0x19:
        return "Zen 4" if 0x10 <= model <= 0x1F or 0x60 <= model <= 0x7F or 0xA0 <= model else "Zen 3"
    if family == 0x1A:
        return "Zen 5"
    return ""


def version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def pyside_version() -> str:
    """PySide6's version, whether installed whole or as PySide6_Essentials."""
    whole = version("PySide6")
    return whole if whole != "not installed" else version("PySide6_Essentials")


def tensorflow_threads() -> str:
    """TensorFlow's thread pools as configured (0 = TensorFlow's default: one per core)."""
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return "TensorFlow not loaded"
    threading = tf.config.threading
    intra, inter = threading.get_intra_op_parallelism_threads(), threading.get_inter_op_parallelism_threads()
    return f"TensorFlow intra-op {intra or 'default'}, inter-op {inter or 'default'}"


def thread_variables() -> str:
    set_ = [f"{name}={os.environ[name]}" for name in THREAD_VARIABLES if name in os.environ]
    return ", ".join(set_) if set_ else "no OMP/OpenBLAS/MKL/TF thread variables set"


def load_average() -> str:
    try:
        one, five, _ = os.getloadavg()
        return f"load {one:.1f} (1 min), {five:.1f} (5 min)"
    except OSError:
        return "load unknown"


def header(with_tensorflow: bool = False) -> str:
    """The lines every benchmark prints first."""
    if with_tensorflow:
        import tensorflow  # noqa: F401
    name, present, absent = cpu_description()
    cores = os.cpu_count()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = cores
    lines = [
        f"machine: {name}; {cores} logical CPUs ({usable} usable); {load_average()}",
        f"  CPU flags: {' '.join(present) or 'none of interest'}; absent: {' '.join(absent) or 'none'}",
        f"  Python {platform.python_version()}, NumPy {version('numpy')}, TensorFlow {version('tensorflow')}, "
        f"Keras {version('keras')}, PySide6 {pyside_version()}, "
        f"pyqtgraph {version('pyqtgraph')}",
        f"  threads: {tensorflow_threads()}; {thread_variables()}",
    ]
    return "\n".join(lines)


def peak_float32_gflops(clock_ghz: float, cores: int | None = None, fma_pipes: int = 2, lanes: int = 8) -> float:
    """Float32 peak: cores x FMA pipes x SIMD lanes x 2 flops x clock (Zen 3 with AVX2: 2 x 8 x 2 = 32/cycle)."""
    return (cores or os.cpu_count() or 1) * fma_pipes * lanes * 2 * clock_ghz


def nominal_clock_ghz() -> float | None:
    """The CPU clock the kernel reports (cpu MHz), or None. Under a hypervisor this is the nominal clock."""
    from vaestudio.core.machine import cpu_info

    mhz = cpu_info().mhz
    return mhz / 1000 if mhz else None


if __name__ == "__main__":
    print(header(with_tensorflow="--tf" in sys.argv))
    clock = nominal_clock_ghz()
    if clock:
        print(f"  float32 peak at the reported {clock:.2f} GHz: {peak_float32_gflops(clock):.0f} GFLOP/s "
              f"(2 FMA pipes x 8 lanes x 2 flops per cycle per core)")
