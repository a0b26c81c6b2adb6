"""The embedded outbox: a state change and its events are written in one document write.

An aggregate document carries its unpublished events in ``outbox`` (a list of ready-to-send
records) and a counter ``outbox_seq`` that every write adding events increments. A single-document
write is atomic on MongoDB and FerretDB alike, so an event exists if and only if its state change
does. The relay publishes them with the acknowledged, idempotent producer and then removes them.

Finding pending events fast without scanning every aggregate: before the aggregate write, the
writer upserts a small *hint* (``outbox_hints``: collection + id), and the relay polls the hints,
which stay few. Because the hint is written first, a written event always has a hint; a hint may
point at nothing (the writer failed after it) and is then dropped after a grace period. As a safety
net the relay also sweeps every registered collection for non-empty outboxes every
``sweep_interval_s``.

Removing published events uses compare-and-set on ``outbox_seq`` (``$pull`` of sub-documents by
condition is not reliable on FerretDB): if a write added events meanwhile, the relay re-reads and
removes only what it published. Publishing twice (relay killed after send, before removal) is
possible; consumers are idempotent by event id.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from mongoengine import Document, IntField, ListField
from mongoengine.fields import DictField
from pymongo.database import Database

from shared import metrics, tracing
from shared.events import Event, encode
from shared.kafka import CORRELATION_HEADER, EventProducer
from shared.logs import current_correlation_id

log = logging.getLogger(__name__)

HINTS = "outbox_hints"
# A hint whose aggregate has no pending events is kept this long: the aggregate write that
# follows the hint may not have landed yet.
HINT_GRACE = timedelta(seconds=30)


class OutboxDocument(Document):
    """Base of every aggregate document that publishes events."""

    meta = {"abstract": True}

    outbox = ListField(DictField(), default=list)
    outbox_seq = IntField(default=0, required=True)


def outbox_record(topic: str, event: Event) -> dict[str, Any]:
    """An event as it waits in the outbox: everything needed to send it, nothing to recompute."""
    headers = {"content-type": "application/cloudevents+json", **tracing.inject()}
    cid = current_correlation_id()
    if cid:
        headers[CORRELATION_HEADER] = cid
    return {
        "id": event.id,
        "topic": topic,
        "key": event.subject,
        "value": encode(event).decode(),
        "headers": headers,
        "type": event.type,
    }


def write_hint(db: Database, collection: str, doc_id: Any) -> None:
    """Tell the relay that ``collection/doc_id`` is about to have events. Call before the write."""
    db[HINTS].update_one(
        {"_id": f"{collection}:{doc_id}"},
        {"$set": {"collection": collection, "doc_id": doc_id, "at": datetime.now(UTC)}},
        upsert=True,
    )


def stage(doc: OutboxDocument, topic: str, events: Iterable[Event]) -> None:
    """Append events to ``doc``'s outbox (saved by the caller's one write); hint the relay."""
    records = [outbox_record(topic, e) for e in events]
    if not records:
        return
    write_hint(doc._get_db(), doc._get_collection_name(), doc.pk)
    doc.outbox = list(doc.outbox or []) + records
    doc.outbox_seq = (doc.outbox_seq or 0) + len(records)


def outbox_update(topic: str, events: Iterable[Event]) -> dict[str, Any]:
    """The update operators that append ``events`` to an outbox within a larger update."""
    records = [outbox_record(topic, e) for e in events]
    return {"$push": {"outbox": {"$each": records}}, "$inc": {"outbox_seq": len(records)}}


class OutboxRelay:
    """Publishes the outboxes of ``collections`` in ``db``, in order per aggregate."""

    def __init__(
        self,
        db: Database,
        collections: list[str],
        producer: EventProducer,
        poll_interval_s: float = 0.05,
        sweep_interval_s: float = 30,
        stop_event: threading.Event | None = None,
        service: str = "unknown",
    ) -> None:
        self.service = service
        self.db = db
        self.collections = collections
        self.producer = producer
        self.poll_interval_s = poll_interval_s
        self.sweep_interval_s = sweep_interval_s
        self.stop_event = stop_event or threading.Event()
        self.published = 0

    def run(self) -> None:
        """Relay until ``stop()``; outages of the store or the broker are waited out."""
        next_sweep = 0.0
        wait = self.poll_interval_s
        while not self.stop_event.is_set():
            try:
                if time.monotonic() >= next_sweep:
                    self.sweep()
                    next_sweep = time.monotonic() + self.sweep_interval_s
                sent = self.run_once()
                wait = self.poll_interval_s
            except Exception as exc:  # noqa: BLE001 - an outage pauses the relay, never kills it
                log.warning("outbox relay paused: %s", exc)
                sent = 0
                wait = min(max(wait * 2, 0.2), 5.0)
            if not sent:
                self.stop_event.wait(wait)

    def stop(self) -> None:
        """Stop after the current round."""
        self.stop_event.set()

    def run_once(self) -> int:
        """Publish every hinted aggregate's outbox once; returns the number of events sent."""
        sent = 0
        hints = list(self.db[HINTS].find({}).limit(500))
        metrics.OUTBOX_BACKLOG.labels(self.service).set(len(hints))
        for hint in hints:
            if self.stop_event.is_set():
                break
            coll = hint.get("collection")
            if coll not in self.collections:
                continue
            published, pending = self._flush(coll, hint["doc_id"])
            sent += published
            at = hint.get("at")
            stale = at is None or _aware(at) < datetime.now(UTC) - HINT_GRACE
            if not pending and (published or stale):
                # Only this hint: a writer that re-hinted meanwhile (new ``at``) keeps its own.
                self.db[HINTS].delete_one({"_id": hint["_id"], "at": at})
        return sent

    def sweep(self) -> int:
        """Publish every non-empty outbox of every collection (finds what a lost hint hides)."""
        sent = 0
        for coll in self.collections:
            for doc in self.db[coll].find({"outbox.0": {"$exists": True}}, {"_id": 1}):
                sent += self._flush(coll, doc["_id"])[0]
        return sent

    def _flush(self, coll: str, doc_id: Any) -> tuple[int, bool]:
        """Publish one aggregate's outbox; returns (events published, events still pending)."""
        doc = self.db[coll].find_one({"_id": doc_id}, {"outbox": 1, "outbox_seq": 1})
        if not doc or not doc.get("outbox"):
            return 0, False
        records = doc["outbox"]
        self.producer.send_many(
            (
                r["topic"],
                r["key"],
                r["value"].encode(),
                [(k, str(v).encode()) for k, v in (r.get("headers") or {}).items()],
            )
            for r in records
        )
        sent_ids = {r["id"] for r in records}
        seq = doc.get("outbox_seq", 0)
        while True:
            remaining = [r for r in doc.get("outbox", []) if r["id"] not in sent_ids]
            result = self.db[coll].update_one(
                {"_id": doc_id, "outbox_seq": seq}, {"$set": {"outbox": remaining}}
            )
            if result.matched_count:
                break
            # A write appended events since we read: re-read and remove only what was sent.
            doc = self.db[coll].find_one({"_id": doc_id}, {"outbox": 1, "outbox_seq": 1})
            if doc is None:
                return len(records), False
            seq = doc.get("outbox_seq", 0)
        self.published += len(records)
        for r in records:
            metrics.EVENTS_PRODUCED.labels(self.service, r.get("type", "unknown")).inc()
        return len(records), bool(remaining)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
