"""Chart geometry for inline SVG: horizontal bars and the energy diary's consumption per day.

Only numbers here; the templates draw them. Every chart also has a text table for screen readers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Bar:
    """One bar: its label, value, and its length as a share (0..1) of the longest."""

    label: str
    value: float
    share: float
    highlight: bool = False


def bars(values: dict[str, float], highlight: set[str] | None = None) -> list[Bar]:
    """Bars for ``{label: value}`` scaled to the largest value (all zero: empty bars)."""
    top = max(values.values(), default=0)
    return [
        Bar(label, value, (value / top) if top > 0 else 0.0, label in (highlight or set()))
        for label, value in values.items()
    ]


@dataclass(frozen=True)
class Column:
    """One period of the energy diary drawn as a column."""

    label: str
    commodity: str
    per_day: float
    unit: str
    x: float
    height: float
    anomaly: str | None


def diary_columns(
    periods: list[dict[str, Any]], width: float = 600, height: float = 160
) -> list[Column]:
    """Columns of consumption per day, one per diary period, scaled per commodity (kWh and Smc
    are not comparable, so each commodity has its own scale)."""
    if not periods:
        return []
    tops: dict[str, float] = {}
    for p in periods:
        tops[p["commodity"]] = max(tops.get(p["commodity"], 0.0), float(p.get("per_day") or 0))
    step = width / len(periods)
    columns = []
    for index, p in enumerate(periods):
        top = tops[p["commodity"]]
        value = float(p.get("per_day") or 0)
        columns.append(
            Column(
                label=f"{p.get('start')} – {p.get('end')}",
                commodity=p["commodity"],
                per_day=value,
                unit="kWh" if p["commodity"] == "luce" else "Smc",
                x=index * step,
                height=(value / top) * height if top > 0 else 0.0,
                anomaly=p.get("anomaly"),
            )
        )
    return columns
