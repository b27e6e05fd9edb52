"""The NumPy VAE against vaestudio 0.1.0's NumPy decoder, interleaved in one run on one machine.

Contenders, each timed in turn within every round (so load from other processes hits both alike):
- the 20x20 grid (400 decodes, to a uint8 mosaic): 0.1.0's decoder (9 per-tap products and strided
  additions per layer, copied below as the baseline) against NumpyVAE.grid;
- one point (the cursor preview): the same two;
- encoding 1000 test images (NumpyVAE.encode; 0.1.0 had no NumPy encoder);
- for information, the 20x20 grid of a 64x64 colour model.
Prints the CPU and its flags, NumPy and its BLAS with the thread count, the load average, and median
and best times; FAILED when the median 20x20 grid of the tutorial model takes over 50 ms.

    python benchmarks/numpy_vae_speed.py [--rounds 15] [--workers N]
    OPENBLAS_NUM_THREADS=2 python benchmarks/numpy_vae_speed.py --workers 1
    python benchmarks/numpy_vae_speed.py --layers    # only: where a 20x20 grid's time goes, layer by layer

--layers decodes the grid on one thread and sums the CPU time of each part (the CPU time of this thread,
which other processes' load changes far less than the wall clock; the least of --rounds rounds), with
each part's GFLOP/s next to a 1024^3 float32 matrix product's on one thread in the same run.

--workers sets numpy_layers.WORKERS (threads that run blocks of images at once). BLAS's own thread count is
fixed when NumPy loads, by OPENBLAS_NUM_THREADS, which importing vaestudio sets to 1 unless it is set
already: a multi-threaded BLAS spins while it waits for its threads, so when another process (training)
keeps a core busy it is many times slower.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import vaestudio  # noqa: E402,F401  (first: it chooses NumPy's BLAS threads before NumPy loads)
import numpy as np  # noqa: E402

from vaestudio.core.architecture import Architecture  # noqa: E402
from vaestudio.core.latent import grid_points, mosaic, to_uint8  # noqa: E402
from vaestudio.core.numpy_vae import NumpyVAE  # noqa: E402
from vaestudio.core.weights import VaeWeights  # noqa: E402

GRID_TARGET_MS = 50.0


# -- the baseline: vaestudio 0.1.0's NumPy decoder (core/decoding.py), its algorithm unchanged -------------
class OldDecoder:
    def __init__(self, latent_dim: int, weights):
        self.latent_dim = latent_dim
        self._weights = [np.array(w, dtype=np.float32) for w in weights]

    def logits(self, z: np.ndarray) -> np.ndarray:
        dense_w, dense_b, k1, b1, k2, b2, k3, b3 = self._weights
        z = np.asarray(z, dtype=np.float32).reshape(-1, self.latent_dim)
        h = np.maximum(z @ dense_w + dense_b, 0.0).reshape(-1, 7, 7, 32)
        h = np.maximum(_old_conv_transpose_same(h, k1, 2) + b1, 0.0)
        h = np.maximum(_old_conv_transpose_same(h, k2, 2) + b2, 0.0)
        return (_old_conv_transpose_same(h, k3, 1) + b3)[..., 0]

    def decode_point(self, z) -> np.ndarray:
        return to_uint8(_old_sigmoid(self.logits(np.asarray(z, dtype=np.float32)[None, :])))[0]

    def decode_grid(self, n: int) -> np.ndarray:
        return mosaic(_old_sigmoid(self.logits(grid_points(n, self.latent_dim))), n)


def _old_sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _old_conv_transpose_same(x, kernel, stride):
    batch, height, width, _ = x.shape
    size_k = kernel.shape[0]
    out_h, out_w = height * stride, width * stride
    pad = max((height - 1) * stride + size_k - out_h, 0) // 2
    span_h, span_w = (height - 1) * stride + size_k, (width - 1) * stride + size_k
    out = np.zeros((batch, span_h, span_w, kernel.shape[2]), dtype=np.float32)
    for a in range(size_k):
        for b in range(size_k):
            contribution = x @ kernel[a, b].T
            out[:, a:a + (height - 1) * stride + 1:stride, b:b + (width - 1) * stride + 1:stride] += contribution
    return out[:, pad:pad + out_h, pad:pad + out_w]


# -- machine ------------------------------------------------------------------------------------------------
def machine_report() -> list[str]:
    from vaestudio.core.machine import cpu_info

    info = cpu_info()
    model, flags = info.model, info.flags
    wanted = ["avx2", "fma", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16"]
    shown = " ".join(f"{flag}={'yes' if flag in flags else 'no'}" for flag in wanted)
    lines = [f"CPU: {model}, {os.cpu_count()} logical cores; {shown}",
             f"Python {platform.python_version()}, NumPy {np.__version__}, BLAS: {blas_description()}"]
    try:
        lines.append("load average (1, 5, 15 min): " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    except OSError:
        pass
    return lines


def blas_description() -> str:
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        name = f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:
        name = "unknown"
    return f"{name}, threads: {blas_threads()}"


def blas_threads() -> str:
    try:  # threadpoolctl, when installed, knows for sure
        from threadpoolctl import threadpool_info

        counts = [str(info["num_threads"]) for info in threadpool_info() if info.get("user_api") == "blas"]
        if counts:
            return ", ".join(counts)
    except ImportError:
        pass
    import ctypes
    import glob

    libs = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    for path in glob.glob(str(libs / "libscipy_openblas*.so*")):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads", "openblas_get_num_threads"):
            if hasattr(lib, symbol):
                return str(getattr(lib, symbol)())
    env = [f"{k}={os.environ[k]}" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS") if k in os.environ]
    return ", ".join(env) or f"default ({os.cpu_count()})"


# -- workloads ------------------------------------------------------------------------------------------------
def random_weights(architecture: Architecture, seed: int = 0) -> VaeWeights:
    rng = np.random.default_rng(seed)

    def arrays(shapes):
        return tuple(rng.normal(0.0, 1.5 / np.sqrt(np.prod(s[:-1])) if len(s) > 1 else 0.1, s).astype(np.float32)
                     for s in shapes)

    return VaeWeights(architecture, arrays(architecture.encoder_shapes()), arrays(architecture.decoder_shapes()))


def test_images(count: int) -> tuple[np.ndarray, str]:
    from vaestudio.core.data import load_dataset, preprocess, synthetic_dataset

    def no_download(_name):
        raise RuntimeError("not downloading for a benchmark")

    try:
        data = load_dataset("fashion_mnist", limit=count, downloader=no_download)
        source = "Fashion-MNIST test images"
    except Exception:
        data = synthetic_dataset(1, count)
        source = "synthetic test images (Fashion-MNIST not found)"
    return preprocess(data.test_images[:count]), source


def timed(function) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process: all its threads, BLAS's included)."""
    started, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - started, time.process_time() - cpu


