"""Case lists read from small entries addressed by ``_id`` (collection ``case_list_entries``).

A case list (all cases, or one building's, counter's or tenant's; newest first) is a page of a
filtered, sorted query on the cases. FerretDB serves none of that from an index: it reads and
decodes every case for each page and again for its total. What it serves from the ``_id`` index
is an ``_id`` range, sorted by ``_id``, with skip and limit (the launcher's patches 0004 and
0005, ``deploy/ferretdb/patches``). So each case has one small entry per list it is in, whose
``_id`` is the list's name, the opening time and the case id:

    a:<opened_at>:<case_id>                all cases
    b:<building_id>:<opened_at>:<case_id>  c:<counter_id>:…  t:<tenant_id>:…
    u:<opened_at>:<case_id>                the open urgent cases

``opened_at`` is written as the store keeps it (whole milliseconds since 1970, 15 digits), so
the text order of a list's ``_id``s is the cases' order by ``opened_at`` then ``_id``: a page is
the list's range in descending ``_id`` order, then the cases by ``_id $in``. The cases of a list
opened in a period are a sub-range of it, ``<list>:<from ms>`` up to ``<list>:<to ms>``: no
entries of their own. MongoDB serves the same reads from its ``_id`` index.

Entries are idempotent (a fixed ``_id``; a duplicate is ignored): written after the case by the
same call that stores it. An anonymised case leaves its tenant's list once it is anonymised (its
entry there would link the erased tenant to the case; interrupted in between, the entry stays
and the erasure finds the case again); an ended case leaves the open urgent cases (``leave_urgent``,
after its status is written). ``backfill`` writes the entries of every stored case; until it has
run once in a database, lists are read with the cases query (the open urgent cases, which came
later, have a mark of their own).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any, TypedDict, Unpack

from pymongo.collection import Collection

from services.intake.adapters.documents import BACKFILLS, IntakeCaseDoc, IntakeCaseListEntryDoc
from shared import id_lists
from shared.privacy import ANONYMOUS

ALL = "a"
BY_BUILDING, BY_COUNTER, BY_TENANT = "b", "c", "t"
URGENT_OPEN = "u"
OPEN = "aperto"  # CaseStatus.OPEN as stored
BACKFILL_MARK = IntakeCaseListEntryDoc._meta["collection"]  # in BACKFILLS, once done
# The open urgent cases' entries came after the others: a database whose backfill was done
# before them has none, until the backfill runs again and leaves this mark too.
URGENT_BACKFILL_MARK = f"{BACKFILL_MARK}:{URGENT_OPEN}"
MARKS = (BACKFILL_MARK, URGENT_BACKFILL_MARK)
# An id that can name a list: the characters FerretDB orders like MongoDB in an ``_id`` range
# (plain ASCII) without ``:`` and ``;``, the bounds of a list's range. Every id intake makes
# (``bld_<hex>``…) is one; a filter by any other value is served by the cases query.
# (Narrower than ``id_lists.LISTABLE_ID``: the entries already stored were written with it.)
LISTABLE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")
BATCH = 500
# ``opened_at`` as text that sorts like time (milliseconds since 1970, 15 digits).
opened_key = id_lists.time_key


def list_names(
    building_id: str | None,
    counter_id: str | None,
    tenant_id: str | None,
    urgent_open: bool = False,
) -> list[str]:
    """The lists a case with these ids is in (not the tenant's once anonymised; the open urgent
    cases' while it is both)."""
    names = [ALL, URGENT_OPEN] if urgent_open else [ALL]
    for kind, value in ((BY_BUILDING, building_id), (BY_COUNTER, counter_id)):
        if value and LISTABLE_ID.match(value):
            names.append(f"{kind}:{value}")
    if tenant_id and tenant_id != ANONYMOUS and LISTABLE_ID.match(tenant_id):
        names.append(f"{BY_TENANT}:{tenant_id}")
    return names


def entry_docs(case: dict[str, Any]) -> list[dict[str, Any]]:
    """The entries of a case, given as stored (``_id``, the three ids, ``opened_at``, ``urgent``
    and ``status``: the values the cases query compares, a missing one matching nothing)."""
    key = f"{opened_key(case['opened_at'])}:{case['_id']}"
    names = list_names(
        case.get("building_id"),
        case.get("counter_id"),
        case.get("tenant_id"),
        urgent_open=is_urgent_open(case),
    )
    return [{"_id": f"{name}:{key}", "case_id": case["_id"]} for name in names]


def is_urgent_open(case: dict[str, Any]) -> bool:
    """Whether a stored case is in the open urgent cases (``urgent: true``, ``status: aperto``)."""
    return case.get("urgent") is True and case.get("status") == OPEN


class CaseFilters(TypedDict, total=False):
    """The filters of a cases query (``GET /cases``); a missing or None one is not applied.
    ``counters``: the counters in an operator's scope (only their cases)."""

    counter_id: str | None
    building_id: str | None
    tenant_id: str | None
    urgent: bool | None
    status: str | None
    opened_from: date | None
    opened_to: date | None
    counters: Sequence[str] | None


def list_for(**filters: Unpack[CaseFilters]) -> str | None:
    """The one list that answers a cases query (dates aside: a period is a sub-range of any
    list), or None when it needs the cases query.

    A list answers no filter or exactly one of counter, building and tenant; the open urgent
    cases answer ``urgent`` true with ``status`` aperto and nothing else, for callers that see
    every case. An operator (``counters``: the counters in its scope) sees the cases of its
    counters only: a list answers its own counter's filter, or no filter when it has exactly one
    counter.
    """
    counter_id, building_id = filters.get("counter_id"), filters.get("building_id")
    tenant_id, urgent, status = (
        filters.get("tenant_id"),
        filters.get("urgent"),
        filters.get("status"),
    )
    counters = filters.get("counters")
    if urgent is not None or status:
        only = not (counter_id or building_id or tenant_id) and counters is None
        return URGENT_OPEN if urgent is True and status == OPEN and only else None
    filters = ((BY_COUNTER, counter_id), (BY_BUILDING, building_id), (BY_TENANT, tenant_id))
    given = [(kind, value) for kind, value in filters if value]
    if counters is not None and not counter_id:
        if given or len(counters) != 1:
            return None
        given = [(BY_COUNTER, counters[0])]
    if not given:
        return ALL
    if len(given) > 1:
        return None
    [(kind, value)] = given
    if not LISTABLE_ID.match(value) or (kind == BY_TENANT and value == ANONYMOUS):
        return None
    return f"{kind}:{value}"


def span(name: str, start: datetime | None = None, end: datetime | None = None) -> dict[str, Any]:
    """The entries of list ``name`` opened from ``start`` (included) to ``end`` (excluded),
    each bound optional: ``_id`` from ``<name>:`` (``<name>:<start ms>``) up to ``<name>;``
    (``<name>:<end ms>``). A case opened in ``start``'s millisecond is ``<name>:<start ms>:…``,
    after its bound; one opened in ``end``'s, ``<name>:<end ms>:…``, after its own."""
    low = f"{name}:{opened_key(start)}" if start and start > id_lists.EPOCH else f"{name}:"
    high = f"{name}:{opened_key(end)}" if end else f"{name};"
    if end and end <= id_lists.EPOCH:
        high = low  # nothing before 1970 (a negative key would not sort)
    return {"_id": {"$gte": low, "$lt": high}}


class CaseListEntries:
    """The entries of intake's case lists."""

    def __init__(self) -> None:
        self.backfills = id_lists.Backfills(lambda: self.collection.database[BACKFILLS], MARKS)

    @property
    def collection(self) -> Collection:
        """The entries' collection, on intake's connection."""
        return IntakeCaseListEntryDoc._get_collection()

    def add(self, case: dict[str, Any]) -> None:
        """Write a case's entries (``entry_docs``); the ones already there are left as they are.

        An open urgent case may have been ended meanwhile (the worker applies casework's event
        as soon as the case is published): its status is read again after its entry is written,
        and the entry dropped if it is ended; the end drops it after its own write as well.
        """
        id_lists.insert_new(self.collection, entry_docs(case))
        if is_urgent_open(case):
            stored = IntakeCaseDoc._get_collection().find_one({"_id": case["_id"]}, {"status": 1})
            if stored is None or stored.get("status") != OPEN:
                self.leave_urgent(case["_id"], case["opened_at"])

    def page(
        self,
        name: str,
        limit: int,
        offset: int,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> tuple[list[str], int | None]:
        """The case ids of one page of list ``name`` (newest first) and the list's length (None:
        more than ``id_lists.COUNT_CAP``); of the cases opened from ``start`` to ``end``
        (excluded) when given."""
        entries = span(name, start, end)
        cursor = self.collection.find(entries, {"case_id": 1}).sort("_id", -1)
        ids = [d["case_id"] for d in cursor.skip(offset).limit(limit)]
        return ids, id_lists.page_total(self.collection, entries, offset, limit, len(ids))

    def entries(self, name: str) -> list[tuple[str, str]]:
        """The whole list ``name``, oldest first: (entry id, case id) each (a tenant's list:
        their erasure)."""
        found = self.collection.find(span(name), {"case_id": 1}).sort("_id", 1)
        return [(d["_id"], d["case_id"]) for d in found]

    def leave_tenant_list(self, case_id: str, tenant_id: str, opened_at: datetime) -> None:
        """Take a case out of its tenant's list (before the case is anonymised)."""
        self.collection.delete_one(
            {"_id": f"{BY_TENANT}:{tenant_id}:{opened_key(opened_at)}:{case_id}"}
        )

    def leave_urgent(self, case_id: str, opened_at: datetime) -> None:
        """Take a case out of the open urgent cases (after its end is written; idempotent)."""
        self.collection.delete_one({"_id": f"{URGENT_OPEN}:{opened_key(opened_at)}:{case_id}"})

    def ready(self, name: str = ALL) -> bool:
        """Whether every case stored before list ``name``'s entries existed has them
        (``backfill``)."""
        return self.backfills.done(URGENT_BACKFILL_MARK if name == URGENT_OPEN else BACKFILL_MARK)

    def backfill(self, now: datetime) -> int | None:
        """Once per database (intake's worker, at start): the entries of every stored case.
        Returns how many cases it went through, None when it was done already."""
        if self.backfills.done():
            return None
        cases, _ = self.repair(now)
        return cases

    def repair(self, now: datetime) -> tuple[int, int]:
        """Write the entries of every case (the missing ones: idempotent) and drop the entries no
        case justifies any more; then mark the backfill done. Returns (cases, entries dropped).

        Reads every case and every tenant entry: a command's work, never a request's.
        """
        cases = 0
        for batch in id_lists.batches(_stored_cases(), BATCH):
            id_lists.insert_new(
                self.collection, [entry for case in batch for entry in entry_docs(case)]
            )
            cases += len(batch)
        dropped = self._drop_stale_entries()
        self.backfills.mark_done(now)
        return cases, dropped

    def _drop_stale_entries(self) -> int:
        """Drop the tenant entries of cases that are no longer that tenant's and the open urgent
        entries of cases that are not (an anonymisation or an end interrupted between its two
        writes leaves one; a repair does not assume it)."""
        stale: list[str] = []
        for name in (BY_TENANT, URGENT_OPEN):
            entries = self.collection.find(span(name), {"case_id": 1})
            for batch in id_lists.batches(entries, BATCH):
                found = IntakeCaseDoc._get_collection().find(
                    {"_id": {"$in": [e["case_id"] for e in batch]}},
                    {"tenant_id": 1, "urgent": 1, "status": 1},
                )
                cases = {c["_id"]: c for c in found}
                for entry in batch:
                    case = cases.get(entry["case_id"])
                    if case is None:
                        stale.append(entry["_id"])
                    elif name == BY_TENANT:  # ``t:<tenant_id>:<opened_at>:<case_id>``
                        if entry["_id"].split(":")[1] != case.get("tenant_id"):
                            stale.append(entry["_id"])
                    elif not is_urgent_open(case):
                        stale.append(entry["_id"])
        dropped = 0
        for start in range(0, len(stale), BATCH):  # after the read: no write under its cursor
            doomed = {"_id": {"$in": stale[start : start + BATCH]}}
            dropped += self.collection.delete_many(doomed).deleted_count
        return dropped


def _stored_cases() -> Iterator[dict[str, Any]]:
    fields = {
        "building_id": 1,
        "counter_id": 1,
        "tenant_id": 1,
        "opened_at": 1,
        "urgent": 1,
        "status": 1,
    }
    return IntakeCaseDoc._get_collection().find({}, fields)
