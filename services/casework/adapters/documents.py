"""casework's MongoDB documents (database ``<prefix>_casework``, alias ``casework``).

A case file is one document: its lifecycle, assessments, referrals, visits, diary, outcomes,
notes and tasks are embedded, so every change and its events are one atomic write, guarded by a
compare-and-set on ``version``. The top-level fields declared here are the ones queries and
indexes use; the embedded records are written by the repository through ``adapters.codec``.
"""

from __future__ import annotations

from mongoengine import (
    BooleanField,
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
        # Embedded records (referrals, visits, …) are not declared field by field.
        "strict": False,
        "indexes": [
            {"fields": ["state", "-opened_at"]},
            {"fields": ["building.id", "-opened_at"]},
            {"fields": ["counter_id", "-opened_at"]},
            {"fields": ["assignee", "-opened_at"]},
            {"fields": ["referral_paths", "-opened_at"]},
            {"fields": ["next_due"]},
            {"fields": ["unannounced_due"]},
            {"fields": ["disconnection_alert_from"]},
        ],
    }

    id = StringField(primary_key=True)
    tenant_id = StringField(required=True)
    building = EmbeddedDocumentField(BuildingSnapshotDoc, required=True)
    counter_id = StringField(null=True)
    channel = StringField(required=True)
    urgent = BooleanField(default=False)
    disconnection_date = StringField(null=True)  # ISO date
    opened_by = StringField(required=True)
    opened_at = DateTimeField(required=True)
    state = StringField(required=True)
    assignee = StringField(null=True)
    source_event_id = StringField(required=True)
    version = IntField(default=0)
    # Derived, always stored (a missing field indexes differently on FerretDB and MongoDB).
    referral_paths = ListField(StringField(), default=list)
    next_due = StringField(null=True)
    unannounced_due = StringField(null=True)
    disconnection_alert_from = StringField(null=True)


DOCUMENTS: tuple[type[Document], ...] = (CaseFileDoc,)
OUTBOX_COLLECTIONS = [CaseFileDoc._meta["collection"]]
