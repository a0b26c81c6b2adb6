"""intake's MongoDB documents (database ``<prefix>_intake``, alias ``intake``).

Uniqueness that must hold under concurrent requests is kept by the store's unique ``_id`` of
small *claim* documents (FerretDB has no partial indexes): a booked slot, an open case per tenant
and need, a registered codice fiscale, an idempotency key. Inserting the claim is taking it.

Class names start with ``Intake``: mongoengine keeps one registry of document classes by class
name for the whole process, and a name another service also uses (``CaseDoc``, ``TenantDoc``…)
makes ``disconnect`` forget one of the two, leaving it on a closed client.
"""

from __future__ import annotations

from mongoengine import (
    BooleanField,
    DateField,
    DateTimeField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentListField,
    FloatField,
    IntField,
    ListField,
    StringField,
)

from shared import id_lists
from shared.crypto import EncryptedStringField
from shared.outbox import OutboxDocument
from shared.privacy import ERASURES

ALIAS = "intake"
# One-off data migrations done in this database: a mark each, once done (``shared.id_lists``).
BACKFILLS = id_lists.BACKFILLS


class IntakeCustodianDoc(EmbeddedDocument):
    """A custode sociale inside a building document."""

    name = StringField(required=True)
    email = StringField(null=True)
    phone = StringField(null=True)
    channel = StringField(required=True, default="email")


class IntakeBuildingDoc(OutboxDocument):
    """A housing complex, with its unpublished events."""

    meta = {"collection": "buildings", "db_alias": ALIAS, "indexes": ["municipio", "name"]}

    id = StringField(primary_key=True)
    name = StringField(required=True)
    address = StringField(required=True)
    municipio = IntField(required=True, min_value=1, max_value=9)
    custodians = EmbeddedDocumentListField(IntakeCustodianDoc, default=list)
    committee_contact = StringField(null=True)
    works_notes = StringField(null=True)
    # Written by every change; a building stored before versions existed reads as 1.
    version = IntField(required=True, default=1)


class IntakeScheduleDoc(EmbeddedDocument):
    """A counter's recurring opening (times as ``HH:MM``, local)."""

    weekday = IntField(required=True)
    start = StringField(required=True)
    end = StringField(required=True)
    slot_minutes = IntField(required=True)
    every_weeks = IntField(required=True, default=1)
    starts_on = DateField(null=True)
    ends_on = DateField(null=True)


class IntakeCounterDoc(OutboxDocument):
    """A counter (sportello), with its unpublished events."""

    meta = {
        "collection": "counters",
        "db_alias": ALIAS,
        "indexes": [{"fields": ["building_id", "name"]}, "name"],
    }

    id = StringField(primary_key=True)
    name = StringField(required=True)
    kind = StringField(required=True)
    building_id = StringField(required=True)
    room = StringField(required=True)
    schedules = EmbeddedDocumentListField(IntakeScheduleDoc, default=list)
    operators = ListField(StringField(), default=list)
    version = IntField(required=True, default=1)


class IntakeConsentDoc(EmbeddedDocument):
    """A tenant's consent for one channel."""

    channel = StringField(required=True)
    granted = BooleanField(required=True)
    recorded_by = StringField(required=True)
    recorded_at = DateTimeField(required=True)


class IntakeTenantDoc(OutboxDocument):
    """A tenant with its unpublished events. ``search_name`` is ``last first``, lower case.

    The codice fiscale, phone and email are encrypted at rest; ``fiscal_code_index`` is the blind
    index of the codice fiscale (``FieldCipher.blind_index``): lookups and uniqueness use it.
    """

    meta = {
        "collection": "tenants",
        "db_alias": ALIAS,
        "indexes": [
            {"fields": ["fiscal_code_index"], "unique": True},
            {"fields": ["building_id", "search_name"]},
            {"fields": ["search_name"]},
        ],
    }

    id = StringField(primary_key=True)
    building_id = StringField(required=True)
    apartment = StringField(null=True)
    first_name = StringField(required=True)
    last_name = StringField(required=True)
    search_name = StringField(required=True)
    fiscal_code = EncryptedStringField(ALIAS, required=True)
    fiscal_code_index = StringField(required=True)
    phone = EncryptedStringField(ALIAS, null=True)
    email = EncryptedStringField(ALIAS, null=True)
    preferred_language = StringField(required=True, default="it")
    household_size = IntField(null=True)
    consents = EmbeddedDocumentListField(IntakeConsentDoc, default=list)
    version = IntField(required=True)
    registered_at = DateTimeField(required=True)


