"""intake's case lists read from their entries answer exactly what the cases query answers.

``GET /api/v1/cases`` with no filter or one of building, counter and tenant, or the open urgent
cases, each alone or with a period, is read from the case list entries
(``services.intake.adapters.case_lists``): one ``_id`` range read of small entries and the
page's cases by ``_id``, where the cases query reads every case on FerretDB. Both paths run here
on the same cases (stored by the repository's own write, ties on the opening millisecond
included, some at a local midnight) and must give the same pages, in the same order, and the
same totals, for every caller's scope, also after cases end.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from services.intake.adapters import case_lists
from services.intake.adapters.case_lists import CaseListEntries, entry_docs, list_for
from services.intake.adapters.documents import (
    IntakeCaseDoc,
    IntakeCaseListEntryDoc,
    IntakeOpenCaseClaimDoc,
)
from services.intake.adapters.privacy import CASE_ERASED_FIELDS, PrivacyStore
from services.intake.adapters.repository import CaseRepository
from services.intake.domain.model import Case, CaseStatus, Channel, Need
from services.intake.entrypoints.app import create_app
from services.intake.entrypoints.cli import main as cli
from shared import id_lists, mongo
from shared.privacy import ANONYMOUS
from tests.support import authorize_app, bearer_headers, total_of

BUILDINGS = ("bld_a", "bld_b", "bld_c")
COUNTERS = ("ctr_1", "ctr_2", None)
TENANTS = tuple(f"ten_{n}" for n in range(6))
PAGES = [(50, 0), (3, 2), (5, 7), (100, 100)]
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ROME = ZoneInfo("Europe/Rome")  # dates are local days: 23:00 UTC is the next day's midnight


@pytest.fixture
def app(settings_for) -> Iterator[Flask]:
    yield authorize_app(create_app(settings_for("intake")))
    mongo.disconnect("intake")


@pytest.fixture
def cases(app: Flask) -> CaseRepository:
    return app.extensions["sportello.bus"].deps.cases


def open_cases(repository: CaseRepository, count: int) -> list[Case]:
    """Cases over buildings, counters (some none) and tenants, through the repository's write.

    Openings repeat: every third case shares its millisecond with the one before (microseconds
    apart, which the store does not keep), so the order falls back to the case id. Seven hours
    apart, they span days, some at a local midnight.
    """
    opened = []
    at = T0
    for n in range(count):
        at = at + timedelta(microseconds=300) if n % 3 == 2 else T0 + timedelta(hours=n * 7)
        case = Case.open(
            tenant_id=TENANTS[n % len(TENANTS)],
            building_id=BUILDINGS[n % len(BUILDINGS)],
            counter_id=COUNTERS[(n // 2) % len(COUNTERS)],
            channel=Channel.COUNTER,
            needs=[Need.BILL_READING],
            description="",
            disconnection_date=None,
            urgent=n % 5 == 0,
            opened_by="operatore.rossi",
            now=at,
        )
        repository.add(case, [])
        opened.append(case)
    return opened


FILTERS: list[dict[str, Any]] = [
    {},
    *({"building_id": b} for b in BUILDINGS),
    *({"counter_id": c} for c in COUNTERS if c),
    *({"tenant_id": t} for t in TENANTS),
    {"building_id": "bld_nope"},
    {"tenant_id": "ten:0"},  # not a list's name: the cases query
    {"tenant_id": ANONYMOUS},  # anonymised cases: the cases query
    {"building_id": "bld_a", "counter_id": "ctr_1"},
    {"counter_id": "ctr_1", "urgent": True},
    # periods (local days, inclusive): sub-ranges of a list
    {"opened_from": date(2026, 3, 3)},
    {"opened_to": date(2026, 3, 4)},
    {"opened_from": date(2026, 3, 2), "opened_to": date(2026, 3, 5)},
    {"opened_from": date(2026, 3, 5), "opened_to": date(2026, 3, 5)},
    {"opened_from": date(2026, 3, 5), "opened_to": date(2026, 3, 2)},  # empty
    {"opened_from": date(2027, 1, 1)},
    {"building_id": "bld_b", "opened_from": date(2026, 3, 4)},
    {"counter_id": "ctr_2", "opened_to": date(2026, 3, 6)},
    {"tenant_id": "ten_3", "opened_from": date(2026, 3, 2), "opened_to": date(2026, 3, 9)},
    # the open urgent cases
    {"urgent": True, "status": "aperto"},
    {"urgent": True, "status": "aperto", "opened_from": date(2026, 3, 4)},
    {"urgent": True, "status": "aperto", "building_id": "bld_a"},
    {"urgent": True, "status": "chiuso"},
    {"urgent": False, "status": "aperto"},
]
SCOPES: list[list[str] | None] = [None, ["ctr_1"], ["ctr_1", "ctr_2"], []]


def arguments(filters: dict[str, Any], limit: int, offset: int, counters: list[str] | None):
    base = dict.fromkeys(("counter_id", "building_id", "tenant_id", "urgent", "status"))
    return {
        **base,
        "opened_from": None,
        "opened_to": None,
        "zone": ROME,
        **filters,
        "limit": limit,
        "offset": offset,
        "counters": counters,
    }


def assert_both_paths_agree(repository: CaseRepository) -> int:
    """Every filter, scope and page: the list (entries where one answers) equals the query.
    Returns how many of the calls were answered by a list's entries."""
    from_entries = 0
    for filters, counters, (limit, offset) in itertools.product(FILTERS, SCOPES, PAGES):
        if counters is not None and filters.get("counter_id") not in (None, *counters):
            continue  # refused before the repository (403)
        args = arguments(filters, limit, offset, counters)
        listed, queried = repository.list(**args), repository.query(**args)
        case = (filters, counters, limit, offset)
        assert [c.id for c in listed.items] == [c.id for c in queried.items], case
        assert listed.items == queried.items and listed.total == queried.total, case
        name = list_for(
            counter_id=args["counter_id"],
            building_id=args["building_id"],
            tenant_id=args["tenant_id"],
            urgent=args["urgent"],
            status=args["status"],
            counters=counters,
        )
        if name is not None and repository.lists.ready(name):
            from_entries += 1
            period = _period(args)
            assert repository.lists.page(name, 10_000, 0, *period)[1] == queried.total, case
    return from_entries


