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
