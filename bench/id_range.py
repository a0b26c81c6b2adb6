"""Pages and counts of lists read as ``_id`` ranges, measured with pymongo on one store.

A list's entries are small documents whose ``_id`` encodes the list and the sort key
(``b:<building>:<inverted time>:<case>``); a page is
``find({_id: {$gte: "b:<building>:", $lt: "b:<building>;"}}).sort({_id: 1}).skip(o).limit(n)``.
On FerretDB's SQLite backend that is fast only with the launcher's fourth patch
(``deploy/ferretdb/patches``); run this against a store built without it and with it:

    .venv/bin/python -m bench.id_range --uri mongodb://127.0.0.1:27028/ --save before.json
    .venv/bin/python -m bench.id_range --uri mongodb://127.0.0.1:27028/ --compare before.json

The entries are loaded once (``--entries``, default 200,000) and kept in ``--db`` unless
``--drop``, so the second run reads the same documents. Each query is repeated ``--repeats``
times or until ``--budget-s`` has passed (at least three calls).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import pymongo
from pymongo.collection import Collection

from shared import id_lists

BUILDINGS = 10  # each building list holds a tenth of the cases
COUNTERS = 20
LISTS_PER_CASE = 4  # by building, by counter, by tenant, all


def entry_docs(cases: int) -> list[dict]:
    """Four entries per case, newest first in each list (inverted, fixed-width opening time)."""
    docs = []
    for i in range(cases):
        case_id = f"case_{i:07d}"
        key = f"{9_999_999_999 - (1_700_000_000 + i * 37):010d}:{case_id}"
        for name in (
            f"b:bld{i % BUILDINGS:03d}",
            f"c:cnt{i % COUNTERS:03d}",
            f"t:ten{i // 3:07d}",
            "a",
        ):
            docs.append({"_id": f"{name}:{key}", "case_id": case_id})
    return docs


def load(coll: Collection, entries: int) -> None:
    """Insert the entries unless the collection already holds them."""
    if coll.estimated_document_count() == entries:
        return
    coll.drop()
    docs = entry_docs(entries // LISTS_PER_CASE)
    started = time.perf_counter()
    for start in range(0, len(docs), 2000):
        coll.insert_many(docs[start : start + 2000], ordered=False)
        done = start + 2000
        if done % 40_000 == 0:
            rate = done / (time.perf_counter() - started)
            print(f"loaded {done:,} entries ({rate:,.0f}/s)", file=sys.stderr)


def list_range(name: str) -> dict:
    """The ``_id`` condition of one list: every id after ``<name>:`` and before ``<name>;``."""
    return {"_id": {"$gte": f"{name}:", "$lt": f"{name};"}}


@dataclass
class Figure:
    """One query's latencies in milliseconds."""

    query: str
    calls: int
    p50_ms: float
    p99_ms: float
    rows: int


def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile (as bench/load.py)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def measure(name: str, call: Callable[[], int], repeats: int, budget_s: float) -> Figure:
    """Call ``call`` ``repeats`` times or until the budget is spent (at least three times)."""
    call()  # warm the connection and the store's caches
    samples: list[float] = []
    rows = 0
    deadline = time.perf_counter() + budget_s
    while len(samples) < 3 or (len(samples) < repeats and time.perf_counter() < deadline):
        started = time.perf_counter()
        rows = call()
        samples.append((time.perf_counter() - started) * 1000)
    return Figure(name, len(samples), percentile(samples, 50), percentile(samples, 99), rows)


