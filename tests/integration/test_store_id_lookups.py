"""Lookups by ``_id`` are served from the ``_id`` index by the store.

Every hot path of the services (outbox relay, idempotent consumers, send queue, aggregates)
reads and writes by ``_id``. On FerretDB's SQLite backend that holds only with the launcher's
patch (``deploy/ferretdb/patches``): unpatched, each of them scanned the whole collection.
Lists read as ``_id`` ranges (fourth patch) are checked at the end: plans, and answers equal
to a pure-Python filter, sort and slice of the same documents.
"""

from __future__ import annotations

from collections import Counter

import bson
import pymongo
from bson import Int64

from shared import id_lists


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


# --- _id ranges (fourth patch) ---------------------------------------------------------------
# A list read as a range of small entries whose ``_id`` encodes the list and the sort key
# (``b:<building>:<key>``): the store must read only the range, in the order of the ``_id``
# index, and (when the filter is only the range) stop at the page. The answers must be exactly
# MongoDB's: only string ``_id``s are in a string range, ordered bytewise.


def range_docs() -> list[dict]:
    """Entries of three lists, with neighbours that a text range could catch by mistake."""
    docs: list[dict] = [
        {"_id": f"b:{b}:{9_999_999_999 - i * 7:010d}:case_{i:04d}", "n": i}
        for b in ("bld1", "bld2", "bld10")
        for i in range(120)
    ]
    docs += [
        {"_id": "b:bld1", "n": -1},  # the list's name itself, without the separator
        {"_id": "b:bld1:", "n": -2},  # exactly the lower bound
        {"_id": "b:bld1;", "n": -3},  # exactly the upper bound
        {"_id": "b:bld1:~", "n": -4},  # the last printable character
        {"_id": "b:bld1:#", "n": -5},  # the first character after the quote
        {"_id": "b:bld10", "n": -6},
        {"_id": "a", "n": -7},
        {"_id": "", "n": -8},
        {"_id": "c", "n": -9},
        {"_id": "1:x", "n": -12},
        {"_id": "a" * 24 + ":x", "n": -13},
        {"_id": 12, "n": -10},  # numbers, objects and ObjectIds are never in a string range
        {"_id": {"k": "b:bld1:5"}, "n": -11},
    ]
    # ObjectIds are stored by FerretDB as the JSON string of their hex digits: 24-character
    # string ids look the same to SQL but are other values to MongoDB (FerretDB refuses a
    # string equal to a stored ObjectId's digits as a duplicate, hence the "f" after them).
    for i in range(6):
        oid = bson.ObjectId(f"{i:x}" * 24)
        docs += [{"_id": oid, "n": -20 - i}, {"_id": f"{i:x}" * 23 + "f", "n": -30 - i}]
    return docs


def in_range(value: object, cond: dict[str, str]) -> bool:
    """MongoDB's answer for ``{_id: cond}``: only strings, compared bytewise (by code point)."""
    tests = {"$gt": str.__gt__, "$gte": str.__ge__, "$lt": str.__lt__, "$lte": str.__le__}
    return isinstance(value, str) and all(tests[op](value, bound) for op, bound in cond.items())


def page_of(db, query: dict, direction: int, skip: int, limit: int) -> list[dict]:
    return list(db.docs.find(query).sort("_id", direction).skip(skip).limit(limit))


def expected_page(matches: list[dict], direction: int, skip: int, limit: int) -> list[dict]:
    """The page a pure-Python sort and slice gives (limit 0: no limit, as in MongoDB)."""
    ordered = sorted(matches, key=lambda d: d["_id"], reverse=direction == -1)
    return ordered[skip : skip + limit] if limit else ordered[skip:]


def explain_find(db, query: dict, direction: int, skip: int, limit: int) -> dict:
    command = {
        "find": "docs",
        "filter": query,
        "sort": {"_id": direction},
        "skip": Int64(skip),
        "limit": Int64(limit),
    }
    return db.command("explain", command, verbosity="queryPlanner")


