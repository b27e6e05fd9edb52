"""The layers of the NumPy VAE (core/numpy_vae.py): the encoder's convolutions, the decoder's transposed
convolutions, and the threads that run blocks of images through them.

How it is fast enough for interaction (a 20x20 grid of the tutorial model is 3.8 GFLOP):
- Each layer is one or two matrix products. Encoder convolutions gather their 3x3 patches (im2col,
  through a strided view) and multiply them by the kernel, the bias an extra row. A stride-2 decoder
  layer stacks its input with a copy shifted one column right, so that the taps from the pixel on the
  left are part of the product ("im2col" along columns), and writes its output phases straight into
  place; only the taps that reach the row below are added, in one shifted block. (A full im2col, one
  product per output phase, leaves products with as few rows as output channels: OpenBLAS ran those
  ~15 % slower, measured.) The last (stride-1, few channels) layer multiplies first, then adds its 9 tap
  planes into place (col2im).
- The decoder keeps feature maps channel-first, (C, ..., i, j, N) beside a channel of ones that carries
  each bias into the next matrix product, and never interleaves the output phases of a stride-2 layer:
  after L stride-2 layers the pixel axes are (p_L, q_L, ..., p_1, q_1, i, j), the natural row being
  i*2^L + p_1*2^(L-1) + ... + p_L (likewise for columns). So a product writes its phase planes in
  place, and a shift by one pixel is a few block copies with long contiguous runs. The logits are put
  in natural order at the end of each block. That index bookkeeping is in core/transposed_conv.py.
  Each thread keeps its work buffers between calls (no allocation, zeroing or page faults per block).
- Images go through in blocks small enough for the CPU's caches; with WORKERS > 1, blocks run on
  that many threads (NumPy releases the GIL), which pays off when BLAS itself is single-threaded. So the
  first decoder or encoder built makes OpenBLAS single-threaded (threadpoolctl), also when NumPy was
  imported before vaestudio and OpenBLAS started its own threads (a 20x20 grid then took ~10x longer).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided

from vaestudio.core.architecture import KERNEL, Architecture
from vaestudio.core.transposed_conv import (block_moves, final_moves, stride2_matrices, to_natural_order,
                                           to_storage_order)
from vaestudio.core.zoo.labels import one_hot, with_label_channels

# Floats of intermediate results per encoder chunk: ~8 MB keeps a chunk's working set in the L2/L3 caches.
CHUNK_FLOATS = 2_000_000
# Floats of a decoder block's largest layer input and output: ~3.6 MB keeps them in a core's L2 and its share
# of L3 (10 images of the 28x28 model, the fastest block measured: a 20x20 grid in 40 blocks).
DECODER_BLOCK_FLOATS = 900_000
# Decoder work buffers each thread keeps, by block size (two: a block size and a shorter last block).
KEPT_BLOCK_PLANS = 2
# Threads that run blocks of images at once (NumPy releases the GIL in its loops and in BLAS). Meant for
# a single-threaded BLAS, which vaestudio/__init__.py asks for.
WORKERS = min(2, os.cpu_count() or 1)
_ZEROS = np.zeros(1 << 20, np.float32)  # np.maximum(x, zeros) is ~5x faster than np.maximum(x, 0)
_ZEROS.setflags(write=False)
_thread_plans = threading.local()  # NumpyDecoder's work buffers, kept per thread (see NumpyDecoder._plan)


def single_threaded_blas() -> None:
    """Make NumPy's BLAS single-threaded for the whole process, once, unless the user asked for more threads
    (OPENBLAS_NUM_THREADS other than vaestudio's default "1"). Without threadpoolctl, nothing changes."""
    global _blas_limited
    if _blas_limited:
        return
    _blas_limited = True
    if os.environ.get("OPENBLAS_NUM_THREADS", "1") != "1":
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a dependency; only speed depends on it
        return
    threadpool_limits(1, user_api="blas")  # kept for the process's life (never restored)


_blas_limited = False


class NumpyEncoder:
    """Images -> (mean, log-variance): valid 3x3 stride-2 convolutions with ReLU, then a dense layer."""

    def __init__(self, architecture: Architecture, arrays: Sequence[np.ndarray]):
        shapes = architecture.encoder_shapes()
        arrays = [np.asarray(a, dtype=np.float32) for a in arrays]
        if [a.shape for a in arrays] != shapes:
            raise ValueError(f"encoder weights of shapes {[a.shape for a in arrays]} do not fit a model of "
                             f"{architecture.describe()} (expected {shapes})")
        self.architecture = architecture
        single_threaded_blas()
        # Each convolution as one matrix: rows (kernel row, kernel column, channel in) and a bias row.
        self._convs = [_frozen(np.concatenate([kernel.reshape(-1, kernel.shape[-1]), bias[None]]))
                       for kernel, bias in zip(arrays[0:-2:2], arrays[1:-2:2])]
        self._dense = _frozen(np.concatenate([arrays[-2], arrays[-1][None]]))
        per_image, size = 0, architecture.image_size
        for matrix in self._convs:
            size = (size - KERNEL) // 2 + 1
            per_image = max(per_image, size * size * (matrix.shape[0] + matrix.shape[1]))
        self._chunk = max(1, CHUNK_FLOATS // per_image)

    def __call__(self, inputs: np.ndarray, labels=None) -> tuple[np.ndarray, np.ndarray]:
        x = check_inputs(inputs, self.architecture)
        if self.architecture.classes:  # the label as constant input channels
            x = with_label_channels(x, labels, self.architecture.classes)
        d = self.architecture.latent_dim
        out = np.empty((len(x), 2 * d), np.float32)
        chunk = self._chunk

        def encode(index: int) -> None:
            h = x[index * chunk:(index + 1) * chunk]
            for matrix in self._convs:
                h = _conv_valid_stride2(h, matrix)
            np.matmul(h.reshape(len(h), -1), self._dense[:-1], out=out[index * chunk:(index + 1) * chunk])

        run_all(encode, -(-len(x) // chunk))
        out += self._dense[-1]
        return out[:, :d].copy(), out[:, d:].copy()


class NumpyDecoder:
    """Latent points -> logits: a dense layer, stride-2 'same' transposed convolutions with ReLU, and a
    stride-1 'same' transposed convolution to the image channels. Matches Keras's Conv2DTranspose.

    Feature maps sit beside a channel of ones in their work buffer, so that each layer's bias is a column
    of its matrix (channel-first storage makes that channel free to keep)."""

    def __init__(self, architecture: Architecture, arrays: Sequence[np.ndarray]):
        shapes = architecture.decoder_shapes()
        arrays = [np.asarray(a, dtype=np.float32) for a in arrays]
        if [a.shape for a in arrays] != shapes:
            raise ValueError(f"decoder weights of shapes {[a.shape for a in arrays]} do not fit a model of "
                             f"{architecture.describe()} (expected {shapes})")
        self.architecture = architecture
        # A VampPrior's pseudo-input logits come first (architecture.py); decoding does not use them.
        self.pseudo_input_logits = _frozen(arrays.pop(0)) if architecture.vamp else None
        single_threaded_blas()
        base = self._base = architecture.decoder_base_size
        dense_w, dense_b = arrays[0], arrays[1]
        channels = dense_b.size // (base * base)
        # Dense columns are in (row, column, channel) order: rows (channel, row, column) here.
        by_channel = dense_w.reshape(-1, base * base, channels).transpose(2, 1, 0)
        # The bias as a last column (inputs get a row of ones).
        self._dense = _frozen(np.concatenate([by_channel.reshape(-1, dense_w.shape[0]),
                                              dense_b.reshape(base * base, channels).T.reshape(-1, 1)], axis=1))
        self._dense_channels = channels
        kernels, biases = arrays[2::2], arrays[3::2]  # kernels are (row a, column b, out, in)
        self._levels = len(kernels) - 1
        # Stride-2 layers: (input channels, the matrices of output phases q = 0 and q = 1, the block moves
        # that shift a map one column right and one row down; see _upsample and core.transposed_conv).
        self._stages = []
        for level, (kernel, bias) in enumerate(zip(kernels[:-1], biases[:-1])):
            first, second = stride2_matrices(kernel, bias)
            self._stages.append((kernel.shape[3], _frozen(first), _frozen(second), block_moves(level, base, 0, 1),
                                 block_moves(level, base, 1, 0)))
        # The last layer: all 9 taps (rows (a, b, channel)) on (ones, channels), the bias on the centre tap.
        last, last_bias = kernels[-1], biases[-1]
        taps = np.concatenate([np.zeros((last[..., 0].size, 1)), last.reshape(-1, last.shape[-1])], axis=1)
        taps.reshape(3, 3, last.shape[2], -1)[1, 1, :, 0] = last_bias
        self._last = _frozen(taps)
        self._column_moves = {step: final_moves(self._levels, base, 0, step) for step in (-1, 1)}
        self._row_moves = {step: final_moves(self._levels, base, step, 0) for step in (-1, 1)}
        # The work buffers of a block (see _make_plan): per image, rows x pixels; sized so that one layer's
        # input and output fit the caches.
        channels_in = [stage[0] for stage in self._stages] + [last.shape[3]]
        self._buffer_rows = [3 * c + 1 for c in channels_in[:-1]] + [2 * channels_in[-1] + 1]
        self._buffer_pixels = [(base << level) ** 2 for level in range(self._levels + 1)]
        sizes = [rows * pixels for rows, pixels in zip(self._buffer_rows, self._buffer_pixels)]
        self._chunk = max(1, DECODER_BLOCK_FLOATS // max(first + second for first, second in zip(sizes, sizes[1:])))

    @property
    def latent_dim(self) -> int:
        return self.architecture.latent_dim

    def logits(self, z: np.ndarray, labels=None) -> np.ndarray:
        """(N, latent_dim) -> float32 logits (N, H, W, channels), as Keras's decoder gives them; a
        conditional model decodes for `labels` (one class for all, or one per point; None: DEFAULT_CLASS)."""
        z = self.inputs(z, labels)
        count = len(z)
        side = self._base << self._levels
        result = np.empty((count, side, side, self._last.shape[0] // 9), np.float32)
        if count == 0:
            return result
        # Images per pass through the layers on one thread: at most _chunk, in a multiple of WORKERS blocks
        # of equal size (the last one padded), so that the threads finish together.
        blocks = -(-count // self._chunk)
        if blocks > 1:
            blocks = -(-blocks // WORKERS) * WORKERS
        block = -(-count // blocks)

        def fill(index: int) -> None:
            part = z[index * block:(index + 1) * block]
            if len(part) < block:  # the same shapes for every block: the same work buffers
                part = np.concatenate([part, np.zeros((block - len(part), part.shape[1]), np.float32)])
            to_natural_order(self._block(part), result[index * block:(index + 1) * block], self._levels, self._base)

        run_all(fill, -(-count // block))
        return result

    def inputs(self, z: np.ndarray, labels=None) -> np.ndarray:
        """Checked latent points (N, latent_dim) with a conditional model's one-hot `labels` appended (as in
        `logits`): what `block_logits` takes."""
        z = check_latents(z, self.latent_dim)
        if self.architecture.classes:
            z = np.concatenate([z, one_hot(labels, len(z), self.architecture.classes)], axis=1)
        return z

    @property
    def block_size(self) -> int:
        """Points that one thread decodes at a time (`block_logits`): a working set that fits the caches."""
        return self._chunk

    def block_logits(self, inputs: np.ndarray) -> np.ndarray:
        """Logits of a block of `inputs` (N, latent_dim [+ classes]) left in storage order, float32 (P, N)
        with P = channels x pixels; `storage_order` puts images in the same order. Runs on the calling
        thread only (for work that `run_all` spreads, such as core/iwae.py's)."""
        return self._block(inputs).reshape(-1, len(inputs)).copy()

    def storage_order(self, images: np.ndarray) -> np.ndarray:
        """Images (N, H, W, channels) in the pixel order of `block_logits`: float32 (P, N)."""
        return to_storage_order(images, self._levels, self._base).reshape(-1, len(images))

    # -- layers ---------------------------------------------------------------------------------------
    def _block(self, z: np.ndarray) -> np.ndarray:
        """Logits of a block of points (N, inputs) in storage order, (out, 1, *storage, N): a view of this
        thread's work buffers, valid until the thread's next block."""
        plan = self._plan(len(z))
        self._hidden(plan, z)
        np.matmul(self._last, plan.hidden, out=plan.taps)
        self._last_layer(plan)
        return plan.logits

    def _hidden(self, plan: _BlockPlan, z: np.ndarray) -> None:
        """Dense and stride-2 layers (with ReLU) into the last layer's input, plan.hidden."""
        plan.inputs[:-1] = z.T
        np.matmul(self._dense, plan.inputs, out=plan.dense)
        _relu(plan.dense)
        for level, ((_, first, second, *_), stage) in enumerate(zip(self._stages, plan.stages)):
            self._upsample(level, first, second, stage)

    @staticmethod
    def _upsample(level: int, first: np.ndarray, second: np.ndarray, stage: tuple) -> None:
        """Conv2DTranspose(3, stride 2, 'same') + ReLU of layer `level` (see _plan and
        core.transposed_conv.stride2_matrices): the input X is copied one column right into L; two matrix
        products write phases (p, 0) and (p, 1) straight into place, and the parts that belong to the row
        below into scratch rows, which are added in one row down."""
        shifts, first_in, first_out, second_in, second_out, adds, out = stage
        for target, source in shifts:
            np.copyto(target, source)
        np.matmul(first, first_in, out=first_out)
        np.matmul(second, second_in, out=second_out)
        for target, source in adds:
            np.add(target, source, out=target)
        _relu(out)

    @staticmethod
    def _last_layer(plan: _BlockPlan) -> None:
        """Conv2DTranspose(3, stride 1, 'same') from its tap planes in plan.taps, the bias already in the
        centre tap: output pixel (r + a - 1, c + b - 1) gets tap (a, b) of input pixel (r, c). Separable:
        each kernel row's column taps go into its middle one (three rows at once), then the rows."""
        for target, source in plan.tap_adds:
            np.add(target, source, out=target)

    def _plan(self, count: int) -> _BlockPlan:
        """This thread's work buffers and views for blocks of `count` points: made once per thread and
        shape, and shared by all decoders of that shape (ones and the borders that shifts never reach
        stay as made). The two most recently used are kept."""
        key = (count, self._dense.shape, self._last.shape, *self._buffer_rows, *self._buffer_pixels)
        kept: dict | None = getattr(_thread_plans, "kept", None)
        if kept is None:
            kept = _thread_plans.kept = {}
        plan = kept.pop(key, None)
        if plan is None:
            plan = self._make_plan(count)
            while len(kept) >= KEPT_BLOCK_PLANS:  # the least recently used goes
                kept.pop(next(iter(kept)))
        kept[key] = plan
        return plan

    def _make_plan(self, count: int) -> _BlockPlan:
        """Work buffers, a (rows, pixels * count) array per layer input: of a stride-2 layer of C channels,
        rows (L: the map X shifted one column right; ones; X; scratch), 3 C + 1; of the last layer, rows
        (ones; X; scratch), 2 C + 1; and the views of each step."""
        buffers = [np.zeros((rows, pixels * count), np.float32)
                   for rows, pixels in zip(self._buffer_rows, self._buffer_pixels)]
        plan = _BlockPlan()
        plan.inputs = np.ones((self._dense.shape[1], count), np.float32)  # the last row stays ones
        channels = self._dense_channels
        plan.dense = buffers[0][channels + 1:2 * channels + 1].reshape(-1, count)
        plan.stages = []
        every = (slice(None),)
        for level, ((channels, first, _, right, down), source, target) in enumerate(
                zip(self._stages, buffers, buffers[1:])):
            source[channels] = 1.0
            storage = (2, 2) * level + (self._base, self._base)
            x = source[channels + 1:2 * channels + 1].reshape(channels, *storage, count)
            shifted = source[:channels].reshape(channels, *storage, count)
            shifts = [(shifted[every + to], x[every + from_]) for from_, to in right]
            # Target rows from its map X on, in rows of two phases (p, 0), (p, 1): (channel, p), then scratch.
            out_channels, pixels = first.shape[0] // 3, source.shape[1]
            start = len(target) - 2 * out_channels
            rows = target.reshape(-1, 2 * pixels)[2 * start:2 * start + 3 * out_channels]
            out = target[start:start + out_channels]
            phases = out.reshape(out_channels, 2, 2, *storage, count)
            below = target[start + out_channels:].reshape(-1)[:2 * out_channels * pixels].reshape(
                out_channels, 2, *storage, count)
            adds = [(phases[every + (0,) + every + to], below[every + every + from_]) for from_, to in down]
            plan.stages.append((shifts, source[:2 * channels + 1], rows[:, :pixels], source[channels:2 * channels + 1],
                                rows[:, pixels:], adds, out))
        buffers[-1][0] = 1.0
        plan.hidden = buffers[-1][:self._last.shape[1]]
        plan.taps = np.empty((len(self._last), plan.hidden.shape[1]), np.float32)
        storage = (2, 2) * self._levels + (self._base, self._base)
        taps = plan.taps.reshape(3, 3, len(self._last) // 9, 1, *storage, count)
        plan.tap_adds = [(taps[:, 1][every + target], taps[:, b][every + source])
                         for b, moves in ((0, self._column_moves[-1]), (2, self._column_moves[1]))
                         for target, source in moves]
        plan.tap_adds += [(taps[1, 1][target], taps[a, 1][source])
                          for a, moves in ((0, self._row_moves[-1]), (2, self._row_moves[1])) for target, source in moves]
        plan.logits = taps[1, 1]
        return plan


class _BlockPlan:
    """One thread's work buffers for blocks of N points of one decoder shape and the views that each step
    of a block reads and writes, made once: a block then costs its arithmetic and few Python calls."""

    __slots__ = ("inputs", "dense", "stages", "hidden", "taps", "tap_adds", "logits")


# -- input checks -------------------------------------------------------------------------------------------
def check_inputs(inputs: np.ndarray, architecture: Architecture) -> np.ndarray:
    """Model inputs as a C-contiguous float32 (N, H, W, C) array; ValueError naming the shape otherwise."""
    x = np.asarray(inputs)
    shape = architecture.image_shape
    if x.ndim == 3 and shape[-1] == 1:
        x = x[..., None]
    if x.ndim != 4 or tuple(x.shape[1:]) != shape:
        raise ValueError(f"model inputs of shape {tuple(np.shape(inputs))} do not fit a model of "
                         f"{architecture.describe()} (expected (N, {', '.join(map(str, shape))}))")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        raise ValueError("model inputs hold NaN or infinite values")
    return x


def check_latents(z: np.ndarray, latent_dim: int) -> np.ndarray:
    """Latent points as a float32 (N, latent_dim) array; a single point may be given as (latent_dim,)."""
    points = np.asarray(z, dtype=np.float32)
    if points.ndim == 1 and points.size == latent_dim:
        points = points[None]
    if points.ndim != 2 or points.shape[1] != latent_dim:
        raise ValueError(f"latent points of shape {np.shape(z)} do not fit a {latent_dim}-d latent space")
    if not np.isfinite(points).all():
        raise ValueError("latent points hold NaN or infinite values")
    return np.ascontiguousarray(points)


# -- helpers ------------------------------------------------------------------------------------------------
_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def run_all(work, count: int) -> None:
    """work(0) ... work(count - 1), spread over WORKERS threads when there is more than one piece.
    Never call it from inside `work` (the pool's threads would wait on themselves)."""
    workers = min(WORKERS, count)
    if workers <= 1:
        for index in range(count):
            work(index)
        return
    with _pools_lock:
        pool = _pools.get(WORKERS)
        if pool is None:
            pool = _pools[WORKERS] = ThreadPoolExecutor(WORKERS, thread_name_prefix="numpy-vae")
    for future in [pool.submit(work, index) for index in range(count)]:
        future.result()


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array, dtype=np.float32).copy()
    array.setflags(write=False)
    return array


def _relu(x: np.ndarray) -> np.ndarray:
    flat = x.reshape(-1)
    for start in range(0, flat.size, _ZEROS.size):
        part = flat[start:start + _ZEROS.size]
        np.maximum(part, _ZEROS[:part.size], out=part)
    return x


def _conv_valid_stride2(x: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Conv2D(3x3, stride 2, 'valid') + bias + ReLU, NHWC -> NHWC, as one matrix product on gathered patches."""
    count, height, width, channels = x.shape
    out_h, out_w = (height - KERNEL) // 2 + 1, (width - KERNEL) // 2 + 1
    s_n, s_h, s_w, s_c = x.strides
    view = as_strided(x, (count, out_h, out_w, KERNEL, KERNEL, channels),
                      (s_n, 2 * s_h, 2 * s_w, s_h, s_w, s_c), writeable=False)
    patches = np.empty((count * out_h * out_w, KERNEL * KERNEL * channels + 1), np.float32)
    patches[:, -1] = 1.0
    patches[:, :-1].reshape(count, out_h, out_w, KERNEL, KERNEL, channels)[...] = view
    out = patches @ matrix
    return _relu(out).reshape(count, out_h, out_w, -1)
