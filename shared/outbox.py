"""The embedded outbox: a state change and its events are written in one document write.

An aggregate document carries its events in ``outbox`` (ready-to-send records, in order), added by
the same single-document write that changes its state, so an event exists if and only if its state
change does. The relay publishes them with the acknowledged, idempotent producer.

What is still to publish is said by *hints*: one small document per event in ``outbox_hints``
(``_id`` = the event id), inserted *before* the aggregate write. The relay reads the hints (few),
publishes the hinted events of each aggregate in outbox order, and deletes their hints. So:

- a written event always has a hint (the hint went first), so nothing is left unpublished;
- a hint whose event never landed (the writer died between the two writes) is dropped after a
  grace period, with a warning;
- the relay only *reads* aggregates and only deletes hints: it never rewrites a document that the
  services write. That matters on FerretDB 1.24 (SQLite), where two concurrent updates of one
  document can lose one of them; on MongoDB it is simply cheaper;
- a relay killed after sending and before deleting the hints sends again: delivery is at least
  once and consumers are idempotent by event id.

Published records stay in the aggregate's ``outbox`` as its event history; they are never sent
again because their hints are gone. So a service that encrypts fields at rest passes its cipher
here too: the record's ``value`` (the whole event) is then stored encrypted, and the relay
decrypts it with the cipher registered under its service's name just before sending (the broker
is inside the trust boundary: events travel as they are).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from mongoengine import Document, IntField, ListField
from mongoengine.fields import DictField
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from shared import crypto, metrics, tracing
from shared.events import Event, encode
from shared.kafka import CORRELATION_HEADER, EventProducer
from shared.logs import current_correlation_id

log = logging.getLogger(__name__)

HINTS = "outbox_hints"
# A hint whose event is not in its aggregate is kept this long: the aggregate write that follows
# the hint may still be on its way.
HINT_GRACE = timedelta(seconds=30)


class OutboxDocument(Document):
    """Base of every aggregate document that publishes events."""

    meta = {"abstract": True}

    outbox = ListField(DictField(), default=list)
    outbox_seq = IntField(default=0, required=True)


def outbox_record(
    topic: str, event: Event, cipher: crypto.FieldCipher | None = None
) -> dict[str, Any]:
    """An event as it waits in the outbox: everything needed to send it, nothing to recompute.

    With ``cipher`` the event itself is stored encrypted (its data may hold personal details).
    """
    headers = {"content-type": "application/cloudevents+json", **tracing.inject()}
    cid = current_correlation_id()
    if cid:
        headers[CORRELATION_HEADER] = cid
    return {
        "id": event.id,
        "topic": topic,
        "key": event.subject,
        "value": cipher.encrypt(encode(event).decode()) if cipher else encode(event).decode(),
        "headers": headers,
        "type": event.type,
    }


def event_text(record: dict[str, Any], service: str) -> str:
    """The event JSON of an outbox record, decrypted with ``service``'s cipher if encrypted."""
    value = record["value"]
    if crypto.is_encrypted(value):
        return crypto.cipher_for(service).decrypt(value)
    return value


def write_hints(db: Database, collection: str, doc_id: Any, records: list[dict[str, Any]]) -> None:
    """Tell the relay that these records are about to be in ``collection/doc_id``.

    Call it *before* the write that adds them to the aggregate's outbox.
    """
    write_hints_all(db, collection, {doc_id: records})


def write_hints_all(
    db: Database, collection: str, records_by_doc: Mapping[Any, list[dict[str, Any]]]
) -> None:
    """``write_hints`` for several aggregates of one collection, in one insert."""
    now = datetime.now(UTC)
    hints = [
        {"_id": r["id"], "collection": collection, "doc_id": doc_id, "at": now}
        for doc_id, records in records_by_doc.items()
        for r in records
    ]
    if not hints:
        return
    try:
        db[HINTS].insert_many(hints, ordered=False)
    except BulkWriteError as exc:
        # A retried write re-hints the same event ids: those hints already exist, which is fine.
        if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
            raise


def stage(
    doc: OutboxDocument,
    topic: str,
    events: Iterable[Event],
    cipher: crypto.FieldCipher | None = None,
) -> None:
    """Append events to ``doc``'s outbox (saved by the caller's one write); hint the relay."""
    records = [outbox_record(topic, e, cipher) for e in events]
    if not records:
        return
    write_hints(doc._get_db(), doc._get_collection_name(), doc.pk, records)
    doc.outbox = list(doc.outbox or []) + records
    doc.outbox_seq = (doc.outbox_seq or 0) + len(records)


