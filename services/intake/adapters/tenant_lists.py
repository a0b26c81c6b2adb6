"""Tenant lists read from small entries addressed by ``_id`` (collection ``tenant_list_entries``).

The search by name prefix and the tenants of a building (sorted by ``search_name``, then ``_id``)
are a filtered, sorted query on the tenants, which FerretDB answers by reading and decoding every
tenant. Like the case lists (``case_lists``), each tenant has one small entry per list, whose
``_id`` is the list, the tenant's search name (encoded, below) and the tenant id:

    n:<name>#<tenant_id>                  every tenant, by name
    tb:<building_id>:<name>#<tenant_id>   the tenants of a building, by name

A name prefix is then a range: the entries from ``n:<prefix>`` up to ``n:<prefix>~``, served by
the ``_id`` index with skip and limit (the launcher's patches 0004, 0005) and by MongoDB alike.

The search name (``identifiers.search_key``: lower case ASCII without accents, single spaces) may
hold any ASCII character a name typed in brings: space, ``'``, ``&``, ``<``, controls… The range
pushdown orders only *plain* strings like MongoDB (``#`` to ``~`` but ``\\ < > &``), so the name
is written in an alphabet of plain characters that keeps its order and its prefixes
(``name_key``): digits and ``a``–``z`` as themselves, any other character as a marker of its
block (``$`` below ``0``, ``M`` between ``9`` and ``a``, ``{`` above ``z``) and its code in hex.
``rossi mario`` is ``rossi$20mario``. The separator before the tenant id, ``#``, sorts before
every character of a name (``rossi`` before ``rossi mario`` and ``rossini``), and ``~`` after
every one (the end of a prefix's range). Every search name has entries, so every prefix is
answered by them; only a building id that cannot name a list (``case_lists.LISTABLE_ID``) is
served by the tenants query.

Entries follow the tenant: every write of a tenant (registration, change, anonymisation)
reconciles them (``reconcile``: the new ones inserted, the gone ones deleted; idempotent). An
erased tenant's old name leaves before the anonymising write. ``backfill`` writes the entries of
every stored tenant; until it has run once in a database, lists are read with the tenants query.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from pymongo.collection import Collection

from services.intake.adapters.case_lists import BATCH, LISTABLE_ID
from services.intake.adapters.documents import BACKFILLS, IntakeTenantDoc, IntakeTenantListEntryDoc
from shared import id_lists

BY_NAME, BY_BUILDING = "n", "tb"
SEPARATOR = "#"  # below every character of an encoded name
END = "~"  # above every character of an encoded name and of the separator
BACKFILL_MARK = IntakeTenantListEntryDoc._meta["collection"]  # in BACKFILLS, once done
_KEPT = frozenset("0123456789abcdefghijklmnopqrstuvwxyz")


def name_key(search_name: str) -> str:
    """``search_name`` in plain characters, in the same order and with the same prefixes."""
    out = []
    for char in search_name:
        if char in _KEPT:
            out.append(char)
            continue
        code = ord(char)
        if code < 0x30:
            out.append(f"${code:02x}")
        elif code < 0x61:
            out.append(f"M{code:02x}")
        else:  # above ``z``: ``{ | } ~``, DEL, and anything beyond ASCII
            out.append(f"{{{code:06x}")
    return "".join(out)


def list_for(building_id: str | None) -> str | None:
    """The list a tenants search by name prefix (possibly empty) reads: all tenants, or the
    building's; None when the building id cannot name a list (the tenants query)."""
    if not building_id:
        return f"{BY_NAME}:"
    if not LISTABLE_ID.match(building_id):
        return None
    return f"{BY_BUILDING}:{building_id}:"


def span(name: str, prefix: str = "") -> dict[str, Any]:
    """The entries of list ``name`` whose search name starts with ``prefix`` (a search key)."""
    low = f"{name}{name_key(prefix)}"
    return {"_id": {"$gte": low, "$lt": low + END}}


def entry_ids(tenant: dict[str, Any]) -> set[str]:
    """The entries of a tenant, given as stored (``_id``, ``search_name``, ``building_id``)."""
    search_name = tenant.get("search_name")
    if not isinstance(search_name, str):
        return set()  # the tenants query's sort puts it elsewhere: not a list's tenant
    key = f"{name_key(search_name)}{SEPARATOR}{tenant['_id']}"
    ids = {f"{BY_NAME}:{key}"}
    building = list_for(tenant.get("building_id"))
    if tenant.get("building_id") and building:
        ids.add(f"{building}{key}")
    return ids


