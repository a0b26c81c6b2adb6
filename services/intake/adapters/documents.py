"""intake's MongoDB documents (database ``<prefix>_intake``, alias ``intake``)."""

from __future__ import annotations

from mongoengine import (
    BooleanField,
    DateField,
    DateTimeField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentListField,
    IntField,
    ListField,
    StringField,
)

from shared.outbox import OutboxDocument

ALIAS = "intake"


class CustodianDoc(EmbeddedDocument):
    """A custode sociale inside a building document."""

    name = StringField(required=True)
    email = StringField(null=True)
    phone = StringField(null=True)
    channel = StringField(required=True, default="email")


class BuildingDoc(Document):
    """A housing complex."""

    meta = {"collection": "buildings", "db_alias": ALIAS, "indexes": ["municipio", "name"]}

    id = StringField(primary_key=True)
    name = StringField(required=True)
    address = StringField(required=True)
    municipio = IntField(required=True, min_value=1, max_value=9)
    custodians = EmbeddedDocumentListField(CustodianDoc, default=list)
    committee_contact = StringField(null=True)
    works_notes = StringField(null=True)


class CaseDoc(OutboxDocument):
    """A case as intake keeps it, with its unpublished events (embedded outbox)."""

    meta = {
        "collection": "cases",
        "db_alias": ALIAS,
        "indexes": [
            {"fields": ["building_id", "-opened_at"]},
            {"fields": ["tenant_id", "-opened_at"]},
            {"fields": ["counter_id", "-opened_at"]},
        ],
    }

    id = StringField(primary_key=True)
    tenant_id = StringField(required=True)
    building_id = StringField(required=True)
    counter_id = StringField(null=True)
    channel = StringField(required=True)
    needs = ListField(StringField(), required=True)
    description = StringField(default="")
    disconnection_date = DateField(null=True)
    urgent = BooleanField(default=False)
    opened_by = StringField(required=True)
    opened_at = DateTimeField(required=True)


DOCUMENTS: tuple[type[Document], ...] = (BuildingDoc, CaseDoc)
OUTBOX_COLLECTIONS = [CaseDoc._meta["collection"]]
