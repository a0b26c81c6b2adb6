"""casework's MongoDB documents (database ``<prefix>_casework``, alias ``casework``).

A case file is one document: its lifecycle, assessments, referrals, visits, diary, outcomes,
notes and tasks are embedded. The top-level fields declared here are the ones queries and
indexes use; the embedded records are written by the repository through ``adapters.codec``.

Each write of a case file first inserts its *version document* (``case_file_versions``,
``_id = <case id>:<version>``): the unique insert makes writers take turns, and the document
carries that write's events, moved into its outbox for the relay once the case file is stored.
The relay only ever updates version documents, never the case file itself (see the repository
for why). A write in progress (``case_file_writes``) says which versions may still need finishing.
"""

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

from shared import id_lists
from shared.outbox import OutboxDocument
from shared.privacy import ERASURES

ALIAS = "casework"

# Free text that can tell of health, money and family trouble: encrypted at rest (``*`` = every
# item of a list). Listed in docs/casework.md; the referral's dossier copies some of them.
# The repository applies them (embedded records are not declared as fields).
ENCRYPTED_PATHS = (
    "description",
    "outcome",
    "notes.*.text",
    "history.*.reason",
    "assessments.*.note",
    "assessments.*.evidence.home_visit_findings.*",
    "referrals.*.reason",
    "referrals.*.decline_reason",
    "referrals.*.outcome",
    "referrals.*.outcome_for_tenant",
    "referrals.*.history.*.reason",
    "referrals.*.shared.description",
    "referrals.*.shared.notes.*",
    "referrals.*.shared.home_visit_findings.*",
    "visits.*.findings.*",
    "diary.*.note",
    "outcomes.*.note",
)


class BuildingSnapshotDoc(EmbeddedDocument):
    id = StringField(required=True)
    name = StringField(required=True)
    address = StringField(required=True)
    municipio = IntField(required=True)


class CaseFileDoc(Document):
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
    # The ids of the list entries this case file has or may still have (``case_file_lists``).
    list_entries = ListField(StringField(), default=list)


class CaseFileVersionDoc(OutboxDocument):
    """One write of a case file: the turn it took, and the events it caused."""

    meta = {
        "collection": "case_file_versions",
        "db_alias": ALIAS,
        "indexes": [],  # read by _id only (the writes in progress: CaseFileWriteDoc)
    }

    id = StringField(primary_key=True)  # <case id>:<version>
    case_id = StringField(required=True)
    version = IntField(required=True)
    at = DateTimeField(required=True)
    staged = ListField(DictField(), default=list)
    # False until the case file is stored and ``staged`` moved into ``outbox``.
    published = BooleanField(required=True, default=False)


class CaseFileWriteDoc(Document):
    """A write of a case file in progress (``CaseFileRepository.save``): inserted before its
    version, deleted once the case file, its list entries and its events are all stored.

    One left behind belongs to a writer that died: the worker's scan finishes that write
    (``publish_stranded``), reading these few documents rather than every version ever written.
    """

    meta = {"collection": "case_file_writes", "db_alias": ALIAS, "indexes": []}

    id = StringField(primary_key=True)  # the version's: <case id>:<version>
    case_id = StringField(required=True)
    version = IntField(required=True)
    at = DateTimeField(required=True)


class CaseFileListEntryDoc(Document):
    """A case file in one work queue (``services.casework.adapters.case_file_lists``): ``_id``
    is ``<list>:<sort key>:<case_id>``, so a list is an ``_id`` range in its order.

    A page of a list is one read of the ``_id`` index, where FerretDB would read every case file
    to filter and sort them.
    """

    meta = {"collection": "case_file_list_entries", "db_alias": ALIAS, "indexes": []}

    id = StringField(primary_key=True)
    case_id = StringField(required=True)


# One-off data migrations done in this database: a mark each, once done (``shared.id_lists``).
BACKFILLS = id_lists.BACKFILLS

DOCUMENTS: tuple[type[Document], ...] = (
    CaseFileDoc,
    CaseFileVersionDoc,
    CaseFileWriteDoc,
    CaseFileListEntryDoc,
)
# Collection → paths of its fields encrypted at rest (what key rotation rewrites).
# The version documents keep every event (``staged`` until stored, then ``outbox``): encrypted too.
ENCRYPTED_FIELDS: dict[str, tuple[str, ...]] = {
    CaseFileDoc._meta["collection"]: ENCRYPTED_PATHS,
    CaseFileVersionDoc._meta["collection"]: ("staged.*.value", "outbox.*.value"),
}
OUTBOX_COLLECTIONS = [
    CaseFileVersionDoc._meta["collection"],
    ERASURES,  # each erasure record carries its confirmation event (shared.privacy)
]
