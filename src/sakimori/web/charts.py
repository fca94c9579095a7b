"""Bar charts drawn on the server as SVG geometry (no script, no inline style): pure functions
from figures to rectangles the templates draw; each chart also renders as a table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Decisions in the order they are drawn, most urgent first.
DECISIONS = ("Act", "Attend", "Track*", "Track", "none")


@dataclass(frozen=True, slots=True)
class Segment:
    key: str
    value: int
    x: float
    width: float


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    total: int
    y: float
    segments: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class Chart:
    rows: tuple[Row, ...]
    keys: tuple[str, ...]
    width: float
    height: float
    bar_height: float
    label_width: float


def css_class(key: str) -> str:
    return (
        "k-"
        + "".join(c if c.isalnum() else "-" for c in key.lower()).rstrip("-")
        + ("-star" if key.endswith("*") else "")
    )


def stacked(
    rows: Sequence[tuple[str, Mapping[str, int]]],
    keys: Sequence[str],
    *,
    width: float = 640.0,
    label_width: float = 180.0,
    bar_height: float = 22.0,
    gap: float = 8.0,
) -> Chart:
    """Horizontal bars, one per row, each split into ``keys`` (zeros omitted), on one scale."""
    longest = max((sum(values.get(k, 0) for k in keys) for _, values in rows), default=0)
    room = width - label_width - 60.0
    scale = room / longest if longest else 0.0
    drawn: list[Row] = []
    for index, (label, values) in enumerate(rows):
        x = label_width
        segments: list[Segment] = []
        for key in keys:
            value = values.get(key, 0)
            if value <= 0:
                continue
            segments.append(Segment(key, value, round(x, 1), round(value * scale, 1)))
            x += value * scale
        total = sum(s.value for s in segments)
        drawn.append(Row(label, total, index * (bar_height + gap), tuple(segments)))
    height = max(len(rows), 1) * (bar_height + gap)
    return Chart(tuple(drawn), tuple(keys), width, height, bar_height, label_width)


def single(
    rows: Sequence[tuple[str, int]], key: str, *, width: float = 640.0, label_width: float = 180.0
) -> Chart:
    """One value per row (e.g. overdue findings per sector)."""
    return stacked(
        [(label, {key: value}) for label, value in rows],
        [key],
        width=width,
        label_width=label_width,
    )
