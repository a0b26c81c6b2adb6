"""Lookups by ``_id`` are served from the ``_id`` index by the store.

Every hot path of the services (outbox relay, idempotent consumers, send queue, aggregates)
reads and writes by ``_id``. On FerretDB's SQLite backend that holds only with the launcher's
patch (``deploy/ferretdb/patches``): unpatched, each of them scanned the whole collection.
"""

from __future__ import annotations

import pymongo


def plan_text(db, command: dict) -> str:
    return str(db.command("explain", command, verbosity="queryPlanner"))


def test_a_lookup_by_id_uses_the_id_index(infra, environ) -> None:
    client = pymongo.MongoClient(infra.mongo, serverSelectionTimeoutMS=5000)
    db = client[f"{environ['SPORTELLO_DB_PREFIX']}_store"]
    try:
        db.docs.insert_many([{"_id": f"case_{i:04d}", "n": i} for i in range(200)])
        ferretdb = "ferretdbVersion" in db.command("buildInfo")
        # FerretDB explains find only; its updates and deletes by _id find their documents with
        # the same query and write with the same expression (the patched IDColumn).
        # A guarded write's filter ({_id, owner}, {_id, state}) is narrowed by its _id too.
        for query in ({"_id": "case_0150"}, {"_id": "case_0150", "n": {"$gte": 100}}):
            plan = plan_text(db, {"find": "docs", "filter": query})
            if ferretdb:
                # SQLite's plan: SEARCH … USING INDEX <table>__id_ instead of SCAN <table>.
                assert "USING INDEX" in plan and "__id_" in plan, (query, plan)
            else:
                assert any(s in plan for s in ("IDHACK", "EXPRESS_IXSCAN", "IXSCAN")), plan
        assert db.docs.find_one({"_id": "case_0150", "n": 151}) is None  # the rest still filters
        assert db.docs.find_one({"_id": "case_0150"})["n"] == 150
    finally:
        client.drop_database(db.name)
        client.close()


# The filters the hot paths send besides a bare ``{_id}``: each must be narrowed by its ``_id``
# (on FerretDB, by the launcher's second patch), never read the whole collection.
HOT_PATH_FILTERS = {
    # intake: a claim (slot, open case, codice fiscale) given back or taken over by its holder
    "claim of its holder": {"_id": "case_0150", "tenant_id": "ten_1"},
    # intake: a tenant or an appointment written at the version it was read at
    "aggregate at its version": {"_id": "case_0150", "version": 3},
    # intake: a case ended only while open; an idempotency key released while in progress
    "guarded state": {"_id": "case_0150", "status": "aperto"},
    # notifications: an appointment's pending reminder cancelled (cancel_pending)
    "pending message of an appointment": {
        "_id": "case_0150",
        "appointment_id": "app_1",
        "event_id": {"$ne": "evt_1"},
        "rule": {"$in": ["promemoria_appuntamento"]},
        "status": {"$in": ["creata", "riprova"]},
    },
    # notifications: a digest's item settled when the digest went out
    "digest item": {"_id": "case_0150", "digest_id": "dig_1", "status": "in_riepilogo"},
    # notifications: an inbox message marked read
    "inbox message": {
        "_id": "case_0150",
        "channel": "inbox",
        "recipient.address": "op.rossi",
        "status": "consegnata",
        "read_at": None,
    },
    # notifications: a tenant snapshot or a consent applied unless a newer one is stored
    "newer snapshot": {"_id": "case_0150", "version": {"$lt": 4}},
    # (third patch) a list of ids: the relay's hints done, a counter's booked slots, an erasure
    "ids listed": {"_id": {"$in": ["case_0150", "case_0007", "case_0199"]}},
}


def test_a_list_of_ids_finds_exactly_those_documents(infra, environ) -> None:
    client = pymongo.MongoClient(infra.mongo, serverSelectionTimeoutMS=5000)
    db = client[f"{environ['SPORTELLO_DB_PREFIX']}_store"]
    try:
        db.docs.insert_many([{"_id": f"case_{i:04d}", "n": i} for i in range(200)])
        ids = ["case_0150", "case_0007", "nope"]
        assert sorted(d["n"] for d in db.docs.find({"_id": {"$in": ids}})) == [7, 150]
        assert db.docs.count_documents({"_id": {"$in": ids}, "n": {"$gt": 10}}) == 1
        assert db.docs.delete_many({"_id": {"$in": ids}}).deleted_count == 2
        assert db.docs.count_documents({}) == 198
    finally:
        client.drop_database(db.name)
        client.close()


def test_the_hot_paths_filters_are_narrowed_by_their_id(infra, environ) -> None:
    client = pymongo.MongoClient(infra.mongo, serverSelectionTimeoutMS=5000)
    db = client[f"{environ['SPORTELLO_DB_PREFIX']}_store"]
    try:
        db.docs.insert_many([{"_id": f"case_{i:04d}", "n": i} for i in range(200)])
        ferretdb = "ferretdbVersion" in db.command("buildInfo")
        for name, query in HOT_PATH_FILTERS.items():
            plan = plan_text(db, {"find": "docs", "filter": query})
            if ferretdb:
                assert "USING INDEX" in plan and "__id_" in plan, (name, plan)
            else:
                assert any(s in plan for s in ("IDHACK", "EXPRESS_IXSCAN", "IXSCAN")), (name, plan)
    finally:
        client.drop_database(db.name)
        client.close()
