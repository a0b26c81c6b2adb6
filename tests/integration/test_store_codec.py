"""The store gives back every document exactly as it was written.

FerretDB keeps a document as JSON text with a schema beside it (its ``sjson`` codec); the launcher
patches the codec's decoders (``deploy/ferretdb/patches/0007``) for speed. So the odd values a
service can write are written, read back by ``_id``, by ``_id $in``, by an ``_id`` range and
after an update, and compared value for value and type for type with what was written.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import bson
import pymongo
from bson import Binary, Int64, ObjectId, Regex, Timestamp

ODD_STRINGS = [
    "",
    " ",
    'quote " and backslash \\ and slash /',
    "<script>&amp;</script>",
    "tab\tnew line\ncarriage\rnul\x00bell\x07",
    "àèéìòù ÀÈÉÌÒÙ ç ß € £ ¥",
    "Nicolò D'Alì-Sant'Ambrogio",
    "日本語 中文 한국어 العربية עברית",
    "emoji 😀👍🏽 and a flag 🇮🇹",
    "line separator \u2028 paragraph \u2029",
    "replacement \ufffd and bom \ufeff",
    "\\u0041 is not an escape here",
    "x" * 3_000,
    "à" * 5_000,  # two bytes a character: longer than any read buffer of the decoder
]
# Characters that take more than a byte, or an escape, placed across every boundary of the
# decoder's first reads (512 bytes, then 1,024): a reader that cuts one in two would garble it.
BOUNDARY_STRINGS = [
    "à" * n + tail for n in (*range(248, 264), *range(504, 520)) for tail in ("\n\u2028😀", "€<")
]
# Keys the encoder escapes.
ODD_KEYS = {
    "": 1,
    "with space": 2,
    "àccent": 3,
    "1": 5,
    "<&>": 6,
    'q"uote': 7,
    "b\\s": 8,
    "tab\t": 9,
    "ls\u2028": 10,
    "😀": 11,
}


def odd_document(n: int) -> dict:
    """A document with every type a service writes, and some it might."""
    return {
        "_id": f"doc_{n:03d}",
        "strings": ODD_STRINGS,
        "by_key": {f"k{i}": s for i, s in enumerate(ODD_STRINGS)},
        "odd keys": ODD_KEYS,
        "boundaries": BOUNDARY_STRINGS,
        "ints": [0, 1, -1, 2**31 - 1, -(2**31)],
        "longs": [Int64(2**31), Int64(-(2**63)), Int64(2**63 - 1), Int64(0)],
        "doubles": [0.0, 1.5, -2.25, 1e-300, 1.7976931348623157e308, 0.1 + 0.2, 1e16],
        "bools": [True, False],
        "null": None,
        "when": datetime(2026, 11, 24, 7, 30, 15, 123000, tzinfo=UTC),
        "epoch": datetime(1970, 1, 1, tzinfo=UTC),
        "before_epoch": datetime(1901, 12, 13, 20, 45, 52, tzinfo=UTC),
        "oid": ObjectId("5f1d7f6e9b1e8a3c4d2b1a09"),
        "binary": Binary(bytes(range(256))),
        "empty_binary": Binary(b""),
        "uuid_like": Binary(b"\x01" * 16, 4),
        "regex": Regex("^ross[io]$", "i"),
        "timestamp": Timestamp(1_700_000_000, 7),
        # (FerretDB 1.24 refuses arrays in arrays, NaN, infinities and keys starting with "$",
        # and stores -0.0 as 0.0)
        "nested": {"a": [{"b": [{}, {"c": {"d": None}}, "x", 1]}], "e": {}},
        "empty": {"list": [], "doc": {}},
        "big_list": list(range(2_000)),
        "n": n,
    }


def same(a: object, b: object) -> bool:
    """Equal values of equal BSON types (NaN equal to NaN, -0.0 told from 0.0)."""
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)  # key order too
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def test_every_value_comes_back_as_written(infra, environ) -> None:
    client = pymongo.MongoClient(
        infra.mongo,
        serverSelectionTimeoutMS=5000,
        document_class=dict,
        tz_aware=True,
        uuidRepresentation="unspecified",
    )
    db = client[f"{environ['SPORTELLO_DB_PREFIX']}_codec"]
    try:
        written = [odd_document(n) for n in range(5)]
        db.docs.insert_many(written)
        # The driver's own round trip is the reference (it turns a Regex into re.Pattern…).
        wanted = [bson.decode(bson.encode(d), codec_options=db.codec_options) for d in written]
        reads = {
            "by _id": [db.docs.find_one({"_id": d["_id"]}) for d in written],
            "by _id $in": sorted(
                db.docs.find({"_id": {"$in": [d["_id"] for d in written]}}),
                key=lambda d: d["_id"],
            ),
            "by _id range": list(
                db.docs.find({"_id": {"$gte": "doc_", "$lt": "doc`"}}).sort("_id", 1)
            ),
            "whole collection, filtered": list(db.docs.find({"n": {"$gte": 0}}).sort("n", 1)),
        }
        for how, got in reads.items():
            assert len(got) == len(wanted), how
            for g, w in zip(got, wanted, strict=True):
                bad = [k for k in w if not same(g.get(k), w[k])]
                assert not bad and list(g) == list(w), (how, w["_id"], bad)
        # Written again by an update (FerretDB decodes, applies the operators, encodes again).
        db.docs.update_one({"_id": "doc_002"}, {"$set": {"n": 22}, "$push": {"strings": "🙂"}})
        updated = db.docs.find_one({"_id": "doc_002"})
        assert same(updated["strings"], [*wanted[2]["strings"], "🙂"]) and updated["n"] == 22
        rest = {k: v for k, v in updated.items() if k not in ("strings", "n")}
        assert all(same(rest[k], wanted[2][k]) for k in rest) and len(rest) == len(wanted[2]) - 2
        # And a string matched by equality finds its document (the stored text is unchanged).
        for s in ODD_STRINGS[:-2]:
            assert db.docs.count_documents({"strings": s}) == 5, s
    finally:
        client.drop_database(db.name)
        client.close()
