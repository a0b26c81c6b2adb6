"""casework's codec: stored data rebuilt as the domain's dataclasses, by their type hints."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any, Optional

from services.casework.adapters.codec import from_doc, to_doc


class Colour(Enum):
    RED = "rosso"


@dataclass
class Leaf:
    on: date
    weight: float
    colour: Colour | None = None


@dataclass
class Node:
    name: str
    leaves: list[Leaf]
    children: list[Node] = field(default_factory=list)  # a list of its own kind
    parent: Node | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    either: int | str | None = None
    at: datetime | None = None
    events: list[str] = field(default_factory=list)
    derived: int = field(default=0, init=False)
    pair: tuple[date, ...] | None = None
    maybe: Optional[Leaf] = None  # noqa: UP045 - the typing spelling, as older code has it
    loose: date | str | None = None  # several types: kept as stored


def test_stored_data_is_rebuilt_as_the_types_say() -> None:
    at = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    data = {
        "name": "radice",
        "leaves": [
            {"on": "2026-11-30", "weight": 2, "colour": "rosso"},
            # Files written before dates were stored as strings hold datetimes.
            {"on": datetime(2026, 1, 2, 0, 0), "weight": 1.5, "colour": None},
        ],
        "children": [{"name": "figlio", "leaves": [], "children": []}],
        "parent": {"name": "nonno", "leaves": [{"on": "2026-10-01", "weight": 1}]},
        "pair": ["2026-01-01", "2026-01-02"],
        "maybe": {"on": "2026-02-03", "weight": 4},
        "loose": "2026-01-01",
        "extra": {"kept": ["as", "is"]},
        "either": "testo",
        "at": at,
        "events": ["never read back"],
        "derived": 7,  # not an init field: computed, never read back
        "unknown": "ignored",
    }

    node = from_doc(Node, data)

    assert node == Node(
        name="radice",
        leaves=[Leaf(date(2026, 11, 30), 2.0, Colour.RED), Leaf(date(2026, 1, 2), 1.5)],
        children=[Node(name="figlio", leaves=[])],
        parent=Node(name="nonno", leaves=[Leaf(date(2026, 10, 1), 1.0)]),
        pair=[date(2026, 1, 1), date(2026, 1, 2)],  # type: ignore[arg-type] - rebuilt as a list
        maybe=Leaf(date(2026, 2, 3), 4.0),
        loose="2026-01-01",
        extra={"kept": ["as", "is"]},
        either="testo",
        at=at,
    )
    assert isinstance(node.leaves[0].weight, float)
    assert node.events == [] and node.derived == 0
    assert from_doc(Node | None, None) is None
    assert from_doc(list[Leaf], None) is None


def test_a_dataclass_survives_the_round_trip() -> None:
    node = Node(
        name="radice",
        leaves=[Leaf(date(2026, 11, 30), 2.5, Colour.RED)],
        children=[Node(name="figlio", leaves=[Leaf(date(2026, 12, 1), 0.0)])],
        either=3,
    )
    doc = to_doc(node)
    assert doc["leaves"][0] == {"on": "2026-11-30", "weight": 2.5, "colour": "rosso"}
    assert from_doc(Node, doc) == node
