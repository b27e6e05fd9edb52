"""Index bookkeeping of the NumPy decoder's transposed convolutions (see `core.numpy_layers`).

The decoder keeps feature maps channel-first in phase-plane storage: after L stride-2 layers the pixel
axes are (p_L, q_L, ..., p_1, q_1, i, j), the natural row being i*2^L + p_1*2^(L-1) + ... + p_L (likewise
for columns). Here: the block moves that shift every pixel to a neighbour in that storage, the stacked
input of a stride-2 layer and the matrices of its output phases, and the copies between that storage and
natural (NHWC) order. Index arithmetic; weights are only rearranged.
"""

from __future__ import annotations

import numpy as np


def shift_cases(levels: int, size0: int, step: int) -> list[tuple[tuple, tuple]]:
    """Moving every pixel one step (+1, -1; 0 is no move) along one axis of phase-plane storage.

    The axis is stored as digits (d_L, ..., d_1, i): natural index i*2^L + d_1*2^(L-1) + ... + d_L.
    Returns (source, target) index tuples over (d_L, ..., d_1, i); each pair is one block move, L + 1
    of them (like adding 1 to a binary number: trailing ones become zeros, then one digit carries).
    """
    if step == 0:
        everything = (slice(None),) * (levels + 1)
        return [(everything, everything)]
    wrap_from, wrap_to = (1, 0) if step > 0 else (0, 1)
    cases = []
    for carried in range(levels + 1):  # how many low digits wrap around
        source: list = [wrap_from] * carried
        target: list = [wrap_to] * carried
        if carried < levels:
            source += [1 - wrap_from] + [slice(None)] * (levels - carried)
            target += [1 - wrap_to] + [slice(None)] * (levels - carried)
        else:
            source.append(slice(0, size0 - 1) if step > 0 else slice(1, size0))
            target.append(slice(1, size0) if step > 0 else slice(0, size0 - 1))
        cases.append((tuple(source), tuple(target)))
    return cases


def block_moves(levels: int, size0: int, row_step: int, col_step: int) -> list[tuple[tuple, tuple]]:
    """(source, target) indexes over storage axes (p_L, q_L, ..., p_1, q_1, i, j) for a 2-d move."""
    moves = []
    for source_rows, target_rows in shift_cases(levels, size0, row_step):
        for source_cols, target_cols in shift_cases(levels, size0, col_step):
            moves.append((interleave(source_rows, source_cols), interleave(target_rows, target_cols)))
    return moves


def stride2_matrices(kernel: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two matrix products of a Conv2DTranspose(3, stride 2, 'same') layer (kernel (a, b, out, in)).

    Input pixel (I, J) with tap (a, b) lands on output pixel (2I + a, 2J + b): output phase (p, q) of pixel
    (I, J) gets tap (p, q) of the input at (I, J), for q = 0 also tap (p, 2) of the input at (I, J - 1),
    and for p = 0 taps (2, q) and, for q = 0, (2, 2) of the row above. So with the input X and its copy
    shifted one column right, L, stacked as rows (L, ones, X):
      - phases q = 0: matrix (3 out, 2 in + 1) on (L, ones, X): rows (channel, p) of phases (p, 0), with
        the bias, then rows (channel) of the part (taps (2, 2), (2, 0)) that goes to the row below;
      - phases q = 1: matrix (3 out, in + 1) on (ones, X): rows (channel, p) of phases (p, 1), then rows
        (channel) of the part (tap (2, 1)) that goes to the row below."""
    out_channels = kernel.shape[2]
    bias = np.broadcast_to(np.asarray(bias, np.float64)[None, :, None], (2, out_channels, 1))
    zeros = np.zeros((out_channels, 1))

    def by_channel(rows: np.ndarray) -> np.ndarray:  # (p, out, columns) -> rows (out, p)
        return rows.transpose(1, 0, 2).reshape(2 * out_channels, -1)

    first = np.concatenate([by_channel(np.concatenate([kernel[:2, 2], bias, kernel[:2, 0]], axis=2)),
                            np.concatenate([kernel[2, 2], zeros, kernel[2, 0]], axis=1)])
    second = np.concatenate([by_channel(np.concatenate([bias, kernel[:2, 1]], axis=2)),
                             np.concatenate([zeros, kernel[2, 1]], axis=1)])
    return first, second


def final_moves(levels: int, size0: int, row_step: int, col_step: int) -> list[tuple[tuple, tuple]]:
    """(target, source) indexes over (C, B, *storage) arrays for moving by (row_step, col_step)."""
    return [((slice(None), slice(None)) + target, (slice(None), slice(None)) + source)
            for source, target in block_moves(levels, size0, row_step, col_step)]


def interleave(rows: tuple, cols: tuple) -> tuple:
    """Index over storage axes (p_L, q_L, ..., p_1, q_1, i, j) from per-axis (d_L, ..., d_1, base) indexes."""
    index: list = []
    for row, col in zip(rows, cols):
        index += [row, col]
    return tuple(index)


def to_natural_order(x: np.ndarray, out: np.ndarray, levels: int, base: int) -> None:
    """Copy (C, B, p_L, q_L, ..., p_1, q_1, i, j, N) storage into NHWC `out` (images B*N, first
    len(out) of them), whose natural row has digits (i, p_1, ..., p_L), most significant first."""
    rows = [2 + 2 * (levels - 1 - k) for k in range(levels)]  # axes of p_1 ... p_L
    cols = [r + 1 for r in rows]
    i_axis, j_axis, n_axis = 2 + 2 * levels, 3 + 2 * levels, 4 + 2 * levels
    ordered = x.transpose([1, n_axis, i_axis, *rows, j_axis, *cols, 0])
    side = base << levels
    ordered = ordered.reshape(-1, side, side, x.shape[0])  # a copy: the transpose is not contiguous
    out[...] = ordered[:len(out)]


def to_storage_order(images: np.ndarray, levels: int, base: int) -> np.ndarray:
    """The inverse of `to_natural_order` for N images (N, H, W, C): float32 (C, p_L, q_L, ..., p_1, q_1, i, j,
    N), contiguous."""
    count, channels = len(images), images.shape[-1]
    # Axes of the reshape: 0 image, 1 i, 2 .. 1+L p_1 .. p_L, 2+L j, 3+L .. 2+2L q_1 .. q_L, 3+2L channel.
    split = np.asarray(images, np.float32).reshape(count, base, *(2,) * levels, base, *(2,) * levels, channels)
    phases = []
    for k in range(levels, 0, -1):
        phases += [1 + k, 2 + levels + k]
    return np.ascontiguousarray(split.transpose([3 + 2 * levels, *phases, 1, 2 + levels, 0]))

