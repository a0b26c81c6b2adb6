"""What intake's GDPR erasure does to its store: anonymise a tenant, their cases, appointments and
idempotency records, and keep the erasure request with the confirmations of every service.

Plain pymongo on purpose: anonymisation rewrites fields in place, by ``_id`` (FerretDB serves only
that from an index), and each step is idempotent, so an interrupted erasure is finished by asking
again.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pymongo.database import Database

from services.intake.adapters import case_lists
from services.intake.adapters.appointment_refs import AppointmentRefs
from services.intake.adapters.case_lists import CaseListEntries
from services.intake.adapters.documents import (
    ALIAS,
    IntakeAppointmentDoc,
    IntakeCaseDoc,
    IntakeFiscalCodeClaimDoc,
    IntakeIdempotencyDoc,
    IntakeOpenCaseClaimDoc,
    IntakeTenantDoc,
)
from services.intake.adapters.tenant_lists import TenantListEntries
from services.intake.domain.identifiers import normalize_fiscal_code
from shared import id_lists, mongo, privacy
from shared.crypto import cipher_for
from shared.events import Event
from shared.privacy import ANONYMOUS

ANONYMOUS_NAME = "Anonimizzato"

# What an anonymised case keeps: building, counter, channel, needs, urgency, dates, status (the
# statistics). What it loses: the link to the tenant and everything about the household.
CASE_ERASED_FIELDS: dict[str, Any] = {
    "tenant_id": ANONYMOUS,
    "description": "",
    "disconnection_date": None,
    "hardship_signals": [],
    "bills": [],
    "isee_band": None,
    "receives_bonus_sociale": None,
}


def anonymous_fiscal_code(tenant_id: str) -> str:
    """A stand-in codice fiscale: unique per tenant (the index is unique), never a real one."""
    return "ANON" + hashlib.sha256(tenant_id.encode()).hexdigest()[:12].upper()


class PrivacyStore:
    """intake's erasure records and the anonymising writes."""

    def __init__(self, topic: str) -> None:
        self.topic = topic

    @property
    def db(self) -> Database:
        """intake's database."""
        return mongo.database(ALIAS)

    def erasure(self, tenant_id: str) -> dict[str, Any] | None:
        """The erasure request of ``tenant_id``, if any."""
        return privacy.erased(self.db, tenant_id)

    def anonymise_cases(self, tenant_id: str) -> list[str]:
        """Anonymise the tenant's cases and purge their event history; returns their ids.

        The cases are found in the tenant's case list (``case_lists``), a range of small entries
        by ``_id``: the cases query reads every case on FerretDB, which at a million cases took
        longer than the store's 10 s call limit (the request answered 503). Until the lists are
        backfilled, and for an id that cannot name a list, the query. Each entry goes after its
        case is anonymised, so an erasure interrupted in between finds the case again when it
        is asked again.
        """
        lists = CaseListEntries()
        name = case_lists.list_for(tenant_id=tenant_id)
        if name is not None and lists.ready(name):
            entries = lists.entries(name)
            for entry_id, case_id in entries:
                self.anonymise_case(case_id)
                lists.collection.delete_one({"_id": entry_id})  # a stale one too
            ids = list(dict.fromkeys(case_id for _, case_id in entries))
        else:
            cases = self.db[IntakeCaseDoc._meta["collection"]]
            ids = [d["_id"] for d in cases.find({"tenant_id": tenant_id}, {"_id": 1})]
            for case_id in ids:
                self.anonymise_case(case_id)
        # The (tenant, need) claims of open cases name the tenant (``<tenant>:<need>``): they go.
        claims = self.db[IntakeOpenCaseClaimDoc._meta["collection"]]
        claims.delete_many(id_lists.span(tenant_id))
        return ids

    def anonymise_case(self, case_id: str) -> bool:
        """Anonymise one case (erasure or casework's retention); False if it is not here.

        The case first, then its entry in its tenant's list (named after the tenant, read
        before): interrupted in between, the entry is left behind and the case stays findable
        in the list; a later erasure of the tenant, or ``repair-case-lists``, drops the entry.
        """
        collection = IntakeCaseDoc._meta["collection"]
        doc = self.db[collection].find_one({"_id": case_id}, {"tenant_id": 1, "opened_at": 1})
        found = self.db[collection].update_one({"_id": case_id}, {"$set": CASE_ERASED_FIELDS})
        privacy.purge_published_events(self.db, collection, {"_id": case_id})
        if doc is not None and doc.get("tenant_id") != ANONYMOUS:
            CaseListEntries().leave_tenant_list(case_id, doc["tenant_id"], doc["opened_at"])
        return bool(found.matched_count)

    def anonymise_appointments(self, tenant_id: str) -> int:
        """Take the tenant out of their appointments: notes, reasons and place go when the
        appointment was theirs alone; from a group session only their name goes."""
        collection = IntakeAppointmentDoc._meta["collection"]
        appointments = self.db[collection]
        refs = AppointmentRefs()
        touched = refs.of_tenant(tenant_id, {"tenant_ids": 1})
        for doc in touched:
            others = [t for t in doc["tenant_ids"] if t != tenant_id]
            changes: dict[str, Any] = {"tenant_ids": others}
            if not others:
                changes |= {"tenant_ids": [ANONYMOUS], "notes": "", "cancel_reason": None}
                changes["location"] = ""
            appointments.update_one({"_id": doc["_id"]}, {"$set": changes})
            privacy.purge_published_events(self.db, collection, {"_id": doc["_id"]})
            refs.forget(tenant_id, doc["_id"])  # after the write: interrupted, found again
        return len(touched)

    def anonymise_tenant(self, tenant_id: str) -> bool:
        """Replace the tenant's personal data; keeps building and household size (statistics)."""
        collection = IntakeTenantDoc._meta["collection"]
        self._free_fiscal_code(tenant_id)
        # Out of the lists under their name first (an entry's ``_id`` holds it): an interrupted
        # erasure, asked again, still finds the name here.
        before = self.db[collection].find_one(
            {"_id": tenant_id}, {"search_name": 1, "building_id": 1}
        )
        lists = TenantListEntries()
        if before is not None:
            lists.forget(before)
        found = self.db[collection].update_one(
            {"_id": tenant_id},
            {
                "$set": {
                    "first_name": ANONYMOUS_NAME,
                    "last_name": ANONYMOUS_NAME,
                    "search_name": ANONYMOUS,
                    # A stand-in, encrypted like any codice fiscale; its blind index is unique
                    # to the tenant, so the unique index holds and no search ever finds it.
                    "fiscal_code": cipher_for(ALIAS).encrypt(anonymous_fiscal_code(tenant_id)),
                    "fiscal_code_index": f"{ANONYMOUS}:{tenant_id}",
                    "apartment": None,
                    "phone": None,
                    "email": None,
                    "consents": [],
                }
            },
        )
        privacy.purge_published_events(self.db, collection, {"_id": tenant_id})
        lists.reconcile(tenant_id, None)  # under the anonymous name, as the tenants query has it
        return bool(found.matched_count)

    def _free_fiscal_code(self, tenant_id: str) -> None:
        """Drop the tenant's codice fiscale claims (by ``_id``: its blind index under every key),
        so the codice fiscale can be registered again and no claim links it to the tenant.

        Before the anonymisation, which forgets the codice fiscale: a retried erasure finds the
        stand-in and has nothing left to drop.
        """
        doc = self.db[IntakeTenantDoc._meta["collection"]].find_one(
            {"_id": tenant_id}, {"fiscal_code": 1}
        )
        if doc is None or not doc.get("fiscal_code"):
            return
        cipher = cipher_for(ALIAS)
        fiscal_code = normalize_fiscal_code(cipher.decrypt(doc["fiscal_code"]))
        claims = self.db[IntakeFiscalCodeClaimDoc._meta["collection"]]
        for key in cipher.blind_indexes(fiscal_code):
            claims.delete_one({"_id": key, "tenant_id": tenant_id})

    def drop_idempotent_answers(self, ids: list[str]) -> int:
        """Forget the stored first answers naming the tenant or their cases (they copy data)."""
        collection = self.db[IntakeIdempotencyDoc._meta["collection"]]
        doomed = [
            d["_id"]
            for d in collection.find({}, {"body": 1})
            if any(i in (d.get("body") or "") for i in ids)
        ]
        if doomed:
            collection.delete_many({"_id": {"$in": doomed}})
        return len(doomed)

    def record_erasure(self, tenant_id: str, record: dict[str, Any], event: Event) -> bool:
        """Store the erasure request with its event, once (False when it was already there)."""
        return privacy.record_erasure(
            self.db,
            tenant_id=tenant_id,
            record=record,
            topic=self.topic,
            event=event,
            cipher=cipher_for(ALIAS),
        )

    def confirm(self, tenant_id: str, service: str, at: datetime, records: int) -> bool:
        """Record ``service``'s confirmation of the erasure (idempotent)."""
        result = self.db[privacy.ERASURES].update_one(
            {"_id": tenant_id},
            {"$set": {f"confirmations.{service}": {"at": at, "records": records}}},
        )
        return bool(result.matched_count)