def layer_profile(rounds: int) -> None:
    """The 20x20 grid of the tutorial model, on one thread: each part's CPU time (least of `rounds`)."""
    import vaestudio.core.numpy_layers as numpy_layers
    from vaestudio.core.architecture import KERNEL

    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")
    numpy_layers.WORKERS = 1
    arch = Architecture(2)
    decoder = NumpyVAE(random_weights(arch)).decoder
    points = grid_points(20, 2)
    spent: dict[str, float] = {}

    def timed(name, function):
        def wrapper(*args):
            started = time.thread_time()
            result = function(*args)
            label = name(*args) if callable(name) else name
            spent[label] = spent.get(label, 0.0) + time.thread_time() - started
            return result
        return wrapper

    decoder._hidden = timed("hidden", decoder._hidden)
    decoder._upsample = timed(lambda level, *_: f"stride-2 layer {level + 1}", decoder._upsample)
    decoder._last_layer = timed("last layer: tap adds", decoder._last_layer)
    natural = numpy_layers.to_natural_order
    numpy_layers.to_natural_order = timed("natural order", natural)
    matrix = np.random.default_rng(0).standard_normal((1024, 1024), dtype=np.float32)
    best: dict[str, float] = {}
    try:
        for _ in range(rounds):
            spent.clear()
            started = time.thread_time()
            decoder.logits(points)
            spent["total"] = time.thread_time() - started
            started = time.thread_time()
            matrix @ matrix
            spent["sgemm"] = time.thread_time() - started
            for name, seconds in spent.items():
                best[name] = min(best.get(name, seconds), seconds)
    finally:
        numpy_layers.to_natural_order = natural
    layers = [name for name in best if name.startswith("stride-2")]
    best["dense"] = best["hidden"] - sum(best[name] for name in layers)
    best["last layer: product, block overhead"] = (best["total"] - best["hidden"] - best["last layer: tap adds"]
                                                    - best["natural order"])
    count, size, channels = len(points), arch.decoder_base_size, 32
    flops = {"dense": 2 * count * arch.latent_dim * size * size * channels}
    for name, filters in zip(layers, arch.decoder_filters):
        flops[name] = 2 * count * size * size * channels * filters * KERNEL * KERNEL
        size, channels = 2 * size, filters
    flops["last layer: product, block overhead"] = 2 * count * size * size * channels * arch.channels * KERNEL * KERNEL
    flops["total"] = sum(flops.values())
    flops["sgemm"] = 2 * 1024 ** 3
    print(f"20x20 grid of the tutorial model on one thread, CPU time, least of {rounds} rounds "
          f"(block of {decoder.block_size} images):")
    for name in ("dense", *layers, "last layer: product, block overhead", "last layer: tap adds", "natural order",
                 "total", "sgemm"):
        speed = f"{flops[name] / best[name] / 1e9:6.1f} GFLOP/s" if name in flops else ""
        print(f"  {name:38s} {best[name] * 1e3:7.2f} ms  {speed}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument("--workers", type=int, default=None, help="numpy_layers.WORKERS (default: as shipped)")
    parser.add_argument("--layers", action="store_true", help="only: a grid's CPU time layer by layer")
    args = parser.parse_args()
    if args.layers:
        for line in machine_report():
            print(line)
        layer_profile(max(1, args.rounds))
        return 0
    import vaestudio.core.numpy_layers as numpy_layers

    if args.workers is not None:
        numpy_layers.WORKERS = max(1, args.workers)

    for line in machine_report():
        print(line)
    print(f"NumpyVAE worker threads: {numpy_layers.WORKERS}")
    weights = random_weights(Architecture(2))
    vae = NumpyVAE(weights)
    old = OldDecoder(2, weights.decoder)
    big = NumpyVAE(random_weights(Architecture(2, 64, 3), seed=1))
    inputs, source = test_images(1000)
    point = np.array([0.3, -0.7], np.float32)
    # The two decoders agree before anything is timed.
    assert np.abs(old.decode_grid(20).astype(int) - vae.grid(20)).max() <= 1
    assert np.abs(old.decode_point(point).astype(int) - vae.decode_uint8(point)[0]).max() <= 1

    repeat = 50  # one point is fast: time a batch of calls
    contenders = {
        "20x20 grid, 0.1.0 decoder": lambda: old.decode_grid(20),
        "20x20 grid, NumpyVAE": lambda: vae.grid(20),
        f"one point x{repeat}, 0.1.0 decoder": lambda: [old.decode_point(point) for _ in range(repeat)],
        f"one point x{repeat}, NumpyVAE": lambda: [vae.decode_uint8(point) for _ in range(repeat)],
        f"encode {len(inputs)} images, NumpyVAE": lambda: vae.encode(inputs),
        "20x20 grid, NumpyVAE, 64x64 colour model": lambda: big.grid(20),
    }
    for function in contenders.values():  # warm-up
        function()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(max(1, args.rounds)):
        for name, function in contenders.items():
            wall, used = timed(function)
            times[name].append(wall)
            cpu[name].append(used)

    print(f"{args.rounds} interleaved rounds; encoder input: {source}")
    print(f"{'':44s} {'median ms':>10s} {'best ms':>10s} {'CPU ms':>10s}")
    for name, values in times.items():
        scale = repeat if name.startswith("one point") else 1
        print(f"{name:44s} {statistics.median(values) * 1e3 / scale:10.3f} {min(values) * 1e3 / scale:10.3f} "
              f"{statistics.median(cpu[name]) * 1e3 / scale:10.3f}" + ("   (per point)" if scale > 1 else ""))
    grid_old = statistics.median(times["20x20 grid, 0.1.0 decoder"])
    grid_new = statistics.median(times["20x20 grid, NumpyVAE"])
    point_old = statistics.median(times[f"one point x{repeat}, 0.1.0 decoder"])
    point_new = statistics.median(times[f"one point x{repeat}, NumpyVAE"])
    print(f"ratio 0.1.0 / NumpyVAE (medians): grid x{grid_old / grid_new:.2f}, one point x{point_old / point_new:.2f}")
    verdict = "ok" if grid_new * 1e3 <= GRID_TARGET_MS else "FAILED"
    print(f"{verdict}: NumpyVAE 20x20 grid median {grid_new * 1e3:.1f} ms (target <= {GRID_TARGET_MS:.0f} ms)")
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
