"""Case-file lists read from small entries addressed by ``_id`` (``case_file_list_entries``).

A work queue (``GET /case-files``: all case files, or by state, assignee, referral path,
building or counter; newest first) is a page of a filtered, sorted query on the case files.
FerretDB serves none of that from an index: it reads and decodes every case file for each page
and again for its total. It serves an ``_id`` range sorted by ``_id`` with skip and limit, and
its count (``shared.id_lists``). So each case file has one small entry per list it is in:

    a:<opened_at>:<case_id>                       all case files
    s:<state>:<opened_at>:<case_id>               u:<assignee>:…  p:<path>:…
    b:<building_id>:<opened_at>:<case_id>         c:<counter_id>:…
    t:<tenant_id>:<opened_at>:<case_id>           a tenant's case files (erasure, export)
    o:<next_due>:<opened_at>:<case_id>            a referral awaiting an answer, due then
    d:<unannounced_due>:<opened_at>:<case_id>     an open case file's breach to announce
    x:<disconnection_date>:<alert_from>:<opened_at>:<case_id>
                                                  an open case file's disconnection alert
    r:<closed_at>:<case_id>                       an ended case file, not anonymised yet

``opened_at`` is 15 digits of milliseconds, as the store keeps it: a list's page is its range
in descending ``_id`` order (newest first, ties by case id), then the case files by ``_id $in``.
The overdue queue is the range ``o:`` .. ``o:<today>`` in ascending order: most overdue first,
then the longest open (the order the query path gives it too). The worker's sweeps read their
case files the same way: the deadline scan the breaches and alerts due today (``to_announce``),
retention the ended case files to anonymise (``to_anonymise``). Without the entries each would
read every case file each round, which at scale takes longer than the round. A tenant's erasure
and the export of what casework holds about them (``of_tenant``) read the tenant's list: at a
million case files the query took longer than the store's 10 s call limit.

Unlike intake's cases, case files change (state, assignee, referrals), so their entries are
*reconciled* with each stored write: the entries the new document wants are inserted (an entry
already there is left), the ones it no longer wants are deleted. The case file keeps the ids of
the entries it has or may still have (``list_entries``, written with it in one document write),
so whoever comes next knows what to delete even when a writer died between the case file and
its entries:

- ``CaseFileRepository.save`` reconciles before it hands the write's events to the relay: a
  version left unpublished (``publish_stranded``, the worker's scan) is reconciled first;
- a redelivered ``case.opened`` whose case file exists reconciles it (``reconcile``);
- ``repair`` (``python -m services.casework.entrypoints.cli repair-case-file-lists``) writes the
  entries of every case file and drops the ones no case file justifies; ``backfill`` does it once
  per database (the worker, at start), and again when a kind of entry was added since (its mark,
  ``MARKS``); until then lists are read with the case-files query.

A page keeps only the case files that still justify the entry it was found by, so an entry left
behind for a moment (a write in flight) never shows a case file in the wrong list.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypedDict, Unpack

from pymongo.collection import Collection

from services.casework.adapters.documents import BACKFILLS, CaseFileDoc, CaseFileListEntryDoc
from services.casework.domain.model import TERMINAL_CASE_STATES
from shared.id_lists import (
    Backfills,
    batches,
    insert_new,
    listable,
    page_total,
    span,
    time_key,
)
from shared.privacy import ANONYMOUS

ALL, BY_STATE, BY_ASSIGNEE, BY_PATH, BY_BUILDING, BY_COUNTER = "a", "s", "u", "p", "b", "c"
BY_TENANT = "t"  # not a work queue: what erasure and the export read
OVERDUE = "o"
BREACH, DISCONNECTION = "d", "x"  # what the deadline scan announces
RETENTION = "r"  # what retention anonymises, once its time comes
BACKFILL_MARK = CaseFileListEntryDoc._meta["collection"]  # in BACKFILLS, once done
# The sweeps' entries came after the work queues': a database backfilled before them has none
# until the backfill runs again and leaves this mark too.
SWEEPS_BACKFILL_MARK = f"{BACKFILL_MARK}:{BREACH}{DISCONNECTION}{RETENTION}"
# The tenants' lists came later still.
TENANT_BACKFILL_MARK = f"{BACKFILL_MARK}:{BY_TENANT}"
MARKS = (BACKFILL_MARK, SWEEPS_BACKFILL_MARK, TENANT_BACKFILL_MARK)
_TERMINAL = frozenset(s.value for s in TERMINAL_CASE_STATES)
BATCH = 500
# The case-file fields the entries are made of, and the ids of the entries it keeps.
LIST_FIELDS = {
    "opened_at": 1,
    "state": 1,
    "assignee": 1,
    "referral_paths": 1,
    "building.id": 1,
    "counter_id": 1,
    "tenant_id": 1,
    "next_due": 1,
    "unannounced_due": 1,
    "disconnection_alert_from": 1,
    "disconnection_date": 1,
    "anonymised_at": 1,
    "history.to_state": 1,
    "history.at": 1,
    "list_entries": 1,
    "version": 1,
}


class QueueFilters(TypedDict, total=False):
    """The filters of a work queue (``GET /case-files``); a missing or None one is not applied.
    ``counters``: the counters in an operator's scope (only their case files)."""

    state: str | None
    assignee: str | None
    path: str | None
    building_id: str | None
    counter_id: str | None
    overdue_on: date | None
    counters: Sequence[str] | None