RANGES = {
    "one list": {"$gte": "b:bld1:", "$lt": "b:bld1;"},
    "open bounds": {"$gt": "b:bld1:", "$lte": "b:bld1;"},
    "from a key on": {"$gte": "b:bld1:9999999500"},
    "up to a key": {"$lt": "b:bld1:9999999500"},
    "after a key": {"$gt": "b:bld10:9999999993:case_0001"},
    "up to a key included": {"$lte": "b:bld10:9999999993:case_0001"},
    "hex digits": {"$gte": "0", "$lt": "6"},
    # the check of ObjectIds is left out only where none can be: both bounds given, and a
    # character that is not a hex digit among the first 24 of every id between them
    "hex prefix, then digits": {"$gte": "1", "$lt": "2"},
    "up to an ObjectId's digits": {"$gte": "0", "$lte": "0" * 24},
    "hex prefix, then a separator": {"$gte": "1:", "$lt": "1;"},
    "24 hex digits, then a separator": {"$gte": "a" * 24 + ":", "$lt": "a" * 24 + ";"},
    "empty": {"$gte": "b:bld1:x", "$lt": "b:bld1:y"},
}
PAGES = [(0, 0), (0, 25), (7, 5), (100, 25), (119, 25), (500, 10), (3, 0)]


def test_an_id_range_gives_exactly_the_range_in_order_and_paged(infra, environ) -> None:
    client = pymongo.MongoClient(infra.mongo, serverSelectionTimeoutMS=5000)
    db = client[f"{environ['SPORTELLO_DB_PREFIX']}_store"]
    try:
        docs = range_docs()
        db.docs.insert_many(docs)
        for name, cond in RANGES.items():
            matches = [d for d in docs if in_range(d["_id"], cond)]
            assert db.docs.count_documents({"_id": cond}) == len(matches), name
            for direction in (1, -1):
                for skip, limit in PAGES:
                    assert page_of(db, {"_id": cond}, direction, skip, limit) == expected_page(
                        matches, direction, skip, limit
                    ), (name, direction, skip, limit)
            # without a sort the order is the store's: the same documents
            got = sorted(d["_id"] for d in db.docs.find({"_id": cond}))
            assert got == sorted(d["_id"] for d in matches), name
    finally:
        client.drop_database(db.name)
        client.close()


def test_an_id_range_with_another_condition_is_filtered_before_the_page(infra, environ) -> None:
    client = pymongo.MongoClient(infra.mongo, serverSelectionTimeoutMS=5000)
    db = client[f"{environ['SPORTELLO_DB_PREFIX']}_store"]
    try:
        docs = range_docs()
        db.docs.insert_many(docs)
        cond = RANGES["one list"]
        # Only every third entry matches: a SQL LIMIT before this filter would cut the page
        # short, so the store must not limit in SQL here.
        query = {"_id": cond, "n": {"$in": list(range(0, 120, 3))}}
        matches = [d for d in docs if in_range(d["_id"], cond) and d["n"] in query["n"]["$in"]]
        assert len(matches) == 40
        for direction in (1, -1):
            for skip, limit in PAGES:
                assert page_of(db, query, direction, skip, limit) == expected_page(
                    matches, direction, skip, limit
                ), (direction, skip, limit)
        assert db.docs.count_documents(query) == 40
        if "ferretdbVersion" in db.command("buildInfo"):
            explained = explain_find(db, query, -1, 5, 25)
            assert explained["filterPushdown"] and not explained["limitPushdown"], explained
    finally:
        client.drop_database(db.name)
        client.close()


def test_a_page_of_an_id_range_is_read_from_the_id_index(infra, environ) -> None:
    client = pymongo.MongoClient(infra.mongo, serverSelectionTimeoutMS=5000)
    db = client[f"{environ['SPORTELLO_DB_PREFIX']}_store"]
    try:
        db.docs.insert_many(range_docs())
        ferretdb = "ferretdbVersion" in db.command("buildInfo")
        for name, cond in RANGES.items():
            for direction in (1, -1):
                explained = explain_find(db, {"_id": cond}, direction, 10, 25)
                plan = str(explained["queryPlanner"])
                if ferretdb:
                    # SEARCH … USING INDEX <table>__id_ (<expr>>? AND <expr><?), in the index's
                    # order (no temporary B-tree to sort), with LIMIT and OFFSET in SQL.
                    assert "USING INDEX" in plan and "__id_" in plan, (name, plan)
                    assert "TEMP B-TREE" not in plan, (name, plan)
                    pushed = ("filterPushdown", "sortPushdown", "limitPushdown")
                    assert all(explained[k] for k in pushed), (name, explained)
                else:
                    assert "IXSCAN" in plan, (name, plan)
                    assert "'stage': 'SORT'" not in plan, (name, plan)
            # count_documents (an aggregation) reads only the range too
            pipeline = [{"$match": {"_id": cond}}, {"$group": {"_id": 1, "n": {"$sum": 1}}}]
            command = {"aggregate": "docs", "pipeline": pipeline, "cursor": {}}
            explained = db.command("explain", command)
            plan = str(explained)
            if ferretdb:
                assert "USING INDEX" in plan and "__id_" in plan, (name, plan)
                assert explained["filterPushdown"], (name, plan)
            else:
                assert "IXSCAN" in plan or "COUNT_SCAN" in plan, (name, plan)
    finally:
        client.drop_database(db.name)
        client.close()


