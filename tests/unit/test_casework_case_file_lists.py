"""casework's work-queue entries: which lists a case file is in, which list answers a query, and
the order of their ``_id``s (no store: ``tests/integration/test_casework_case_file_lists.py``
runs both read paths on the real one)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.casework.adapters.case_file_lists import (
    Listing,
    due_on,
    entry_ids,
    list_for,
    overdue_range,
    to_announce_ranges,
    to_anonymise_range,
)
from shared.id_lists import span, time_key
from shared.privacy import ANONYMOUS

AT = datetime(2026, 3, 1, 9, 0, 0, 999_999, tzinfo=UTC)


def stored(**fields: Any) -> dict[str, Any]:
    """A case file's list fields as stored."""
    doc: dict[str, Any] = {
        "opened_at": AT,
        "state": "aperto",
        "assignee": None,
        "referral_paths": [],
        "building": {"id": "bld_a", "name": "Saint Bon"},
        "counter_id": None,
        "next_due": None,
    }
    doc.update(fields)
    return doc


def test_a_case_file_is_in_the_lists_its_fields_name() -> None:
    key = f"{time_key(AT)}:case_1"
    assert time_key(AT) == "001772355600999"  # to the millisecond, as the store keeps it
    assert entry_ids("case_1", stored()) == [f"a:{key}", f"s:aperto:{key}", f"b:bld_a:{key}"]
    full = stored(
        state="in_carico",
        assignee="operatore.rossi",
        counter_id="ctr_1",
        referral_paths=["amat", "welfare"],
        next_due="2026-12-15",
    )
    assert entry_ids("case_1", full) == [
        f"a:{key}",
        f"s:in_carico:{key}",
        f"u:operatore.rossi:{key}",
        f"b:bld_a:{key}",
        f"c:ctr_1:{key}",
        f"p:amat:{key}",
        f"p:welfare:{key}",
        f"o:2026-12-15:{key}",
    ]
    # Values that cannot name a list: their filters are answered by the query.
    odd = stored(assignee="Mario Rossi", counter_id="ctr:1", referral_paths=["casa;x"])
    assert entry_ids("case_1", odd) == [f"a:{key}", f"s:aperto:{key}", f"b:bld_a:{key}"]
    assert entry_ids("case_1", {}) == []  # nothing to order it by


def test_a_case_file_is_in_its_tenants_list_until_it_is_anonymised() -> None:
    key = f"{time_key(AT)}:case_1"
    assert f"t:ten_1:{key}" in entry_ids("case_1", stored(tenant_id="ten_1"))
    # Anonymised (erasure, retention): no longer the tenant's, and no list of the anonymous.
    anonymous = entry_ids("case_1", stored(tenant_id=ANONYMOUS))
    assert not [e for e in anonymous if e.startswith("t:")]
    assert not [e for e in entry_ids("case_1", stored(tenant_id="ten:1")) if e.startswith("t:")]


def test_entries_in_descending_id_order_are_the_case_files_newest_first_then_by_id() -> None:
    rng = random.Random(5)
    base = datetime(2025, 1, 1, tzinfo=UTC)
    docs = {
        f"case_{rng.getrandbits(64):016x}": stored(
            opened_at=base + timedelta(milliseconds=rng.choice([0, 1, 999, 1000, 10**11])),
            state="in_carico",
        )
        for _ in range(200)
    }
    entries = sorted(
        (e, case_id)
        for case_id, doc in docs.items()
        for e in entry_ids(case_id, doc)
        if e.startswith("s:in_carico:")
    )
    entries.reverse()
    newest_first = sorted(docs, key=lambda i: (docs[i]["opened_at"], i), reverse=True)
    assert [case_id for _, case_id in entries] == newest_first


def test_the_overdue_entries_in_id_order_are_most_overdue_first_then_longest_open() -> None:
    rng = random.Random(8)
    docs = {
        f"case_{n:03d}": stored(
            opened_at=AT + timedelta(days=rng.randint(0, 3)),
            next_due=rng.choice(["2026-11-30", "2026-12-01", "2026-12-02", None]),
        )
        for n in range(80)
    }
    today = date(2026, 12, 2)
    bounds = overdue_range(today)["_id"]
    entries = sorted(
        (e, case_id)
        for case_id, doc in docs.items()
        for e in entry_ids(case_id, doc)
        if bounds["$gte"] <= e < bounds["$lt"]
    )
    overdue = [i for i, d in docs.items() if d["next_due"] and d["next_due"] < today.isoformat()]
    order = sorted(overdue, key=lambda i: (docs[i]["next_due"], docs[i]["opened_at"], i))
    assert [case_id for _, case_id in entries] == order
    assert len(order) > 20  # the due day itself is not overdue: it is outside the range


