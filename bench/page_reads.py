"""Pages of documents read by ``_id``: what the store costs per document a list shows.

A list's page is a range of its entries, then the page's documents by ``_id $in``
(``shared.id_lists``). The second read costs the store per document: FerretDB decodes each one
from its JSON text (``sjson``) before it sends it. This loads intake cases and casework case files
as the services write them (``bench.workload``: encrypted fields, an intake case's published
events in its outbox) and times pages of 50 random ids of each, with a few variants:

    .venv/bin/python -m bench.page_reads --uri mongodb://127.0.0.1:27020/ --cases 20000

To compare two builds of the store, run one of each and give the second with ``--against``:
the same documents are loaded in both and each read is timed on both in turns of ten calls, so
both see the same load of the machine (``--save`` and ``--compare`` compare runs made at other
times). The launcher's patches 0006 and 0007 were measured that way
(``deploy/ferretdb/patches/README.md``).
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable

import bson
import pymongo
from pymongo.database import Database

from bench import workload
from bench.id_range import Figure, measure, percentile, report, store_parser
from shared.crypto import generate_key

PAGE = 50
BATCH = 1000
COLLECTIONS = ("cases", "case_files", "cases_without_outbox", "entries")
# The fields a list row would need, for the "display fields only" variant.
ROW_FIELDS = ("status", "opened_at", "tenant_id", "building_id", "counter_id", "urgent", "needs")


def load(db: Database, cases: int) -> None:
    """Insert ``cases`` intake cases, as many case files, the cases without their outbox, and
    tiny entries (``{_id, case_id}``), unless the database holds them already."""
    if all(db[n].estimated_document_count() == cases for n in COLLECTIONS):
        return
    for n in COLLECTIONS:
        db[n].drop()
    # Throw-away keys: the documents are encrypted as the services encrypt them.
    workload.register_ciphers(
        {
            "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",
            "MONGODB_URI": "mongodb://127.0.0.1:27017/",
            "FIELD_ENCRYPTION_KEYS": generate_key(),
        }
    )
    scale = workload.scale_ids(max(3, cases // 3))
    started = time.perf_counter()
    batch: dict[str, list[dict]] = {n: [] for n in COLLECTIONS}
    for done, (case, case_file, _) in enumerate(workload.case_docs(scale, cases, "bench"), 1):
        batch["cases"].append(case)
        batch["case_files"].append(case_file)
        batch["cases_without_outbox"].append(
            {k: v for k, v in case.items() if k not in ("outbox", "outbox_seq")}
        )
        batch["entries"].append({"_id": case["_id"], "case_id": case["_id"]})
        if done % BATCH == 0 or done == cases:
            for n in COLLECTIONS:
                db[n].insert_many(batch[n], ordered=False)
                batch[n] = []
            rate = done / (time.perf_counter() - started)
            print(f"loaded {done:,} cases ({rate:,.0f}/s)", file=sys.stderr)


def sizes(db: Database) -> dict[str, int]:
    """The BSON size of one document of each collection."""
    return {n: len(bson.encode(db[n].find_one() or {})) for n in COLLECTIONS}


def reads(db: Database, seed: int = 7) -> dict[str, Callable[[], int]]:
    """Pages of ``PAGE`` random ids: whole documents, projections, smaller documents."""
    ids = [d["_id"] for d in db["entries"].find({}, {"_id": 1})]
    rng = random.Random(seed)

    def page(collection: str, projection: dict | None = None) -> Callable[[], int]:
        def call() -> int:
            wanted = rng.sample(ids, PAGE)
            return len(list(db[collection].find({"_id": {"$in": wanted}}, projection)))

        return call

    shown = dict.fromkeys(ROW_FIELDS, 1)
    return {
        f"intake cases, {PAGE} whole": page("cases"),
        f"intake cases, {PAGE} without the outbox (projection)": page("cases", {"outbox": 0}),
        f"intake cases, {PAGE} display fields only (projection)": page("cases", shown),
        f"intake cases stored without their outbox, {PAGE} whole": page("cases_without_outbox"),
        f"casework case files, {PAGE} whole": page("case_files"),
        f"tiny entries, {PAGE}": page("entries"),
    }


def measure_side_by_side(
    name: str, calls: tuple[Callable[[], int], Callable[[], int]], repeats: int, budget_s: float
) -> tuple[Figure, Figure]:
    """``measure`` of the same read on two stores, in turns of ten calls each, so that both see
    the same load of the machine (``--against``)."""
    samples: tuple[list[float], list[float]] = ([], [])
    rows = [0, 0]
    for call in calls:
        call()  # warm each connection and store
    deadline = time.perf_counter() + budget_s
    while len(samples[0]) < repeats and (len(samples[0]) < 10 or time.perf_counter() < deadline):
        for side, call in enumerate(calls):
            for _ in range(10):
                started = time.perf_counter()
                rows[side] = call()
                samples[side].append((time.perf_counter() - started) * 1000)
    a, b = (
        Figure(name, len(x), percentile(x, 50), percentile(x, 99), r)
        for x, r in zip(samples, rows, strict=True)
    )
    return a, b


def main(argv: list[str] | None = None) -> int:
    """Load the documents, time the pages, print a markdown table."""
    parser = store_parser(__doc__.splitlines()[0], "bench_page_reads", 200)
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument(
        "--against",
        help="another store (URI): the same reads on both, in turns; its figures are 'before'",
    )
    args = parser.parse_args(argv)

    client = pymongo.MongoClient(args.uri, serverSelectionTimeoutMS=5000)
    other = (
        pymongo.MongoClient(args.against, serverSelectionTimeoutMS=5000) if args.against else None
    )
    try:
        db = client[args.db]
        load(db, args.cases)
        print("document sizes (BSON bytes):", sizes(db), file=sys.stderr)
        before = None
        if other is not None:
            load(other[args.db], args.cases)
            pairs = [
                measure_side_by_side(name, (theirs, ours), args.repeats, args.budget_s)
                for (name, theirs), ours in zip(
                    reads(other[args.db]).items(), reads(db).values(), strict=True
                )
            ]
            before, figures = [p[0] for p in pairs], [p[1] for p in pairs]
        else:
            figures = [measure(n, q, args.repeats, args.budget_s) for n, q in reads(db).items()]
        print(report(args, figures, before))
        if args.drop:
            for c in (client, other):
                if c is not None:
                    c.drop_database(args.db)
    finally:
        client.close()
        if other is not None:
            other.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