class IntakeAppointmentDoc(OutboxDocument):
    """An appointment with its unpublished events."""

    meta = {
        "collection": "appointments",
        "db_alias": ALIAS,
        "indexes": [
            {"fields": ["counter_id", "starts_at"]},
            {"fields": ["tenant_ids", "starts_at"]},
            {"fields": ["case_id", "starts_at"]},
            {"fields": ["building_id", "starts_at"]},
        ],
    }

    id = StringField(primary_key=True)
    kind = StringField(required=True)
    status = StringField(required=True)
    case_id = StringField(null=True)
    tenant_ids = ListField(StringField(), default=list)
    counter_id = StringField(null=True)
    building_id = StringField(required=True)
    location = StringField(default="")
    starts_at = DateTimeField(required=True)
    ends_at = DateTimeField(required=True)
    booked_by = StringField(required=True)
    booked_at = DateTimeField(required=True)
    # What the tenant told about the visit or the reason they cannot come: encrypted at rest.
    notes = EncryptedStringField(ALIAS, default="")
    cancel_reason = EncryptedStringField(ALIAS, null=True)
    version = IntField(required=True, default=1)


class IntakeSlotClaimDoc(Document):
    """A taken counter slot: ``_id`` is ``<counter_id>:<slot start, UTC ISO>``."""

    meta = {"collection": "slot_bookings", "db_alias": ALIAS, "indexes": []}

    id = StringField(primary_key=True)
    appointment_id = StringField(required=True)
    claimed_at = DateTimeField(required=True)


class IntakeOpenCaseClaimDoc(Document):
    """A tenant's open case for one need: ``_id`` is ``<tenant_id>:<need>``."""

    meta = {"collection": "open_case_claims", "db_alias": ALIAS, "indexes": []}

    id = StringField(primary_key=True)
    case_id = StringField(required=True)
    claimed_at = DateTimeField(required=True)


class IntakeFiscalCodeClaimDoc(Document):
    """A registered codice fiscale: ``_id`` is its blind index, ``tenant_id`` who holds it.

    The lookup by codice fiscale (registration's uniqueness check, the search) reads this by
    ``_id`` (the one filter FerretDB serves from an index) instead of the tenants by their
    ``fiscal_code_index``. A claim is trusted only while its tenant still has that codice fiscale
    (changed, erased or never stored: stale).
    """

    meta = {"collection": "fiscal_code_claims", "db_alias": ALIAS, "indexes": []}

    id = StringField(primary_key=True)
    tenant_id = StringField(required=True)
    claimed_at = DateTimeField(required=True)


class IntakeIdempotencyDoc(Document):
    """The first answer to a POST under an ``Idempotency-Key`` (``_id``: ``<route>|<key>``)."""

    meta = {"collection": "idempotency_keys", "db_alias": ALIAS, "indexes": ["created_at"]}

    id = StringField(primary_key=True)
    request_hash = StringField(required=True)
    state = StringField(required=True)  # "in_corso" until the answer is stored, then "completata"
    status_code = IntField(null=True)
    body = StringField(null=True)  # JSON text: keys of an answer may hold '.' or '$'
    headers = StringField(null=True)
    created_at = DateTimeField(required=True)


class IntakeBillDoc(EmbeddedDocument):
    """An energy bill inside a case."""

    supplier = StringField(required=True)
    offer = StringField(null=True)
    commodity = StringField(required=True)
    period_start = DateField(required=True)
    period_end = DateField(required=True)
    pod = StringField(null=True)
    pdr = StringField(null=True)
    consumption = FloatField(null=True)
    unit = StringField(null=True)
    amount_cents = IntField(required=True)
    arrears_cents = IntField(required=True, default=0)


