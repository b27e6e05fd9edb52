"""Inline SVG charts for the report: metric curves over training steps with the snapshots marked, and a bar
chart of the KL of each latent dimension. Every text is escaped; numbers are plain floats."""

from __future__ import annotations

import math
from html import escape
from typing import Sequence

WIDTH, HEIGHT = 520, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 26, 34
TRAIN_COLOUR, TEST_COLOUR, MARK_COLOUR, CHOSEN_COLOUR = "#1f77b4", "#d62728", "#bbbbbb", "#2ca02c"

Series = tuple[str, str, Sequence[float], Sequence[float]]  # (name, colour, steps, values)


def curve_chart(title: str, series: Sequence[Series], marks: Sequence[int], chosen: int | None) -> str:
    """A line chart of `series` over steps; grey vertical lines at the snapshots' steps (`marks`), a green
    one at the chosen snapshot's."""
    points = [(x, y) for _, _, xs, ys in series for x, y in zip(xs, ys) if _finite(x) and _finite(y)]
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
             f'<text x="{LEFT}" y="16" class="chart-title">{escape(title)}</text>']
    if not points:
        parts.append(f'<text x="{LEFT}" y="{HEIGHT // 2}">no values recorded</text></svg>')
        return "".join(parts)
    x_low, x_high = min(p[0] for p in points), max(max(p[0] for p in points), *(marks or [0]))
    y_low, y_high = min(p[1] for p in points), max(p[1] for p in points)
    if x_high <= x_low:
        x_high = x_low + 1
    if y_high <= y_low:
        y_low, y_high = y_low - 1, y_high + 1
    pad = (y_high - y_low) * 0.05
    y_low, y_high = y_low - pad, y_high + pad

    def sx(x: float) -> float:
        return LEFT + (x - x_low) / (x_high - x_low) * (WIDTH - LEFT - RIGHT)

    def sy(y: float) -> float:
        return TOP + (y_high - y) / (y_high - y_low) * (HEIGHT - TOP - BOTTOM)

    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{right - LEFT}" height="{bottom - TOP}" fill="none" '
                 'stroke="#999"/>')
    for step in marks:
        colour = CHOSEN_COLOUR if step == chosen else MARK_COLOUR
        width = 2 if step == chosen else 1
        parts.append(f'<line class="snapshot-mark" x1="{sx(step):.1f}" x2="{sx(step):.1f}" y1="{TOP}" '
                     f'y2="{bottom}" stroke="{colour}" stroke-width="{width}"><title>snapshot at step {step}'
                     '</title></line>')
    for tick in _ticks(y_low, y_high):
        parts.append(f'<line x1="{LEFT - 4}" x2="{LEFT}" y1="{sy(tick):.1f}" y2="{sy(tick):.1f}" stroke="#999"/>'
                     f'<text x="{LEFT - 6}" y="{sy(tick) + 4:.1f}" text-anchor="end">{tick:g}</text>')
    for tick in _ticks(x_low, x_high):
        parts.append(f'<text x="{sx(tick):.1f}" y="{bottom + 14}" text-anchor="middle">{tick:g}</text>')
    parts.append(f'<text x="{(LEFT + right) / 2:.0f}" y="{HEIGHT - 4}" text-anchor="middle">step</text>')
    legend_y = bottom - 8  # the legend in the plot's lower right corner, where the curves seldom are
    for name, colour, xs, ys in series:
        kept = [(sx(x), sy(y)) for x, y in zip(xs, ys) if _finite(x) and _finite(y)]
        if not kept:
            continue
        if len(kept) == 1:
            parts.append(f'<circle cx="{kept[0][0]:.1f}" cy="{kept[0][1]:.1f}" r="3" fill="{colour}"/>')
        else:
            line = " ".join(f"{x:.1f},{y:.1f}" for x, y in kept)
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{line}"/>')
    for name, colour, xs, _ys in reversed(series):
        if xs:
            parts.append(f'<text x="{right - 6}" y="{legend_y}" fill="{colour}" text-anchor="end" '
                         f'class="legend">— {escape(name)}</text>')
            legend_y -= 14
    parts.append("</svg>")
    return "".join(parts)


def kl_bars(values: Sequence[float], title: str = "KL of each latent dimension (nats)") -> str:
    """One bar per latent dimension (z1, z2, ...), its test KL in nats above it."""
    count = len(values)
    width = max(WIDTH // 2, min(WIDTH, 40 * count + LEFT))
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {HEIGHT}" width="{width}" height="{HEIGHT}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
             f'<text x="{LEFT}" y="16" class="chart-title">{escape(title)}</text>']
    top = max([v for v in values if _finite(v)] or [1.0]) or 1.0
    slot = (width - LEFT - RIGHT) / max(count, 1)
    bottom = HEIGHT - BOTTOM
    for index, value in enumerate(values):
        shown = value if _finite(value) else 0.0
        height = max(0.0, shown) / top * (bottom - TOP - 12)
        x = LEFT + index * slot
        parts.append(f'<rect class="kl-bar" x="{x + slot * 0.15:.1f}" y="{bottom - height:.1f}" '
                     f'width="{slot * 0.7:.1f}" height="{height:.1f}" fill="{TRAIN_COLOUR}"/>')
        if count <= 32:
            parts.append(f'<text x="{x + slot / 2:.1f}" y="{bottom - height - 3:.1f}" text-anchor="middle">'
                         f'{shown:.2f}</text>'
                         f'<text x="{x + slot / 2:.1f}" y="{bottom + 14}" text-anchor="middle">z{index + 1}</text>')
    parts.append(f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{bottom}" y2="{bottom}" stroke="#999"/></svg>')
    return "".join(parts)


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    span = high - low
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + 1e-9 * span:
        ticks.append(round(value, 10))
        value += step
    return ticks
