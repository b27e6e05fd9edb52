"""The layers of the NumPy VAE (core/numpy_vae.py): the encoder's convolutions, the decoder's transposed
convolutions, and the threads that run blocks of images through them.

How it is fast enough for interaction (a 20x20 grid of the tutorial model is 3.8 GFLOP):
- Each layer is one or two matrix products. Encoder convolutions gather their 3x3 patches (im2col,
  through a strided view) and multiply them by the kernel, the bias an extra row. Decoder transposed
  convolutions multiply first ("col2im"), then add the taps that reach a neighbouring pixel into place.
- The decoder keeps feature maps channel-first, (C + 1, ..., i, j, N) with a last channel of ones that
  carries each bias into the next matrix product, and never interleaves the output phases of a
  stride-2 layer: after L stride-2 layers the pixel axes are (p_L, q_L, ..., p_1, q_1, i, j), the
  natural row being i*2^L + p_1*2^(L-1) + ... + p_L (likewise for columns). So the taps that stay in
  their pixel are written straight into their phase planes by the matrix product, and the others are
  added in a few blocks with long contiguous runs. The logits are put in natural order once, at the end.
  That index bookkeeping is in core/transposed_conv.py.
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
from vaestudio.core.transposed_conv import (final_moves, to_natural_order, to_storage_order, upsample_matrix,
                                           upsample_moves)
from vaestudio.core.zoo.labels import one_hot, with_label_channels

# Floats of intermediate results per chunk: ~8 MB keeps a chunk's working set in the L2/L3 caches.
CHUNK_FLOATS = 2_000_000
# The last decoder layer's taps are added for many images at once (fewer, larger operations).
FINAL_CHUNK_FLOATS = 8_000_000
# Threads that run blocks of images at once (NumPy releases the GIL in its loops and in BLAS). Meant for
# a single-threaded BLAS, which vaestudio/__init__.py asks for.
WORKERS = min(2, os.cpu_count() or 1)
_ZEROS = np.zeros(1 << 20, np.float32)  # np.maximum(x, zeros) is ~5x faster than np.maximum(x, 0)
_ZEROS.setflags(write=False)


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

    Feature maps carry one extra channel of ones after their real channels, so that each layer's bias
    is a column of its matrix (channel-first storage makes that channel free to keep)."""

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
        self._dense_w = _frozen(by_channel.reshape(-1, dense_w.shape[0]))
        self._dense_b = _frozen(dense_b.reshape(base * base, channels).T.reshape(-1, 1))
        self._dense_channels = channels
        kernels, biases = arrays[2::2], arrays[3::2]  # kernels are (row a, column b, out, in)
        self._levels = len(kernels) - 1
        # Stride-2 layers: one matrix whose rows give, in order, the four output phases (a, b < 2) of each
        # pixel with the bias, the ones channel again (for the next layer), and the taps that land on a
        # neighbouring pixel (see _upsample; core.transposed_conv).
        self._stages = []
        for level, (kernel, bias) in enumerate(zip(kernels[:-1], biases[:-1])):
            moves = upsample_moves(level, base, kernel.shape[2])
            self._stages.append((_frozen(upsample_matrix(kernel, bias)), moves))
        # The last layer: all 9 taps (rows (a, b, channel)), the bias on the centre tap.
        last, last_bias = kernels[-1], biases[-1]
        taps = np.concatenate([last.reshape(-1, last.shape[-1]), np.zeros((last[..., 0].size, 1))], axis=1)
        taps.reshape(3, 3, last.shape[2], -1)[1, 1, :, -1] = last_bias
        self._last = _frozen(taps)
        self._column_moves = {step: final_moves(self._levels, base, 0, step) for step in (-1, 1)}
        self._row_moves = {step: final_moves(self._levels, base, step, 0) for step in (-1, 1)}
        # Floats per image of the largest intermediate arrays, to size chunks.
        per_image, size, channels_in = 0, base, channels
        for matrix, _ in self._stages:
            out_channels = (matrix.shape[0] - 4) // 9
            per_image = max(per_image, size * size * (9 * out_channels + channels_in + 1))
            size, channels_in = 2 * size, out_channels
        self._chunk = max(1, CHUNK_FLOATS // per_image)
        self._final_chunk = max(1, FINAL_CHUNK_FLOATS // (size * size * (self._last.shape[0] + 1)))

    @property
    def latent_dim(self) -> int:
        return self.architecture.latent_dim

    def logits(self, z: np.ndarray, labels=None) -> np.ndarray:
        """(N, latent_dim) -> float32 logits (N, H, W, channels), as Keras's decoder gives them; a
        conditional model decodes for `labels` (one class for all, or one per point; None: DEFAULT_CLASS)."""
        z = self.inputs(z, labels)
        count = len(z)
        side = self._base << self._levels
        out_channels = self._last.shape[0] // 9
        storage = (2, 2) * self._levels + (self._base, self._base)
        result = np.empty((count, side, side, out_channels), np.float32)
        if count == 0:
            return result
        block = min(self._chunk, count)  # images per pass through the hidden layers
        blocks_per_final = max(1, self._final_chunk // block)
        for start in range(0, count, block * blocks_per_final):
            stop = min(start + block * blocks_per_final, count)
            blocks = -(-(stop - start) // block)
            # The last layer's 9 tap planes for `blocks` blocks of `block` images: (9 * out, B, storage, block).
            taps = np.empty((self._last.shape[0], blocks, *storage, block), np.float32)

            def fill(index: int, start=start, stop=stop, taps=taps) -> None:
                part = z[start + index * block:min(start + (index + 1) * block, stop)]
                if len(part) < block:
                    part = np.concatenate([part, np.zeros((block - len(part), part.shape[1]), np.float32)])
                hidden = self._hidden(part)
                np.matmul(self._last, hidden.reshape(hidden.shape[0], -1),
                          out=taps[:, index].reshape(self._last.shape[0], -1))

            run_all(fill, blocks)
            logits = self._last_layer(taps, out_channels)
            to_natural_order(logits, result[start:stop], self._levels, self._base)
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
        hidden = self._hidden(inputs)
        storage = (2, 2) * self._levels + (self._base, self._base)
        taps = np.matmul(self._last, hidden.reshape(hidden.shape[0], -1))
        logits = self._last_layer(taps.reshape(len(self._last), 1, *storage, len(inputs)), len(self._last) // 9)
        return logits.reshape(-1, len(inputs))

    def storage_order(self, images: np.ndarray) -> np.ndarray:
        """Images (N, H, W, channels) in the pixel order of `block_logits`: float32 (P, N)."""
        return to_storage_order(images, self._levels, self._base).reshape(-1, len(images))

    # -- layers ---------------------------------------------------------------------------------------
    def _hidden(self, z: np.ndarray) -> np.ndarray:
        """Dense and stride-2 layers (with ReLU) for a block of points: (C + 1, *storage, N) phase planes,
        the last channel all ones."""
        channels, pixels = self._dense_channels, self._base * self._base
        h = np.empty(((channels + 1) * pixels, len(z)), np.float32)
        np.matmul(self._dense_w, z.T, out=h[:channels * pixels])
        h[:channels * pixels] += self._dense_b
        _relu(h[:channels * pixels])
        h[channels * pixels:] = 1.0
        h = h.reshape(channels + 1, self._base, self._base, len(z))
        for matrix, moves in self._stages:
            h = self._upsample(h, matrix, moves)
        return h

    @staticmethod
    def _upsample(x: np.ndarray, matrix: np.ndarray, moves: list) -> np.ndarray:
        """Conv2DTranspose(3, stride 2, 'same') + ReLU: (Cin + 1, *storage, N) -> (C + 1, 2, 2, *storage, N).

        Input pixel (I, J) with tap (a, b) lands on output pixel (2I + a, 2J + b): the taps with a, b < 2
        fill phase (a, b) of the same pixel (each output gets exactly one of them, and the bias), and
        are written in place by the matrix product; tap a == 2 adds to phase 0 of row I + 1, b == 2 to
        phase 0 of column J + 1.
        """
        channels = (matrix.shape[0] - 4) // 9
        products = np.matmul(matrix, x.reshape(x.shape[0], -1))
        out = products[:4 * channels + 4].reshape(channels + 1, 2, 2, *x.shape[1:])
        reached = products[4 * channels + 4:]
        rows = reached[:2 * channels].reshape(channels, 2, *x.shape[1:])  # taps (2, 0), (2, 1)
        columns = reached[2 * channels:4 * channels].reshape(channels, 2, *x.shape[1:])  # taps (0, 2), (1, 2)
        corner = reached[4 * channels:].reshape(channels, *x.shape[1:])  # tap (2, 2)
        for group, target, source in moves:
            out[target] += (rows, columns, corner)[group][source]
        return _relu(out)  # the ones stay ones

    def _last_layer(self, taps: np.ndarray, out_channels: int) -> np.ndarray:
        """Conv2DTranspose(3, stride 1, 'same') from its tap planes (9 * out, B, *storage, N), the bias
        already in the centre tap: output pixel (r + a - 1, c + b - 1) gets tap (a, b) of input pixel
        (r, c). Separable: each kernel row's three column taps go into its middle one, then the rows."""
        taps = taps.reshape(3, 3, out_channels, *taps.shape[1:])
        for a in range(3):
            middle = taps[a, 1]
            for b, moves in ((0, self._column_moves[-1]), (2, self._column_moves[1])):
                for target, source in moves:
                    middle[target] += taps[a, b][source]
        out = taps[1, 1]
        for a, moves in ((0, self._row_moves[-1]), (2, self._row_moves[1])):
            for target, source in moves:
                out[target] += taps[a, 1][source]
        return out


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
