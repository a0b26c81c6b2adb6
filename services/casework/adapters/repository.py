"""Case files in MongoDB: one document per case, written with compare-and-set on ``version``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from pymongo import DESCENDING
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from services.casework.adapters.codec import from_doc, to_doc
from services.casework.adapters.documents import CaseFileDoc
from services.casework.domain.model import TERMINAL_CASE_STATES, CaseFile
from shared.clock import now_utc
from shared.events import Event
from shared.outbox import outbox_record, write_hint

# Fields never read back into the domain object.
_NOT_DOMAIN = (
    "outbox",
    "outbox_seq",
    "referral_paths",
    "next_due",
    "unannounced_due",
    "disconnection_alert_from",
    "_id",
)
_TERMINAL = [s.value for s in TERMINAL_CASE_STATES]
WRITE_CLAIMS = "case_file_write_claims"
# A claim older than this belongs to a writer that died (a write takes milliseconds).
STALE_CLAIM = timedelta(seconds=30)


class CaseFileRepository:
    """Case files, keyed by intake's case id."""

    def __init__(self, disconnection_thresholds: list[int] | None = None) -> None:
        self.disconnection_thresholds = disconnection_thresholds or []

    @property
    def collection(self) -> Collection:
        """The raw collection (the relay and the compare-and-set writes use it)."""
        return CaseFileDoc._get_collection()

    def _document(self, case_file: CaseFile) -> dict[str, Any]:
        doc = to_doc(case_file)
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

    def add_once(self, case_file: CaseFile) -> bool:
        """Insert ``case_file`` unless it exists; False when it was already there (redelivery)."""
        doc = self._document(case_file)
        doc.update(_id=case_file.id, outbox=[], outbox_seq=0, version=0)
        try:
            # A plain insert: FerretDB drops null fields from an upsert's $setOnInsert.
            self.collection.insert_one(doc)
        except DuplicateKeyError:  # already opened (redelivery, or another consumer won)
            return False
        return True

    def get(self, case_id: str) -> CaseFile | None:
        """The case file of ``case_id``, if any."""
        doc = self.collection.find_one({"_id": case_id}, {"outbox": 0})
        return _case_file(doc) if doc else None

    @property
    def claims(self) -> Collection:
        """One short-lived document per write in progress: ``<case id>:<next version>``."""
        return self.collection.database[WRITE_CLAIMS]

    def _claim(self, claim_id: str) -> bool:
        """Take the right to write the next version; False when another writer holds it."""
        try:
            self.claims.insert_one({"_id": claim_id, "at": now_utc()})
            return True
        except DuplicateKeyError:
            held = self.claims.find_one({"_id": claim_id})
            if held and _aware(held["at"]) < now_utc() - STALE_CLAIM:
                # Its writer died between claim and write: free it for the next attempt.
                self.claims.delete_one({"_id": claim_id, "at": held["at"]})
            return False

    def save(self, case_file: CaseFile, topic: str, events: list[Event]) -> bool:
        """Write ``case_file`` and its events at once, if nobody wrote it since it was read.

        Returns False when ``version`` moved on (a concurrent write): the caller reloads and
        retries. The filter on ``version`` is a compare-and-set on MongoDB; FerretDB 1.24 (SQLite)
        does not evaluate a conditional update atomically against a concurrent one, so a writer
        first claims the next version with a unique-key insert, which both serialise.
        """
        claim_id = f"{case_file.id}:{case_file.version + 1}"
        if not self._claim(claim_id):
            return False
        try:
            return self._write(case_file, topic, events)
        finally:
            self.claims.delete_one({"_id": claim_id})

    def _write(self, case_file: CaseFile, topic: str, events: list[Event]) -> bool:
        if events:
            write_hint(self.collection.database, self.collection.name, case_file.id)
        doc = self._document(case_file)
        doc["version"] = case_file.version + 1
        update: dict[str, Any] = {"$set": doc}
        if events:
            records = [outbox_record(topic, e) for e in events]
            update["$push"] = {"outbox": {"$each": records}}
            update["$inc"] = {"outbox_seq": len(records)}
        result = self.collection.update_one(
            {"_id": case_file.id, "version": case_file.version}, update
        )
        if result.matched_count:
            case_file.version += 1
            return True
        return False

    def list(
        self,
        *,
        state: str | None = None,
        assignee: str | None = None,
        path: str | None = None,
        building_id: str | None = None,
        counter_id: str | None = None,
        overdue_on: date | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[CaseFile], int]:
        """A work queue: case files matching every filter given, newest first, and the total."""
        query: dict[str, Any] = {}
        if state:
            query["state"] = state
        if assignee:
            query["assignee"] = assignee
        if path:
            query["referral_paths"] = path
        if building_id:
            query["building.id"] = building_id
        if counter_id:
            query["counter_id"] = counter_id
        if overdue_on:
            query["next_due"] = {"$lt": overdue_on.isoformat(), "$ne": None}
        cursor = (
            self.collection.find(query, {"outbox": 0})
            .sort("opened_at", DESCENDING)
            .skip(offset)
            .limit(limit)
        )
        return [_case_file(d) for d in cursor], self.collection.count_documents(query)

    def overdue_referrals(self, today: date, limit: int, offset: int) -> list[dict[str, Any]]:
        """Sent referrals past their due date, oldest deadline first."""
        query = {"next_due": {"$lt": today.isoformat(), "$ne": None}}
        rows = []
        for doc in self.collection.find(query, {"outbox": 0}).sort("next_due", 1):
            case = _case_file(doc)
            for r in case.referrals:
                if r.overdue_on(today):
                    rows.append(
                        {
                            "case_id": case.id,
                            "referral_id": r.id,
                            "path": r.path,
                            "assignee": r.assignee,
                            "due_date": r.due_date,
                            "breaches": r.breaches,
                            "building_id": case.building.id,
                            "counter_id": case.counter_id,
                        }
                    )
        rows.sort(key=lambda x: (x["due_date"], x["case_id"]))
        return rows[offset : offset + limit]

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

    def due_for_scan(self, today: date, limit: int = 200) -> list[str]:
        """Ids of open cases with a referral breach or a disconnection alert to announce."""
        today_iso = today.isoformat()
        ids: list[str] = []
        for query in (
            {"unannounced_due": {"$lt": today_iso, "$ne": None}},
            {"disconnection_alert_from": {"$lte": today_iso, "$ne": None}},
        ):
            query["state"] = {"$nin": _TERMINAL}
            ids += [d["_id"] for d in self.collection.find(query, {"_id": 1}).limit(limit)]
        return list(dict.fromkeys(ids))


def _case_file(doc: dict[str, Any]) -> CaseFile:
    data = {k: v for k, v in doc.items() if k not in _NOT_DOMAIN}
    data["id"] = doc["_id"]
    return from_doc(CaseFile, data)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
