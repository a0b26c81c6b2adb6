"""notifications' MongoDB documents (database ``<prefix>_notifications``)."""

from __future__ import annotations

from mongoengine import (
    BooleanField,
    DateTimeField,
    DictField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    IntField,
    ListField,
    StringField,
)

from shared.crypto import EncryptedStringField
from shared.outbox import OutboxDocument
from shared.privacy import ERASURES

ALIAS = "notifications"


class RecipientDoc(EmbeddedDocument):
    """Who a message is for. ``address`` is an email address or a phone number, stored encrypted
    (``enc:v1:…``), or a staff inbox id, stored in clear because inboxes are looked up by it."""

    kind = StringField(required=True)
    name = StringField(required=True)
    address = StringField(null=True)
    ref = StringField(null=True)


class NotificationDoc(OutboxDocument):
    """One message; ``_id`` = hash of (event, rule, recipient, channel): a redelivery cannot
    double it. Its status history and its delivery events travel in the same document."""

    meta = {
        "collection": "notifications",
        "db_alias": ALIAS,
        "indexes": [
            {"fields": ["case_id", "-created_at"]},
            {"fields": ["status", "due_at"]},
            {"fields": ["recipient.name", "-created_at"]},
            {"fields": ["appointment_id", "status"]},
            {"fields": ["digest_id"]},
        ],
    }

    id = StringField(primary_key=True)
    event_id = StringField(required=True)
    event_type = StringField(required=True)
    rule = StringField(required=True)
    case_id = StringField(null=True)
    recipient = EmbeddedDocumentField(RecipientDoc, required=True)
    channel = StringField(required=True)
    template = StringField(required=True)
    language = StringField(required=True)
    status = StringField(required=True)
    subject = StringField(default="")
    text = StringField(default="")
    html = StringField(default="")
    reason = StringField(null=True)
    attempts = IntField(default=0)
    fallbacks = ListField(StringField(), default=list)
    appointment_id = StringField(null=True)
    building_id = StringField(null=True)
    digest_id = StringField(null=True)
    task = BooleanField(default=False)
    read_at = DateTimeField(null=True)
    lease_until = DateTimeField(null=True)
    due_at = DateTimeField(required=True)
    created_at = DateTimeField(required=True)
    history = ListField(DictField(), default=list)
    context = DictField()
    items = ListField(DictField(), default=list)  # a digest's messages


class TenantDoc(Document):
    """Read model of a tenant from intake's snapshots; ``version`` orders them."""

    meta = {"collection": "tenants", "db_alias": ALIAS}

    id = StringField(primary_key=True)
    version = IntField(required=True)
    building_id = StringField(null=True)
    apartment = StringField(null=True)
    first_name = StringField(required=True)
    last_name = StringField(required=True)
    # Contact data copied from intake's events: encrypted at rest, as at intake.
    phone = EncryptedStringField(ALIAS, null=True)
    email = EncryptedStringField(ALIAS, null=True)
    preferred_language = StringField(default="it")


class ConsentDoc(Document):
    """A tenant's latest consent decision for one channel (``_id`` = tenant|channel)."""

    meta = {"collection": "consents", "db_alias": ALIAS, "indexes": [{"fields": ["tenant_id"]}]}

    id = StringField(primary_key=True)
    tenant_id = StringField(required=True)
    channel = StringField(required=True)
    granted = BooleanField(required=True)
    recorded_by = StringField(required=True)
    recorded_at = DateTimeField(required=True)


class CaseDoc(Document):
    """Read model of a case: who it is for, where, who opened it."""

    meta = {"collection": "cases", "db_alias": ALIAS}

    id = StringField(primary_key=True)
    tenant_id = StringField(required=True)
    building_id = StringField(required=True)
    opened_by = StringField(required=True)
    urgent = BooleanField(default=False)


class BuildingDoc(Document):
    """Read model of a building and its custodi sociali (from the events that carry it)."""

    meta = {"collection": "buildings", "db_alias": ALIAS}

    id = StringField(primary_key=True)
    name = StringField(required=True)
    address = StringField(default="")
    custodians = ListField(DictField(), default=list)
    # intake's version of the snapshot: a newer one replaces it, an older one is ignored.
    version = IntField(null=True)


class CustodianPreferenceDoc(Document):
    """A custode sociale's choice: every message at once, or one daily digest."""

    meta = {"collection": "custodian_preferences", "db_alias": ALIAS}

    id = StringField(primary_key=True)  # the custodian's name
    mode = StringField(required=True)
    updated_by = StringField(required=True)
    updated_at = DateTimeField(required=True)


class TenantRefDoc(Document):
    """Where a tenant appears (``services.notifications.adapters.tenant_refs``): ``_id`` is
    ``t:<tenant>:<case>`` (a case of theirs), ``r:<tenant>:<message>`` (a message to them) or
    ``c:<case>:<message>`` (a message about a case), so each is an ``_id`` range."""

    meta = {"collection": "tenant_refs", "db_alias": ALIAS, "indexes": []}

    id = StringField(primary_key=True)
    ref = StringField(required=True)  # the case or message the entry points to


DOCUMENTS: tuple[type[Document], ...] = (
    NotificationDoc,
    TenantDoc,
    ConsentDoc,
    CaseDoc,
    BuildingDoc,
    CustodianPreferenceDoc,
    TenantRefDoc,
)
OUTBOX_COLLECTIONS = [
    NotificationDoc._meta["collection"],
    ERASURES,  # each erasure record carries its confirmation event (shared.privacy)
]
# Collection → paths of its fields encrypted at rest (what key rotation rewrites). Messages'
# addresses are encrypted on the email and SMS channels only (rotate_keys handles them).
ENCRYPTED_FIELDS: dict[str, tuple[str, ...]] = {
    TenantDoc._meta["collection"]: ("phone", "email"),
}
