"""A tenant's records at scale: the query on ``tenant_id`` against the tenant's list entries.

A tenant's erasure (intake, casework) and export (casework) look for the tenant's cases. The query
``find({tenant_id: …})`` reads every document on FerretDB's SQLite backend (it pushes down only
``_id``); the tenant's list is an ``_id`` range of small entries (``t:<tenant>:<time>:<case>``)
and then the cases by ``_id``, both served from the ``_id`` index (the launcher's patches):

    .venv/bin/python -m bench.tenant_records --uri mongodb://127.0.0.1:27020/ --cases 1000000

The cases (about 1 KB each, three per tenant) and their entries are loaded once and kept in
``--db`` unless ``--drop``. Each read is repeated ``--repeats`` times or until ``--budget-s``
has passed (at least three calls), on three tenants in turn.
"""

from __future__ import annotations

import base64
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pymongo
from pymongo.collection import Collection
from pymongo.database import Database

from bench.id_range import Figure, measure, report, store_parser

PER_TENANT = 3
BATCH = 2000
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def case_doc(i: int) -> dict:
    """A case file of about 1 KB: ids, building, state, history, an encrypted description."""
    opened = T0 + timedelta(minutes=i)
    return {
        "_id": f"case_{i:08d}",
        "tenant_id": tenant_of(i),
        "building": {"id": f"bld_{i % 900:04d}", "name": "via Saint Bon 12", "municipio": 7},
        "counter_id": f"ctr_{i % 20:02d}",
        "needs": ["lettura_bollette"],
        "state": "chiuso",
        "opened_at": opened,
        "history": [
            {"from_state": a, "to_state": b, "actor": "operatore.rossi", "at": opened, "reason": ""}
            for a, b in (("aperto", "in_valutazione"), ("in_valutazione", "chiuso"))
        ],
        # Fernet output is URL-safe base64 of about 1.4 times the text.
        "description": base64.urlsafe_b64encode(os.urandom(450)).decode(),
        "applied_events": [f"evt_{i:08d}"],
    }


def tenant_of(i: int) -> str:
    """The tenant of the ``i``-th case."""
    return f"ten_{i // PER_TENANT:08d}"


def entry(doc: dict) -> dict:
    """The case's entry in its tenant's list (``t:<tenant>:<opened_at ms>:<case>``)."""
    ms = int(doc["opened_at"].timestamp() * 1000)
    return {"_id": f"t:{doc['tenant_id']}:{ms:015d}:{doc['_id']}", "case_id": doc["_id"]}


def load(db: Database, cases: int) -> None:
    """Insert the cases and their entries unless the database holds them already."""
    files, entries = db["case_files"], db["entries"]
    if files.estimated_document_count() == cases and entries.estimated_document_count() == cases:
        return
    files.drop()
    entries.drop()
    started = time.perf_counter()
    for start in range(0, cases, BATCH):
        docs = [case_doc(i) for i in range(start, min(cases, start + BATCH))]
        files.insert_many(docs, ordered=False)
        entries.insert_many([entry(d) for d in docs], ordered=False)
        done = start + len(docs)
        if done % 50_000 == 0 or done == cases:
            rate = done / (time.perf_counter() - started)
            print(f"loaded {done:,} cases and their entries ({rate:,.0f}/s)", file=sys.stderr)


def reads(db: Database, cases: int) -> dict[str, Callable[[], int]]:
    """The two ways to find a tenant's case files, each on three tenants in turn."""
    files: Collection = db["case_files"]
    entries: Collection = db["entries"]
    tenants = [tenant_of(i) for i in (0, cases // 2, cases - 1)]
    turn = {"query": 0, "list": 0}

    def next_tenant(kind: str) -> str:
        turn[kind] += 1
        return tenants[turn[kind] % len(tenants)]

    def by_query() -> int:
        tenant = next_tenant("query")
        return len(list(files.find({"tenant_id": tenant}, {"_id": 1})))

    def by_list() -> int:
        tenant = next_tenant("list")
        span = {"_id": {"$gte": f"t:{tenant}:", "$lt": f"t:{tenant};"}}
        ids = [e["case_id"] for e in entries.find(span, {"case_id": 1}).sort("_id", 1)]
        return len(list(files.find({"_id": {"$in": ids}}, {"tenant_id": 1})))

    return {
        f"a tenant's case files, query on tenant_id ({cases:,} case files)": by_query,
        f"a tenant's case files, from the tenant's list ({cases:,} case files)": by_list,
    }


def main(argv: list[str] | None = None) -> int:
    """Load the case files, measure both reads, print a markdown table."""
    parser = store_parser(__doc__.splitlines()[0], "bench_tenant_records", 100)
    parser.add_argument("--cases", type=int, default=1_000_000)
    args = parser.parse_args(argv)

    client = pymongo.MongoClient(args.uri, serverSelectionTimeoutMS=5000)
    try:
        db = client[args.db]
        load(db, args.cases)
        figures: list[Figure] = [
            measure(name, read, args.repeats, args.budget_s)
            for name, read in reads(db, args.cases).items()
        ]
        print(report(args, figures))
        if args.drop:
            client.drop_database(args.db)
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
