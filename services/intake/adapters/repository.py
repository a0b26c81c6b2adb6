"""Repositories: turn intake's documents into domain objects and back.

Every write that changes an aggregate stores its events in the same document write (embedded
outbox): ``stage`` before an insert, ``outbox_update`` merged into an update.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any, Unpack

from mongoengine import Document
from mongoengine.errors import NotUniqueError
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError

from services.intake.adapters.appointment_refs import AppointmentRefs
from services.intake.adapters.case_lists import CaseFilters, CaseListEntries, list_for
from services.intake.adapters.documents import (
    ALIAS,
    BACKFILLS,
    IntakeAppointmentDoc,
    IntakeBillDoc,
    IntakeBuildingDoc,
    IntakeCaseDoc,
    IntakeConsentDoc,
    IntakeCounterDoc,
    IntakeCustodianDoc,
    IntakeFiscalCodeClaimDoc,
    IntakeIdempotencyDoc,
    IntakeOpenCaseClaimDoc,
    IntakeScheduleDoc,
    IntakeSlotClaimDoc,
    IntakeTenantDoc,
)
from services.intake.adapters.tenant_lists import TenantListEntries
from services.intake.adapters.tenant_lists import list_for as tenant_list_for
from services.intake.domain.identifiers import normalize_fiscal_code, search_key
from services.intake.domain.model import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    Bill,
    Building,
    Case,
    CaseStatus,
    Channel,
    Commodity,
    Consent,
    ConsentChannel,
    ContactChannel,
    Counter,
    CounterKind,
    Custodian,
    HardshipKind,
    HardshipSignal,
    IseeBand,
    Need,
    Schedule,
    Tenant,
)
from shared import id_lists, mongo
from shared.clock import now_utc
from shared.crypto import EncryptedStringField, FieldCipher, cipher_for
from shared.domain import Conflict
from shared.events import Event
from shared.outbox import OutboxDocument, outbox_update, stage
from shared.privacy import ANONYMOUS

FISCAL_CODE_CLAIMS = "fiscal_code_claims"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Page:
    """One page of a list and the total number of matches (None: more than
    ``id_lists.COUNT_CAP``, a list read from its entries)."""

    items: list[Any]
    total: int | None


class BuildingRepository:
    """Buildings in MongoDB; each change stores the building and its events together."""

    def __init__(self, topic: str) -> None:
        self.topic = topic

    def add(self, building: Building) -> None:
        """Insert a new building."""
        _building_doc(building).save(force_insert=True)

    def update(self, building: Building, previous_version: int, events: Iterable[Event]) -> None:
        """Store ``building`` if unchanged since ``previous_version`` (else ``Conflict``)."""
        fields = _building_doc(building).to_mongo().to_dict()
        fields.pop("_id")
        _guarded_update(
            IntakeBuildingDoc,
            self.topic,
            building.id,
            previous_version,
            fields,
            events,
            "L'edificio è stato modificato nel frattempo: ricaricare e riprovare.",
        )

    def get(self, building_id: str) -> Building | None:
        """The building with ``building_id``, if any."""
        doc = mongo.read_one(IntakeBuildingDoc, building_id)
        return _building(doc) if doc else None

    def list(
        self,
        municipio: int | None = None,
        limit: int = 100,
        offset: int = 0,
        ids: Sequence[str] | None = None,
    ) -> list[Building]:
        """Buildings sorted by name (in ``municipio`` and among ``ids``, when given)."""
        query = _buildings(municipio, ids).exclude("outbox")
        return [_building(d) for d in query.order_by("name").skip(offset).limit(limit)]

    def count(self, municipio: int | None = None, ids: Sequence[str] | None = None) -> int:
        """How many buildings there are (in ``municipio`` and among ``ids``, when given)."""
        return _buildings(municipio, ids).count()


class CounterRepository:
    """Counters in MongoDB; each change stores the counter and its events together."""

    def __init__(self, topic: str) -> None:
        self.topic = topic

    def add(self, counter: Counter) -> None:
        """Insert a new counter."""
        _counter_doc(counter).save(force_insert=True)

    def update(self, counter: Counter, previous_version: int, events: Iterable[Event]) -> None:
        """Store ``counter`` if unchanged since ``previous_version`` (else ``Conflict``)."""
        fields = _counter_doc(counter).to_mongo().to_dict()
        fields.pop("_id")
        _guarded_update(
            IntakeCounterDoc,
            self.topic,
            counter.id,
            previous_version,
            fields,
            events,
            "Lo sportello è stato modificato nel frattempo: ricaricare e riprovare.",
        )

    def get(self, counter_id: str) -> Counter | None:
        """The counter with ``counter_id``, if any."""
        doc = mongo.read_one(IntakeCounterDoc, counter_id)
        return _counter(doc) if doc else None

    def list(self, building_id: str | None, limit: int, offset: int) -> Page:
        """Counters sorted by name, optionally of one building."""
        query = (
            IntakeCounterDoc.objects(building_id=building_id)
            if building_id
            else IntakeCounterDoc.objects
        )
        query = query.exclude("outbox").order_by("name", "id")
        return Page([_counter(d) for d in query.skip(offset).limit(limit)], query.count())


class TenantRepository:
    """Tenants in MongoDB; each write stores the tenant and its events together.

    A codice fiscale is found through its claim (``fiscal_code_claims``, ``_id`` = its blind
    index), read by ``_id``: a filter on the tenants' ``fiscal_code_index`` would read every
    tenant on FerretDB. The claim is taken before the tenant is written, so it also keeps the
    codice fiscale unique under concurrent registrations.
    """

    def __init__(
        self,
        topic: str,
        claim_grace: timedelta = timedelta(seconds=60),
        clock: Callable[[], datetime] = now_utc,
        lists: TenantListEntries | None = None,
    ) -> None:
        self.topic = topic
        self.fiscal_codes = FiscalCodeLookup(claim_grace, clock)
        self.lists = lists or TenantListEntries()

    def add(self, tenant: Tenant, events: Iterable[Event]) -> None:
        """Insert a new tenant; ``Conflict`` when the codice fiscale is already registered."""
        fiscal_code = normalize_fiscal_code(tenant.fiscal_code)
        self._claim(fiscal_code, tenant.id)
        doc = IntakeTenantDoc(**_tenant_fields(tenant))
        stage(doc, self.topic, events, cipher_for(ALIAS))
        try:
            doc.save(force_insert=True)
        except NotUniqueError:
            # Indexed under the current key by a writer that took no claim (an older version).
            self.fiscal_codes.release_unless_held(fiscal_code, tenant.id)
            raise self._duplicate(self.fiscal_codes.holder(fiscal_code)) from None
        except Exception:
            self.fiscal_codes.release_unless_held(fiscal_code, tenant.id)
            raise
        self._reconcile(tenant.id, None)

    def _reconcile(self, tenant_id: str, before: dict[str, Any] | None) -> None:
        # After the tenant: it is stored whatever happens next, so a failure here must not fail
        # the write; its lists are stale until ``repair-tenant-lists``.
        try:
            self.lists.reconcile(tenant_id, before)
        except PyMongoError as exc:
            log.error("tenant %s stored without its list entries: %s", tenant_id, exc)

    def update(
        self,
        tenant: Tenant,
        previous_version: int,
        events: Iterable[Event],
        previous_fiscal_code: str | None = None,
    ) -> None:
        """Store ``tenant`` if nobody changed it since ``previous_version`` (else ``Conflict``).

        ``previous_fiscal_code``: the codice fiscale before this change; when it differs, the new
        one is claimed first and the old one given back after the write.
        """
        fiscal_code = normalize_fiscal_code(tenant.fiscal_code)
        before = normalize_fiscal_code(previous_fiscal_code or tenant.fiscal_code)
        moved = before != fiscal_code
        if moved:
            self._claim(fiscal_code, tenant.id)
        try:
            self._write(tenant, previous_version, events)
        except Exception:
            if moved:
                self.fiscal_codes.release_unless_held(fiscal_code, tenant.id)
            raise
        if moved:
            self.fiscal_codes.release(before, tenant.id)

    def _write(self, tenant: Tenant, previous_version: int, events: Iterable[Event]) -> None:
        collection = IntakeTenantDoc._get_collection()
        # What its lists hold now: the entries the write may leave behind.
        before = collection.find_one({"_id": tenant.id}, {"search_name": 1, "building_id": 1})
        fields = _encrypted(IntakeTenantDoc, _tenant_fields(tenant))
        fields.pop("id")
        fields["consents"] = [c.to_mongo().to_dict() for c in fields["consents"]]
        operations = outbox_update(
            self.topic,
            events,
            db=collection.database,
            collection=collection.name,
            doc_id=tenant.id,
            cipher=cipher_for(ALIAS),
        )
        operations["$set"] = fields
        try:
            result = collection.update_one(
                {"_id": tenant.id, "version": previous_version}, operations
            )
        except DuplicateKeyError:
            raise self._duplicate(self.fiscal_codes.holder(tenant.fiscal_code)) from None
        except OperationFailure as exc:
            # FerretDB reports a unique violation on update as a generic failure.
            if "UNIQUE constraint" not in str(exc):
                raise
            raise self._duplicate(self.fiscal_codes.holder(tenant.fiscal_code)) from None
        if not result.matched_count:
            raise Conflict(
                "L'inquilino è stato modificato nel frattempo: ricaricare e riprovare.",
                code="version_conflict",
                id=tenant.id,
            )
        self._reconcile(tenant.id, before)

    def _claim(self, fiscal_code: str, tenant_id: str) -> None:
        taken, holder = self.fiscal_codes.claim(fiscal_code, tenant_id)
        if not taken:
            raise self._duplicate(holder)

    @staticmethod
    def _duplicate(existing_id: str | None) -> Conflict:
        return Conflict(
            "Esiste già un inquilino con questo codice fiscale.",
            code="duplicate_tenant",
            existing_tenant_id=existing_id,
        )

    def get(self, tenant_id: str) -> Tenant | None:
        """The tenant with ``tenant_id``, if any."""
        doc = mongo.read_one(IntakeTenantDoc, tenant_id)
        return _tenant(doc) if doc else None

    def by_fiscal_code(self, fiscal_code: str) -> Tenant | None:
        """The tenant with this codice fiscale, if any (found through its claim)."""
        holder = self.fiscal_codes.holder(fiscal_code)
        return self.get(holder) if holder else None

    def search(
        self,
        *,
        name: str | None,
        fiscal_code: str | None,
        building_id: str | None,
        limit: int,
        offset: int,
    ) -> Page:
        """Tenants by name prefix (surname first), codice fiscale or building, sorted by name:
        from the tenant list entries when their backfill is done, else by the tenants query
        (``query``): the same page and total."""
        if fiscal_code:
            # At most one tenant: found by ``_id`` through its claim, the other filters checked
            # on it (a filter on the tenants would read them all on FerretDB).
            tenant = self.by_fiscal_code(fiscal_code)
            found = [
                t
                for t in ([tenant] if tenant else [])
                if (not building_id or t.building_id == building_id)
                and (not name or search_key(t.last_name, t.first_name).startswith(search_key(name)))
            ]
            return Page(found[offset : offset + limit], len(found))
        name_list = tenant_list_for(building_id)
        if name_list is None or not self.lists.ready():
            return self.query(name=name, building_id=building_id, limit=limit, offset=offset)
        ids, total = self.lists.page(name_list, search_key(name or ""), limit, offset)
        return Page([_tenant(doc) for doc in mongo.read_by_id(IntakeTenantDoc, ids)], total)

    def query(self, *, name: str | None, building_id: str | None, limit: int, offset: int) -> Page:
        """Tenants by name prefix and building, sorted by name, by a query on the tenants
        (FerretDB reads them all)."""
        criteria: dict[str, Any] = {}
        if building_id:
            criteria["building_id"] = building_id
        if name:
            # An anchored, case-sensitive prefix on the normalised name can use the index.
            criteria["search_name"] = {"$regex": "^" + re.escape(search_key(name))}
        query = (
            IntakeTenantDoc.objects(__raw__=criteria)
            .exclude("outbox")
            .order_by("search_name", "id")
        )
        return Page([_tenant(d) for d in query.skip(offset).limit(limit)], query.count())


class FiscalCodeLookup:
    """Codici fiscali → tenants, by claims whose ``_id`` is the codice fiscale's blind index.

    Every read is by ``_id``. A claim is trusted only while its tenant still has that codice
    fiscale, so a claim left behind (a registration whose insert failed, a codice fiscale changed
    or erased meanwhile) is stale and can be taken over; a claim younger than ``claim_grace``
    whose tenant is not stored yet belongs to a registration on its way. During a key rotation
    a codice fiscale may be claimed under an older key: lookups try every configured key.
    """

    def __init__(self, claim_grace: timedelta, clock: Callable[[], datetime]) -> None:
        self.claims = fiscal_code_claims()
        self.claim_grace = claim_grace
        self.clock = clock
        self.backfills = id_lists.Backfills(
            lambda: IntakeTenantDoc._get_db()[BACKFILLS], [FISCAL_CODE_CLAIMS]
        )

    def holder(self, fiscal_code: str) -> str | None:
        """The id of the tenant registered with ``fiscal_code``, if any."""
        fiscal_code = normalize_fiscal_code(fiscal_code)
        keys = cipher_for(ALIAS).blind_indexes(fiscal_code)
        for key in keys:
            owner = self.claims.holder(key)
            if owner is not None and _fiscal_code_of(owner) == fiscal_code:
                return owner
        if not self.backfilled():
            # Until the worker's one-off backfill is done, a tenant stored before the claims
            # existed has none: the old lookup finds it (and reads every tenant on FerretDB).
            doc = IntakeTenantDoc._get_collection().find_one(
                {"fiscal_code_index": {"$in": keys}}, {"_id": 1}
            )
            return doc["_id"] if doc else None
        return None

    def backfilled(self) -> bool:
        """Whether every tenant stored before the claims existed has one (``backfill``)."""
        return self.backfills.done()

    def claim(self, fiscal_code: str, tenant_id: str) -> tuple[bool, str | None]:
        """Claim ``fiscal_code`` for ``tenant_id`` under the current key.

        Returns ``(True, None)`` when taken (or already held), else ``(False, holder)`` with the
        id of the tenant registered with it (None while that registration is on its way).
        """
        fiscal_code = normalize_fiscal_code(fiscal_code)
        existing = self.holder(fiscal_code)  # also under an older key, during a rotation
        if existing is not None and existing != tenant_id:
            return False, existing
        key = cipher_for(ALIAS).blind_index(fiscal_code)
        now = self.clock()
        holder = self.claims.take(key, tenant_id, now)
        if holder is None:
            return True, None
        if self._stale(key, holder, fiscal_code, now) and self.claims.take_over(
            key, holder, tenant_id, now
        ):
            return True, None
        return False, holder if _fiscal_code_of(holder) == fiscal_code else None

    def _stale(self, key: str, holder: str, fiscal_code: str, now: datetime) -> bool:
        held = _fiscal_code_of(holder)
        if held is None:  # its tenant is not stored: failed, or still on its way
            claimed_at = self.claims.claimed_at(key)
            return claimed_at is not None and _aware(claimed_at) < now - self.claim_grace
        return held != fiscal_code

    def release(self, fiscal_code: str, tenant_id: str) -> None:
        """Give back ``tenant_id``'s claims on ``fiscal_code`` (under every configured key)."""
        for key in cipher_for(ALIAS).blind_indexes(normalize_fiscal_code(fiscal_code)):
            self.claims.release(key, tenant_id)

    def release_unless_held(self, fiscal_code: str, tenant_id: str) -> None:
        """After a failed write: give the claim back unless the write landed after all."""
        if _fiscal_code_of(tenant_id) != normalize_fiscal_code(fiscal_code):
            self.release(fiscal_code, tenant_id)

    def sync(self, cipher: FieldCipher, check_only: bool = False) -> int:
        """Give every tenant the claim of its codice fiscale under the current key and drop its
        claims under older keys (key rotation; the backfill of tenants stored before claims
        existed). Returns how many tenants are left without it (with ``check_only``: how many
        lack it). Reads every tenant: a command's work, never a request's."""
        left = 0
        tenants = IntakeTenantDoc._get_collection()
        for doc in tenants.find({}, {"fiscal_code": 1, "fiscal_code_index": 1}).sort("_id", 1):
            stored = doc.get("fiscal_code")
            erased = str(doc.get("fiscal_code_index") or "").startswith(ANONYMOUS)
            if erased or not isinstance(stored, str) or not stored:
                continue  # an erased tenant's stand-in is nobody's codice fiscale
            fiscal_code = normalize_fiscal_code(cipher.decrypt(stored))
            current, *older = cipher.blind_indexes(fiscal_code)
            if self.claims.holder(current) != doc["_id"]:
                if check_only:
                    left += 1
                    continue
                now = self.clock()
                holder = self.claims.take(current, doc["_id"], now)
                if holder is not None and not (
                    self._stale(current, holder, fiscal_code, now)
                    and self.claims.take_over(current, holder, doc["_id"], now)
                ):
                    left += 1  # held by a live tenant with the same codice fiscale
                    continue
            if not check_only:
                for key in older:
                    self.claims.release(key, doc["_id"])
        return left

    def backfill(self) -> int | None:
        """Once per database (intake's worker, at start): claims for the tenants stored before
        claims existed. Returns how many are left without one, None when it was done already.

        Idempotent; a marker says it is done, and lookups fall back to reading the tenants
        until it is there.
        """
        if self.backfilled():
            return None
        left = self.sync(cipher_for(ALIAS))
        if not left:
            self.backfills.mark_done(self.clock())
        return left


