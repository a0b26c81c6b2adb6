"""A tenant's appointments, as small entries addressed by ``_id`` (``appointment_refs``).

A tenant's erasure and export read the appointments naming the tenant. On FerretDB's SQLite
backend the query ``{tenant_ids: <tenant>}`` reads and decodes every appointment (it serves only
``_id`` from an index), so each tenant of an appointment has an entry ``t:<tenant>:<appointment>``,
and a tenant's appointments are the ``_id`` range ``t:<tenant>:`` .. ``t:<tenant>;``.

An entry is written *before* each write of its appointment, for every tenant the appointment
names then: an appointment stored is always found. An entry can outlive its reason (a write
that failed after it, a tenant taken out of a group session, an erasure): readers keep only the
appointments that still name the tenant. The appointments stored before the entries existed get
theirs once per database (``backfill``, intake's worker at start); until then the query.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pymongo.collection import Collection

from services.intake.adapters.documents import (
    BACKFILLS,
    IntakeAppointmentDoc,
    IntakeAppointmentRefDoc,
)
from shared.id_lists import Backfills, batches, find_by_ids, insert_new, listable, span
from shared.privacy import ANONYMOUS

BACKFILL_MARK = IntakeAppointmentRefDoc._meta["collection"]
BATCH = 500


def entry_docs(appointment_id: str, tenant_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The entries of an appointment naming ``tenant_ids`` (none for an id that cannot name a
    list, nor for the anonymous tenant)."""
    return [
        {"_id": f"t:{t}:{appointment_id}", "appointment_id": appointment_id}
        for t in tenant_ids
        if listable(t) and t != ANONYMOUS
    ]


class AppointmentRefs:
    """intake's entries of a tenant's appointments."""

    def __init__(self) -> None:
        self.backfills = Backfills(lambda: self.collection.database[BACKFILLS], [BACKFILL_MARK])

    @property
    def collection(self) -> Collection:
        """The entries' collection, on intake's connection."""
        return IntakeAppointmentRefDoc._get_collection()

    def add(self, appointment_id: str, tenant_ids: Iterable[str]) -> None:
        """The entries of an appointment about to be written (those already there stay)."""
        insert_new(self.collection, entry_docs(appointment_id, tenant_ids))

    def ids(self, tenant_id: str) -> list[str] | None:
        """The ids the tenant's entries name (some may no longer name the tenant: readers
        check), or None until the entries are backfilled, or for an id that cannot name a
        list: then the query on ``tenant_ids``."""
        if not (listable(tenant_id) and tenant_id != ANONYMOUS and self.backfills.done()):
            return None
        return [e["appointment_id"] for e in self.collection.find(span(f"t:{tenant_id}"))]

    def of_tenant(self, tenant_id: str, projection: dict[str, Any]) -> list[dict[str, Any]]:
        """The stored appointments naming ``tenant_id``, as raw documents (``projection`` must
        keep ``tenant_ids``): from the tenant's entries once backfilled, else the query."""
        appointments = IntakeAppointmentDoc._get_collection()
        ids = self.ids(tenant_id)
        if ids is None:
            return list(appointments.find({"tenant_ids": tenant_id}, projection))
        found = find_by_ids(appointments, ids, projection)
        return [d for d in found if tenant_id in (d.get("tenant_ids") or [])]

    def forget(self, tenant_id: str, appointment_id: str) -> None:
        """Drop the tenant's entry of an appointment (after the tenant left it: erasure)."""
        self.collection.delete_one({"_id": f"t:{tenant_id}:{appointment_id}"})

    def backfill(self, now: datetime) -> int | None:
        """Once per database (intake's worker, at start): the entries of every stored
        appointment. Returns how many it went through, None when it was done already."""
        if self.backfills.done():
            return None
        seen = 0
        stored = IntakeAppointmentDoc._get_collection().find({}, {"tenant_ids": 1})
        for batch in batches(stored, BATCH):
            docs = [e for d in batch for e in entry_docs(d["_id"], d.get("tenant_ids") or [])]
            insert_new(self.collection, docs)
            seen += len(batch)
        self.backfills.mark_done(now)
        return seen
