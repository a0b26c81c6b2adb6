"""The tenant lists' entries: the search name in plain characters that keep its order and its
prefixes, and which entries a prefix's range holds (no store:
``tests/integration/test_intake_tenant_lists.py`` runs both read paths on the real one)."""

from __future__ import annotations

import random
import string

import pytest

from services.intake.adapters.tenant_lists import END, entry_ids, list_for, name_key, span
from services.intake.domain.identifiers import search_key
from shared.privacy import ANONYMOUS

# What the range pushdown orders like MongoDB (deploy/ferretdb/patches/README.md).
PLAIN = set(map(chr, range(ord("#"), ord("~") + 1))) - set("\\<>&")
# Every ASCII character a search key can hold, and a few beyond it.
ALPHABET = [chr(c) for c in range(128)] + ["é", "ß", "€", "\U0001f600"]


def names(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    common = string.ascii_lowercase + " '-."
    return [
        "".join(rng.choice(ALPHABET if rng.random() < 0.3 else common) for _ in range(n))
        for n in (rng.randint(0, 8) for _ in range(count))
    ]


def test_a_name_key_is_plain_and_keeps_the_order_of_names() -> None:
    found = [*names(1, 3000), "rossi", "rossi mario", "rossini", "ross", "ross&co", "d'amico"]
    for name in found:
        assert set(name_key(name)) <= PLAIN - {"#", END}, name
    assert sorted(found, key=name_key) == sorted(found)
    assert name_key("rossi mario") == "rossi$20mario"


def test_entries_in_id_order_are_the_tenants_by_name_then_id() -> None:
    rng = random.Random(2)
    tenants = [
        {"_id": f"ten_{rng.getrandbits(32):08x}", "search_name": name, "building_id": "bld_a"}
        for name in [*names(3, 500), "ross", "ross", "rossi", "rossi mario", "ross mario"]
    ]
    by_id = sorted((i, t["_id"]) for t in tenants for i in entry_ids(t) if i.startswith("n:"))
    want = sorted(tenants, key=lambda t: (t["search_name"], t["_id"]))
    assert [tenant_id for _, tenant_id in by_id] == [t["_id"] for t in want]
    in_building = sorted(i for t in tenants for i in entry_ids(t) if i.startswith("tb:"))
    assert [i.rsplit("#", 1)[1] for i in in_building] == [t["_id"] for t in want]


@pytest.mark.parametrize("prefix", ["", "ross", "rossi ", "d'", "r", "ross&", "zzz", "a\x01"])
def test_a_prefix_range_holds_exactly_the_names_that_start_with_it(prefix: str) -> None:
    found = [*names(4, 2000), "ross", "rossi", "rossi mario", "rossini", "ross&co", "rost"]
    bounds = span("n:", search_key(prefix) if prefix.isprintable() else prefix)["_id"]
    key = search_key(prefix) if prefix.isprintable() else prefix
    for n, name in enumerate(found):
        entry = f"n:{name_key(name)}#ten_{n}"
        assert (bounds["$gte"] <= entry < bounds["$lt"]) is name.startswith(key), (prefix, name)


def test_which_list_answers_and_which_entries_a_tenant_has() -> None:
    assert list_for(None) == "n:"
    assert list_for("bld_a") == "tb:bld_a:"
    assert list_for("bld:a") is None and list_for("bld a") is None  # the tenants query
    tenant = {"_id": "ten_1", "search_name": "rossi mario", "building_id": "bld_a"}
    assert entry_ids(tenant) == {"n:rossi$20mario#ten_1", "tb:bld_a:rossi$20mario#ten_1"}
    anonymised = {**tenant, "search_name": ANONYMOUS}
    assert entry_ids(anonymised) == {f"n:{ANONYMOUS}#ten_1", f"tb:bld_a:{ANONYMOUS}#ten_1"}
    assert entry_ids({**tenant, "building_id": "bld;x"}) == {"n:rossi$20mario#ten_1"}