def outbox_update(
    topic: str,
    events: Iterable[Event],
    *,
    db: Database,
    collection: str,
    doc_id: Any,
    cipher: crypto.FieldCipher | None = None,
) -> dict[str, Any]:
    """Hint the relay, and return the operators that append ``events`` within a larger update."""
    return outbox_updates(topic, {doc_id: events}, db=db, collection=collection, cipher=cipher)[
        doc_id
    ]


def outbox_updates(
    topic: str,
    events_by_doc: Mapping[Any, Iterable[Event]],
    *,
    db: Database,
    collection: str,
    cipher: crypto.FieldCipher | None = None,
) -> dict[Any, dict[str, Any]]:
    """``outbox_update`` for several aggregates of one collection: one insert hints them all;
    returns each aggregate's operators, by its id."""
    records = {
        doc_id: [outbox_record(topic, e, cipher) for e in events]
        for doc_id, events in events_by_doc.items()
    }
    write_hints_all(db, collection, records)
    return {
        doc_id: {"$push": {"outbox": {"$each": recs}}, "$inc": {"outbox_seq": len(recs)}}
        for doc_id, recs in records.items()
    }


class OutboxRelay:
    """Publishes the hinted events of ``collections`` in ``db``, in order per aggregate."""

    def __init__(
        self,
        db: Database,
        collections: list[str],
        producer: EventProducer,
        poll_interval_s: float = 0.05,
        stop_event: threading.Event | None = None,
        service: str = "unknown",
        batch: int = 500,
        chunk: int = 50,
    ) -> None:
        self.service = service
        self.db = db
        self.collections = collections
        self.producer = producer
        self.poll_interval_s = poll_interval_s
        self.stop_event = stop_event or threading.Event()
        self.batch = batch
        self.chunk = chunk
        self.published = 0

    def run(self) -> None:
        """Relay until ``stop()``; outages of the store or the broker are waited out."""
        wait = self.poll_interval_s
        while not self.stop_event.is_set():
            try:
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
        """Publish what the oldest hints point at; returns the number of events sent.

        The hints are read once per round; their aggregates are then published in chunks, each
        costing one ``_id`` lookup per aggregate (the one filter FerretDB's SQLite backend serves
        from an index), one acknowledged send of the chunk's records and one delete of its hints.
        Chunks keep progress steady when the store is slow.
        """
        # No filter, so the limit is pushed down to the store; every hint in this database is
        # this relay's (a service's database has one relay, covering all its outbox collections).
        oldest = self.db[HINTS].find().limit(self.batch)
        hints = [h for h in oldest if h["collection"] in self.collections]
        metrics.OUTBOX_BACKLOG.labels(self.service).set(len(hints))
        by_aggregate: dict[tuple[str, Any], dict[str, dict[str, Any]]] = {}
        for hint in hints:
            by_aggregate.setdefault((hint["collection"], hint["doc_id"]), {})[hint["_id"]] = hint
        aggregates = list(by_aggregate.items())
        sent = 0
        for start in range(0, len(aggregates), self.chunk):
            if self.stop_event.is_set():
                break
            sent += self._publish_chunk(aggregates[start : start + self.chunk])
        return sent

    def _publish_chunk(
        self, aggregates: list[tuple[tuple[str, Any], dict[str, dict[str, Any]]]]
    ) -> int:
        """Publish the hinted events of ``aggregates`` (outbox order each), then drop the hints."""
        records: list[dict[str, Any]] = []
        orphans: list[str] = []
        cutoff = datetime.now(UTC) - HINT_GRACE
        for (collection, doc_id), pending in aggregates:
            doc = self.db[collection].find_one({"_id": doc_id}, {"outbox": 1}) or {}
            found = [r for r in doc.get("outbox") or [] if r.get("id") in pending]
            records.extend(found)  # outbox order, so per-aggregate order holds on its partition
            found_ids = {r["id"] for r in found}
            late = [
                i for i, h in pending.items() if i not in found_ids and _aware(h["at"]) < cutoff
            ]
            if late:
                log.warning(
                    "dropping outbox hints whose write never landed",
                    extra={"collection": collection, "doc_id": str(doc_id), "events": late},
                )
                orphans.extend(late)
        if records:
            self.producer.send_many(
                (
                    r["topic"],
                    r["key"],
                    event_text(r, self.service).encode(),
                    [(k, str(v).encode()) for k, v in (r.get("headers") or {}).items()],
                )
                for r in records
            )
        done = [r["id"] for r in records] + orphans
        if done:
            self.db[HINTS].delete_many({"_id": {"$in": done}})
        self.published += len(records)
        for r in records:
            metrics.EVENTS_PRODUCED.labels(self.service, r.get("type", "unknown")).inc()
        return len(records)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