def queries(coll: Collection, cases: int) -> dict[str, Callable[[], int]]:
    """The reads of two lists (one building's, all cases): pages of 25 at two offsets, the
    count, and the count up to the cap (``id_lists.count_up_to``, the lists' total)."""

    def page(name: str, skip: int) -> Callable[[], int]:
        return lambda: len(list(coll.find(list_range(name)).sort("_id", 1).skip(skip).limit(25)))

    def count(name: str) -> Callable[[], int]:
        return lambda: coll.count_documents(list_range(name))

    def count_up_to(name: str) -> Callable[[], int]:
        # What the lists answer: the count up to COUNT_CAP, -1 for "more than that".
        def call() -> int:
            counted = id_lists.count_up_to(coll, list_range(name))
            return -1 if counted is None else counted

        return call

    building, everything = "b:bld003", "a"
    return {
        f"building list ({cases // BUILDINGS:,} entries): page of 25 at offset 0": page(
            building, 0
        ),
        "building list: page of 25 at offset 1000": page(building, 1000),
        "building list: count": count(building),
        f"building list: count up to {id_lists.COUNT_CAP:,}": count_up_to(building),
        f"all cases ({cases:,} entries): page of 25 at offset 0": page(everything, 0),
        "all cases: page of 25 at offset 1000": page(everything, 1000),
        "all cases: count": count(everything),
        f"all cases: count up to {id_lists.COUNT_CAP:,}": count_up_to(everything),
    }


def table(after: list[Figure], before: list[Figure] | None) -> str:
    """A markdown table of the figures, before and after when both are given."""
    if before is None:
        lines = ["| query | p50 ms | p99 ms | calls | rows |", "| --- | --- | --- | --- | --- |"]
        for f in after:
            lines.append(f"| {f.query} | {f.p50_ms:.1f} | {f.p99_ms:.1f} | {f.calls} | {f.rows} |")
        return "\n".join(lines)
    lines = [
        "| query | before p50 / p99 ms | after p50 / p99 ms | rows |",
        "| --- | --- | --- | --- |",
    ]
    by_query = {f.query: f for f in before}
    for f in after:
        b = by_query.get(f.query)
        was = f"{b.p50_ms:.1f} / {b.p99_ms:.1f} ({b.calls} calls)" if b else "-"
        now = f"{f.p50_ms:.1f} / {f.p99_ms:.1f} ({f.calls} calls)"
        lines.append(f"| {f.query} | {was} | {now} | {f.rows} |")
    return "\n".join(lines)


def store_parser(description: str, db: str, repeats: int) -> argparse.ArgumentParser:
    """The flags of a benchmark of reads on one store: where, which database, how many calls
    (``--repeats`` or until ``--budget-s``), whether to drop the database at the end, and the
    figures to save or compare with (``report``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--uri", default=os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017/")
    )
    parser.add_argument("--db", default=db)
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--budget-s", type=float, default=60.0)
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    parser.add_argument("--save", help="write the figures to this JSON file")
    parser.add_argument("--compare", help="figures saved by an earlier run, shown as 'before'")
    return parser


def report(
    args: argparse.Namespace, figures: list[Figure], before: list[Figure] | None = None
) -> str:
    """The table of ``figures``, saved first to ``--save``; against ``before``, or against the
    figures saved in ``--compare`` when given."""
    if args.save:
        with open(args.save, "w") as f:
            json.dump([asdict(x) for x in figures], f, indent=1)
    if args.compare:
        with open(args.compare) as f:
            before = [Figure(**x) for x in json.load(f)]
    return table(figures, before)


def main(argv: list[str] | None = None) -> int:
    """Load the entries, measure the reads, print a markdown table."""
    parser = store_parser(__doc__.splitlines()[0], "bench_id_range", 200)
    parser.add_argument("--entries", type=int, default=200_000)
    args = parser.parse_args(argv)

    client = pymongo.MongoClient(args.uri, serverSelectionTimeoutMS=5000)
    try:
        coll = client[args.db]["entries"]
        load(coll, args.entries)
        reads = queries(coll, args.entries // LISTS_PER_CASE)
        figures = [measure(n, q, args.repeats, args.budget_s) for n, q in reads.items()]
        print(report(args, figures))
        if args.drop:
            client.drop_database(args.db)
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
