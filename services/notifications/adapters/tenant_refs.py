"""Where a tenant appears in notifications' store, as small entries addressed by ``_id``.

A tenant's erasure and export, and casework's retention, look for the tenant's cases and for
the messages to them or about their cases. On FerretDB's SQLite backend a query on ``tenant_id``,
``recipient.ref`` or ``case_id`` reads and decodes every case or message (it serves only ``_id``
from an index): at scale longer than the store's 10 s call limit, and a handler that always
fails ends in the dead-letter topic. So each case and message has entries in ``tenant_refs``:

    t:<tenant_id>:<case_id>        a case of the tenant (until the erasure unlinks it)
    r:<tenant_id>:<message_id>     a message to the tenant
    c:<case_id>:<message_id>       a message about the case

each list being the ``_id`` range ``<kind>:<id>:`` .. ``<kind>:<id>;`` (``shared.id_lists``),
served by the ``_id`` index on both stores. An entry is written *before* its case or message
(like the send queue's entries), so whatever is stored can be found; an entry whose document
never landed points to nothing and is skipped. What a message's entries are made of (its case,
its recipient) never changes. The cases and messages stored before the entries existed get
theirs once per database (``backfill``, the worker at start); until then the queries are used.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pymongo.collection import Collection

from services.notifications.adapters.documents import CaseDoc, NotificationDoc, TenantRefDoc
from services.notifications.domain.model import RecipientKind
from shared.id_lists import BACKFILLS, Backfills, batches, insert_new, listable, span
from shared.privacy import ANONYMOUS

CASE_OF, TO_TENANT, ABOUT_CASE = "t", "r", "c"
BACKFILL_MARK = TenantRefDoc._meta["collection"]
BATCH = 500
TENANT = RecipientKind.TENANT.value  # as stored


def case_refs(case: dict[str, Any]) -> list[dict[str, Any]]:
    """The entries of a case as stored (``_id``, ``tenant_id``)."""
    tenant_id = case.get("tenant_id")
    if not listable(tenant_id) or tenant_id == ANONYMOUS:  # unlinked by an erasure: no one's
        return []
    return [{"_id": f"{CASE_OF}:{tenant_id}:{case['_id']}", "ref": case["_id"]}]


def message_refs(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The entries of a message as stored (``_id``, ``case_id``, ``recipient.kind`` / ``ref``)."""
    refs = []
    case_id, recipient = message.get("case_id"), message.get("recipient") or {}
    if listable(case_id):
        refs.append({"_id": f"{ABOUT_CASE}:{case_id}:{message['_id']}", "ref": message["_id"]})
    if recipient.get("kind") == TENANT and listable(recipient.get("ref")):
        tenant_id = recipient["ref"]
        refs.append({"_id": f"{TO_TENANT}:{tenant_id}:{message['_id']}", "ref": message["_id"]})
    return refs


class TenantRefs:
    """notifications' entries of where a tenant appears."""

    def __init__(self) -> None:
        self.backfills = Backfills(lambda: self.collection.database[BACKFILLS], [BACKFILL_MARK])

    @property
    def collection(self) -> Collection:
        """The entries' collection, on notifications' connection."""
        return TenantRefDoc._get_collection()

    def add(self, entries: Iterable[dict[str, Any]]) -> None:
        """Insert ``entries`` (before their documents); those already there stay."""
        insert_new(self.collection, list(entries))

    def ready(self, *ids: str | None) -> bool:
        """Whether the lists of ``ids`` can be read from their entries: backfilled, and each id
        able to name a list."""
        return all(listable(i) for i in ids) and self.backfills.done()

    def refs(self, kind: str, ids: Iterable[str]) -> list[str]:
        """What the lists ``<kind>:<id>`` point to, each list in ``_id`` order."""
        found: list[str] = []
        for i in ids:
            found += [e["ref"] for e in self.collection.find(span(f"{kind}:{i}"), {"ref": 1})]
        return list(dict.fromkeys(found))

    def unlink_cases(self, tenant_id: str, case_ids: Iterable[str]) -> None:
        """Drop the entries linking the tenant to these cases (after the cases are unlinked)."""
        doomed = [f"{CASE_OF}:{tenant_id}:{c}" for c in case_ids]
        if doomed:
            self.collection.delete_many({"_id": {"$in": doomed}})

    def backfill(self, now: datetime) -> int | None:
        """Once per database (the worker, at start): the entries of every stored case and
        message. Returns how many documents it went through, None when it was done already.

        Reads every case and message: a start's work, never a request's. A document written
        meanwhile writes its own entries first.
        """
        if self.backfills.done():
            return None
        seen = 0
        cases = CaseDoc._get_collection().find({}, {"tenant_id": 1})
        messages = NotificationDoc._get_collection().find(
            {}, {"case_id": 1, "recipient.kind": 1, "recipient.ref": 1}
        )
        for stored, refs in ((cases, case_refs), (messages, message_refs)):
            for batch in batches(stored, BATCH):
                self.add(e for doc in batch for e in refs(doc))
                seen += len(batch)
        self.backfills.mark_done(now)
        return seen
