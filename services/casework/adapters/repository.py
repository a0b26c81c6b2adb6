"""Case files in MongoDB: one document per case, written with compare-and-set on ``version``."""

from __future__ import annotations

import heapq
import itertools
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any, Unpack

from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError, PyMongoError

from services.casework.adapters.case_file_lists import (
    LIST_FIELDS,
    SWEEPS_BACKFILL_MARK,
    TENANT_BACKFILL_MARK,
    CaseFileListEntries,
    QueueFilters,
    entry_docs,
    list_for,
)
from services.casework.adapters.case_file_lists import entry_ids as list_entry_ids
from services.casework.adapters.codec import from_doc, to_doc
from services.casework.adapters.documents import (
    ENCRYPTED_PATHS,
    CaseFileDoc,
    CaseFileVersionDoc,
    CaseFileWriteDoc,
)
from services.casework.domain.model import TERMINAL_CASE_STATES, CaseFile, Referral
from shared import privacy
from shared.clock import now_utc
from shared.crypto import FieldCipher, transform
from shared.events import Event
from shared.id_lists import insert_new, listable
from shared.outbox import outbox_record, write_hints
from shared.privacy import ANONYMOUS

# Fields never read back into the domain object.
_NOT_DOMAIN = (
    "referral_paths",
    "next_due",
    "unannounced_due",
    "disconnection_alert_from",
    "list_entries",
    "_id",
)
_TERMINAL = [s.value for s in TERMINAL_CASE_STATES]
# A write unfinished after this long belongs to a writer that died (a write takes milliseconds).
STALE_WRITE = timedelta(seconds=30)
NEWEST_FIRST = [("opened_at", DESCENDING), ("_id", DESCENDING)]
# The overdue queue: most overdue first, then the longest open (its entries' order).
MOST_OVERDUE_FIRST = [("next_due", ASCENDING), ("opened_at", ASCENDING), ("_id", ASCENDING)]
# The work-queue filters that compare one stored field with the value given.
QUERIED_FIELDS = {
    "state": "state",
    "assignee": "assignee",
    "path": "referral_paths",
    "building_id": "building.id",
    "counter_id": "counter_id",
}
log = logging.getLogger(__name__)


# The overdue report reads the queue's entries at least this many at a time (a page's worth: a
# case file gives at least one row, unless the report is of one path).
OVERDUE_READ = 50
OVERDUE_READ_MAX = 500  # a deep page, or one path's rows, read in chunks of at most this many
# What the report reads of each case file: the fields its entries are made of (to check the
# entry it was found by, and counter and building for the rows) and its referrals.
OVERDUE_REPORT_FIELDS = {**LIST_FIELDS, "referrals": 1}


