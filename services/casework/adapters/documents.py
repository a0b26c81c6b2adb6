"""casework's MongoDB documents (database ``<prefix>_casework``, alias ``casework``)."""

from __future__ import annotations

from mongoengine import (
    BooleanField,
    DateField,
    DateTimeField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    IntField,
    ListField,
    StringField,
)

from shared.outbox import OutboxDocument

ALIAS = "casework"


class BuildingSnapshotDoc(EmbeddedDocument):
    id = StringField(required=True)
    name = StringField(required=True)
    address = StringField(required=True)
    municipio = IntField(required=True)


class CaseFileDoc(OutboxDocument):
    """A case file. ``_id`` is intake's case id: a redelivered ``case.opened`` cannot double it."""

    meta = {
        "collection": "case_files",
        "db_alias": ALIAS,
        "indexes": [
            {"fields": ["state", "-opened_at"]},
            {"fields": ["building.id", "-opened_at"]},
            {"fields": ["counter_id", "-opened_at"]},
        ],
    }

    id = StringField(primary_key=True)
    tenant_id = StringField(required=True)
    building = EmbeddedDocumentField(BuildingSnapshotDoc, required=True)
    counter_id = StringField(null=True)
    channel = StringField(required=True)
    needs = ListField(StringField())
    description = StringField(default="")
    urgent = BooleanField(default=False)
    disconnection_date = DateField(null=True)
    opened_by = StringField(required=True)
    opened_at = DateTimeField(required=True)
    state = StringField(required=True)
    source_event_id = StringField(required=True)
    applied_events = ListField(StringField(), default=list)


DOCUMENTS: tuple[type[Document], ...] = (CaseFileDoc,)
OUTBOX_COLLECTIONS = [CaseFileDoc._meta["collection"]]