def types_of(doc: dict) -> dict[str, type]:
    return {k: type(v) for k, v in doc.items()}


def test_counts_of_a_range_or_of_everything_are_exact(infra, environ) -> None:
    # count_documents' pipeline ({$match}, {$group} with a constant _id and $sum) is counted by
    # SQLite for a range or the whole collection (fifth patch): the same answers, types included.
    client = pymongo.MongoClient(infra.mongo, serverSelectionTimeoutMS=5000)
    db = client[f"{environ['SPORTELLO_DB_PREFIX']}_store"]
    try:
        assert db.docs.count_documents({}) == 0
        assert db.docs.count_documents({"_id": RANGES["one list"]}) == 0
        docs = range_docs()
        db.docs.insert_many(docs)
        assert db.docs.count_documents({}) == len(docs)
        for name, cond in RANGES.items():
            n = sum(1 for d in docs if in_range(d["_id"], cond))
            assert db.docs.count_documents({"_id": cond}) == n, name
            assert db.docs.count_documents({"_id": cond}, skip=5, limit=10) == max(
                0, min(10, n - 5)
            )
            # (one accumulator each: FerretDB 1.24 gives 0 for the second one of a $group)
            for group, value in (
                ({"_id": None, "twice": {"$sum": 2}}, 2 * n),
                ({"_id": "long", "thrice": {"$sum": Int64(3)}}, Int64(3 * n)),
                ({"_id": "all", "half": {"$sum": 0.5}}, n / 2),
                ({"_id": 1, "c": {"$count": {}}}, n),
            ):
                got = list(db.docs.aggregate([{"$match": {"_id": cond}}, {"$group": group}]))
                key = list(group)[1]
                want = [{"_id": group["_id"], key: value}] if n else []
                assert got == want, (name, group)
                assert [types_of(d) for d in got] == [types_of(d) for d in want], (name, group)
            # another condition, or a group that reads the documents: counted as before
            assert db.docs.count_documents({"_id": cond, "n": {"$gte": 0}}) == sum(
                1 for d in docs if in_range(d["_id"], cond) and d["n"] >= 0
            ), name
            by_n = [{"$match": {"_id": cond}}, {"$group": {"_id": "$n", "c": {"$sum": 1}}}]
            got = {d["_id"]: d["c"] for d in db.docs.aggregate(by_n)}
            assert got == Counter(d["n"] for d in docs if in_range(d["_id"], cond)), name
    finally:
        client.drop_database(db.name)
        client.close()


def test_a_list_is_counted_up_to_the_cap_and_said_longer_past_it(infra, environ) -> None:
    # What the lists answer as their total: the exact count up to the cap, None past it.
    client = pymongo.MongoClient(infra.mongo, serverSelectionTimeoutMS=5000)
    db = client[f"{environ['SPORTELLO_DB_PREFIX']}_store"]
    try:
        assert id_lists.count_up_to(db.docs, {"_id": RANGES["one list"]}, cap=3) == 0
        docs = range_docs()
        db.docs.insert_many(docs)
        for name, cond in RANGES.items():
            n = sum(1 for d in docs if in_range(d["_id"], cond))
            for cap in {0, 1, n - 1, n, n + 1, 1000} - {-1}:
                want = n if n <= cap else None
                assert id_lists.count_up_to(db.docs, {"_id": cond}, cap=cap) == want, (name, cap)
            # read off a page when it is the list's last, counted otherwise: the same length
            for skip, limit in [*PAGES, (n, 5), (n + 3, 5), (max(n - 1, 0), 1)]:
                found = len(page_of(db, {"_id": cond}, 1, skip, limit or n + 1))
                total = id_lists.page_total(db.docs, {"_id": cond}, skip, limit or n + 1, found)
                assert total == n, (name, skip, limit)
        one_list = {"_id": RANGES["one list"]}
        assert id_lists.count_up_to(db.docs, one_list) == db.docs.count_documents(one_list) > 120
    finally:
        client.drop_database(db.name)
        client.close()