def _fiscal_code_of(tenant_id: str) -> str | None:
    """The codice fiscale the stored tenant has now (None if it is not stored)."""
    doc = IntakeTenantDoc._get_collection().find_one({"_id": tenant_id}, {"fiscal_code": 1})
    if doc is None:
        return None
    return normalize_fiscal_code(cipher_for(ALIAS).decrypt(doc.get("fiscal_code") or ""))


class AppointmentRepository:
    """Appointments in MongoDB; each write stores the appointment and its events together."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.refs = AppointmentRefs()

    def add(self, appointment: Appointment, events: Iterable[Event]) -> None:
        """Insert a new appointment with its events (after its tenants' entries)."""
        doc = IntakeAppointmentDoc(**_appointment_fields(appointment))
        stage(doc, self.topic, events, cipher_for(ALIAS))
        self.refs.add(appointment.id, appointment.tenant_ids)
        doc.save(force_insert=True)

    def update(
        self, appointment: Appointment, previous_version: int, events: Iterable[Event]
    ) -> None:
        """Store ``appointment`` if unchanged since ``previous_version`` (else ``Conflict``)."""
        fields = _encrypted(IntakeAppointmentDoc, _appointment_fields(appointment))
        fields.pop("id")
        self.refs.add(appointment.id, appointment.tenant_ids)  # a tenant who joined
        _guarded_update(
            IntakeAppointmentDoc,
            self.topic,
            appointment.id,
            previous_version,
            fields,
            events,
            "L'appuntamento è stato modificato nel frattempo: ricaricare e riprovare.",
        )

    def get(self, appointment_id: str) -> Appointment | None:
        """The appointment with ``appointment_id``, if any."""
        doc = mongo.read_one(IntakeAppointmentDoc, appointment_id)
        return _appointment(doc) if doc else None

    def of_tenant(self, tenant_id: str) -> list[Appointment]:
        """The tenant's appointments in time order (the GDPR export), found by their entries
        (``appointment_refs``) instead of a query that reads every appointment on FerretDB."""
        ids = self.refs.ids(tenant_id)
        docs: list[IntakeAppointmentDoc] = []
        if ids is None:  # not backfilled yet: the query
            docs += IntakeAppointmentDoc.objects(tenant_ids=tenant_id).exclude("outbox")
        else:  # one read by ``_id``, keeping those that still name the tenant
            for start in range(0, len(ids), id_lists.ID_CHUNK):
                chunk = ids[start : start + id_lists.ID_CHUNK]
                found = IntakeAppointmentDoc.objects(id__in=chunk).exclude("outbox")
                docs += [d for d in found if tenant_id in d.tenant_ids]
        return sorted((_appointment(d) for d in docs), key=lambda a: (a.starts_at, a.id))

    def list(
        self,
        *,
        counter_id: str | None,
        tenant_id: str | None,
        case_id: str | None,
        building_id: str | None,
        starts_from: datetime | None,
        starts_to: datetime | None,
        limit: int,
        offset: int,
        scope: CounterScope | None = None,
    ) -> Page:
        """Appointments in time order, filtered (each filter leads an index); with ``scope``,
        only those at its counters or, without a counter, at its buildings."""
        criteria: dict[str, Any] = {}
        for name, value in (
            ("counter_id", counter_id),
            ("tenant_ids", tenant_id),
            ("case_id", case_id),
            ("building_id", building_id),
        ):
            if value:
                criteria[name] = value
        if scope is not None:
            criteria["$or"] = [
                {"counter_id": {"$in": list(scope.counters)}},
                {"counter_id": None, "building_id": {"$in": list(scope.buildings)}},
            ]
        _range(criteria, "starts_at", starts_from, starts_to)
        query = (
            IntakeAppointmentDoc.objects(__raw__=criteria)
            .exclude("outbox")
            .order_by("starts_at", "id")
        )
        return Page([_appointment(d) for d in query.skip(offset).limit(limit)], query.count())


class Claims:
    """Unique claims kept by the store's ``_id``: inserting one takes it, for one owner."""

    def __init__(self, document: type[Document], owner_field: str) -> None:
        self.document = document
        self.owner_field = owner_field

    def take(self, key: str, owner: str, now: datetime) -> str | None:
        """Take ``key`` for ``owner``; returns the current owner when someone else holds it."""
        collection = self.document._get_collection()
        try:
            collection.insert_one({"_id": key, self.owner_field: owner, "claimed_at": now})
            return None
        except DuplicateKeyError:
            held = collection.find_one({"_id": key})
            if held is None:  # released meanwhile: try once more
                return self.take(key, owner, now)
            return None if held[self.owner_field] == owner else held[self.owner_field]

    def holder(self, key: str) -> str | None:
        """Who holds ``key``, if anyone."""
        held = self.document._get_collection().find_one({"_id": key}, {self.owner_field: 1})
        return held[self.owner_field] if held else None

    def held(self, keys: list[str]) -> set[str]:
        """Which of ``keys`` are taken."""
        if not keys:
            return set()
        found = self.document._get_collection().find({"_id": {"$in": keys}}, {"_id": 1})
        return {d["_id"] for d in found}

    def claimed_at(self, key: str) -> datetime | None:
        """When ``key`` was taken, if it is held."""
        held = self.document._get_collection().find_one({"_id": key})
        return held["claimed_at"] if held else None

    def take_over(self, key: str, stale_owner: str, owner: str, now: datetime) -> bool:
        """Move a stale claim to ``owner`` (compare-and-set on the stale owner)."""
        result = self.document._get_collection().update_one(
            {"_id": key, self.owner_field: stale_owner},
            {"$set": {self.owner_field: owner, "claimed_at": now}},
        )
        return bool(result.matched_count)

    def release(self, key: str, owner: str) -> None:
        """Give ``key`` back, only if ``owner`` still holds it."""
        self.document._get_collection().delete_one({"_id": key, self.owner_field: owner})


def slot_claims() -> Claims:
    """Claims on counter slots, owned by appointments."""
    return Claims(IntakeSlotClaimDoc, "appointment_id")


def open_case_claims() -> Claims:
    """Claims on (tenant, need), owned by open cases."""
    return Claims(IntakeOpenCaseClaimDoc, "case_id")


def fiscal_code_claims() -> Claims:
    """Claims on codici fiscali (by blind index), owned by tenants."""
    return Claims(IntakeFiscalCodeClaimDoc, "tenant_id")


class CaseRepository:
    """Cases in MongoDB; each write stores the case and its events together. The case lists
    are read from their entries where they can (``case_lists``)."""

    def __init__(self, topic: str, lists: CaseListEntries | None = None) -> None:
        self.topic = topic
        self.lists = lists or CaseListEntries()

    def add(self, case: Case, events: Iterable[Event]) -> None:
        """Insert a new case with its events in the same document write."""
        doc = IntakeCaseDoc(
            id=case.id,
            tenant_id=case.tenant_id,
            building_id=case.building_id,
            counter_id=case.counter_id,
            channel=case.channel.value,
            needs=[n.value for n in case.needs],
            description=case.description,
            disconnection_date=case.disconnection_date,
            urgent=case.urgent,
            opened_by=case.opened_by,
            opened_at=case.opened_at,
            hardship_signals=[s.value for s in case.hardship_signals],
            hardship_kind=case.hardship_kind.value,
            bills=[
                IntakeBillDoc(
                    supplier=b.supplier,
                    offer=b.offer,
                    commodity=b.commodity.value,
                    period_start=b.period_start,
                    period_end=b.period_end,
                    pod=b.pod,
                    pdr=b.pdr,
                    consumption=b.consumption,
                    unit=b.unit,
                    amount_cents=b.amount_cents,
                    arrears_cents=b.arrears_cents,
                )
                for b in case.bills
            ],
            isee_band=case.isee_band.value if case.isee_band else None,
            receives_bonus_sociale=case.receives_bonus_sociale,
            linked_case_id=case.linked_case_id,
            status=case.status.value,
        )
        stage(doc, self.topic, events, cipher_for(ALIAS))
        doc.save(force_insert=True)
        # After the case: an entry always names a stored case. The case is stored whatever
        # happens next, so a failure here must not fail the opening (its claims would be given
        # back); the case is missing from its lists until ``repair-case-lists`` writes them.
        try:
            self.lists.add(
                {
                    "_id": case.id,
                    "building_id": case.building_id,
                    "counter_id": case.counter_id,
                    "tenant_id": case.tenant_id,
                    "opened_at": case.opened_at,
                    "urgent": case.urgent,
                    "status": case.status.value,
                }
            )
        except PyMongoError as exc:
            log.error("case %s stored without its list entries: %s", case.id, exc)

    def mark_ended(self, case_id: str, status: CaseStatus, at: datetime) -> bool:
        """Record that casework ended the case (closed or archived); False when it already was.

        Only an open case changes (compare-and-set on the status): a redelivered or late event
        never moves an ended case again nor its end time. Then the case leaves the open urgent
        cases (also on a redelivery: an end interrupted between its two writes is finished).
        """
        cases = IntakeCaseDoc._get_collection()
        result = cases.update_one(
            {"_id": case_id, "status": CaseStatus.OPEN.value},
            {"$set": {"status": status.value, "closed_at": at}},
        )
        stored = cases.find_one({"_id": case_id}, {"opened_at": 1, "urgent": 1})
        if stored is not None and stored.get("urgent") is True:
            self.lists.leave_urgent(case_id, stored["opened_at"])
        return bool(result.modified_count)

    def get(self, case_id: str) -> Case | None:
        """The case with ``case_id``, if any."""
        doc = mongo.read_one(IntakeCaseDoc, case_id)
        return _case(doc) if doc else None

    def list(self, *, limit: int, offset: int, zone: Any, **filters: Unpack[CaseFilters]) -> Page:
        """Cases, newest first, filtered; with ``counters``, only the cases opened at one of
        them. From a list's entries when one list answers (``case_lists.list_for``; a period is
        a sub-range of it) and their backfill is done, else by the cases query (``query``): the
        same page and total."""
        name = list_for(**filters)
        if name is None or not self.lists.ready(name):
            return self.query(limit=limit, offset=offset, zone=zone, **filters)
        period = _period(filters.get("opened_from"), filters.get("opened_to"), zone)
        ids, total = self.lists.page(name, limit, offset, *period)
        return Page([_case(doc) for doc in mongo.read_by_id(IntakeCaseDoc, ids)], total)

    def query(self, *, limit: int, offset: int, zone: Any, **filters: Unpack[CaseFilters]) -> Page:
        """Cases, newest first, by a query on the cases (every filter leads a declared index
        with opened_at; FerretDB reads them all); with ``counters``, only the cases opened at
        one of them."""
        criteria: dict[str, Any] = {}
        for name in ("counter_id", "building_id", "tenant_id", "status"):
            if filters.get(name):
                criteria[name] = filters[name]  # type: ignore[literal-required]
        counters = filters.get("counters")
        if counters is not None and not filters.get("counter_id"):
            criteria["counter_id"] = {"$in": list(counters)}
        if filters.get("urgent") is not None:
            criteria["urgent"] = filters["urgent"]
        start, end = _period(filters.get("opened_from"), filters.get("opened_to"), zone)
        _range(criteria, "opened_at", start, end, end_exclusive=True)
        query = (
            IntakeCaseDoc.objects(__raw__=criteria).exclude("outbox").order_by("-opened_at", "-id")
        )
        return Page([_case(d) for d in query.skip(offset).limit(limit)], query.count())


class IdempotencyStore:
    """The first answer to each ``Idempotency-Key``, claimed before the work is done."""

    def claim(self, key: str, request_hash: str, now: datetime) -> dict | None:
        """Take ``key``; returns the existing record when the key was already used."""
        collection = IntakeIdempotencyDoc._get_collection()
        try:
            collection.insert_one(
                {
                    "_id": key,
                    "request_hash": request_hash,
                    "state": "in_corso",
                    "status_code": None,
                    "body": None,
                    "headers": None,
                    "created_at": now,
                }
            )
            return None
        except DuplicateKeyError:
            return collection.find_one({"_id": key}) or self.claim(key, request_hash, now)

    def complete(self, key: str, status_code: int, body: str, headers: str) -> None:
        """Store the answer given under ``key``."""
        IntakeIdempotencyDoc._get_collection().update_one(
            {"_id": key},
            {
                "$set": {
                    "state": "completata",
                    "status_code": status_code,
                    "body": body,
                    "headers": headers,
                }
            },
        )

    def release(self, key: str) -> None:
        """Forget ``key`` (the request failed: a retry may do the work)."""
        IntakeIdempotencyDoc._get_collection().delete_one({"_id": key, "state": "in_corso"})

    def purge(self, before: datetime) -> int:
        """Forget answers stored before ``before`` (no TTL index on FerretDB); returns how many."""
        result = IntakeIdempotencyDoc._get_collection().delete_many(
            {"created_at": {"$lt": before}, "state": "completata"}
        )
        return result.deleted_count


def _period(
    opened_from: date | None, opened_to: date | None, zone: Any
) -> tuple[datetime | None, datetime | None]:
    """Dates are local days at the counter: from the start of ``opened_from`` to the end of
    ``opened_to`` (excluded)."""
    start = datetime.combine(opened_from, time(), zone) if opened_from else None
    end = datetime.combine(opened_to + timedelta(days=1), time(), zone) if opened_to else None
    return start, end


def _range(
    criteria: dict[str, Any],
    name: str,
    start: datetime | None,
    end: datetime | None,
    end_exclusive: bool = False,
) -> None:
    bounds: dict[str, Any] = {}
    if start:
        bounds["$gte"] = start
    if end:
        bounds["$lt" if end_exclusive else "$lte"] = end
    if bounds:
        criteria[name] = bounds


@dataclass(frozen=True)
class CounterScope:
    """What an operator works on: its counters and the buildings of those counters."""

    counters: tuple[str, ...]
    buildings: tuple[str, ...]


def _encrypted(document: type[Document], fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` as ``document`` stores them: encrypted fields encrypted (for raw updates)."""
    out = dict(fields)
    for name, value in fields.items():
        field = document._fields.get(name)
        if isinstance(field, EncryptedStringField):
            out[name] = field.to_mongo(value)
    return out


def _guarded_update(
    document: type[OutboxDocument],
    topic: str,
    doc_id: str,
    previous_version: int,
    fields: dict[str, Any],
    events: Iterable[Event],
    conflict: str,
) -> None:
    """Set ``fields`` and append ``events`` to the outbox in one write, if the stored version is
    still ``previous_version``; ``Conflict`` (409) otherwise."""
    collection = document._get_collection()
    operations = outbox_update(
        topic,
        events,
        db=collection.database,
        collection=collection.name,
        doc_id=doc_id,
        cipher=cipher_for(ALIAS),
    )
    # The outbox is only ever appended to (above), never overwritten by the new state.
    operations["$set"] = {k: v for k, v in fields.items() if k not in ("outbox", "outbox_seq")}
    guard: dict[str, Any] = {"_id": doc_id, "version": previous_version}
    if previous_version == 1:
        # Stored before versions existed: no ``version`` field, which reads as 1.
        guard = {"_id": doc_id, "$or": [{"version": 1}, {"version": {"$exists": False}}]}
    if not collection.update_one(guard, operations).matched_count:
        raise Conflict(conflict, code="version_conflict", id=doc_id)


def _buildings(municipio: int | None, ids: Sequence[str] | None) -> Any:
    filters: dict[str, Any] = {}
    if municipio:
        filters["municipio"] = municipio
    if ids is not None:
        filters["id__in"] = list(ids)
    return IntakeBuildingDoc.objects(**filters)


def _building_doc(b: Building) -> IntakeBuildingDoc:
    return IntakeBuildingDoc(
        id=b.id,
        name=b.name,
        address=b.address,
        municipio=b.municipio,
        custodians=[
            IntakeCustodianDoc(name=c.name, email=c.email, phone=c.phone, channel=c.channel.value)
            for c in b.custodians
        ],
        committee_contact=b.committee_contact,
        works_notes=b.works_notes,
        version=b.version,
    )


def _building(doc: IntakeBuildingDoc | SimpleNamespace) -> Building:
    return Building(
        id=doc.id,
        name=doc.name,
        address=doc.address,
        municipio=doc.municipio,
        custodians=[
            Custodian(name=c.name, email=c.email, phone=c.phone, channel=ContactChannel(c.channel))
            for c in doc.custodians
        ],
        committee_contact=doc.committee_contact,
        works_notes=doc.works_notes,
        version=doc.version or 1,
    )


def _counter_doc(counter: Counter) -> IntakeCounterDoc:
    return IntakeCounterDoc(
        id=counter.id,
        name=counter.name,
        kind=counter.kind.value,
        building_id=counter.building_id,
        room=counter.room,
        schedules=[
            IntakeScheduleDoc(
                weekday=s.weekday,
                start=s.start.strftime("%H:%M"),
                end=s.end.strftime("%H:%M"),
                slot_minutes=s.slot_minutes,
                every_weeks=s.every_weeks,
                starts_on=s.starts_on,
                ends_on=s.ends_on,
            )
            for s in counter.schedules
        ],
        operators=counter.operators,
        version=counter.version,
    )


def _counter(doc: IntakeCounterDoc | SimpleNamespace) -> Counter:
    return Counter(
        id=doc.id,
        name=doc.name,
        kind=CounterKind(doc.kind),
        building_id=doc.building_id,
        room=doc.room,
        schedules=[
            Schedule(
                weekday=s.weekday,
                start=time.fromisoformat(s.start),
                end=time.fromisoformat(s.end),
                slot_minutes=s.slot_minutes,
                every_weeks=s.every_weeks,
                starts_on=s.starts_on,
                ends_on=s.ends_on,
            )
            for s in doc.schedules
        ],
        operators=list(doc.operators),
        version=doc.version or 1,
    )


def _tenant_fields(t: Tenant) -> dict[str, Any]:
    return {
        "id": t.id,
        "building_id": t.building_id,
        "apartment": t.apartment,
        "first_name": t.first_name,
        "last_name": t.last_name,
        "search_name": search_key(t.last_name, t.first_name),
        "fiscal_code": t.fiscal_code,
        "fiscal_code_index": cipher_for(ALIAS).blind_index(normalize_fiscal_code(t.fiscal_code)),
        "phone": t.phone,
        "email": t.email,
        "preferred_language": t.preferred_language,
        "household_size": t.household_size,
        "consents": [
            IntakeConsentDoc(
                channel=c.channel.value,
                granted=c.granted,
                recorded_by=c.recorded_by,
                recorded_at=c.recorded_at,
            )
            for c in t.consents
        ],
        "version": t.version,
        "registered_at": t.registered_at,
    }


def _tenant(doc: IntakeTenantDoc | SimpleNamespace) -> Tenant:
    return Tenant(
        id=doc.id,
        building_id=doc.building_id,
        apartment=doc.apartment,
        first_name=doc.first_name,
        last_name=doc.last_name,
        fiscal_code=doc.fiscal_code,
        phone=doc.phone,
        email=doc.email,
        preferred_language=doc.preferred_language,
        household_size=doc.household_size,
        consents=[
            Consent(ConsentChannel(c.channel), c.granted, c.recorded_by, c.recorded_at)
            for c in doc.consents
        ],
        version=doc.version,
        registered_at=doc.registered_at,
        # Erasure anonymises the tenant before it records the request; a real tenant's blind
        # index is a digest, this stand-in is written only by the anonymisation.
        erased=(doc.fiscal_code_index or "").startswith(f"{ANONYMOUS}:"),
    )


def _appointment_fields(a: Appointment) -> dict[str, Any]:
    return {
        "id": a.id,
        "kind": a.kind.value,
        "status": a.status.value,
        "case_id": a.case_id,
        "tenant_ids": a.tenant_ids,
        "counter_id": a.counter_id,
        "building_id": a.building_id,
        "location": a.location,
        "starts_at": a.starts_at,
        "ends_at": a.ends_at,
        "booked_by": a.booked_by,
        "booked_at": a.booked_at,
        "notes": a.notes,
        "cancel_reason": a.cancel_reason,
        "version": a.version,
    }


def _appointment(doc: IntakeAppointmentDoc | SimpleNamespace) -> Appointment:
    return Appointment(
        id=doc.id,
        kind=AppointmentKind(doc.kind),
        status=AppointmentStatus(doc.status),
        case_id=doc.case_id,
        tenant_ids=list(doc.tenant_ids),
        counter_id=doc.counter_id,
        building_id=doc.building_id,
        location=doc.location,
        starts_at=doc.starts_at,
        ends_at=doc.ends_at,
        booked_by=doc.booked_by,
        booked_at=doc.booked_at,
        notes=doc.notes,
        cancel_reason=doc.cancel_reason,
        version=doc.version,
    )


def _case(doc: IntakeCaseDoc | SimpleNamespace) -> Case:
    return Case(
        id=doc.id,
        tenant_id=doc.tenant_id,
        building_id=doc.building_id,
        counter_id=doc.counter_id,
        channel=Channel(doc.channel),
        needs=[Need(n) for n in doc.needs],
        description=doc.description,
        disconnection_date=doc.disconnection_date,
        urgent=doc.urgent,
        opened_by=doc.opened_by,
        opened_at=doc.opened_at,
        hardship_signals=[HardshipSignal(s) for s in doc.hardship_signals or []],
        hardship_kind=HardshipKind(doc.hardship_kind or "da_valutare"),
        bills=[
            Bill(
                supplier=b.supplier,
                commodity=Commodity(b.commodity),
                period_start=b.period_start,
                period_end=b.period_end,
                amount_cents=b.amount_cents,
                offer=b.offer,
                pod=b.pod,
                pdr=b.pdr,
                consumption=b.consumption,
                unit=b.unit,
                arrears_cents=b.arrears_cents,
            )
            for b in doc.bills
        ],
        isee_band=IseeBand(doc.isee_band) if doc.isee_band else None,
        receives_bonus_sociale=doc.receives_bonus_sociale,
        linked_case_id=doc.linked_case_id,
        status=CaseStatus(doc.status or "aperto"),
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
