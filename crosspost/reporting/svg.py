"""Bar charts as inline SVG strings: no script, no external asset, crisp when printed.

Each chart is an `<svg>` with a viewBox (it scales to the page width), a `<title>` for screen
readers, and a `<title>` per bar so hovering shows the figure. All text is escaped here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

PALETTE = ("#1f5fa8", "#d9822b", "#2e8b57", "#b8336a", "#6b5ca5", "#8c6d31", "#5f6b73")
"""Bar colours, distinct in print and for the commonest colour-vision deficiencies."""

WIDTH = 900
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 16, 34, 44


def _nice_step(top: float, ticks: int = 4) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) so `ticks` steps cover `top`."""
    raw = max(top, 1) / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    step: float = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return max(step, 1.0)


def _open(height: int, title: str) -> list[str]:
    return [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]


def _legend(names: Sequence[str], colours: Sequence[str]) -> str:
    parts, x = [], _LEFT
    for name, colour in zip(names, colours, strict=True):
        parts.append(
            f'<rect x="{x}" y="8" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 17}" y="18" font-size="13">{escape(name)}</text>'
        )
        x += 30 + 8 * len(name)
    return "".join(parts)


def _y_axis(parts: list[str], height: int, top_value: float, fmt: str = "{:,.0f}") -> float:
    """Draw gridlines and labels; return the value at the top of the plot."""
    step = _nice_step(top_value)
    ymax = step * max(1, math.ceil(top_value / step))
    plot_h = height - _TOP - _BOTTOM
    value = 0.0
    while value <= ymax + 1e-9:
        y = _TOP + plot_h - plot_h * value / ymax
        parts.append(
            f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#d0d4d9" stroke-width="1"/>'
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" font-size="12" text-anchor="end">'
            f"{fmt.format(value)}</text>"
        )
        value += step
    return ymax


def _empty(parts: list[str], height: int, message: str) -> str:
    parts.append(
        f'<text x="{WIDTH / 2}" y="{height / 2}" font-size="15" text-anchor="middle" '
        f'fill="#5f6b73">{escape(message)}</text></svg>'
    )
    return "".join(parts)


def stacked_columns(
    categories: Sequence[str],
    ticks: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    *,
    title: str,
    empty: str,
    height: int = 300,
) -> str:
    """Columns per category (e.g. day), each stacked from the series (e.g. platforms).

    `ticks` is the x label per category ("" for none), so long periods stay legible.
    """
    parts = _open(height, title)
    totals = [sum(values[i] for _, values in series) for i in range(len(categories))]
    if not categories or not any(totals):
        return _empty(parts, height, empty)
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(series))]
    parts.append(_legend([name for name, _ in series], colours))
    ymax = _y_axis(parts, height, max(totals))
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, height - _TOP - _BOTTOM
    slot = plot_w / len(categories)
    bar = max(slot * 0.8, 0.6)
    for i, category in enumerate(categories):
        x = _LEFT + i * slot + (slot - bar) / 2
        base = float(_TOP + plot_h)
        for (name, values), colour in zip(series, colours, strict=True):
            if not values[i]:
                continue
            h = plot_h * values[i] / ymax
            base -= h
            parts.append(
                f'<rect x="{x:.2f}" y="{base:.2f}" width="{bar:.2f}" height="{h:.2f}" '
                f'fill="{colour}"><title>{escape(category)} {escape(name)}: {values[i]}'
                "</title></rect>"
            )
        if ticks[i]:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - _BOTTOM + 18}" font-size="12" '
                f'text-anchor="middle">{escape(ticks[i])}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def horizontal_bars(items: Sequence[tuple[str, int, str]], *, title: str, empty: str) -> str:
    """One bar per (label, value, value shown), longest first as given."""
    row, label_w = 28, 190
    height = max(120, 20 + row * len(items))
    parts = _open(height, title)
    top = max((value for _, value, _ in items), default=0)
    if not top:
        return _empty(parts, height, empty)
    plot_w = WIDTH - label_w - 90
    for i, (label, value, shown) in enumerate(items):
        y = 10 + i * row
        w = plot_w * value / top
        short = label if len(label) <= 26 else label[:25] + "…"
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 17}" font-size="13" text-anchor="end">'
            f"{escape(short)}</text>"
            f'<rect x="{label_w}" y="{y + 4}" width="{w:.2f}" height="{row - 8}" '
            f'fill="{PALETTE[0]}"><title>{escape(label)}: {escape(shown)}</title></rect>'
            f'<text x="{label_w + w + 6:.2f}" y="{y + 17}" font-size="13">{escape(shown)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def grouped_columns(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    *,
    title: str,
    empty: str,
    height: int = 300,
) -> str:
    """Side-by-side columns of each series per category (e.g. a histogram's bins)."""
    parts = _open(height, title)
    top = max((v for _, values in series for v in values), default=0)
    if not top:
        return _empty(parts, height, empty)
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(series))]
    parts.append(_legend([name for name, _ in series], colours))
    ymax = _y_axis(parts, height, top)
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, height - _TOP - _BOTTOM
    slot = plot_w / len(categories)
    bar = slot * 0.8 / len(series)
    for i, category in enumerate(categories):
        x0 = _LEFT + i * slot + slot * 0.1
        for j, ((name, values), colour) in enumerate(zip(series, colours, strict=True)):
            h = plot_h * values[i] / ymax
            parts.append(
                f'<rect x="{x0 + j * bar:.2f}" y="{_TOP + plot_h - h:.2f}" width="{bar:.2f}" '
                f'height="{h:.2f}" fill="{colour}"><title>{escape(category)} {escape(name)}: '
                f"{values[i]}</title></rect>"
            )
        parts.append(
            f'<text x="{x0 + slot * 0.4:.1f}" y="{height - _BOTTOM + 18}" font-size="12" '
            f'text-anchor="middle">{escape(category)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
