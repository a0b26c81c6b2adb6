"""notifications' store: messages (with status history and delivery events), and the read models
built from other services' events (tenants and consents, cases, buildings, custodians' choices)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from mongoengine import NotUniqueError, Q
from pymongo import DeleteOne, ReturnDocument, UpdateOne
from pymongo.errors import DuplicateKeyError

from services.notifications.adapters.documents import (
    ALIAS,
    BuildingDoc,
    CaseDoc,
    ConsentDoc,
    CustodianPreferenceDoc,
    NotificationDoc,
    RecipientDoc,
    TenantDoc,
)
from services.notifications.adapters.tenant_refs import (
    ABOUT_CASE,
    CASE_OF,
    TO_TENANT,
    TenantRefs,
    case_refs,
    message_refs,
)
from services.notifications.domain.model import (
    PENDING,
    Channel,
    Consent,
    Custodian,
    HistoryEntry,
    Notification,
    Recipient,
    RecipientKind,
    Status,
    Tenant,
)
from shared import mongo
from shared.crypto import cipher_for
from shared.domain import NotFound
from shared.events import Event, make_event
from shared.events.notifications import (
    NOTIFICATION_DELIVERED,
    NOTIFICATION_FAILED,
    NOTIFICATION_NOT_SENT,
)
from shared.id_lists import find_by_ids, insert_new, listable
from shared.outbox import outbox_updates, stage
from shared.privacy import ANONYMOUS

SEND_QUEUE = "send_queue"
# A queue entry whose message is not stored is kept this long: the insert may be on its way.
QUEUE_GRACE = timedelta(seconds=30)
CLAIMABLE = {s.value for s in PENDING} | {Status.SENDING.value}
# The channels a tenant consents to (``ConsentData.channel`` of intake's contract).
CONSENT_CHANNELS = (Channel.EMAIL.value, Channel.SMS.value)


def _history(status: Status, at: datetime, detail: str = "") -> dict[str, Any]:
    return {"status": status.value, "at": at, "detail": detail}


# Messages named by their ids, or a query on other fields (until the entries are backfilled).
Selection = list[str] | dict[str, Any]


class NotificationRepository:
    """Notifications keyed by (event, rule, recipient, channel); every change is one write."""

    def __init__(self, topic: str) -> None:
        self.topic = topic  # where the delivery events go (through the document's outbox)
        self.refs = TenantRefs()

    @property
    def _coll(self) -> Any:
        return NotificationDoc._get_collection()

    @property
    def database(self) -> Any:
        """notifications' database (its erasure records live there)."""
        return NotificationDoc._get_db()

    @property
    def _queue(self) -> Any:
        """The send queue: one small entry per message waiting to be sent (or being sent).

        It holds what claiming needs (``due_at``, ``lease_until``, ``attempts``) so the sender's
        look for due messages reads this small collection, never the messages themselves: on
        FerretDB's SQLite backend any filter but ``{_id}`` reads and decodes a whole collection.
        The messages are then read and written by ``_id`` alone. An entry goes in *before* its
        message (like the outbox hints), so a pending message always has one; an entry whose
        message never landed is dropped after ``QUEUE_GRACE``.
        """
        return NotificationDoc._get_db()[SEND_QUEUE]

    def _enqueue(
        self,
        notification_id: str,
        due_at: datetime,
        created_at: datetime,
        appointment_id: str | None = None,
    ) -> None:
        with contextlib.suppress(DuplicateKeyError):  # a redelivery: the entry is there already
            self._queue.insert_one(
                _queue_entry(notification_id, due_at, created_at, appointment_id)
            )

    def requeue_pending(self) -> int:
        """Give every pending message without a queue entry one (messages stored before the
        queue existed); run once at start. Returns how many were added."""
        self._queue.create_index("due_at")  # MongoDB serves the look for due messages from it
        self._queue.create_index("appointment_id")  # and cancel_pending's look from this one
        added = 0
        pending = {"status": {"$in": [s.value for s in PENDING] + [Status.SENDING.value]}}
        projection = {"due_at": 1, "attempts": 1, "created_at": 1, "appointment_id": 1}
        for doc in self._coll.find(pending, projection):
            entry = _queue_entry(
                doc["_id"],
                doc.get("due_at") or doc.get("created_at"),
                doc.get("created_at"),
                doc.get("appointment_id"),
            )
            try:
                self._queue.insert_one({**entry, "attempts": doc.get("attempts") or 0})
                added += 1
            except DuplicateKeyError:
                pass
        # Entries queued before they carried their message's appointment get it (by ``_id``).
        for entry in self._queue.find({"appointment_id": {"$exists": False}}, {"_id": 1}):
            doc = self._coll.find_one({"_id": entry["_id"]}, {"appointment_id": 1}) or {}
            self._queue.update_one(
                {"_id": entry["_id"], "appointment_id": {"$exists": False}},
                {"$set": {"appointment_id": doc.get("appointment_id")}},
            )
        return added

    def add_once(self, n: Notification) -> bool:
        """Record the intent to send ``n`` unless it is recorded already."""
        doc = _new_document(n)
        if n.status == Status.NOT_SENT:
            # Decided at planning time (e.g. no consent): its outcome event goes with the record.
            event = _delivery_event(n, NOTIFICATION_NOT_SENT, n.created_at, n.reason or "")
            stage(doc, self.topic, [event])
        if n.status in PENDING:
            self._enqueue(n.id, n.due_at, n.created_at, n.appointment_id)
        self.refs.add(_message_refs(n))  # before the message, as its queue entry
        try:
            doc.save(force_insert=True)
        except NotUniqueError:
            return False
        return True

    def add_new(self, notifications: Sequence[Notification]) -> set[str]:
        """``add_once`` for many messages waiting to be sent, in two writes (their queue entries
        first, as ``add_once``, then the messages). Returns the ids recorded now.

        Only for messages without a delivery event to publish (``add_once`` stages it)."""
        assert all(n.status in PENDING for n in notifications), "add_once stages their events"
        entries = [
            _queue_entry(n.id, n.due_at, n.created_at, n.appointment_id) for n in notifications
        ]
        insert_new(self._queue, entries)
        self.refs.add(e for n in notifications for e in _message_refs(n))
        docs = []
        for n in notifications:
            doc = _new_document(n)
            doc.validate()  # as ``save`` does
            docs.append(doc.to_mongo().to_dict())
        return {doc["_id"] for doc in insert_new(self._coll, docs)}

    def add_to_digest(self, digest: Notification, item: dict[str, Any]) -> bool:
        """Put ``item`` in the still-unsent ``digest`` (created on first use).

        False when the digest is already being sent: the caller then sends the item on its own.
        """
        doc = _document(digest).to_mongo().to_dict()
        doc.pop("items", None)
        doc.pop("_id", None)
        doc.pop("status", None)  # set by the filter's equality on insert
        doc["history"] = [_history(Status.CREATED, digest.created_at, "riepilogo")]
        self._enqueue(digest.id, digest.due_at, digest.created_at)
        self.refs.add(_message_refs(digest))
        try:
            self._coll.update_one(
                {"_id": digest.id, "status": Status.CREATED.value},
                {"$setOnInsert": doc, "$addToSet": {"items": item}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        return True

    def digest_holding(self, item_id: str, digest_ids: list[str]) -> tuple[str, str] | None:
        """(digest id, status) of the digest among ``digest_ids`` that already carries ``item_id``.

        Looked up by ``_id`` (the one filter FerretDB serves from an index), never by item.
        """
        for digest_id in digest_ids:
            doc = self._coll.find_one({"_id": digest_id}, {"items.id": 1, "status": 1})
            if doc and any(i.get("id") == item_id for i in doc.get("items") or []):
                return digest_id, doc["status"]
        return None

    def exists(self, notification_id: str) -> bool:
        """Whether a notification with this id is recorded."""
        return self._coll.find_one({"_id": notification_id}, {"_id": 1}) is not None

    def get(self, notification_id: str) -> Notification:
        """One notification (``NotFound`` if there is none)."""
        doc = NotificationDoc.objects(id=notification_id).exclude("outbox").first()
        if doc is None:
            raise NotFound("Notifica non trovata.", notification_id=notification_id)
        return _notification(doc)

    def list(
        self,
        case_id: str | None = None,
        status: str | None = None,
        recipient: str | None = None,
        channel: str | None = None,
        limit: int = 50,
        offset: int = 0,
        buildings: Sequence[str] | None = None,
    ) -> list[Notification]:
        """Notifications, newest first, filtered by case, status, recipient and channel;
        ``buildings`` keeps those about one of them or about no building."""
        filters = {
            k: v
            for k, v in {
                "case_id": case_id,
                "status": status,
                "recipient__name": recipient,
                "channel": channel,
            }.items()
            if v
        }
        query = NotificationDoc.objects(**filters)
        if buildings is not None:
            query = query.filter(Q(building_id__in=list(buildings)) | Q(building_id=None))
        docs = query.exclude("outbox").order_by("-created_at")
        return [_notification(d) for d in docs.skip(offset).limit(limit)]

    def inbox(self, recipient: str, unread: bool, limit: int, offset: int) -> list[Notification]:
        """A staff member's in-app inbox, newest first."""
        filters: dict[str, Any] = {
            "channel": Channel.INBOX.value,
            "recipient__address": recipient,
            "status": Status.DELIVERED.value,
        }
        if unread:
            filters["read_at"] = None
        docs = NotificationDoc.objects(**filters).exclude("outbox").order_by("-created_at")
        return [_notification(d) for d in docs.skip(offset).limit(limit)]

    def unread_count(self, recipient: str) -> int:
        """How many delivered inbox messages of ``recipient`` are unread."""
        return NotificationDoc.objects(
            channel=Channel.INBOX.value,
            recipient__address=recipient,
            status=Status.DELIVERED.value,
            read_at=None,
        ).count()

    def mark_read(self, recipient: str, notification_id: str, at: datetime) -> Notification:
        """Mark one inbox message read (idempotent: the first reading time is kept)."""
        found = {
            "_id": notification_id,
            "channel": Channel.INBOX.value,
            "recipient.address": recipient,
            "status": Status.DELIVERED.value,
        }
        self._coll.update_one({**found, "read_at": None}, {"$set": {"read_at": at}})
        doc = NotificationDoc.objects(id=notification_id).exclude("outbox").first()
        if doc is None or self._coll.count_documents(found) == 0:
            raise NotFound("Messaggio non trovato nella casella.", notification_id=notification_id)
        return _notification(doc)

    def cancel_pending(
        self, appointment_id: str, rules: tuple[str, ...], at: datetime, by_event: str
    ) -> int:
        """Cancel the pending messages of ``rules`` about an appointment (e.g. its reminder),
        except those ``by_event`` itself planned (a redelivered event must not undo itself).

        A pending message has a send-queue entry naming its appointment: they are found in that
        small collection and cancelled by ``_id`` (a filter on the messages would read them all
        on FerretDB). Entries queued before they named it are tried too until the sender's
        ``requeue_pending`` fills it in; the message's own fields decide.
        """
        entries = self._queue.find(
            {"$or": [{"appointment_id": appointment_id}, {"appointment_id": {"$exists": False}}]},
            {"_id": 1},
        )
        cancelled = 0
        for entry in list(entries):
            result = self._coll.update_one(
                {
                    "_id": entry["_id"],
                    "appointment_id": appointment_id,
                    "event_id": {"$ne": by_event},
                    "rule": {"$in": list(rules)},
                    "status": {"$in": [s.value for s in PENDING]},
                },
                {
                    "$set": {"status": Status.CANCELLED.value, "lease_until": None},
                    "$push": {"history": _history(Status.CANCELLED, at, "appuntamento cambiato")},
                },
            )
            if result.modified_count:
                self._queue.delete_one({"_id": entry["_id"]})
                cancelled += 1
        return cancelled

    def erase_tenant(self, tenant_id: str, case_ids: list[str], at: datetime) -> int:
        """Anonymise every message to the tenant or about their cases (GDPR erasure).

        Returns the messages touched; see :meth:`anonymise`.
        """
        return self.anonymise(self.messages_about_tenant(tenant_id, case_ids), at)

    def messages_about_tenant(self, tenant_id: str, case_ids: list[str]) -> Selection:
        """The messages to a tenant or about their cases: their ids, from their entries
        (``tenant_refs``), or the query on recipient and case until those are backfilled."""
        if self.refs.ready(tenant_id, *case_ids):
            ids = self.refs.refs(TO_TENANT, [tenant_id]) + self.refs.refs(ABOUT_CASE, case_ids)
            return list(dict.fromkeys(ids))
        return _about_tenant(tenant_id, case_ids)

    def messages_about_cases(self, case_ids: list[str]) -> Selection:
        """The messages about these cases (retention): their ids, from their entries, or the
        query on ``case_id`` until those are backfilled."""
        if self.refs.ready(*case_ids):
            return self.refs.refs(ABOUT_CASE, case_ids)
        return {"case_id": {"$in": case_ids}}

    def select(self, selection: Selection, projection: dict[str, Any]) -> list[dict[str, Any]]:
        """The messages of ``selection``: a query, or ids read by ``_id $in`` in chunks that
        FerretDB serves from its index (none at all for no ids: an empty ``$in``, like one
        of more than ``shared.id_lists.ID_CHUNK`` ids, would read every message there)."""
        if isinstance(selection, dict):
            return list(self._coll.find(selection, projection))
        return find_by_ids(self._coll, selection, projection)

    def anonymise(self, selection: Selection, at: datetime) -> int:
        """Anonymise the messages of ``selection`` (erasure, or a case past its retention).

        Texts and render contexts are emptied, a tenant's name and address removed, what was
        still to be sent is cancelled (an emptied message must not go out), and the subjects a
        digest kept of these messages are replaced. Idempotent. Returns the messages touched.
        """
        touched = self.select(selection, {"status": 1, "recipient": 1, "digest_id": 1})
        pending = {s.value for s in PENDING}
        digests: dict[str, set[str]] = {}
        for doc in touched:
            changes: dict[str, Any] = {"subject": "", "text": "", "html": "", "context": {}}
            if doc["recipient"].get("kind") == RecipientKind.TENANT.value:
                changes |= {"recipient.name": ANONYMOUS, "recipient.address": None}
            operations: dict[str, Any] = {"$set": changes}
            if doc.get("status") in pending:
                changes |= {"status": Status.CANCELLED.value, "lease_until": None}
                operations["$push"] = {
                    "history": _history(Status.CANCELLED, at, "dati anonimizzati")
                }
            self._coll.update_one({"_id": doc["_id"]}, operations)
            if doc.get("digest_id"):
                digests.setdefault(doc["digest_id"], set()).add(doc["_id"])
        if touched:
            self._queue.delete_many({"_id": {"$in": [d["_id"] for d in touched]}})
        for digest_id, item_ids in digests.items():
            digest = self._coll.find_one({"_id": digest_id}, {"items": 1}) or {}
            items = [
                {**item, "subject": ANONYMOUS} if item.get("id") in item_ids else item
                for item in digest.get("items") or []
            ]
            self._coll.update_one({"_id": digest_id}, {"$set": {"items": items}})
        return len(touched)

    def about_tenant(self, tenant_id: str, case_ids: list[str]) -> list[dict[str, Any]]:
        """Every message to the tenant or about their cases, as stored (the GDPR export)."""
        found = self.select(self.messages_about_tenant(tenant_id, case_ids), {"outbox": 0})
        for doc in found:
            doc["recipient"]["address"] = _decrypt(doc["recipient"].get("address"))
        return found

    def due(self, now: datetime, limit: int, passed: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Up to ``limit`` send-queue entries due at ``now``, earliest first, in one read.

        Due: waiting and due, or held by a sender whose lease has expired (it died mid-send).
        On FerretDB's SQLite backend this filter reads the whole (small) queue, so a sender reads
        a batch of entries at once and takes them together (``take_all``), instead of looking
        again for each message. The read only reads: an idle sender writes nothing. Entries in
        ``passed`` (found already this round and not taken) are left out.
        """
        due = _due(now) | ({"_id": {"$nin": list(passed)}} if passed else {})
        projection = {"lease_until": 1, "attempts": 1}
        return list(self._queue.find(due, projection).sort("due_at", 1).limit(limit))

    def take(self, entry: dict[str, Any], now: datetime, lease: timedelta) -> Notification | None:
        """Take the message of a due queue ``entry`` (from ``due``) for sending, recording the
        intent (status, attempt, lease); None if another sender took it since it was read, or
        it needs no sending any more.

        Both writes are by ``_id``, each guarded by what it expects to find: the entry as it was
        read, then a message still waiting to be sent.
        """
        as_read = {k: entry.get(k) for k in ("_id", "lease_until", "attempts")}
        held = self._queue.find_one_and_update(
            as_read,
            {"$set": {"lease_until": now + lease}, "$inc": {"attempts": 1}},
            return_document=ReturnDocument.AFTER,
        )
        if held is None:
            return None  # another sender took it first
        doc = self._coll.find_one_and_update(
            {"_id": held["_id"], "status": {"$in": sorted(CLAIMABLE)}},
            _sending(held, now, lease),
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:  # finished meanwhile, or not stored yet
            found = self._coll.find_one({"_id": held["_id"]}, {"status": 1})
            self._settle_entry(held, found, now)
            return None
        return _notification(NotificationDoc._from_son(doc))

    def take_all(
        self, entries: Sequence[dict[str, Any]], now: datetime, lease: timedelta
    ) -> list[Notification]:
        """``take`` for several due queue ``entries`` at once, in their order: four round trips
        whatever their number (``take`` costs two per message), so a sender with a batch due
        does not pay per message.

        The entries still due are held in one write, marked with a token of this take, and read
        back by it: those are this sender's (a due entry is one no sender holds, so the due
        filter guards as ``take``'s entry-as-read does; the token stays on the entry, unique to
        this take). Their messages are then taken in one
        bulk write, each guarded as in ``take``, and read back: a message not taken (finished
        meanwhile, or not stored yet) has its entry settled as ``take`` does.
        """
        if len(entries) < 2:
            return [n for e in entries if (n := self.take(e, now, lease)) is not None]
        ids = [e["_id"] for e in entries]
        token = uuid.uuid4().hex
        self._queue.update_many(
            {"_id": {"$in": ids}, **_due(now)},
            {"$set": {"lease_until": now + lease, "holder": token}, "$inc": {"attempts": 1}},
        )
        found = self._queue.find(
            {"_id": {"$in": ids}, "holder": token}, {"attempts": 1, "queued_at": 1}
        )
        held = {e["_id"]: e for e in found}
        if not held:
            return []
        self._coll.bulk_write(
            [
                UpdateOne({"_id": i, "status": {"$in": sorted(CLAIMABLE)}}, _sending(e, now, lease))
                for i, e in held.items()
            ],
            ordered=False,
        )
        found = self._coll.find({"_id": {"$in": list(held)}}, {"outbox": 0})
        docs = {d["_id"]: d for d in found}
        taken = []
        for i in ids:
            if i not in held:
                continue
            doc = docs.get(i)
            if doc is not None and (doc["status"], doc.get("attempts")) == (
                Status.SENDING.value,
                held[i]["attempts"],
            ):
                taken.append(_notification(NotificationDoc._from_son(doc)))
            else:
                self._settle_entry(held[i], doc, now)
        return taken

    def _settle_entry(
        self, entry: dict[str, Any], doc: dict[str, Any] | None, now: datetime
    ) -> None:
        """A queue entry just taken (``entry``, as held) whose message could not be taken: drop
        it if the message is finished (or never landed, after the grace), else give it back, due
        again at once with the attempt undone: the message was not stored yet when the sender
        looked (its insert follows the entry's), or was stored between the sender's two reads."""
        waiting = doc is not None and doc["status"] in CLAIMABLE
        landing = doc is None and _aware(entry.get("queued_at") or now) > now - QUEUE_GRACE
        held = {"_id": entry["_id"], "attempts": entry["attempts"]}
        if waiting or landing:
            self._queue.update_one(held, {"$set": {"lease_until": None}, "$inc": {"attempts": -1}})
            return
        self._queue.delete_one(held)

    def _finish(
        self,
        n: Notification,
        status: Status,
        at: datetime,
        detail: str,
        extra: dict[str, Any] | None = None,
        event_type: str | None = None,
    ) -> bool:
        """Record a send's result, guarded by the attempt that sent it; with its event."""
        update = _result(status, at, detail, extra)
        if event_type:
            # Hints the relay before the update that adds the event.
            _merge(
                update,
                self._outbox_updates({n.id: _delivery_event(n, event_type, at, detail)})[n.id],
            )
        # The guard: only the attempt that holds the message records a result (a sender whose
        # lease expired while another took the message over must not overwrite its outcome; a
        # hint written for a refused event is dropped by the relay after its grace).
        result = self._coll.update_one(_holding(n), update)
        if not result.matched_count:
            return False
        # The entry too, as long as this attempt holds it.
        entry = {"_id": n.id, "attempts": n.attempts}
        if status == Status.RETRY:
            due = (extra or {})["due_at"]
            self._queue.update_one(entry, {"$set": {"due_at": due, "lease_until": None}})
        else:
            self._queue.delete_one(entry)
        return True

    def record_delivered_all(self, sent: Sequence[tuple[Notification, datetime, str]]) -> set[str]:
        """``record_delivered`` for several messages (each with the time the channel accepted it
        and its detail), in three round trips whatever their number; returns the ids recorded.

        Each result is guarded by its attempt, as one by one. When a guard refuses (a lease lost
        meanwhile: rare), the messages are read back to tell which were recorded.
        """
        if not sent:
            return set()
        outbox = self._outbox_updates(
            {n.id: _delivery_event(n, NOTIFICATION_DELIVERED, at, detail) for n, at, detail in sent}
        )
        updates = []
        for n, at, detail in sent:
            update = _result(Status.DELIVERED, at, detail)
            updates.append(UpdateOne(_holding(n), _merge(update, outbox[n.id])))
        result = self._coll.bulk_write(updates, ordered=False)
        recorded = {n.id for n, _, _ in sent}
        if result.matched_count < len(sent):
            docs = self._coll.find({"_id": {"$in": sorted(recorded)}}, {"status": 1, "attempts": 1})
            mine = {n.id: n.attempts for n, _, _ in sent}
            recorded = {
                d["_id"]
                for d in docs
                if (d["status"], d.get("attempts")) == (Status.DELIVERED.value, mine[d["_id"]])
            }
        entries = [
            DeleteOne({"_id": n.id, "attempts": n.attempts}) for n, _, _ in sent if n.id in recorded
        ]
        if entries:
            self._queue.bulk_write(entries, ordered=False)
        return recorded

    def _outbox_updates(self, events: dict[str, Event]) -> dict[str, dict[str, Any]]:
        """Hint the relay of each message's delivery event (one insert); the operators that add
        each event to its message."""
        return outbox_updates(
            self.topic,
            {notification_id: [event] for notification_id, event in events.items()},
            db=NotificationDoc._get_db(),
            collection=NotificationDoc._meta["collection"],
        )

    def record_delivered(self, n: Notification, at: datetime, detail: str = "") -> bool:
        """The channel accepted the message."""
        return self._finish(n, Status.DELIVERED, at, detail, None, NOTIFICATION_DELIVERED)

    def record_retry(self, n: Notification, at: datetime, due: datetime, detail: str) -> bool:
        """A temporary failure: try again at ``due``."""
        return self._finish(n, Status.RETRY, at, detail, {"due_at": due, "reason": detail})

    def record_failed(self, n: Notification, at: datetime, reason: str) -> bool:
        """A permanent failure (or retries exhausted)."""
        return self._finish(n, Status.FAILED, at, reason, {"reason": reason}, NOTIFICATION_FAILED)

    def record_not_sent(self, n: Notification, at: datetime, reason: str) -> bool:
        """Not sent at all (e.g. the consent was withdrawn before the due time)."""
        return self._finish(
            n, Status.NOT_SENT, at, reason, {"reason": reason}, NOTIFICATION_NOT_SENT
        )

    def settle_digest_items(self, digest_id: str, at: datetime) -> None:
        """The digest went out: the messages it carried are delivered too.

        Each is written by ``_id``, from the digest's list of items (a filter on ``digest_id``
        would read every message on FerretDB).
        """
        digest = self._coll.find_one({"_id": digest_id}, {"items.id": 1}) or {}
        for item in digest.get("items") or []:
            self._coll.update_one(
                {"_id": item.get("id"), "digest_id": digest_id, "status": Status.IN_DIGEST.value},
                {
                    "$set": {"status": Status.DELIVERED.value},
                    "$push": {
                        "history": _history(Status.DELIVERED, at, f"nel riepilogo {digest_id}")
                    },
                },
            )


def _due(now: datetime) -> dict[str, Any]:
    """The filter of the send-queue entries due at ``now``: waiting and due, or held by a
    sender whose lease has expired (it died mid-send)."""
    return {
        "$or": [
            {"lease_until": None, "due_at": {"$lte": now}},
            {"lease_until": {"$lte": now}},
        ]
    }


def _sending(entry: dict[str, Any], now: datetime, lease: timedelta) -> dict[str, Any]:
    """The update taking a message for sending by the attempt that holds its queue ``entry``."""
    return {
        "$set": {
            "status": Status.SENDING.value,
            "lease_until": now + lease,
            # The attempt that holds the message: only it records the result.
            "attempts": entry["attempts"],
        },
        "$push": {"history": _history(Status.SENDING, now, "")},
    }


def _holding(n: Notification) -> dict[str, Any]:
    """The filter that finds ``n`` only while the attempt that took it still holds it."""
    return {"_id": n.id, "attempts": n.attempts, "status": Status.SENDING.value}


def _result(
    status: Status, at: datetime, detail: str, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The update recording a send's result."""
    return {
        "$set": {"status": status.value, "lease_until": None, **(extra or {})},
        "$push": {"history": _history(status, at, detail)},
    }


def _merge(update: dict[str, Any], outbox: dict[str, Any]) -> dict[str, Any]:
    """``update`` with the outbox operators (``shared.outbox.outbox_update``) merged in."""
    update["$push"]["outbox"] = outbox["$push"]["outbox"]
    update["$inc"] = outbox["$inc"]
    return update


def _queue_entry(
    notification_id: str,
    due_at: datetime,
    created_at: datetime,
    appointment_id: str | None,
) -> dict[str, Any]:
    """A message's entry in the send queue (``NotificationRepository._queue``)."""
    return {
        "_id": notification_id,
        "due_at": due_at,
        "lease_until": None,
        "attempts": 0,
        "queued_at": created_at,
        # What ``cancel_pending`` looks for: an appointment's pending messages.
        "appointment_id": appointment_id,
    }


def _delivery_event(n: Notification, event_type: str, at: datetime, reason: str) -> Event:
    """The event telling other services what became of ``n``."""
    return make_event(
        event_type,
        n.case_id or n.id,
        {
            "notification_id": n.id,
            "case_id": n.case_id,
            "cause_event_id": n.event_id,
            "recipient_kind": n.recipient.kind.value,
            "channel": n.channel.value,
            "at": at.isoformat(),
            "reason": reason or None,
        },
    )


def _new_document(n: Notification) -> NotificationDoc:
    """The document that records ``n`` for the first time (its history starts with its status)."""
    doc = _document(n)
    doc.history = [_history(n.status, n.created_at, n.reason or "")]
    return doc


def _document(n: Notification) -> NotificationDoc:
    r = n.recipient
    return NotificationDoc(
        id=n.id,
        event_id=n.event_id,
        event_type=n.event_type,
        rule=n.rule,
        case_id=n.case_id,
        recipient=RecipientDoc(
            kind=r.kind.value, name=r.name, address=_stored_address(n), ref=r.ref
        ),
        channel=n.channel.value,
        template=n.template,
        language=n.language,
        status=n.status.value,
        subject=n.subject,
        text=n.text,
        html=n.html,
        reason=n.reason,
        attempts=n.attempts,
        fallbacks=list(n.fallbacks),
        appointment_id=n.appointment_id,
        building_id=n.building_id,
        digest_id=n.digest_id,
        task=n.task,
        read_at=n.read_at,
        lease_until=None,
        due_at=n.due_at,
        created_at=n.created_at,
        context=n.context,
        items=[],
    )


def _consents_of(tenant_id: str) -> dict[str, Any]:
    """A tenant's consents: their ``_id``s are ``<tenant>|<channel>``, a range FerretDB serves
    from its index (``|`` then ``}`` in ASCII); the query on ``tenant_id`` for an id that could
    not bound one."""
    if not listable(tenant_id):
        return {"tenant_id": tenant_id}
    return {"_id": {"$gte": f"{tenant_id}|", "$lt": f"{tenant_id}}}"}}


def _message_refs(n: Notification) -> list[dict[str, Any]]:
    """The ``tenant_refs`` entries of message ``n``."""
    recipient = {"kind": n.recipient.kind.value, "ref": n.recipient.ref}
    return message_refs({"_id": n.id, "case_id": n.case_id, "recipient": recipient})


def _about_tenant(tenant_id: str, case_ids: list[str]) -> dict[str, Any]:
    """The messages to a tenant or about their cases (erasure and export read the same)."""
    return {
        "$or": [
            {"recipient.kind": RecipientKind.TENANT.value, "recipient.ref": tenant_id},
            {"case_id": {"$in": case_ids}},
        ]
    }


def _encrypt(value: str | None) -> str | None:
    """``value`` encrypted with notifications' key (for writes that bypass the documents)."""
    return cipher_for(ALIAS).encrypt(value) if value else value


def _decrypt(value: str | None) -> str | None:
    """A stored value in clear (plaintext, e.g. an inbox id, passes through)."""
    return cipher_for(ALIAS).decrypt(value) if value else value


def _stored_address(n: Notification) -> str | None:
    """Email addresses and phone numbers are personal: encrypted. An inbox id is a staff id that
    inboxes are looked up by: in clear."""
    address = n.recipient.address
    return address if n.channel == Channel.INBOX else _encrypt(address)


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _notification(doc: NotificationDoc) -> Notification:
    r = doc.recipient
    n = Notification(
        id=doc.id,
        event_id=doc.event_id,
        event_type=doc.event_type,
        rule=doc.rule,
        case_id=doc.case_id,
        recipient=Recipient(RecipientKind(r.kind), r.name, _decrypt(r.address), r.ref),
        channel=Channel(doc.channel),
        template=doc.template,
        created_at=_aware(doc.created_at),  # type: ignore[arg-type]
        due_at=_aware(doc.due_at),  # type: ignore[arg-type]
        status=Status(doc.status),
        language=doc.language,
        subject=doc.subject or "",
        text=doc.text or "",
        html=doc.html or "",
        reason=doc.reason,
        attempts=doc.attempts or 0,
        fallbacks=list(doc.fallbacks or []),
        appointment_id=doc.appointment_id,
        building_id=doc.building_id,
        digest_id=doc.digest_id,
        task=bool(doc.task),
        read_at=_aware(doc.read_at),
        history=[
            HistoryEntry(Status(h["status"]), _aware(h["at"]), h.get("detail", ""))  # type: ignore[arg-type]
            for h in doc.history or []
        ],
        context=dict(doc.context or {}),
    )
    n.context["items"] = list(doc.items or [])
    return n


class TenantRepository:
    """Tenants and their consents, applied idempotently and in order."""

    def apply_snapshot(self, data: dict[str, Any]) -> bool:
        """Store a tenant snapshot unless a newer ``version`` is stored; apply its consents."""
        fields = {
            "version": data["version"],
            "building_id": data.get("building_id"),
            "apartment": data.get("apartment"),
            "first_name": data["first_name"],
            "last_name": data["last_name"],
            "phone": _encrypt(data.get("phone")),
            "email": _encrypt(data.get("email")),
            "preferred_language": data.get("preferred_language") or "it",
        }
        applied = True
        try:
            TenantDoc._get_collection().update_one(
                {"_id": data["tenant_id"], "version": {"$lt": data["version"]}},
                {"$set": fields},
                upsert=True,
            )
        except DuplicateKeyError:
            applied = False  # a newer (or the same) version is already stored
        for consent in data.get("consents") or []:
            self.apply_consent(data["tenant_id"], consent)
        return applied

    def apply_consent(self, tenant_id: str, consent: dict[str, Any]) -> None:
        """Keep the latest decision per channel (by ``recorded_at``)."""
        # A stored decision that is newer (or the same) makes the upsert collide: keep it.
        with contextlib.suppress(DuplicateKeyError):
            ConsentDoc._get_collection().update_one(
                {
                    "_id": f"{tenant_id}|{consent['channel']}",
                    "recorded_at": {"$lt": consent["recorded_at"]},
                },
                {
                    "$set": {
                        "tenant_id": tenant_id,
                        "channel": consent["channel"],
                        "granted": consent["granted"],
                        "recorded_by": consent["recorded_by"],
                        "recorded_at": consent["recorded_at"],
                    }
                },
                upsert=True,
            )

    def get(self, tenant_id: str) -> Tenant | None:
        """A tenant with their consents, if notifications has heard of them."""
        doc = TenantDoc.objects(id=tenant_id).first()
        if doc is None:
            return None
        # One read by ``_id`` per channel (a filter on ``tenant_id`` reads every consent on
        # FerretDB).
        found = (ConsentDoc.objects(id=f"{tenant_id}|{ch}").first() for ch in CONSENT_CHANNELS)
        consents = {
            c.channel: Consent(c.channel, c.granted, c.recorded_by, _aware(c.recorded_at))  # type: ignore[arg-type]
            for c in found
            if c is not None
        }
        return Tenant(
            tenant_id=doc.id,
            version=doc.version,
            building_id=doc.building_id,
            first_name=doc.first_name,
            last_name=doc.last_name,
            apartment=doc.apartment,
            phone=doc.phone,
            email=doc.email,
            preferred_language=doc.preferred_language or "it",
            consents=consents,
        )

    def erase(self, tenant_id: str) -> int:
        """Forget the tenant's contacts and consents (GDPR erasure); returns documents removed."""
        removed = TenantDoc._get_collection().delete_one({"_id": tenant_id}).deleted_count
        consents = ConsentDoc._get_collection().delete_many(_consents_of(tenant_id))
        return removed + consents.deleted_count

    def held(self, tenant_id: str) -> dict[str, Any]:
        """The tenant's contact data and consents as stored (the GDPR export)."""
        tenant = TenantDoc._get_collection().find_one({"_id": tenant_id})
        if tenant is not None:
            tenant |= {
                "phone": _decrypt(tenant.get("phone")),
                "email": _decrypt(tenant.get("email")),
            }
        return {
            "tenant": tenant,
            "consents": list(ConsentDoc._get_collection().find(_consents_of(tenant_id))),
        }


class CaseRepository:
    """Case id → tenant, building, operator, urgency."""

    def __init__(self) -> None:
        self.refs = TenantRefs()

    def record(self, data: dict[str, Any]) -> SimpleNamespace | None:
        """From ``case.opened``, once: returns the case if this call stored it, None if it was
        there already (a redelivery must not link an erased tenant to the case again)."""
        doc = _case_document(data)
        self.refs.add(case_refs(doc))  # before the case: a stored case can be found
        try:
            CaseDoc._get_collection().insert_one(doc)
        except DuplicateKeyError:
            self._drop_stale_refs([doc])
            return None
        return self.described(data)

    def record_all(self, opened: Sequence[dict[str, Any]]) -> None:
        """``record`` for a run of ``case.opened``, in one write."""
        docs = [_case_document(data) for data in opened]
        self.refs.add(e for doc in docs for e in case_refs(doc))
        inserted = {d["_id"] for d in insert_new(CaseDoc._get_collection(), docs)}
        self._drop_stale_refs([d for d in docs if d["_id"] not in inserted])

    def _drop_stale_refs(self, redelivered: list[dict[str, Any]]) -> None:
        """A redelivered ``case.opened`` wrote the entry linking its case to the tenant before
        it found the case stored: when the stored case no longer names that tenant (erased,
        unlinked), the entry goes again."""
        if not redelivered:
            return
        ids = [d["_id"] for d in redelivered]
        stored = find_by_ids(CaseDoc._get_collection(), ids, {"tenant_id": 1})
        linked = {(d["_id"], d.get("tenant_id")) for d in stored}
        stale = [
            e for d in redelivered if (d["_id"], d["tenant_id"]) not in linked for e in case_refs(d)
        ]
        if stale:
            self.refs.collection.delete_many({"_id": {"$in": [e["_id"] for e in stale]}})

    @staticmethod
    def described(opened: dict[str, Any]) -> SimpleNamespace:
        """The case as a ``case.opened``'s data describes it (what ``record`` stores)."""
        return mongo.hydrate(CaseDoc, _case_document(opened))

    def ids_of_tenant(self, tenant_id: str) -> list[str]:
        """The tenant's cases notifications has heard of: from their entries (``tenant_refs``),
        or the query on ``tenant_id`` until those are backfilled. An erasure interrupted after
        it unlinked the cases, before it dropped their entries, still finds them here."""
        if self.refs.ready(tenant_id):
            return self.refs.refs(CASE_OF, [tenant_id])
        return [
            d["_id"] for d in CaseDoc._get_collection().find({"tenant_id": tenant_id}, {"_id": 1})
        ]

    def unlink(self, tenant_id: str, case_ids: list[str]) -> None:
        """The cases stay (for the statistics), without the link to their erased tenant; then
        their entries under the tenant go."""
        if case_ids:
            CaseDoc._get_collection().update_many(
                {"_id": {"$in": case_ids}}, {"$set": {"tenant_id": ANONYMOUS}}
            )
            self.refs.unlink_cases(tenant_id, case_ids)

    def get(self, case_id: str | None) -> SimpleNamespace | None:
        """The case, if notifications has heard of it."""
        return mongo.read_one(CaseDoc, case_id)


def _case_document(opened: dict[str, Any]) -> dict[str, Any]:
    """The case read model of a ``case.opened``'s data."""
    return {
        "_id": opened["case_id"],
        "tenant_id": opened["tenant_id"],
        "building_id": opened["building"]["id"],
        "opened_by": opened["opened_by"],
        "urgent": bool(opened.get("urgent")),
    }


class BuildingRepository:
    """Buildings and their custodi sociali, as the latest event described them."""

    def record(self, building: dict[str, Any]) -> SimpleNamespace:
        """Store a building snapshot unless the stored one is the same ``version`` or newer, and
        return the snapshot now current: this one, or the stored one that is newer.

        Snapshots come from ``building.updated`` and from the events that carry the building
        (``case.opened``…), on different partitions: a late one must not bring back a custode
        who was replaced. A snapshot without a version (published before versions existed) is
        older than any versioned one; it still refreshes a building stored without a version.
        The stored snapshot is read first because nearly every snapshot is one already stored:
        a read is cheaper than a write refused by the version filter.
        """
        return self._record(building, self.get(building["id"]))

    def stored(self, ids: Sequence[str]) -> dict[str, SimpleNamespace]:
        """The stored buildings among ``ids``, by id, in one read."""
        return {doc.id: doc for doc in mongo.read_by_id(BuildingDoc, list(dict.fromkeys(ids)))}

    def record_all(
        self, buildings: Sequence[dict[str, Any]], stored: dict[str, SimpleNamespace]
    ) -> None:
        """``record`` each snapshot in turn, the stored buildings having been read beforehand
        (``stored``): a run of ``case.opened`` in bulk writes only the snapshots that are newer."""
        current = dict(stored)
        for building in buildings:
            current[building["id"]] = self._record(building, current.get(building["id"]))

    @staticmethod
    def after(building: dict[str, Any], stored: SimpleNamespace | None) -> SimpleNamespace:
        """The building as it stands once the snapshot ``building`` is recorded over ``stored``:
        ``stored`` if it is the same version or newer, else the snapshot."""
        version = building.get("version") or 0
        if stored is not None and stored.version and stored.version >= version:
            return stored
        return mongo.hydrate(BuildingDoc, {"_id": building["id"], **_building_fields(building)})

    def _record(self, building: dict[str, Any], stored: SimpleNamespace | None) -> SimpleNamespace:
        current = self.after(building, stored)
        if current is stored:
            return current
        # The filter keeps the write safe against another worker storing a newer one meanwhile.
        version = building.get("version") or 0
        older = [{"version": {"$exists": False}}, {"version": {"$lt": version}}]
        fields = _building_fields(building)
        if not version:
            del fields["version"]  # a snapshot from before versions: the stored one has none
        try:
            BuildingDoc._get_collection().update_one(
                {"_id": building["id"], "$or": older}, {"$set": fields}, upsert=True
            )
        except DuplicateKeyError:
            return self.get(building["id"]) or current
        return current

    def get(self, building_id: str | None) -> SimpleNamespace | None:
        """The building, if known."""
        return mongo.read_one(BuildingDoc, building_id)

    def custodians(self, building_id: str | None) -> list[Custodian]:
        """The custodi sociali of a building (none if unknown)."""
        doc = self.get(building_id)
        return custodians_of(doc) if doc else []


def _building_fields(building: dict[str, Any]) -> dict[str, Any]:
    """The read model's fields of a building snapshot (``version`` None: from before versions)."""
    return {
        "name": building["name"],
        "address": building.get("address", ""),
        "custodians": [
            {k: c.get(k) for k in ("name", "email", "phone", "channel")}
            for c in building.get("custodians") or []
        ],
        "version": building.get("version") or None,
    }


def custodians_of(building: SimpleNamespace) -> list[Custodian]:
    """The custodi sociali of a stored building (``BuildingRepository.record`` or ``get``)."""
    return [
        Custodian(c["name"], c.get("channel") or "email", c.get("email"), c.get("phone"))
        for c in building.custodians or []
    ]


class PreferenceRepository:
    """Custodians' choice between immediate messages and a daily digest."""

    def set(self, name: str, mode: str, by: str, at: datetime) -> None:
        """Record a custodian's choice."""
        CustodianPreferenceDoc._get_collection().update_one(
            {"_id": name},
            {"$set": {"mode": mode, "updated_by": by, "updated_at": at}},
            upsert=True,
        )

    def modes(self, names: Sequence[str]) -> dict[str, str]:
        """Each custodian's choice, in one read: ``immediato`` (the default) or ``riepilogo``."""
        chosen = {doc.id: doc.mode for doc in mongo.read_by_id(CustodianPreferenceDoc, names)}
        return {name: chosen.get(name, "immediato") for name in names}
