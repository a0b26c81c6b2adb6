"""Domain dataclasses to MongoDB documents and back, driven by their type hints.

Dates are stored as ISO strings (``YYYY-MM-DD``): BSON has no date type, and ISO strings compare
in date order, so ``{"due": {"$lt": "2026-12-01"}}`` works on MongoDB and FerretDB alike.
Datetimes stay BSON datetimes; enums are stored by value.
"""

from __future__ import annotations

import dataclasses
import types
import typing
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


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_doc(tp: Any, data: Any) -> Any:
    """``data`` read from the store, rebuilt as type ``tp``."""
    if data is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return from_doc(inner[0], data) if len(inner) == 1 else data
    if origin in (list, tuple):
        (item,) = typing.get_args(tp)[:1]
        return [from_doc(item, v) for v in data]
    if origin is dict or tp is Any:
        return data
    if dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        kwargs = {
            f.name: from_doc(hints[f.name], data[f.name])
            for f in dataclasses.fields(tp)
            if f.name in data and f.init and f.name != "events"
        }
        return tp(**kwargs)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp(data)
    if tp is datetime:
        return data
    if tp is date:
        if isinstance(data, datetime):  # files written before dates were stored as strings
            return data.date()
        return date.fromisoformat(data) if isinstance(data, str) else data
    if tp is float:
        return float(data)
    return data
