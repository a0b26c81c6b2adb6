"""Lists read as ranges of small entries addressed by ``_id``: what every service's lists share.

FerretDB 1.24 on SQLite serves a filtered, sorted page of a collection by reading and decoding
every document; what it serves from the ``_id`` index is ``_id`` equality, ``_id $in`` and
(the launcher's patches 0004 and 0005, ``deploy/ferretdb/patches``) a range of plain ASCII
``_id``s sorted by ``_id`` with skip and limit, and the count of such a range. So a list whose
order is known when a document is written keeps one small entry per member, whose ``_id`` is
``<list name>:<sort key>:<document id>``: a page is a range of entries in ``_id`` order, then
the documents by ``_id $in``. MongoDB serves the same reads from its ``_id`` index.

intake's case and tenant lists (``services.intake.adapters.case_lists``, ``tenant_lists``) and
casework's case-file lists (``services.casework.adapters.case_file_lists``) are built this way.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pymongo.collection import Collection
from pymongo.errors import BulkWriteError, DuplicateKeyError

# A value that can name a list: the characters FerretDB orders like MongoDB in an ``_id`` range
# (plain ASCII) without ``:`` and ``;``, the bounds of a list's range. A filter by any other
# value is answered by the query on the documents.
LISTABLE_ID = re.compile(r"^[A-Za-z0-9_.@-]{1,200}$")
DUPLICATE_KEY = 11000
# One-off backfills done in a database (``_id``: the mark of what was backfilled, ``at``).
BACKFILLS = "backfills"
# The most ids of one ``_id $in`` that FerretDB (the launcher's third patch) serves from the index.
ID_CHUNK = 1000
# A list is counted up to this many entries; a longer one answers "more than COUNT_CAP" (its
# exact length would cost about 0.4–0.5 µs an entry on every page: 91–119 ms at 250,000 entries
# here, against 1.6 ms to see that the entry after the cap exists; ``bench/id_range.py``).
COUNT_CAP = 10_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
T = TypeVar("T")


def time_key(at: datetime) -> str:
    """``at`` as the store keeps it, in text that sorts like time: milliseconds since 1970,
    truncated as BSON does, 15 digits (a naive datetime is UTC, as pymongo reads it)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return f"{(at - EPOCH) // timedelta(milliseconds=1):015d}"


def listable(value: str | None) -> bool:
    """Whether ``value`` can be part of a list's name (``LISTABLE_ID``)."""
    return bool(value) and LISTABLE_ID.match(value or "") is not None


def span(name: str) -> dict[str, Any]:
    """Every entry of list ``name``: ``_id`` after ``<name>:`` and before ``<name>;``."""
    return {"_id": {"$gte": f"{name}:", "$lt": f"{name};"}}


def count_up_to(
    collection: Collection, entries: dict[str, Any], cap: int | None = None
) -> int | None:
    """How many documents ``entries`` (an ``_id`` range) matches, or None when there are more
    than ``cap`` (default ``COUNT_CAP``): first a look at the entry past the cap (skip and limit
    in SQL on FerretDB, an index walk of ``cap`` keys), then the count of at most ``cap``.

    ``count_documents(…, limit=…)`` is not the same thing on FerretDB: its ``$limit`` stage is
    not pushed down, so it reads every entry of the range (250 ms for 10,001 here)."""
    cap = COUNT_CAP if cap is None else cap
    beyond = collection.find(entries, {"_id": 1}).sort("_id", 1).skip(cap).limit(1)
    if next(iter(beyond), None) is not None:
        return None
    counted = collection.count_documents(entries)  # entries added meanwhile: maybe past the cap
    return counted if counted <= cap else None


def page_total(
    collection: Collection, entries: dict[str, Any], offset: int, limit: int, found: int
) -> int | None:
    """The length of list ``entries`` whose page at ``offset`` held ``found`` of ``limit``
    entries: read off the page when it is the list's last (fewer than ``limit``, and some or
    none skipped: a tenant's cases, a building's short list), else ``count_up_to``."""
    if found < limit and (found or not offset):
        return offset + found
    return count_up_to(collection, entries)


def find_by_ids(
    collection: Collection, ids: Sequence[str], projection: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The documents of ``ids`` (those stored), read by ``_id $in`` in chunks of ``ID_CHUNK``:
    what FerretDB's third patch serves from the ``_id`` index. An empty ``$in``, or a longer one,
    would read the whole collection there; no ids reads nothing."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(ids), ID_CHUNK):
        found += collection.find({"_id": {"$in": list(ids[start : start + ID_CHUNK])}}, projection)
    return found


def insert_new(collection: Collection, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert ``docs``; the ones whose ``_id`` is already there are left as they are. Returns
    the docs inserted now."""
    if not docs:
        return []
    try:
        collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if not errors or any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise
        refused = {e["index"] for e in errors}
        return [doc for n, doc in enumerate(docs) if n not in refused]
    return docs


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last one shorter), without holding them all."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class Backfills:
    """The marks of a service's list backfills: which of its lists every stored document has
    entries in, so that they can be read from their entries.

    A service whose lists gain entries (a new list, a new kind of entry) backfills them once per
    database, at its worker's start, then writes their marks in ``BACKFILLS``; until then those
    lists are read with the query on the documents. A mark is never removed: once seen, it is not
    read again.
    """

    def __init__(self, collection: Callable[[], Collection], marks: Sequence[str]) -> None:
        self._collection = collection  # called when needed: the connection is made later
        self.marks = tuple(marks)
        self._seen: set[str] = set()

    def done(self, *marks: str) -> bool:
        """Whether the backfills of ``marks`` (default: all of them) are done."""
        wanted = set(marks or self.marks)
        missing = sorted(set(self.marks) - self._seen)
        if not wanted <= self._seen and missing:
            found = self._collection().find({"_id": {"$in": missing}}, {"_id": 1})
            self._seen |= {m["_id"] for m in found}
        return wanted <= self._seen

    def mark_done(self, now: datetime) -> None:
        """Record every backfill as done (after the repair that did them all)."""
        for mark in self.marks:
            with contextlib.suppress(DuplicateKeyError):  # a twin process finished it too
                self._collection().insert_one({"_id": mark, "at": now})
        self._seen = set(self.marks)