class IntakeCaseDoc(OutboxDocument):
    """A case as intake keeps it, with its unpublished events (embedded outbox)."""

    meta = {
        "collection": "cases",
        "db_alias": ALIAS,
        "indexes": [
            {"fields": ["building_id", "-opened_at"]},
            {"fields": ["tenant_id", "-opened_at"]},
            {"fields": ["counter_id", "-opened_at"]},
            {"fields": ["urgent", "-opened_at"]},
            {"fields": ["status", "-opened_at"]},
            {"fields": ["-opened_at"]},
        ],
    }

    id = StringField(primary_key=True)
    tenant_id = StringField(required=True)
    building_id = StringField(required=True)
    counter_id = StringField(null=True)
    channel = StringField(required=True)
    needs = ListField(StringField(), required=True)
    # Free text that can tell of illness, debts, family trouble: encrypted at rest.
    description = EncryptedStringField(ALIAS, default="")
    disconnection_date = DateField(null=True)
    urgent = BooleanField(default=False)
    opened_by = StringField(required=True)
    opened_at = DateTimeField(required=True)
    hardship_signals = ListField(StringField(), default=list)
    hardship_kind = StringField(default="da_valutare")
    bills = EmbeddedDocumentListField(IntakeBillDoc, default=list)
    isee_band = StringField(null=True)
    receives_bonus_sociale = BooleanField(null=True)
    linked_case_id = StringField(null=True)
    status = StringField(required=True, default="aperto")
    # When casework ended it: ``casework.case.closed``, or ``case.state_changed`` to an end state.
    closed_at = DateTimeField(null=True)


class IntakeCaseListEntryDoc(Document):
    """A case in one case list (``services.intake.adapters.case_lists``): ``_id`` is
    ``<list>:<opened_at in ms>:<case_id>``, so a list is an ``_id`` range, newest last.

    Insert-only (an anonymised case leaves its tenant's list): a page of a list is one read of
    the ``_id`` index, where FerretDB would read every case to filter and sort them.
    """

    meta = {"collection": "case_list_entries", "db_alias": ALIAS, "indexes": []}

    id = StringField(primary_key=True)
    case_id = StringField(required=True)


class IntakeTenantListEntryDoc(Document):
    """A tenant in one tenant list (``services.intake.adapters.tenant_lists``): ``_id`` is
    ``n:<name>#<tenant_id>`` or ``tb:<building_id>:<name>#<tenant_id>``, the search name in
    plain characters that keep its order, so a name prefix is an ``_id`` range.

    Reconciled on every write of its tenant: a page is one read of the ``_id`` index, where
    FerretDB would read every tenant to filter and sort them.
    """

    meta = {"collection": "tenant_list_entries", "db_alias": ALIAS, "indexes": []}

    id = StringField(primary_key=True)
    tenant_id = StringField(required=True)


class IntakeAppointmentRefDoc(Document):
    """A tenant's appointment (``services.intake.adapters.appointment_refs``): ``_id`` is
    ``t:<tenant_id>:<appointment_id>``, so a tenant's appointments are an ``_id`` range.

    Written before the appointment: what erasure and export read, where FerretDB would read
    every appointment to find those naming the tenant.
    """

    meta = {"collection": "appointment_refs", "db_alias": ALIAS, "indexes": []}

    id = StringField(primary_key=True)
    appointment_id = StringField(required=True)


DOCUMENTS: tuple[type[Document], ...] = (
    IntakeBuildingDoc,
    IntakeCounterDoc,
    IntakeTenantDoc,
    IntakeAppointmentDoc,
    IntakeSlotClaimDoc,
    IntakeOpenCaseClaimDoc,
    IntakeFiscalCodeClaimDoc,
    IntakeIdempotencyDoc,
    IntakeCaseDoc,
    IntakeCaseListEntryDoc,
    IntakeTenantListEntryDoc,
    IntakeAppointmentRefDoc,
)
# Collection → paths of its fields encrypted at rest (what key rotation rewrites).
# The outboxes keep every event, personal data included: stored encrypted as well.
ENCRYPTED_FIELDS: dict[str, tuple[str, ...]] = {
    IntakeCaseDoc._meta["collection"]: ("description", "outbox.*.value"),
    IntakeTenantDoc._meta["collection"]: ("fiscal_code", "phone", "email", "outbox.*.value"),
    IntakeAppointmentDoc._meta["collection"]: ("notes", "cancel_reason", "outbox.*.value"),
    # The custodi sociali's contacts travel in building.updated.
    IntakeBuildingDoc._meta["collection"]: ("outbox.*.value",),
    IntakeCounterDoc._meta["collection"]: ("outbox.*.value",),
}
OUTBOX_COLLECTIONS = [
    IntakeBuildingDoc._meta["collection"],
    IntakeCounterDoc._meta["collection"],
    IntakeCaseDoc._meta["collection"],
    IntakeTenantDoc._meta["collection"],
    IntakeAppointmentDoc._meta["collection"],
    ERASURES,  # each erasure record carries its confirmation event (shared.privacy)
]