def _period(args: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    start = args["opened_from"] and datetime.combine(args["opened_from"], datetime.min.time(), ROME)
    end = args["opened_to"] and datetime.combine(
        args["opened_to"] + timedelta(days=1), datetime.min.time(), ROME
    )
    return start, end


def test_lists_from_entries_answer_what_the_cases_query_answers(cases) -> None:
    assert cases.lists.backfill(T0) == 0  # an empty database: lists read entries from now on
    opened = open_cases(cases, 40)
    assert IntakeCaseListEntryDoc.objects.count() == sum(len(entry_docs(doc(c))) for c in opened)
    assert assert_both_paths_agree(cases) >= 120  # most of them read from entries
    # The open urgent cases: those both, whatever the period; ended ones leave them.
    urgent = [c for c in opened if c.urgent]
    args = arguments({"urgent": True, "status": "aperto"}, 100, 0, None)
    assert [c.id for c in cases.list(**args).items] == [c.id for c in reversed(urgent)]
    for case in urgent[::2]:
        assert cases.mark_ended(case.id, CaseStatus.CLOSED, T0 + timedelta(days=30))
    assert not cases.mark_ended(urgent[0].id, CaseStatus.ARCHIVED, T0)  # redelivered: no change
    assert [c.id for c in cases.list(**args).items] == [c.id for c in reversed(urgent[1::2])]
    assert cases.lists.page("u", 100, 0)[1] == len(urgent[1::2])
    assert_both_paths_agree(cases)
    # An erasure takes the cases out of their tenant's list, before anonymising them.
    PrivacyStore(cases.topic).anonymise_cases("ten_1")
    assert IntakeCaseDoc.objects(tenant_id="ten_1").count() == 0
    assert cases.lists.page("t:ten_1", 100, 0) == ([], 0)
    assert not [e.id for e in IntakeCaseListEntryDoc.objects if "ten_1" in e.id]  # no link left
    assert_both_paths_agree(cases)


def test_an_erasure_finds_the_tenants_cases_in_their_list(cases) -> None:
    opened = open_cases(cases, 24)
    store = PrivacyStore(cases.topic)
    claims = IntakeOpenCaseClaimDoc._get_collection()
    claims.insert_many(
        [
            {"_id": f"{tenant}:lettura_bollette", "case_id": "case_x", "claimed_at": T0}
            for tenant in ("ten_0", "ten_1", "ten_10")
        ]
    )

    def of(tenant_id: str) -> list[str]:
        return sorted(c.id for c in opened if c.tenant_id == tenant_id)

    # Not backfilled yet: found by the cases query.
    assert not cases.lists.ready()
    assert sorted(store.anonymise_cases("ten_0")) == of("ten_0")
    cases.lists.backfill(T0)
    # From the tenant's list now (an entry lost is a case not found: what shows the source).
    lost = opened[1]
    assert lost.tenant_id == "ten_1"
    IntakeCaseListEntryDoc._get_collection().delete_one(
        {"_id": f"t:ten_1:{case_lists.opened_key(lost.opened_at)}:{lost.id}"}
    )
    # An erasure interrupted after anonymising a case, before its entry went: found again.
    halfway = opened[7]
    assert halfway.tenant_id == "ten_1"
    IntakeCaseDoc._get_collection().update_one({"_id": halfway.id}, {"$set": CASE_ERASED_FIELDS})
    assert sorted(store.anonymise_cases("ten_1")) == [i for i in of("ten_1") if i != lost.id]
    assert IntakeCaseDoc.objects(tenant_id="ten_1").count() == 1
    assert not [e.id for e in IntakeCaseListEntryDoc.objects if e.id.startswith("t:ten_1:")]
    # The open-case claims of the tenant go with them; another tenant's stay.
    assert sorted(d["_id"] for d in claims.find({})) == ["ten_10:lettura_bollette"]
    cases.lists.repair(T0)  # the lost entry written again: the case is found
    assert store.anonymise_cases("ten_1") == [lost.id]
    assert_both_paths_agree(cases)


def test_the_repair_writes_missing_entries_and_drops_stale_ones(
    cases, environ, monkeypatch
) -> None:
    for name, value in environ.items():  # the command reads its settings from the environment
        monkeypatch.setenv(name, value)
    opened = open_cases(cases, 24)
    # Before the backfill, lists are read with the cases query.
    assert not cases.lists.ready()
    # Cases stored before their entries existed, and a tenant entry left by an interrupted
    # anonymisation (the case anonymised, its entry not dropped).
    entries = IntakeCaseListEntryDoc._get_collection()
    entries.delete_many({"_id": {"$in": [e["_id"] for e in entry_docs(doc(opened[0]))]}})
    entries.delete_many({"case_id": opened[5].id})
    IntakeCaseDoc._get_collection().update_one(
        {"_id": opened[7].id}, {"$set": {"tenant_id": ANONYMOUS}}
    )
    # An end interrupted between its two writes: ended, still among the open urgent cases.
    assert opened[10].urgent
    IntakeCaseDoc._get_collection().update_one(
        {"_id": opened[10].id}, {"$set": {"status": "chiuso"}}
    )
    # no tenant entry for opened[7], no open urgent entry for opened[10]
    want = sum(len(entry_docs(doc(c))) for c in opened) - 2
    for _ in range(2):  # idempotent
        assert cli(["repair-case-lists"]) == 0
        assert IntakeCaseListEntryDoc.objects.count() == want
        assert cases.lists.ready()
        assert_both_paths_agree(cases)


def test_a_database_backfilled_before_the_open_urgent_cases_reads_them_once_backfilled(
    cases,
) -> None:
    cases.lists.backfill(T0)
    opened = open_cases(cases, 30)
    # As left by the version before the open urgent cases: no entries of theirs, no mark.
    entries = IntakeCaseListEntryDoc._get_collection()
    assert entries.delete_many(case_lists.span("u")).deleted_count == sum(c.urgent for c in opened)
    entries.database["backfills"].delete_one({"_id": case_lists.URGENT_BACKFILL_MARK})
    cases.lists = CaseListEntries()
    assert cases.lists.ready() and not cases.lists.ready("u")  # the other lists read entries
    assert_both_paths_agree(cases)  # the open urgent cases by the cases query meanwhile
    assert cases.lists.backfill(T0) == 30
    assert cases.lists.ready("u") and cases.lists.backfill(T0) is None
    assert cases.lists.page("u", 100, 0)[1] == sum(c.urgent for c in opened)
    assert_both_paths_agree(cases)


def test_the_cases_endpoint_keeps_each_callers_scope(app, cases, environ) -> None:
    cases.lists.backfill(T0)
    open_cases(cases, 30)
    client = app.test_client()
    callers = [
        ("admin", None),
        ("coordinator", None),
        ("operator", ("ctr_1",)),
        ("operator", ("ctr_1", "ctr_2")),
    ]
    filters = (
        {},
        {"building_id": "bld_b"},
        {"counter_id": "ctr_1"},
        {"tenant_id": "ten_2"},
        {"counter_id": "ctr_1", "from": "2026-03-02", "to": "2026-03-05"},
        {"from": "2026-03-04"},
        {"urgent": "true", "status": "aperto"},
        {"urgent": "true", "status": "aperto", "to": "2026-03-04"},
    )
    pages = ((5, 0), (5, 5), (50, 0))
    for (role, counters), query, (limit, offset) in itertools.product(callers, filters, pages):
        scope = {"counters": counters} if counters else {}
        response = client.get(
            "/api/v1/cases",
            query_string={**query, "limit": limit, "offset": offset},
            headers=bearer_headers(environ, role, **scope),
        )
        assert response.status_code == 200, response.json
        want = cases.query(
            **arguments(repository_filters(query), limit, offset, list(counters or []) or None)
        )
        assert [c["id"] for c in response.json] == [c.id for c in want.items], (role, query)
        assert response.headers["X-Total-Count"] == str(want.total), (role, query)
    operator = bearer_headers(environ, "operator", counters=("ctr_1",))
    refused = client.get("/api/v1/cases", query_string={"counter_id": "ctr_2"}, headers=operator)
    assert refused.status_code == 403


def test_a_list_longer_than_the_counting_cap_says_so_instead_of_its_total(
    app, cases, environ, monkeypatch
) -> None:
    cases.lists.backfill(T0)
    open_cases(cases, 30)
    client = app.test_client()
    queries = ({}, {"building_id": "bld_b"}, {"counter_id": "ctr_1"}, {"tenant_id": "ten_2"})
    wanted = {str(q): cases.query(**arguments(repository_filters(q), 5, 0, None)) for q in queries}
    # the shortest list is counted to the cap exactly, the longest not
    monkeypatch.setattr(id_lists, "COUNT_CAP", min(w.total for w in wanted.values()))
    counted = []
    for query in queries:
        want = wanted[str(query)]
        response = client.get(
            "/api/v1/cases", query_string={**query, "limit": 5}, headers=bearer_headers(environ)
        )
        assert [c["id"] for c in response.json] == [c.id for c in want.items], query
        counted.append(total_of(response.headers, want.total))
    assert set(counted) == {True, False}  # lists on both sides of the cap
    # the last page of a list past the cap gives its length: nothing to count
    last = client.get(
        "/api/v1/cases", query_string={"limit": 5, "offset": 28}, headers=bearer_headers(environ)
    )
    assert len(last.json) == 2 and last.headers["X-Total-Count"] == "30"
    beyond = client.get(
        "/api/v1/cases", query_string={"limit": 5, "offset": 40}, headers=bearer_headers(environ)
    )
    assert beyond.json == [] and "X-Total-Count" not in beyond.headers
    assert beyond.headers["X-Total-Count-Over"] == str(id_lists.COUNT_CAP)


def repository_filters(query: dict[str, str]) -> dict[str, Any]:
    """The endpoint's query string as the repository's arguments."""
    out: dict[str, Any] = dict(query)
    if "from" in out:
        out["opened_from"] = date.fromisoformat(out.pop("from"))
    if "to" in out:
        out["opened_to"] = date.fromisoformat(out.pop("to"))
    if "urgent" in out:
        out["urgent"] = out["urgent"] == "true"
    return out


def doc(case: Case) -> dict[str, Any]:
    """The fields of a stored case that name its lists."""
    return {
        "_id": case.id,
        "building_id": case.building_id,
        "counter_id": case.counter_id,
        "tenant_id": case.tenant_id,
        "opened_at": case.opened_at,
        "urgent": case.urgent,
        "status": case.status.value,
    }