class TenantListEntries:
    """The entries of intake's tenant lists."""

    def __init__(self) -> None:
        self.backfills = id_lists.Backfills(
            lambda: self.collection.database[BACKFILLS], [BACKFILL_MARK]
        )

    @property
    def collection(self) -> Collection:
        """The entries' collection, on intake's connection."""
        return IntakeTenantListEntryDoc._get_collection()

    def reconcile(self, tenant_id: str, before: dict[str, Any] | None) -> None:
        """Make the tenant's entries those of its stored state: insert the missing ones, delete
        those of ``before`` (its state before the write) it no longer has.

        Writes of one tenant are serialised by its version, but their reconciliations are not:
        one that finds the tenant moved on since (another write) does the newest state's too.
        """
        stored = _stored(tenant_id)
        want = entry_ids(stored) if stored else set()
        self._insert(want, tenant_id)
        self._delete((entry_ids(before) if before else set()) - want)
        again = _stored(tenant_id)
        if again != stored:
            newest = entry_ids(again) if again else set()
            self._insert(newest, tenant_id)
            self._delete(want - newest)

    def forget(self, tenant: dict[str, Any]) -> None:
        """Delete the entries of the tenant as given (before an anonymisation: its name)."""
        self._delete(entry_ids(tenant))

    def _insert(self, ids: Iterable[str], tenant_id: str) -> None:
        docs = [{"_id": i, "tenant_id": tenant_id} for i in sorted(ids)]
        id_lists.insert_new(self.collection, docs)

    def _delete(self, ids: Iterable[str]) -> None:
        doomed = sorted(ids)
        if doomed:
            self.collection.delete_many({"_id": {"$in": doomed}})

    def page(self, name: str, prefix: str, limit: int, offset: int) -> tuple[list[str], int | None]:
        """The tenant ids of one page of list ``name`` with names starting with ``prefix`` (by
        name, then id) and how many there are (None: more than ``id_lists.COUNT_CAP``)."""
        entries = span(name, prefix)
        cursor = self.collection.find(entries, {"tenant_id": 1}).sort("_id", 1)
        ids = [d["tenant_id"] for d in cursor.skip(offset).limit(limit)]
        return ids, id_lists.page_total(self.collection, entries, offset, limit, len(ids))

    def ready(self) -> bool:
        """Whether every tenant stored before the entries existed has them (``backfill``)."""
        return self.backfills.done()

    def backfill(self, now: datetime) -> int | None:
        """Once per database (intake's worker, at start): the entries of every stored tenant.
        Returns how many tenants it went through, None when it was done already."""
        if self.ready():
            return None
        tenants, _ = self.repair(now)
        return tenants

    def repair(self, now: datetime) -> tuple[int, int]:
        """Write the entries of every tenant (the missing ones) and drop the entries no tenant
        justifies any more; then mark the backfill done. Returns (tenants, entries dropped).

        Reads every tenant and every entry: a command's work, never a request's.
        """
        tenants = 0
        for batch in id_lists.batches(_stored_tenants(), BATCH):
            for tenant in batch:
                self._insert(entry_ids(tenant), tenant["_id"])
            tenants += len(batch)
        dropped = self._drop_stale_entries()
        self.backfills.mark_done(now)
        return tenants, dropped

    def _drop_stale_entries(self) -> int:
        stale: list[str] = []
        for batch in id_lists.batches(self.collection.find({}, {"tenant_id": 1}), BATCH):
            found = IntakeTenantDoc._get_collection().find(
                {"_id": {"$in": sorted({e["tenant_id"] for e in batch})}},
                {"search_name": 1, "building_id": 1},
            )
            justified = {i for tenant in found for i in entry_ids(tenant)}
            stale.extend(e["_id"] for e in batch if e["_id"] not in justified)
        dropped = 0
        for start in range(0, len(stale), BATCH):  # after the read: no write under its cursor
            doomed = {"_id": {"$in": stale[start : start + BATCH]}}
            dropped += self.collection.delete_many(doomed).deleted_count
        return dropped


def _stored(tenant_id: str) -> dict[str, Any] | None:
    return IntakeTenantDoc._get_collection().find_one(
        {"_id": tenant_id}, {"search_name": 1, "building_id": 1, "version": 1}
    )


def _stored_tenants() -> Iterator[dict[str, Any]]:
    return IntakeTenantDoc._get_collection().find({}, {"search_name": 1, "building_id": 1})
