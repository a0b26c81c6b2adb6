"""The case lists' entries: which lists a case is in, which list answers a query, and the
order of their ``_id``s (no store: ``tests/integration/test_intake_case_lists.py`` runs both
read paths on the real one)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.intake.adapters.case_lists import (
    entry_docs,
    list_for,
    list_names,
    opened_key,
    span,
)
from shared.privacy import ANONYMOUS


def test_the_opening_time_is_kept_to_the_millisecond_as_the_store_keeps_it() -> None:
    at = datetime(2026, 3, 1, 9, 0, 0, 999_999, tzinfo=UTC)
    assert opened_key(at) == opened_key(at.replace(microsecond=999_000)) == "001772355600999"
    assert opened_key(at.replace(tzinfo=None)) == opened_key(at)  # naive: UTC, as pymongo reads
    rome = timezone(timedelta(hours=1))
    assert opened_key(at.astimezone(rome)) == opened_key(at)
    assert opened_key(datetime(1970, 1, 1, tzinfo=UTC)) == "0" * 15


def test_entries_in_descending_id_order_are_the_cases_newest_first_then_by_id() -> None:
    rng = random.Random(3)
    base = datetime(2025, 1, 1, tzinfo=UTC)
    cases = [
        {
            "_id": f"case_{rng.getrandbits(64):016x}",
            "building_id": "bld_a",
            "counter_id": None,
            "tenant_id": "ten_1",
            # many on the same millisecond, some on the same second, across years
            "opened_at": base + timedelta(milliseconds=rng.choice([0, 1, 999, 1000, 10**11])),
        }
        for _ in range(200)
    ]
    entries = sorted(
        (e for c in cases for e in entry_docs(c) if e["_id"].startswith("b:bld_a:")),
        key=lambda e: e["_id"],
        reverse=True,
    )
    newest_first = sorted(cases, key=lambda c: (c["opened_at"], c["_id"]), reverse=True)
    assert [e["case_id"] for e in entries] == [c["_id"] for c in newest_first]


def test_a_case_is_in_the_lists_its_ids_name() -> None:
    assert list_names("bld_a", "ctr_1", "ten_1") == ["a", "b:bld_a", "c:ctr_1", "t:ten_1"]
    assert list_names("bld_a", None, "ten_1", urgent_open=True) == ["a", "u", "b:bld_a", "t:ten_1"]
    assert list_names("bld_a", None, ANONYMOUS) == ["a", "b:bld_a"]  # anonymised: no tenant
    assert list_names("bld:a", "ctr 1", "ten;1") == ["a"]  # not names of a list


@pytest.mark.parametrize(
    ("filters", "counters", "expected"),
    [
        ({}, None, "a"),
        ({"building_id": "bld_a"}, None, "b:bld_a"),
        ({"counter_id": "ctr_1"}, None, "c:ctr_1"),
        ({"tenant_id": "ten_1"}, None, "t:ten_1"),
        ({"building_id": "bld_a", "counter_id": "ctr_1"}, None, None),
        ({"tenant_id": ANONYMOUS}, None, None),
        ({"tenant_id": "ten:1"}, None, None),
        ({"urgent": True}, None, None),
        ({"status": "aperto"}, None, None),
        ({"building_id": "bld_a", "urgent": False}, None, None),
        # the open urgent cases: exactly urgent=true and status=aperto, for every-case callers
        ({"urgent": True, "status": "aperto"}, None, "u"),
        ({"urgent": False, "status": "aperto"}, None, None),
        ({"urgent": True, "status": "chiuso"}, None, None),
        ({"urgent": True, "status": "aperto", "building_id": "bld_a"}, None, None),
        ({"urgent": True, "status": "aperto"}, ["ctr_1"], None),
        ({"urgent": True, "status": "aperto", "counter_id": "ctr_1"}, ["ctr_1"], None),
        # an operator sees its counters' cases only
        ({}, ["ctr_1"], "c:ctr_1"),
        ({}, ["ctr_1", "ctr_2"], None),
        ({}, [], None),
        ({"counter_id": "ctr_2"}, ["ctr_1", "ctr_2"], "c:ctr_2"),
        ({"building_id": "bld_a"}, ["ctr_1"], None),
        ({"tenant_id": "ten_1"}, ["ctr_1"], None),
    ],
)
def test_one_list_answers_no_filter_or_one_of_building_counter_tenant(
    filters: dict, counters: list[str] | None, expected: str | None
) -> None:
    args = dict.fromkeys(("counter_id", "building_id", "tenant_id", "urgent", "status"))
    assert list_for(**{**args, **filters}, counters=counters) == expected


def test_only_a_stored_urgent_and_open_case_is_in_the_open_urgent_cases() -> None:
    case = {"_id": "case_1", "building_id": "bld_a", "tenant_id": "ten_1"}
    case["opened_at"] = datetime(2026, 3, 1, tzinfo=UTC)
    names = {
        (urgent, status): [e["_id"][0] for e in entry_docs({**case, **given})]
        for urgent, status, given in [
            (True, "aperto", {"urgent": True, "status": "aperto"}),
            (True, "chiuso", {"urgent": True, "status": "chiuso"}),
            (False, "aperto", {"urgent": False, "status": "aperto"}),
            (True, None, {"urgent": True}),  # no status stored: the query's filter misses it
        ]
    }
    assert names == {
        (True, "aperto"): ["a", "u", "b", "t"],
        (True, "chiuso"): ["a", "b", "t"],
        (False, "aperto"): ["a", "b", "t"],
        (True, None): ["a", "b", "t"],
    }


def test_a_period_is_the_sub_range_of_the_cases_opened_from_its_start_to_before_its_end() -> None:
    start = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    end = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    bounds = span("b:bld_a", start, end)["_id"]
    assert span("b:bld_a")["_id"] == {"$gte": "b:bld_a:", "$lt": "b:bld_a;"}
    assert span("b:bld_a", start)["_id"]["$lt"] == "b:bld_a;"
    assert span("b:bld_a", None, end)["_id"]["$gte"] == "b:bld_a:"
    one_ms = timedelta(milliseconds=1)
    for at, inside in [
        (start - one_ms, False),
        (start, True),
        (start + timedelta(microseconds=999), True),  # the store keeps the millisecond
        (end - one_ms, True),
        (end - timedelta(microseconds=1), True),
        (end, False),
        (end + timedelta(days=400), False),
    ]:
        entry = entry_docs({"_id": "case_zz", "building_id": "bld_a", "opened_at": at})[1]["_id"]
        assert (bounds["$gte"] <= entry < bounds["$lt"]) is inside, at
    # Before 1970: nothing ends there, and a start there is no bound.
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert span("a", None, epoch)["_id"] == {"$gte": "a:", "$lt": "a:"}
    assert span("a", epoch - timedelta(days=1))["_id"]["$gte"] == "a:"
