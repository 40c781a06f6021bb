"""Small server-rendered SVG charts: sparklines for trends, a line chart for scores.

Pure functions of numbers; the markup holds no user text except labels, which are
escaped. No JavaScript, no external assets.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

STROKE = "#417690"  # the admin's own header blue
MUTED = "#999"


def _scale(value: float, low: float, high: float, size: float) -> float:
    if high == low:
        return size / 2
    return size - (value - low) / (high - low) * size


def sparkline(
    values: Sequence[float | None],
    *,
    width: int = 120,
    height: int = 28,
    low: float | None = None,
    high: float | None = None,
    label: str = "trend",
) -> SafeString:
    """A polyline through ``values`` (gaps where a value is None), last point marked."""
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    if not points:
        return format_html(
            '<svg class="sparkline" width="{}" height="{}" role="img" aria-label="{}">'
            '<text x="0" y="{}" fill="{}" font-size="10">no history yet</text></svg>',
            width,
            height,
            label,
            height - 8,
            MUTED,
        )
    numbers = [v for _, v in points]
    low = min(numbers) if low is None else low
    high = max(numbers) if high is None else high
    pad = 3
    step = (width - 2 * pad) / max(len(values) - 1, 1)
    coords = [(pad + i * step, pad + _scale(v, low, high, height - 2 * pad)) for i, v in points]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    last_x, last_y = coords[-1]
    return mark_safe(  # noqa: S308 - numbers only, and an escaped label
        f'<svg class="sparkline" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">'
        f'<polyline fill="none" stroke="{STROKE}" stroke-width="1.5" points="{path}"/>'
        f'<circle cx="{last_x:.1f}" cy="{last_y:.1f}" r="2.5" fill="{STROKE}"/></svg>'
    )


def score_chart(
    points: Sequence[tuple[datetime, float]],
    *,
    width: int = 560,
    height: int = 160,
    low: float = 0,
    high: float = 1000,
) -> SafeString:
    """The score history over time, with the 0–1000 scale and the first and last dates."""
    left, right, top, bottom = 36, 8, 8, 20
    inner_w, inner_h = width - left - right, height - top - bottom
    parts = [
        f'<svg class="score-chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="score history">'
    ]
    for tick in (low, (low + high) / 2, high):
        y = top + _scale(tick, low, high, inner_h)
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#eee"/><text x="{left - 4}" y="{y + 3:.1f}" font-size="10" '
            f'text-anchor="end" fill="{MUTED}">{tick:g}</text>'
        )
    if not points:
        parts.append(
            f'<text x="{left + 8}" y="{top + inner_h / 2:.1f}" font-size="12" fill="{MUTED}">'
            "no score yet</text></svg>"
        )
        return mark_safe("".join(parts))  # noqa: S308 - fixed markup and numbers
    first, last = points[0][0], points[-1][0]
    span = (last - first).total_seconds() or 1.0
    coords = [
        (
            left + ((at - first).total_seconds() / span) * inner_w if len(points) > 1 else left,
            top + _scale(value, low, high, inner_h),
        )
        for at, value in points
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    parts.append(f'<polyline fill="none" stroke="{STROKE}" stroke-width="2" points="{path}"/>')
    for x, y in coords[-1:]:
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{STROKE}"/>')
    parts.append(
        f'<text x="{left}" y="{height - 4}" font-size="10" fill="{MUTED}">'
        f"{first:%Y-%m-%d}</text>"
        f'<text x="{width - right}" y="{height - 4}" font-size="10" text-anchor="end" '
        f'fill="{MUTED}">{last:%Y-%m-%d}</text></svg>'
    )
    return mark_safe("".join(parts))  # noqa: S308 - fixed markup, numbers and dates
