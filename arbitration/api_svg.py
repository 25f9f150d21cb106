"""A PD history plot as a tiny inline SVG: no image request, no script, ~1 ms to draw."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape

WIDTH, HEIGHT, PAD = 520, 170, 34


def pd_history_svg(points: Sequence[tuple[date, float, int]]) -> str:
    """``points`` are (as_of, pd_12m, grade), oldest first. Returns an accessible ``<svg>``."""
    if not points:
        return ""
    pds = [p for _, p, _ in points]
    top = max(max(pds) * 1.15, 0.001)
    n = len(points)

    def x(i: int) -> float:
        return PAD + (WIDTH - 2 * PAD) * (i / (n - 1) if n > 1 else 0.5)

    def y(value: float) -> float:
        return HEIGHT - PAD + -(HEIGHT - 2 * PAD) * value / top

    line = " ".join(f"{x(i):.1f},{y(p):.1f}" for i, p in enumerate(pds))
    dots = "".join(
        f'<circle cx="{x(i):.1f}" cy="{y(p):.1f}" r="3"><title>{escape(d.isoformat())}: '
        f"PD {p:.2%}, grade {g}</title></circle>"
        for i, (d, p, g) in enumerate(points)
    )
    first, last = points[0], points[-1]
    label = (
        f"PD 12 months from {first[1]:.2%} on {first[0].isoformat()} to {last[1]:.2%} on "
        f"{last[0].isoformat()} (grade {first[2]} to {last[2]})"
    )
    return (
        f'<svg class="plot" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}">'
        f"<title>{escape(label)}</title>"
        f'<line class="axis" x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}"/>'
        f'<line class="axis" x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}"/>'
        f'<text x="2" y="{PAD + 4}">{top:.1%}</text><text x="2" y="{HEIGHT - PAD}">0%</text>'
        f'<text x="{PAD}" y="{HEIGHT - 8}">{escape(first[0].isoformat())}</text>'
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" text-anchor="end">{escape(last[0].isoformat())}</text>'
        f'<polyline class="series" points="{line}"/>{dots}</svg>'
    )
