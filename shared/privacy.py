"""GDPR plumbing every service shares: erasure records with their confirmation, event history purge.

Erasure (art. 17) travels by events: intake anonymises what it holds and publishes
``intake.tenant.erasure_requested``; casework and notifications anonymise theirs and each publishes
its confirmation (``<service>.tenant.erased``), which intake records. In every service the record of
an erasure is one document in its ``erasures`` collection (``_id`` = the tenant id), stored with its
event in the same write (the embedded outbox), so a confirmation exists if and only if the work
before it was done. The record also stops later events from bringing the tenant back: a service
checks :func:`erased` before building anything about a tenant.

Published outbox records are the event history of an aggregate; they hold the personal data the
events carried, so erasure purges them (:func:`purge_published_events`) and keeps only what is
still waiting to be sent.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import flask_smorest
from flask.views import MethodView
from marshmallow import Schema, fields
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from shared import audit, crypto
from shared.auth import allow
from shared.events import Event
from shared.outbox import HINTS, outbox_record, write_hints

ANONYMOUS = "anonimizzato"
ERASURES = "erasures"


# The state of an erasure begun and not finished (``begin_erasure``); a finished record has none.
ERASING = "in_corso"


def erased(db: Database, tenant_id: str) -> dict[str, Any] | None:
    """This service's erasure record of ``tenant_id``, if the tenant asked to be erased (also
    while the erasure is under way: see ``begin_erasure``)."""
    return db[ERASURES].find_one({"_id": tenant_id}, {"outbox": 0})


def finished(record: Mapping[str, Any] | None) -> bool:
    """Whether ``record`` (from ``erased``) is a finished erasure, confirmed."""
    return record is not None and record.get("state") != ERASING


def begin_erasure(db: Database, tenant_id: str, erasure_id: str, at: datetime) -> None:
    """Record that ``tenant_id`` is being erased, before the work starts (idempotent).

    From then on ``erased`` reports the tenant, so whatever about them a concurrent consumer
    stores meanwhile (a ``case.opened`` on another partition) is erased when it arrives: it
    checks after its own write, and this mark is there before the erasure looks for the data to
    erase. ``record_erasure`` finishes the record.
    """
    with contextlib.suppress(DuplicateKeyError):
        db[ERASURES].insert_one(
            {"_id": tenant_id, "erasure_id": erasure_id, "state": ERASING, "begun_at": at}
        )


def erased_among(db: Database, tenant_ids: Iterable[str]) -> set[str]:
    """Which of ``tenant_ids`` this service has an erasure record of (one read)."""
    ids = sorted(set(tenant_ids))
    if not ids:
        return set()
    return {d["_id"] for d in db[ERASURES].find({"_id": {"$in": ids}}, {"_id": 1})}


def record_erasure(
    db: Database,
    *,
    tenant_id: str,
    record: Mapping[str, Any],
    topic: str,
    event: Event,
    cipher: crypto.FieldCipher | None = None,
) -> bool:
    """Store the erasure ``record`` of ``tenant_id`` with ``event``, once; False if already there.

    The event is hinted first (see ``shared.outbox``): if the record already exists its hint
    finds no event and the relay drops it after the grace period.
    """
    existing = erased(db, tenant_id)
    if finished(existing):
        return False
    outbox = [outbox_record(topic, event, cipher)]
    write_hints(db, ERASURES, tenant_id, outbox)
    if existing is not None:  # begun (``begin_erasure``): finish that record
        result = db[ERASURES].update_one(
            {"_id": tenant_id, "state": ERASING},
            {"$set": {**record, "outbox": outbox, "outbox_seq": 1}, "$unset": {"state": ""}},
        )
        return bool(result.modified_count)
    try:
        db[ERASURES].insert_one({**record, "_id": tenant_id, "outbox": outbox, "outbox_seq": 1})
    except DuplicateKeyError:
        return False
    return True


def purge_published_events(
    db: Database, collection: str, query: Mapping[str, Any], fields: tuple[str, ...] = ("outbox",)
) -> int:
    """Drop the already-published records of ``fields`` in the documents matching ``query``.

    Records still hinted (not yet sent) stay: erasure must not lose an event on its way. Each
    document is rewritten only if its ``outbox_seq`` did not move since it was read (a concurrent
    append is never overwritten; the next erasure pass purges what it added). Returns the number
    of records dropped.
    """
    pending = {h["_id"] for h in db[HINTS].find({"collection": collection}, {"_id": 1})}
    dropped = 0
    projection = {name: 1 for name in fields} | {"outbox_seq": 1}
    for doc in db[collection].find(dict(query), projection):
        kept = {name: [r for r in doc.get(name) or [] if r.get("id") in pending] for name in fields}
        removed = sum(len(doc.get(name) or []) - len(kept[name]) for name in fields)
        if not removed:
            continue
        guard = {"_id": doc["_id"], "outbox_seq": doc.get("outbox_seq")}
        if db[collection].update_one(guard, {"$set": kept}).matched_count:
            dropped += removed
    return dropped


def jsonable(value: Any) -> Any:
    """``value`` with datetimes and dates as ISO text and Mongo ``_id`` as ``id`` (for exports)."""
    if isinstance(value, Mapping):
        return {("id" if k == "_id" else k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


# --- the tenant's export (GDPR art. 15 and 20), one part per service ---


class TenantExportSchema(Schema):
    """What one service holds about a tenant; the web joins the three parts into one document."""

    service = fields.String(required=True)
    tenant_id = fields.String(required=True)
    generated_at = fields.AwareDateTime(required=True)
    data = fields.Dict(
        required=True, metadata={"description": "Ogni documento del servizio sull'inquilino."}
    )
    accesses = fields.List(
        fields.Dict(), required=True, metadata={"description": "Chi ha letto o modificato i dati."}
    )


def privacy_blueprint(
    service: str, database: Callable[[], Database], collect: Callable[[str], dict[str, Any]]
) -> flask_smorest.Blueprint:
    """The ``/api/v1/privacy`` blueprint of ``service``: the admin's export of one tenant.

    ``collect(tenant_id)`` returns everything the service holds about the tenant (decrypted);
    the export adds the service's erasure record and the audit trail of the tenant's data.
    """
    blueprint = flask_smorest.Blueprint(
        "privacy",
        f"{__name__}.{service}",
        url_prefix="/api/v1/privacy",
        description="Diritti dell'interessato (GDPR): esportazione e cancellazione dei dati.",
    )

    @blueprint.route("/tenants/<tenant_id>/export")
    class TenantExport(MethodView):
        @allow("admin")
        @blueprint.response(200, TenantExportSchema)
        def get(self, tenant_id: str) -> Any:
            """Everything this service holds about a tenant, as one JSON document."""
            db = database()
            data = collect(tenant_id)
            data["erasure"] = jsonable(erased(db, tenant_id))
            accesses, _ = audit.entries(db, subject=f"tenant:{tenant_id}", limit=1000)
            return {
                "service": service,
                "tenant_id": tenant_id,
                "generated_at": datetime.now(UTC),
                "data": jsonable(data),
                "accesses": jsonable(accesses),
            }

    return blueprint