@dataclass(frozen=True)
class Listing:
    """One list's entries: their ``_id`` range and the order a page reads them in."""

    name: str
    range: dict[str, Any]
    direction: int  # -1: newest first; 1: the overdue queue, earliest due date first


def overdue_range(today: date) -> dict[str, Any]:
    """The overdue queue's entries on ``today``: a referral due before it."""
    return {"_id": {"$gte": f"{OVERDUE}:", "$lt": f"{OVERDUE}:{today.isoformat()}"}}


def to_announce_ranges(today: date, horizon_days: int) -> list[dict[str, Any]]:
    """Where the deadline scan's entries on ``today`` are: breaches of a due date before it, and
    disconnections from today to ``horizon_days`` later (the largest alert threshold: an alert's
    window opens at most that long before the date, and closes on it). Of those, the alerts
    whose window is open today are the ones ``due_on`` today."""
    day, last = today.isoformat(), (today + timedelta(days=horizon_days)).isoformat()
    return [
        {"_id": {"$gte": f"{BREACH}:", "$lt": f"{BREACH}:{day}"}},
        {"_id": {"$gte": f"{DISCONNECTION}:{day}", "$lt": f"{DISCONNECTION}:{last};"}},
    ]


def to_anonymise_range(closed_before: datetime) -> dict[str, Any]:
    """Retention's entries: the case files ended by ``closed_before`` and not anonymised."""
    return {"_id": {"$gte": f"{RETENTION}:", "$lt": f"{RETENTION}:{time_key(closed_before)};"}}


def closed_at(doc: dict[str, Any]) -> datetime | None:
    """When a case file stored as ``doc`` ended (its last move to a terminal state), if it has
    (``CaseFile.closed_at``, from the stored history)."""
    if doc.get("state") not in _TERMINAL:
        return None
    ends = [t["at"] for t in doc.get("history") or [] if t.get("to_state") in _TERMINAL]
    return ends[-1] if ends else None


def due_on(entry_id: str, today: date) -> bool:
    """Whether an entry of ``to_announce_ranges(today, …)`` is to announce today: a breach is;
    a disconnection alert once its window opened (its ``alert_from``)."""
    kind, _, alert_from, *_ = entry_id.split(":")
    return kind == BREACH or alert_from <= today.isoformat()


