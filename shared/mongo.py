"""MongoDB connection through mongoengine: one database per service, one alias per service."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import mongoengine
from pymongo.database import Database
from pymongo.errors import ConnectionFailure

log = logging.getLogger(__name__)

# Short: an unreachable store must turn into a quick 503, not a request hanging for 30 s.
SERVER_SELECTION_TIMEOUT_MS = 2000


def connect(alias: str, uri: str, database: str) -> Database:
    """Connect ``alias`` to ``database`` on the server at ``uri`` (no I/O happens here)."""
    mongoengine.disconnect(alias)
    mongoengine.connect(
        db=database,
        alias=alias,
        host=uri,
        uuidRepresentation="standard",
        tz_aware=True,
        serverSelectionTimeoutMS=SERVER_SELECTION_TIMEOUT_MS,
        connectTimeoutMS=SERVER_SELECTION_TIMEOUT_MS,
        socketTimeoutMS=10_000,
        # FerretDB's SQLite backend has no retryable writes; MongoDB does not need them here
        # because every write is idempotent or guarded by a unique key.
        retryWrites=False,
    )
    return mongoengine.get_db(alias)


def disconnect(alias: str) -> None:
    """Close the connection of ``alias``."""
    mongoengine.disconnect(alias)


def ping(db: Database) -> None:
    """Raise a pymongo error when the store does not answer."""
    db.command("ping")


def ensure_indexes(*documents: type[mongoengine.Document]) -> bool:
    """Create the indexes each document declares in ``meta["indexes"]``.

    Returns False when the store is unreachable: mongoengine then creates them on first use, and a
    process must not fail to start because the store is briefly down.
    """
    try:
        for document in documents:
            document.ensure_indexes()
    except ConnectionFailure as exc:
        log.warning("store unreachable, indexes will be created on first use: %s", exc)
        return False
    return True


def database(alias: str) -> Database:
    """The database connected under ``alias``."""
    return mongoengine.get_db(alias)


def hydrate(document: type[mongoengine.Document], son: Mapping[str, Any]) -> SimpleNamespace:
    """The fields of ``document`` read from the raw stored ``son``, as attributes.

    What ``document._from_son(son)`` gives to a reader of its fields (each field's
    ``to_python``: decrypted strings, dates, embedded documents; a missing field's default), at a
    fraction of its cost: mongoengine builds a tracked, validating document, about 1 ms per case
    on this machine, as long as FerretDB takes to send it. For pages of read-only documents.
    """
    values: dict[str, Any] = {}
    for name, field in document._fields.items():
        raw = son.get(field.db_field)
        if raw is None:  # missing, or null where the field allows no null: its default
            stored_null = field.db_field in son and field.null
            if stored_null or field.default is None:
                values[name] = None
            else:
                values[name] = field.default() if callable(field.default) else field.default
        else:
            values[name] = field.to_python(raw)
    return SimpleNamespace(**values)


def read_by_id(document: type[mongoengine.Document], ids: Sequence[Any]) -> list[SimpleNamespace]:
    """The documents with these ids, in this order (those still there), read for display: raw,
    without an outbox, and hydrated (``hydrate``), not tracked mongoengine documents."""
    if not ids:
        return []
    raw = document._get_collection().find({"_id": {"$in": list(ids)}}, {"outbox": 0})
    found = {doc["_id"]: doc for doc in raw}
    return [hydrate(document, found[i]) for i in ids if i in found]


def read_one(document: type[mongoengine.Document], doc_id: Any) -> SimpleNamespace | None:
    """The document with ``doc_id`` (None: none), read as ``read_by_id`` reads: for lookups made
    on every request or event, where a tracked document costs about a millisecond more."""
    found = read_by_id(document, [doc_id]) if doc_id else []
    return found[0] if found else None