class CaseFileRepository:
    """Case files, keyed by intake's case id. The work queues are read from their list entries
    where they can (``case_file_lists``), which each write keeps in step."""

    def __init__(
        self,
        cipher: FieldCipher,
        disconnection_thresholds: list[int] | None = None,
        lists: CaseFileListEntries | None = None,
    ) -> None:
        self.cipher = cipher
        self.disconnection_thresholds = disconnection_thresholds or []
        self.lists = lists or CaseFileListEntries()

    @property
    def collection(self) -> Collection:
        """The raw collection (the relay and the compare-and-set writes use it)."""
        return CaseFileDoc._get_collection()

    def _document(self, case_file: CaseFile) -> dict[str, Any]:
        doc = transform(to_doc(case_file), ENCRYPTED_PATHS, self.cipher.encrypt)
        doc.pop("id")
        next_due, unannounced = case_file.next_due, case_file.unannounced_due
        alert_from = case_file.disconnection_alert_from(self.disconnection_thresholds)
        doc.update(
            referral_paths=case_file.referral_paths,
            next_due=next_due.isoformat() if next_due else None,
            unannounced_due=unannounced.isoformat() if unannounced else None,
            disconnection_alert_from=alert_from.isoformat() if alert_from else None,
        )
        return doc

    def _new_document(self, case_file: CaseFile) -> dict[str, Any]:
        """``case_file`` as first stored: version 0, with the ids of its list entries."""
        doc = self._document(case_file)
        doc.update(_id=case_file.id, version=0)
        doc["list_entries"] = list_entry_ids(case_file.id, doc)
        return doc

    def add_once(self, case_file: CaseFile) -> bool:
        """Insert ``case_file`` unless it exists, then its list entries; False when it was
        already there (redelivery: its entries are reconciled, in case the first delivery
        stopped between the two writes)."""
        doc = self._new_document(case_file)
        try:
            # A plain insert: FerretDB drops null fields from an upsert's $setOnInsert.
            self.collection.insert_one(doc)
        except DuplicateKeyError:  # already opened (redelivery, or another consumer won)
            self.lists.reconcile(case_file.id)
            return False
        # After the case file: an entry always names a stored case file. A failure here fails
        # the event's handling, and its redelivery reconciles (above).
        self.lists.settle(case_file.id, doc["list_entries"], [])
        return True

    def add_new(self, case_files: list[CaseFile]) -> set[str]:
        """Insert the ``case_files`` not stored yet, in one write, then their list entries in
        another; returns the ids inserted now (``add_once`` for many: the others, already
        there, are the caller's to reconcile)."""
        added = insert_new(self.collection, [self._new_document(c) for c in case_files])
        # After the case files, as in add_once: an entry always names a stored case file.
        self.lists.insert([e for doc in added for e in entry_docs(doc["_id"], doc)])
        return {doc["_id"] for doc in added}

    def get(self, case_id: str) -> CaseFile | None:
        """The case file of ``case_id``, if any."""
        doc = self.collection.find_one({"_id": case_id})
        return self._case_file(doc) if doc else None

    @property
    def versions(self) -> Collection:
        """One document per write: ``<case id>:<version>``, with that write's events."""
        return CaseFileVersionDoc._get_collection()

    def save(self, case_file: CaseFile, topic: str, events: list[Event]) -> bool:
        """Store ``case_file`` and its events, if nobody wrote it since it was read.

        Returns False when another write took this version first: the caller reloads and
        retries. Why not one conditional update carrying the events (an embedded outbox on the
        case file)? FerretDB 1.24 on SQLite evaluates an update's filter apart from its write and
        replaces the whole document, so two concurrent updates of one document lose one of
        them — and the relay updates the outboxes it publishes. So:

        1. insert the write in progress (``CaseFileWriteDoc``, ``<case id>:<version + 1>``);
        2. insert the version ``<case id>:<version + 1>`` with the events staged: a unique insert
           is atomic on both stores, so exactly one writer gets each version (the
           compare-and-set). A version is kept once stored, with or without events: deleting
           it would let a writer still holding the previous version take it again;
        3. store the case file (only the holder of the version writes it), with the ids of its
           list entries (``case_file_lists``);
        4. reconcile the list entries with the stored case file;
        5. move the staged events into that version document's outbox for the relay (which only
           reads outboxes: see ``shared.outbox``);
        6. delete the write in progress.

        A writer dying between 1 and 3 leaves a version nobody stored: after ``STALE_WRITE`` it
        is discarded (events never published). Dying between 3 and 6 leaves stored state with an
        unpublished version: ``publish_stranded`` (the worker's scan), finding the write in
        progress, reconciles the entries and moves the events. So does a failure of the
        entries' writes in 4: the case file is stored, its events follow a scan later.
        """
        version = case_file.version + 1
        version_id = f"{case_file.id}:{version}"
        records = [outbox_record(topic, e, self.cipher) for e in events]
        try:
            self.writes.insert_one(
                {"_id": version_id, "case_id": case_file.id, "version": version, "at": now_utc()}
            )
        except DuplicateKeyError:  # another writer is taking this version
            return False
        try:
            self.versions.insert_one(
                {
                    "_id": version_id,
                    "case_id": case_file.id,
                    "version": version,
                    "at": now_utc(),
                    "staged": records,
                    "published": False,
                    "outbox": [],
                    "outbox_seq": 0,
                }
            )
        except DuplicateKeyError:
            self.writes.delete_one({"_id": version_id})
            self._discard_if_abandoned(version_id, case_file.id, version)
            return False
        doc = self._document(case_file)
        doc["version"] = version
        # The version insert above is the compare-and-set: only its winner gets here, and it read
        # the document at the version it extends. So the filter is the `_id` alone, the one filter
        # FerretDB serves from an index (with the version too, every write read the collection).
        # The stored version's list fields: the entries it wanted are deleted after this write.
        prior = self.collection.find_one({"_id": case_file.id}, LIST_FIELDS) or {}
        desired = list_entry_ids(case_file.id, doc)
        doc["list_entries"] = self.lists.tracked(case_file.id, prior, desired)
        self.collection.update_one({"_id": case_file.id}, {"$set": doc})
        case_file.version = version
        try:
            self.lists.settle(case_file.id, desired, doc["list_entries"])
        except PyMongoError as exc:  # stored: the scan reconciles and publishes (above)
            log.warning("case file %s stored, list entries not reconciled: %s", case_file.id, exc)
            return True
        self._publish(version_id, records)
        return True

    @property
    def writes(self) -> Collection:
        """The writes in progress (``CaseFileWriteDoc``): few, whatever the store holds."""
        return CaseFileWriteDoc._get_collection()

    def _publish(self, version_id: str, records: list[dict[str, Any]]) -> None:
        """Hand a stored write's events to the relay, then end the write."""
        write_hints(self.versions.database, self.versions.name, version_id, records)
        self.versions.update_one(
            {"_id": version_id, "published": False},
            {"$set": {"outbox": records, "outbox_seq": len(records), "published": True}},
        )
        self.writes.delete_one({"_id": version_id})

    def _discard_if_abandoned(self, version_id: str, case_id: str, version: int) -> None:
        """Free a version whose writer died before storing the case file."""
        held = self.versions.find_one({"_id": version_id}, {"at": 1, "published": 1})
        if held is None or held.get("published") or _aware(held["at"]) > now_utc() - STALE_WRITE:
            return
        stored = self.collection.find_one({"_id": case_id}, {"version": 1})
        if stored is not None and stored.get("version", 0) < version:
            self.versions.delete_one({"_id": version_id, "published": False})

    def publish_stranded(self) -> int:
        """Finish the writes whose writer died (``save``): reconcile the list entries of a
        stored one and publish its events; free the version of one never stored. Returns how
        many versions it published."""
        moved = 0
        cutoff = now_utc() - STALE_WRITE
        for write in self.writes.find({"at": {"$lt": cutoff}}).limit(200):
            write_id, case_id = write["_id"], write["case_id"]
            held = self.versions.find_one({"_id": write_id}, {"staged": 1, "published": 1})
            stored = self.collection.find_one({"_id": case_id}, {"version": 1})
            if held is None or stored is None or stored.get("version", 0) < write["version"]:
                # Not stored: its version (if it took it) is freed for the next writer.
                self._discard_if_abandoned(write_id, case_id, write["version"])
                self.writes.delete_one({"_id": write_id})
                continue
            self.lists.reconcile(case_id)  # its writer may have stopped before them
            if held.get("published"):
                self.writes.delete_one({"_id": write_id})
                continue
            self._publish(write_id, held["staged"])
            moved += bool(held["staged"])
        return moved

    def mark_unfinished_writes(self) -> int:
        """A write in progress for every unpublished version (what ``publish_stranded`` reads):
        the versions stored before the writes in progress were kept. Reads every version: the
        worker's one-off backfill (``backfill``) and the repair command. Returns how many."""
        found = self.versions.find({"published": False}, {"case_id": 1, "version": 1, "at": 1})
        writes = list(found)
        insert_new(self.writes, writes)
        return len(writes)

    def backfill(self, now: datetime) -> int | None:
        """Once per database, at the worker's start (again after a kind of entry was added):
        the writes in progress of the versions stored before them, and the list entries of every
        case file (``CaseFileListEntries.backfill``). Returns how many case files it went
        through, None when it was done already."""
        if self.lists.backfills.done():
            return None
        self.mark_unfinished_writes()
        return self.lists.backfill(now)

    def list(
        self, *, limit: int = 50, offset: int = 0, **filters: Unpack[QueueFilters]
    ) -> tuple[list[CaseFile], int | None]:
        """A work queue: case files matching every filter given, newest first (``overdue_on``:
        most overdue first), and the total (None: more than ``id_lists.COUNT_CAP``, a list
        read from its entries); ``counters`` keeps only those opened at one of
        them. From a list's entries when one list answers (``case_file_lists.list_for``) and
        their backfill is done, else by the case-files query (``query``): the same page and
        total."""
        listing = list_for(**filters)
        if listing is None or not self.lists.ready():
            return self.query(limit=limit, offset=offset, **filters)
        entries, total = self.lists.page(listing, limit, offset)
        found = {}
        if entries:
            ids = [case_id for _, case_id in entries]
            found = {d["_id"]: d for d in self.collection.find({"_id": {"$in": ids}})}
        # Only the case files that still want the entry they were found by: one a write has
        # just moved out of the list (its entry not deleted yet) is not shown in it.
        listed = [
            found[case_id]
            for entry, case_id in entries
            if case_id in found and entry in list_entry_ids(case_id, found[case_id])
        ]
        return [self._case_file(d) for d in listed], total

    def query(
        self, *, limit: int = 50, offset: int = 0, **filters: Unpack[QueueFilters]
    ) -> tuple[list[CaseFile], int]:
        """A work queue by a query on the case files (FerretDB reads and sorts them all):
        newest first, ties by id; ``overdue_on``: most overdue first, then the longest open."""
        query: dict[str, Any] = {}
        for name, field in QUERIED_FIELDS.items():
            if filters.get(name):
                query[field] = filters[name]
        counters, overdue_on = filters.get("counters"), filters.get("overdue_on")
        if not filters.get("counter_id") and counters is not None:
            query["counter_id"] = {"$in": list(counters)}
        if overdue_on:
            query["next_due"] = {"$lt": overdue_on.isoformat(), "$ne": None}
        order = MOST_OVERDUE_FIRST if overdue_on else NEWEST_FIRST
        cursor = self.collection.find(query).sort(order).skip(offset).limit(limit)
        return [self._case_file(d) for d in cursor], self.collection.count_documents(query)

    def overdue_referrals(
        self, today: date, limit: int, offset: int, path: str | None = None
    ) -> list[dict[str, Any]]:
        """Sent referrals past their due date (to ``path``, if given), oldest deadline first,
        then the longest open case file (the overdue queue's order), then in the case file's
        order.

        From the overdue queue's entries once their backfill is done (``query_overdue_referrals``
        before). The queue lists the case files by earliest due date, opening and id, and a case
        file's referrals are due no earlier than its own place in it: so a row is in its place
        once the queue has gone past (due date, opening, case id), and the read stops just after
        the page's last row instead of reading every overdue case file.
        """
        if not self.lists.ready():
            return self.query_overdue_referrals(today, limit, offset, path)
        wanted = offset + limit
        rows: list[dict[str, Any]] = []
        held: list[tuple[tuple[date, datetime, str], int, dict[str, Any]]] = []  # a heap
        pushed = itertools.count()  # ties of one case file: in its referrals' order
        seen: set[str] = set()  # a case file moved on during the read is in it only once
        # One entry past the page: the one that puts the page's last rows in their place.
        chunk_size = min(max(wanted + 1, OVERDUE_READ), OVERDUE_READ_MAX)
        for chunk in self.lists.overdue(today, chunk_size):
            ids = [case_id for _, case_id in chunk]
            read = self.collection.find({"_id": {"$in": ids}}, OVERDUE_REPORT_FIELDS)
            found = {d["_id"]: d for d in read}
            for entry, case_id in chunk:
                doc = found.get(case_id)
                # An entry a write has just moved on (not deleted yet) is not the case file's.
                if doc is None or entry not in list_entry_ids(case_id, doc) or case_id in seen:
                    continue
                seen.add(case_id)
                # The entry's place (it was checked): no row of a case file still to come
                # goes before it.
                place = (date.fromisoformat(doc["next_due"]), doc["opened_at"], case_id)
                while held and held[0][0] < place:
                    rows.append(heapq.heappop(held)[-1])
                if len(rows) >= wanted:
                    return rows[offset:wanted]
                # The rows hold no encrypted field: the referrals are rebuilt as stored (their
                # reasons stay ciphertext), and the rest of the case file is not read.
                referrals = from_doc(list[Referral], doc.get("referrals") or [])
                building_id = (doc.get("building") or {}).get("id")
                for row in _overdue_rows(
                    case_id, building_id, doc.get("counter_id"), referrals, today, path
                ):
                    key = (row["due_date"], doc["opened_at"], case_id)
                    heapq.heappush(held, (key, next(pushed), row))
        rows += [heapq.heappop(held)[-1] for _ in range(len(held))]
        return rows[offset:wanted]

    def query_overdue_referrals(
        self, today: date, limit: int, offset: int, path: str | None = None
    ) -> list[dict[str, Any]]:
        """``overdue_referrals`` by a query on the case files (FerretDB reads them all)."""
        query: dict[str, Any] = {"next_due": {"$lt": today.isoformat(), "$ne": None}}
        if path:
            query["referral_paths"] = path
        rows = []
        for doc in self.collection.find(query).sort(MOST_OVERDUE_FIRST):
            case = self._case_file(doc)
            found = _overdue_rows(
                case.id, case.building.id, case.counter_id, case.referrals, today, path
            )
            rows += [((r["due_date"], doc["opened_at"], case.id), r) for r in found]
        rows.sort(key=lambda keyed: keyed[0])  # stable: a case file's rows in its order
        return [r for _, r in rows[offset : offset + limit]]

    def counts(self) -> dict[str, Any]:
        """Counts for the dashboard: cases per state, referrals per path and state."""
        by_state = {
            row["_id"]: row["n"]
            for row in self.collection.aggregate([{"$group": {"_id": "$state", "n": {"$sum": 1}}}])
        }
        # Referrals per path and state are counted here, not in an $unwind + $group: FerretDB
        # 1.24 returns 0 for {$sum: 1} after $unwind and drops top-level keys from a
        # compound group key, so the store only projects the two fields needed.
        by_path: dict[str, dict[str, int]] = {}
        cursor = self.collection.find(
            {"referral_paths.0": {"$exists": True}}, {"referrals.path": 1, "referrals.state": 1}
        )
        for doc in cursor:
            for r in doc.get("referrals", []):
                states = by_path.setdefault(r["path"], {})
                states[r["state"]] = states.get(r["state"], 0) + 1
        return {"cases_by_state": by_state, "referrals_by_path": by_path}

    def dashboard_rows(self) -> list[dict[str, Any]]:
        """Every case file, projected to what the dashboard sums (``domain.reports``): no
        encrypted field is read, and FerretDB returns a few small fields per document."""
        fields = {
            "_id": 0,
            "state": 1,
            "building.id": 1,
            "building.name": 1,
            "referrals.path": 1,
            "referrals.state": 1,
            "referrals.sent_at": 1,
            "referrals.history.to_state": 1,
            "referrals.history.at": 1,
        }
        return list(self.collection.find({}, fields))

    def outcome_totals(self, group_by: str) -> list[dict[str, Any]]:
        """Measured outcomes summed per building, counter or path, and kind.

        Summed here rather than in an aggregation, for the FerretDB limits noted in ``counts``.
        """
        totals: dict[tuple, dict[str, Any]] = {}
        cursor = self.collection.find(
            {"outcomes.0": {"$exists": True}}, {"building.id": 1, "counter_id": 1, "outcomes": 1}
        )
        for doc in cursor:
            for o in doc.get("outcomes", []):
                key = {
                    "building": doc.get("building", {}).get("id"),
                    "counter": doc.get("counter_id"),
                    "path": o.get("path"),
                }[group_by]
                row = totals.setdefault(
                    (key, o["kind"]),
                    {group_by: key, "kind": o["kind"], "unit": o["unit"], "total": 0.0, "count": 0},
                )
                row["total"] += o["value"]
                row["count"] += 1
        return sorted(totals.values(), key=lambda r: (str(r[group_by]), r["kind"]))

    def retention_candidates(self, closed_before: datetime, limit: int = 500) -> list[str]:
        """Ids of closed or archived case files, not anonymised, that ended before the cutoff:
        from their list entries (``CaseFileListEntries.to_anonymise``) once backfilled, else by
        the query (``query_retention_candidates``)."""
        if self.lists.ready(SWEEPS_BACKFILL_MARK):
            return self.lists.to_anonymise(closed_before, limit)
        return self.query_retention_candidates(closed_before, limit)

    def query_retention_candidates(self, closed_before: datetime, limit: int = 500) -> list[str]:
        """``retention_candidates`` by a query on the case files (every ended case file is
        read). The end is read from the history (no derived field: files closed before
        retention existed are never written again)."""
        ids = []
        query = {"state": {"$in": _TERMINAL}}
        for doc in self.collection.find(query, {"history": 1, "anonymised_at": 1}):
            if doc.get("anonymised_at") is not None:
                continue
            ends = [_aware(t["at"]) for t in doc.get("history") or [] if t["to_state"] in _TERMINAL]
            if ends and ends[-1] <= closed_before:
                ids.append(doc["_id"])
                if len(ids) >= limit:
                    break
        return ids

    def ids_of_tenant(self, tenant_id: str) -> list[str]:
        """Ids of the case files of ``tenant_id``: from the tenant's list entries once they are
        backfilled, else with ``query_ids_of_tenant``."""
        if (
            listable(tenant_id)
            and tenant_id != ANONYMOUS
            and self.lists.ready(TENANT_BACKFILL_MARK)
        ):
            return self.lists.of_tenant(tenant_id)
        return self.query_ids_of_tenant(tenant_id)

    def query_ids_of_tenant(self, tenant_id: str) -> list[str]:
        """``ids_of_tenant`` with a query on the case files (FerretDB reads them all)."""
        return [d["_id"] for d in self.collection.find({"tenant_id": tenant_id}, {"_id": 1})]

    def of_tenant(self, tenant_id: str) -> list[CaseFile]:
        """The case files of ``tenant_id``, decrypted (for the tenant's export)."""
        return [c for c in (self.get(i) for i in self.ids_of_tenant(tenant_id)) if c is not None]

    def purge_event_history(self, case_ids: list[str]) -> int:
        """Drop the published events kept in the versions of these case files (erasure)."""
        if not case_ids:
            return 0
        return privacy.purge_published_events(
            self.collection.database, self.versions.name, {"case_id": {"$in": case_ids}}
        )

    def _case_file(self, doc: dict[str, Any]) -> CaseFile:
        data = {k: v for k, v in doc.items() if k not in _NOT_DOMAIN}
        data["id"] = doc["_id"]
        return from_doc(CaseFile, transform(data, ENCRYPTED_PATHS, self.cipher.decrypt))

    def due_for_scan(self, today: date, limit: int = 200) -> list[str]:
        """Ids of open cases with a referral breach or a disconnection alert to announce: from
        their list entries (``CaseFileListEntries.to_announce``) once backfilled, else by the
        query (``query_due_for_scan``)."""
        if self.lists.ready(SWEEPS_BACKFILL_MARK):
            horizon = max(self.disconnection_thresholds, default=0)
            return self.lists.to_announce(today, limit, horizon)
        return self.query_due_for_scan(today, limit)

    def query_due_for_scan(self, today: date, limit: int = 200) -> list[str]:
        """``due_for_scan`` by a query on the case files (FerretDB reads them all)."""
        today_iso = today.isoformat()
        ids: list[str] = []
        for query in (
            {"unannounced_due": {"$lt": today_iso, "$ne": None}},
            # Once the date has passed there is nothing left to announce.
            {
                "disconnection_alert_from": {"$lte": today_iso, "$ne": None},
                "disconnection_date": {"$gte": today_iso},
            },
        ):
            query["state"] = {"$nin": _TERMINAL}
            ids += [d["_id"] for d in self.collection.find(query, {"_id": 1}).limit(limit)]
        return list(dict.fromkeys(ids))


def _overdue_rows(
    case_id: str,
    building_id: str | None,
    counter_id: str | None,
    referrals: list[Referral],
    today: date,
    path: str | None,
) -> list[dict[str, Any]]:
    """The overdue report's rows of a case file: its referrals (to ``path``) overdue ``today``."""
    return [
        {
            "case_id": case_id,
            "referral_id": r.id,
            "path": r.path,
            "assignee": r.assignee,
            "due_date": r.due_date,
            "breaches": r.breaches,
            "building_id": building_id,
            "counter_id": counter_id,
        }
        for r in referrals
        if r.overdue_on(today) and (path is None or r.path == path)
    ]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
