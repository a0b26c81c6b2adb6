"""notifications' MongoDB documents (database ``<prefix>_notifications``)."""

from __future__ import annotations

from mongoengine import (
    DateTimeField,
    DictField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    StringField,
)

from shared.outbox import OutboxDocument

ALIAS = "notifications"


class RecipientDoc(EmbeddedDocument):
    kind = StringField(required=True)
    name = StringField(required=True)
    address = StringField(null=True)


class NotificationDoc(OutboxDocument):
    """One message; ``_id`` = hash of (event, recipient, channel): a redelivery cannot double it."""

    meta = {
        "collection": "notifications",
        "db_alias": ALIAS,
        "indexes": [
            {"fields": ["case_id", "-created_at"]},
            {"fields": ["status", "-created_at"]},
            {"fields": ["recipient.name", "-created_at"]},
        ],
    }

    id = StringField(primary_key=True)
    event_id = StringField(required=True)
    event_type = StringField(required=True)
    case_id = StringField(required=True)
    recipient = EmbeddedDocumentField(RecipientDoc, required=True)
    channel = StringField(required=True)
    template = StringField(required=True)
    status = StringField(required=True)
    context = DictField()
    created_at = DateTimeField(required=True)


DOCUMENTS: tuple[type[Document], ...] = (NotificationDoc,)
OUTBOX_COLLECTIONS = [NotificationDoc._meta["collection"]]