def entry_ids(case_id: str, doc: dict[str, Any]) -> list[str]:
    """The ids of the entries a case file stored as ``doc`` is in (its stored fields:
    ``opened_at``, ``state``, ``assignee``, ``referral_paths``, ``building.id``, ``counter_id``,
    ``tenant_id`` (not once anonymised), ``next_due``; while it is open, ``unannounced_due``,
    ``disconnection_date`` and ``disconnection_alert_from``; once ended, ``history`` and
    ``anonymised_at``). A value that cannot name a list (``shared.id_lists.LISTABLE_ID``) gives
    none: that filter is answered by the query."""
    if doc.get("opened_at") is None:
        return []
    key = f"{time_key(doc['opened_at'])}:{case_id}"
    building = (doc.get("building") or {}).get("id")
    names = [ALL]
    for kind, value in (
        (BY_STATE, doc.get("state")),
        (BY_ASSIGNEE, doc.get("assignee")),
        (BY_BUILDING, building),
        (BY_COUNTER, doc.get("counter_id")),
        (BY_TENANT, tenant if (tenant := doc.get("tenant_id")) != ANONYMOUS else None),
        *((BY_PATH, p) for p in doc.get("referral_paths") or []),
    ):
        if listable(value):
            names.append(f"{kind}:{value}")
    ids = [f"{name}:{key}" for name in names]
    dated = [(OVERDUE, doc.get("next_due"))]
    if doc.get("state") not in _TERMINAL:  # the scan announces nothing for an ended case file
        dated.append((BREACH, doc.get("unannounced_due")))
        alert_from, cut_off = doc.get("disconnection_alert_from"), doc.get("disconnection_date")
        if alert_from and cut_off:
            dated.append((DISCONNECTION, f"{cut_off}:{alert_from}"))
    ids += [
        f"{kind}:{days}:{key}"
        for kind, days in dated
        if days and all(listable(day) for day in days.split(":"))
    ]
    ended = closed_at(doc)
    if ended is not None and doc.get("anonymised_at") is None:
        ids.append(f"{RETENTION}:{time_key(ended)}:{case_id}")
    return ids


