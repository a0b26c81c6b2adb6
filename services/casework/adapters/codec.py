"""Domain dataclasses to MongoDB documents and back, driven by their type hints.

Dates are stored as ISO strings (``YYYY-MM-DD``): BSON has no date type, and ISO strings compare
in date order, so ``{"due": {"$lt": "2026-12-01"}}`` works on MongoDB and FerretDB alike.
Datetimes stay BSON datetimes; enums are stored by value.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from enum import Enum
from functools import cache
from typing import Any


def to_doc(value: Any) -> Any:
    """A dataclass (or list, dict, date, enum …) as BSON-ready data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_doc(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name != "events"
        }
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [to_doc(v) for v in value]
    if isinstance(value, dict):
        return {k: to_doc(v) for k, v in value.items()}
    return value


def from_doc(tp: Any, data: Any) -> Any:
    """``data`` read from the store, rebuilt as type ``tp``."""
    return _decoder(tp)(data)


Decoder = Callable[[Any], Any]


def _same(data: Any) -> Any:
    return data


@cache
def _decoder(tp: Any) -> Decoder:
    """The function rebuilding ``tp`` from stored data, worked out once per type: a page of 50
    case files rebuilt by looking at each type anew took 3.6 ms; every read of a case file
    goes through here."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _decoder(inner[0]) if len(inner) == 1 else _same
    if origin in (list, tuple):
        return _list_of(typing.get_args(tp)[0])
    if origin is dict or tp is Any or tp is datetime:
        return _same
    if dataclasses.is_dataclass(tp):
        return _dataclass(tp)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return _none_or(tp)
    if tp is date:
        return _none_or(_date)
    if tp is float:
        return _none_or(float)
    return _same


def _none_or(build: Decoder) -> Decoder:
    def decode(data: Any) -> Any:
        return None if data is None else build(data)

    return decode


def _date(data: Any) -> Any:
    if isinstance(data, datetime):  # files written before dates were stored as strings
        return data.date()
    return date.fromisoformat(data) if isinstance(data, str) else data


def _list_of(item: Any) -> Decoder:
    each = _decoder(item)

    def decode(data: Any) -> Any:
        return None if data is None else [each(v) for v in data]

    return decode


def _dataclass(tp: Any) -> Decoder:
    resolved: list[tuple[str, Decoder]] | None = None

    def decode(data: Any) -> Any:
        nonlocal resolved
        if data is None:
            return None
        # On first use, not when built: a dataclass may hold its own kind (in a list, or
        # optional), whose decoder is then this one, still being built.
        if resolved is None:
            hints = typing.get_type_hints(tp)
            resolved = [
                (f.name, _decoder(hints[f.name]))
                for f in dataclasses.fields(tp)
                if f.init and f.name != "events"
            ]
        return tp(**{name: each(data[name]) for name, each in resolved if name in data})

    return decode