NONE = dict.fromkeys(
    ("state", "assignee", "path", "building_id", "counter_id", "overdue_on", "counters")
)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, "a"),
        ({"state": "in_carico"}, "s:in_carico"),
        ({"assignee": "operatore.rossi"}, "u:operatore.rossi"),
        ({"assignee": "rossi@example.org"}, "u:rossi@example.org"),
        ({"path": "welfare"}, "p:welfare"),
        ({"building_id": "bld_a"}, "b:bld_a"),
        ({"counter_id": "ctr_1"}, "c:ctr_1"),
        ({"overdue_on": date(2026, 12, 2)}, "o"),
        # An operator: its one counter, or its own counter's filter.
        ({"counters": ["ctr_1"]}, "c:ctr_1"),
        ({"counters": ["ctr_1", "ctr_2"], "counter_id": "ctr_2"}, "c:ctr_2"),
        # Anything else is the query's.
        ({"counters": ["ctr_1", "ctr_2"]}, None),
        ({"counters": []}, None),
        ({"counters": ["ctr_1"], "state": "aperto"}, None),
        ({"state": "aperto", "path": "welfare"}, None),
        ({"overdue_on": date(2026, 12, 2), "path": "welfare"}, None),
        ({"assignee": "Mario Rossi"}, None),
        ({"building_id": "bld:a"}, None),
    ],
)
def test_one_list_answers_one_filter_or_none(filters: dict, expected: str | None) -> None:
    listing = list_for(**{**NONE, **filters})
    assert (listing.name if listing else None) == expected
    if listing is not None and expected != "o":
        assert listing == Listing(expected, span(expected), -1)


def test_the_overdue_list_reads_up_to_today_in_ascending_order() -> None:
    listing = list_for(**{**NONE, "overdue_on": date(2026, 12, 2)})
    assert listing == Listing("o", {"_id": {"$gte": "o:", "$lt": "o:2026-12-02"}}, 1)


def test_an_open_case_file_has_entries_for_what_the_deadline_scan_announces() -> None:
    key = f"{time_key(AT)}:case_1"
    due = stored(
        state="in_carico",
        next_due="2026-12-15",
        unannounced_due="2026-12-01",
        disconnection_date="2026-11-30",
        disconnection_alert_from="2026-11-20",
    )
    assert entry_ids("case_1", due)[-3:] == [
        f"o:2026-12-15:{key}",
        f"d:2026-12-01:{key}",
        f"x:2026-11-30:2026-11-20:{key}",
    ]
    # An ended case file is announced nothing: no scan entries, though its fields are kept.
    for state in ("chiuso", "archiviato"):
        ended = entry_ids("case_1", {**due, "state": state})
        assert not [e for e in ended if e[0] in "dx"], state
    assert not [e for e in entry_ids("case_1", stored()) if e[0] in "dx"]


def announced(entries: list[str], today: str, horizon_days: int = 10) -> list[str]:
    """The entries the deadline scan reads on ``today``: in one of its ranges, and due."""
    day = date.fromisoformat(today)
    return [
        e
        for e in entries
        for r in to_announce_ranges(day, horizon_days)
        if r["_id"]["$gte"] <= e < r["_id"]["$lt"] and due_on(e, day)
    ]


def test_a_breach_is_announced_from_the_day_after_its_due_date() -> None:
    entries = entry_ids("case_1", stored(state="in_carico", unannounced_due="2026-12-01"))
    for today, due in (("2026-11-30", False), ("2026-12-01", False), ("2026-12-02", True)):
        assert bool(announced(entries, today)) == due, today
    assert announced(entries, "2027-06-01")  # until it is announced


def test_a_disconnection_alert_is_announced_from_its_window_to_the_disconnection_date() -> None:
    case_file = stored(
        state="in_carico", disconnection_date="2026-12-10", disconnection_alert_from="2026-12-03"
    )
    entries = entry_ids("case_1", case_file)
    for today, due in (
        ("2026-11-20", False),  # beyond the horizon
        ("2026-12-02", False),  # within it, its window not open yet
        ("2026-12-03", True),
        ("2026-12-10", True),  # the day itself: 0 days left
        ("2026-12-11", False),  # passed: nothing left to announce, it leaves the scan
    ):
        assert bool(announced(entries, today)) == due, today


def test_an_ended_case_file_waits_in_retention_until_anonymised() -> None:
    opened, closed = AT, AT + timedelta(days=40, minutes=3)
    history = [
        {"to_state": "aperto", "at": opened},
        {"to_state": "chiuso", "at": closed - timedelta(days=9)},  # closed, then…
        {"to_state": "archiviato", "at": closed},  # …archived: retention counts from the last end
    ]
    ended = stored(state="archiviato", history=history, anonymised_at=None)
    retention = [e for e in entry_ids("case_1", ended) if e.startswith("r:")]
    assert retention == [f"r:{time_key(closed)}:case_1"]
    assert not [e for e in entry_ids("case_1", {**ended, "anonymised_at": closed}) if e[0] == "r"]
    assert not [e for e in entry_ids("case_1", stored(history=history[:1])) if e[0] == "r"]
    # The range of the case files ended by a cutoff holds it from the millisecond it ended.
    for cutoff, held in ((closed - timedelta(milliseconds=1), False), (closed, True)):
        r = to_anonymise_range(cutoff)["_id"]
        assert (r["$gte"] <= retention[0] < r["$lt"]) == held, cutoff