def entry_docs(case_id: str, doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The entries of a case file stored as ``doc`` (``entry_ids``), as stored."""
    return [{"_id": i, "case_id": case_id} for i in entry_ids(case_id, doc)]


def list_for(**filters: Unpack[QueueFilters]) -> Listing | None:
    """The one list that answers a case-files query, or None when it needs the query.

    A list answers no filter or exactly one of state, assignee, path, building, counter and
    overdue. An operator (``counters``: the counters in its scope) sees the case files of its
    counters only: a list answers its own counter's filter, or no filter when it has exactly
    one counter.
    """
    counter_id, overdue_on = filters.get("counter_id"), filters.get("overdue_on")
    counters = filters.get("counters")
    given: list[tuple[str, str]] = [
        (kind, value)
        for kind, value in (
            (BY_STATE, filters.get("state")),
            (BY_ASSIGNEE, filters.get("assignee")),
            (BY_PATH, filters.get("path")),
            (BY_BUILDING, filters.get("building_id")),
            (BY_COUNTER, counter_id),
        )
        if value
    ]
    if overdue_on is not None:
        given.append((OVERDUE, overdue_on.isoformat()))
    if counters is not None and not counter_id:
        if given or len(counters) != 1:
            return None
        given = [(BY_COUNTER, counters[0])]
    if not given:
        return Listing(ALL, span(ALL), -1)
    if len(given) > 1:
        return None
    [(kind, value)] = given
    if kind == OVERDUE:
        return Listing(OVERDUE, overdue_range(date.fromisoformat(value)), 1)
    if not listable(value):
        return None
    name = f"{kind}:{value}"
    return Listing(name, span(name), -1)


class CaseFileListEntries:
    """The entries of casework's case-file lists."""

    def __init__(self) -> None:
        self.backfills = Backfills(lambda: self.collection.database[BACKFILLS], MARKS)

    @property
    def collection(self) -> Collection:
        """The entries' collection, on casework's connection."""
        return CaseFileListEntryDoc._get_collection()

    def page(
        self, listing: Listing, limit: int, offset: int
    ) -> tuple[list[tuple[str, str]], int | None]:
        """One page of ``listing`` (in its order): (entry id, case id) each; and the list's
        length (None: more than ``id_lists.COUNT_CAP``)."""
        cursor = self.collection.find(listing.range, {"case_id": 1}).sort("_id", listing.direction)
        entries = [(d["_id"], d["case_id"]) for d in cursor.skip(offset).limit(limit)]
        return entries, page_total(self.collection, listing.range, offset, limit, len(entries))

    def tracked(self, case_id: str, prior: dict[str, Any], desired: list[str]) -> list[str]:
        """What a case file written with entries ``desired`` over its stored version ``prior``
        must keep in ``list_entries``: the ones it wants, the ones its previous version wanted
        (deleted after this write), and older ones still there (a reconciliation that did not
        finish: checked by ``_id``)."""
        before = set(entry_ids(case_id, prior)) if prior else set()
        keep = set(desired) | before
        older = set(prior.get("list_entries") or []) - keep
        if older:
            found = self.collection.find({"_id": {"$in": sorted(older)}}, {"_id": 1})
            keep |= {d["_id"] for d in found}
        return sorted(keep)

    def insert(self, entries: list[dict[str, Any]]) -> None:
        """Insert ``entries`` (``entry_docs``); those already there stay as they are."""
        insert_new(self.collection, entries)

    def settle(self, case_id: str, desired: list[str], tracked: Iterable[str]) -> None:
        """Make the entries of ``case_id`` the ``desired`` ones: insert them (those already
        there stay) and delete the other ``tracked`` ones."""
        insert_new(self.collection, [{"_id": i, "case_id": case_id} for i in desired])
        gone = sorted(set(tracked) - set(desired))
        if gone:
            self.collection.delete_many({"_id": {"$in": gone}})

    def reconcile(self, case_id: str) -> bool:
        """Settle the entries of the case file as it is stored now; False if there is none."""
        doc = CaseFileDoc._get_collection().find_one({"_id": case_id}, LIST_FIELDS)
        if doc is None:
            return False
        desired = entry_ids(case_id, doc)
        self.settle(case_id, desired, doc.get("list_entries") or [])
        return True

    def to_announce(self, today: date, limit: int, horizon_days: int) -> list[str]:
        """Ids of the open case files with a breach or a disconnection alert to announce on
        ``today`` (at most ``limit`` of each, the earliest first; ``horizon_days``: the largest
        alert threshold, ``to_announce_ranges``).

        An entry its case file no longer wants (a write that moved it on, its reconciliation
        unfinished) is dropped here, then that case file reconciled (a newer write may want the
        same entry again): a stale entry never holds a place in the scan's next rounds.
        """
        entries: list[tuple[str, str]] = []
        for entries_range in to_announce_ranges(today, horizon_days):
            found = self.collection.find(entries_range, {"case_id": 1}).sort("_id", 1)
            due = ((e["_id"], e["case_id"]) for e in found if due_on(e["_id"], today))
            entries += itertools.islice(due, limit)
        return self._justified(entries)

    def overdue(self, today: date, chunk: int = BATCH) -> Iterator[list[tuple[str, str]]]:
        """The overdue queue's entries on ``today`` in its order (earliest due date first, then
        the longest open), as (entry id, case id), ``chunk`` at a time: each chunk is one read
        of the range after the last entry given, served by the ``_id`` index however deep."""
        below = overdue_range(today)["_id"]
        after: dict[str, str] = {"$gte": below["$gte"]}
        while True:
            found = self.collection.find({"_id": {**after, "$lt": below["$lt"]}}, {"case_id": 1})
            entries = [(e["_id"], e["case_id"]) for e in found.sort("_id", 1).limit(chunk)]
            if entries:
                yield entries
            if len(entries) < chunk:
                return
            after = {"$gt": entries[-1][0]}

    def to_anonymise(self, closed_before: datetime, limit: int) -> list[str]:
        """Ids of the case files ended by ``closed_before`` and not anonymised (at most
        ``limit``, the longest ended first); stale entries as in ``to_announce``."""
        found = self.collection.find(to_anonymise_range(closed_before), {"case_id": 1})
        entries = [(e["_id"], e["case_id"]) for e in found.sort("_id", 1).limit(limit)]
        return self._justified(entries)

    def of_tenant(self, tenant_id: str) -> list[str]:
        """Ids of the case files of ``tenant_id`` (oldest first), from the tenant's list; stale
        entries as in ``to_announce``."""
        found = self.collection.find(span(f"{BY_TENANT}:{tenant_id}"), {"case_id": 1})
        return self._justified([(e["_id"], e["case_id"]) for e in found.sort("_id", 1)])

    def _justified(self, entries: list[tuple[str, str]]) -> list[str]:
        """The case ids of ``entries`` (entry id, case id) whose case file wants the entry, in
        order; the other entries are deleted and their case files reconciled."""
        ids = list(dict.fromkeys(case_id for _, case_id in entries))
        if not ids:
            return []
        found = CaseFileDoc._get_collection().find({"_id": {"$in": ids}}, LIST_FIELDS)
        wanted = {i for doc in found for i in entry_ids(doc["_id"], doc)}
        stale = [(entry, case_id) for entry, case_id in entries if entry not in wanted]
        if stale:
            self.collection.delete_many({"_id": {"$in": [entry for entry, _ in stale]}})
            for case_id in dict.fromkeys(case_id for _, case_id in stale):
                self.reconcile(case_id)
        justified = {case_id for entry, case_id in entries if entry in wanted}
        return [case_id for case_id in ids if case_id in justified]

    def ready(self, *marks: str) -> bool:
        """Whether every case file stored before the entries existed has them (``backfill``):
        the work queues' entries, or those of ``marks`` (``SWEEPS_BACKFILL_MARK``)."""
        return self.backfills.done(*(marks or (BACKFILL_MARK,)))

    def backfill(self, now: datetime) -> int | None:
        """Once per database (casework's worker, at start), and again for a kind of entry added
        since: the entries of every stored case file. Returns how many case files it went
        through, None when it was done already.

        When only the tenants' lists are missing (a database backfilled before they existed),
        only their entries are written: the other lists are complete, and rewriting every entry
        of a million case files (eight or so each) would hold the worker's start for many
        minutes.
        """
        if self.backfills.done():
            return None
        if self.backfills.done(BACKFILL_MARK, SWEEPS_BACKFILL_MARK):
            return self._backfill_kind(BY_TENANT, now)
        case_files, _ = self.repair(now)
        return case_files

    def _backfill_kind(self, kind: str, now: datetime) -> int:
        """Write the entries of one ``kind`` for every stored case file; then mark every backfill
        done (the others were). A write meanwhile inserts its own entries anyway."""
        case_files = 0
        stored = CaseFileDoc._get_collection().find({}, LIST_FIELDS)
        for batch in batches(stored, BATCH):
            docs = [
                e
                for doc in batch
                for e in entry_docs(doc["_id"], doc)
                if e["_id"].startswith(f"{kind}:")
            ]
            insert_new(self.collection, docs)
            case_files += len(batch)
        self.backfills.mark_done(now)
        return case_files

    def repair(self, now: datetime) -> tuple[int, int]:
        """Write the entries of every case file (the missing ones: idempotent) and drop the
        entries no case file justifies; then mark the backfill done. Returns (case files,
        entries dropped).

        Reads every case file's list fields and every entry: a command's work, never a
        request's. A write of a case file during the repair may see its entry dropped a moment
        too early; that case file's next write puts it back (each write inserts every entry
        it wants), and so does a second repair.
        """
        case_files = 0
        stored = CaseFileDoc._get_collection().find({}, LIST_FIELDS)
        for batch in batches(stored, BATCH):
            docs = [e for doc in batch for e in entry_docs(doc["_id"], doc)]
            insert_new(self.collection, docs)
            case_files += len(batch)
        dropped = 0
        stale = list(self._unjustified())
        for start in range(0, len(stale), BATCH):  # after the read: no write under its cursor
            doomed = {"_id": {"$in": stale[start : start + BATCH]}}
            dropped += self.collection.delete_many(doomed).deleted_count
        self.backfills.mark_done(now)
        return case_files, dropped

    def _unjustified(self) -> Iterator[str]:
        """The entries whose case file (read after the entry) does not want them."""
        for batch in batches(self.collection.find({}, {"case_id": 1}), BATCH):
            found = CaseFileDoc._get_collection().find(
                {"_id": {"$in": sorted({e["case_id"] for e in batch})}}, LIST_FIELDS
            )
            wanted = {i for doc in found for i in entry_ids(doc["_id"], doc)}
            yield from (e["_id"] for e in batch if e["_id"] not in wanted)
