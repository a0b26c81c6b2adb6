"""casework's work queues read from their entries answer exactly what the case-files query answers.

``GET /api/v1/case-files`` with no filter or one of state, assignee, path, building, counter and
overdue is read from the list entries (``services.casework.adapters.case_file_lists``): one
``_id`` range read of small entries and the page's case files by ``_id``, where the query reads
every case file on FerretDB. Case files change (state, assignee, referrals), so both paths run
here on the same case files after each kind of change, after a redelivered event and after a
write interrupted between the case file and its entries, and must give the same pages, in the
same order, and the same totals, for every caller's scope. The overdue-referrals report, read
from the overdue queue's entries, gives the rows its query gives, page by page.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from pymongo.errors import PyMongoError

from services.casework.adapters import repository
from services.casework.adapters.case_file_lists import (
    BACKFILL_MARK,
    SWEEPS_BACKFILL_MARK,
    TENANT_BACKFILL_MARK,
    entry_ids,
    list_for,
)
from services.casework.adapters.documents import CaseFileDoc, CaseFileListEntryDoc
from services.casework.adapters.repository import CaseFileRepository
from services.casework.domain import commands
from services.casework.domain.model import CaseState, ReferralState
from services.casework.entrypoints.app import create_app
from services.casework.entrypoints.cli import main as cli
from services.casework.entrypoints.worker import build_worker
from services.casework.service_layer.handlers import (
    EVENT_HANDLERS,
    anonymise_expired,
    on_cases_opened,
    scan_deadlines,
)
from shared import id_lists, mongo
from shared.events import decode, encode, make_event
from shared.events.intake import CASE_OPENED, TENANT_ERASURE_REQUESTED
from shared.id_lists import BACKFILLS
from shared.kafka import dispatcher
from shared.privacy import ANONYMOUS, ERASURES
from tests.support import authorize_app, bearer_headers, total_of
from tests.unit.test_envelope import case_opened_data

BUILDINGS = ("bld_a", "bld_b", "bld_c")
COUNTERS = ("ctr_1", "ctr_2", None)
ASSIGNEES = ("operatore.rossi", "operatore.bianchi", "Mario Rossi")  # the last: no list
PATHS = ("welfare", "casa", "amat")
PAGES = [(50, 0), (3, 2), (5, 7)]
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday
TODAYS = (date(2026, 11, 12), date(2026, 11, 20), date(2026, 12, 2))


@pytest.fixture
def app(settings_for) -> Iterator[Flask]:
    yield authorize_app(create_app(settings_for("casework")))
    mongo.disconnect("casework")


@pytest.fixture
def case_files(app: Flask) -> CaseFileRepository:
    return app.extensions["sportello.bus"].deps.case_files


def case_opened(case_id: str, n: int, at: datetime, **more: Any) -> Any:
    """intake's ``case.opened`` as the consumer receives it (``more``: other fields)."""
    data = case_opened_data(
        case_id=case_id,
        tenant_id=f"ten_{n % 4}",
        counter_id=COUNTERS[(n // 2) % len(COUNTERS)],
        building={**case_opened_data()["building"], "id": BUILDINGS[n % len(BUILDINGS)]},
        opened_at=at.isoformat(),
        **more,
    )
    return decode(encode(make_event(CASE_OPENED, case_id, data)))


def open_case_files(app: Flask, count: int) -> list[str]:
    """Case files over buildings and counters (some none), each event delivered twice.

    Openings repeat: every third shares its millisecond with the one before, so the order falls
    back to the case id.
    """
    handle = dispatcher(EVENT_HANDLERS, app.extensions["sportello.bus"].deps)
    ids, at = [], T0
    for n in range(count):
        at = at + timedelta(microseconds=300) if n % 3 == 2 else T0 + timedelta(minutes=n * 37)
        case_id = f"case_{(n * 7919) % 1000:03d}"
        event = case_opened(case_id, n, at)
        handle(event, [])
        handle(event, [])  # redelivered: one case file, the same entries
        ids.append(case_id)
    return ids


def work(app: Flask, ids: list[str], rounds: int = 1) -> None:
    """Change the case files as people do: states, assignees, referrals sent on several days
    (their due dates), answered or not."""
    bus = app.extensions["sportello.bus"]
    deps = bus.deps
    real_clock = deps.clock
    try:
        for r, (n, case_id) in itertools.product(range(rounds), enumerate(ids)):
            deps.clock = lambda n=n, r=r: T0 + timedelta(days=(n + r) % 9, hours=1)
            case = deps.case_files.get(case_id)
            step = (n + r) % 6
            if step in (0, 1) and case.state == CaseState.OPEN:
                bus.handle(commands.ChangeState(case_id, CaseState.ASSESSING, "op"))
            if step in (1, 2, 4):
                assignee = ASSIGNEES[(n // 6 + r) % len(ASSIGNEES)]
                bus.handle(commands.AssignCase(case_id, assignee, "coordinatore"))
            if step in (2, 3, 4) and not case.is_terminal:
                path = PATHS[(n + r) % len(PATHS)]
                proposed = bus.handle(commands.ProposeReferral(case_id, path, "bisogno", "op"))
                if step != 3:
                    bus.handle(commands.SendReferral(case_id, proposed.id, "op"))
            if step == 5 and not case.is_terminal:
                sent = [x for x in case.referrals if x.state == ReferralState.SENT]
                if sent:  # the path answers: its deadline is gone
                    bus.handle(commands.AcceptReferral(case_id, sent[0].id, "welfare.x"))
                if case.state == CaseState.OPEN:
                    bus.handle(commands.ChangeState(case_id, CaseState.ASSESSING, "op"))
                to = CaseState.IN_CHARGE if n // 6 % 2 else CaseState.SUSPENDED
                if case.state != to:
                    bus.handle(commands.ChangeState(case_id, to, "op"))
    finally:
        deps.clock = real_clock


FILTERS: list[dict[str, Any]] = [
    {},
    *({"state": s.value} for s in CaseState),
    *({"assignee": a} for a in ASSIGNEES),
    *({"path": p} for p in PATHS),
    *({"building_id": b} for b in BUILDINGS),
    *({"counter_id": c} for c in COUNTERS if c),
    *({"overdue_on": d} for d in TODAYS),
    {"building_id": "bld_nope"},
    {"state": "in_valutazione", "building_id": "bld_a"},
    {"path": "welfare", "overdue_on": TODAYS[1]},
]
SCOPES: list[list[str] | None] = [None, ["ctr_1"], ["ctr_1", "ctr_2"]]


def assert_both_paths_agree(
    case_files: CaseFileRepository, scopes: list[list[str] | None] = SCOPES
) -> int:
    """Every filter, scope and page: the list (entries where one answers) equals the query.
    Returns how many of the calls were answered by a list's entries."""
    assert case_files.lists.ready()
    from_entries = 0
    for filters, counters, (limit, offset) in itertools.product(FILTERS, scopes, PAGES):
        args = {**filters, "limit": limit, "offset": offset, "counters": counters}
        listed, listed_total = case_files.list(**args)
        queried, queried_total = case_files.query(**args)
        case = (filters, counters, limit, offset)
        assert [c.id for c in listed] == [c.id for c in queried], case
        assert listed == queried and listed_total == queried_total, case
        keys = ("state", "assignee", "path", "building_id", "counter_id", "overdue_on")
        if list_for(**{k: filters.get(k) for k in keys}, counters=counters) is not None:
            from_entries += 1
    return from_entries


def assert_entries_are_the_stored_case_files(case_files: CaseFileRepository) -> None:
    """The entries are exactly those the stored case files want (nothing missing or stale)."""
    stored = case_files.collection.find({})
    want = {e for doc in stored for e in entry_ids(doc["_id"], doc)}
    assert {e.id for e in CaseFileListEntryDoc.objects} == want


def test_lists_from_entries_answer_what_the_query_answers_as_case_files_change(
    app, case_files
) -> None:
    assert case_files.lists.backfill(T0) == 0  # an empty database: lists read entries from now on
    ids = open_case_files(app, 24)
    assert_entries_are_the_stored_case_files(case_files)
    work(app, ids)
    assert_entries_are_the_stored_case_files(case_files)
    # The lists the test filters by have members (else the comparison proves little).
    for filters in FILTERS[1:-4]:
        if filters.get("state") not in ("chiuso", "archiviato") and "Mario" not in str(filters):
            assert case_files.query(**filters)[1] > 0, filters
    assert assert_both_paths_agree(case_files) >= 60  # a third: the operators are mostly not
    work(app, ids, rounds=2)  # states, assignees and due dates move again
    assert_entries_are_the_stored_case_files(case_files)
    assert_both_paths_agree(case_files, scopes=[None])


def test_an_interrupted_write_is_reconciled_by_the_redelivery_or_the_scan(
    app, case_files, monkeypatch
) -> None:
    case_files.lists.backfill(T0)
    ids = open_case_files(app, 12)
    work(app, ids)
    entries = CaseFileListEntryDoc._get_collection()
    # case.opened's handler stopped after the case file, before its entries: the redelivered
    # event finds the case file there and writes them.
    first = ids[0]
    entries.delete_many({"case_id": first})
    dispatcher(EVENT_HANDLERS, app.extensions["sportello.bus"].deps)(case_opened(first, 0, T0), [])
    assert_entries_are_the_stored_case_files(case_files)

    # A command's write stored the case file, then its entries' writes failed (the process
    # died, the store went away): the case file is stored, its version stays unpublished.
    bus = app.extensions["sportello.bus"]
    settle = case_files.lists.settle

    def failing(*args: Any) -> None:
        raise PyMongoError("the store went away")

    monkeypatch.setattr(case_files.lists, "settle", failing)
    before = case_files.get(ids[1]).state.value
    moved = bus.handle(commands.ChangeState(ids[1], CaseState.ARCHIVED, "op"))
    bus.handle(commands.AssignCase(ids[2], "operatore.nuovo", "coordinatore"))
    monkeypatch.setattr(case_files.lists, "settle", settle)
    assert moved.state == CaseState.ARCHIVED
    assert case_files.list(state="archiviato")[0] == []  # its entry is not there yet…
    # …and the list it left does not show it, though its entry there is not deleted yet.
    assert entries.count_documents({"_id": {"$regex": f"^s:{before}:.*{ids[1]}$"}}) == 1
    assert ids[1] not in [c.id for c in case_files.list(state=before, limit=200)[0]]
    # The scan finds the unfinished writes once their writer is deemed dead, reconciles the
    # entries and hands the events to the relay.
    assert case_files.publish_stranded() == 0  # not yet: their writer may still be at work
    assert case_files.writes.count_documents({}) == 2
    age_writes(case_files)
    assert case_files.publish_stranded() == 1  # the archiving's event; the assignment has none
    assert case_files.versions.count_documents({"published": False}) == 0
    assert case_files.writes.count_documents({}) == 0
    assert_entries_are_the_stored_case_files(case_files)
    assert [c.id for c in case_files.list(state="archiviato")[0]] == [ids[1]]
    assert [c.id for c in case_files.list(assignee="operatore.nuovo")[0]] == [ids[2]]
    assert_both_paths_agree(case_files)


def age_writes(case_files: CaseFileRepository) -> None:
    """Make the writes in progress old enough for their writers to be deemed dead."""
    case_files.writes.update_many({}, {"$set": {"at": datetime.now(UTC) - timedelta(minutes=5)}})


def test_a_write_without_events_keeps_its_version_from_a_writer_behind_it(app, case_files) -> None:
    [case_id] = open_case_files(app, 1)
    first, behind = case_files.get(case_id), case_files.get(case_id)
    first.assignee = "operatore.rossi"
    assert case_files.save(first, "t", [])  # nothing to announce: the version stays all the same
    behind.assignee = "operatore.bianchi"
    assert not case_files.save(behind, "t", [])  # it read the version before: it must reload
    assert case_files.get(case_id).assignee == "operatore.rossi"
    assert case_files.writes.count_documents({}) == 0


def test_a_writer_that_died_before_its_version_holds_it_until_the_scan(app, case_files) -> None:
    case_files.lists.backfill(T0)
    [case_id] = open_case_files(app, 1)
    case_file = case_files.get(case_id)
    # Its writer inserted the write in progress and died before taking the version.
    case_files.writes.insert_one(
        {"_id": f"{case_id}:1", "case_id": case_id, "version": 1, "at": datetime.now(UTC)}
    )
    case_file.assignee = "operatore.rossi"
    assert not case_files.save(case_file, "t", [])  # held: the caller retries, then gives up
    assert case_files.publish_stranded() == 0  # not yet deemed dead
    age_writes(case_files)
    assert case_files.publish_stranded() == 0  # nothing to publish: the version is freed
    assert case_files.writes.count_documents({}) == 0
    assert case_files.save(case_file, "t", [])
    assert case_files.get(case_id).version == 1
    assert_entries_are_the_stored_case_files(case_files)


def test_the_backfill_marks_versions_left_unpublished_before_the_writes_in_progress(
    app, case_files, monkeypatch
) -> None:
    ids = open_case_files(app, 3)
    bus = app.extensions["sportello.bus"]

    def failing(*args: Any) -> None:
        raise PyMongoError("the store went away")

    monkeypatch.setattr(case_files.lists, "settle", failing)
    bus.handle(commands.ChangeState(ids[0], CaseState.ARCHIVED, "op"))
    monkeypatch.undo()
    # Stored before the writes in progress existed: an unpublished version, nothing else.
    case_files.writes.delete_many({})
    case_files.versions.update_many(
        {"published": False}, {"$set": {"at": datetime.now(UTC) - timedelta(minutes=5)}}
    )
    assert case_files.publish_stranded() == 0  # it cannot see it
    assert case_files.backfill(T0) == 3
    assert case_files.backfill(T0) is None  # once
    age_writes(case_files)
    assert case_files.publish_stranded() == 1
    assert case_files.versions.count_documents({"published": False}) == 0
    assert_entries_are_the_stored_case_files(case_files)


def test_the_deadline_scan_reads_from_entries_what_its_query_finds(app, case_files) -> None:
    case_files.lists.backfill(T0)
    ids = open_case_files(app, 18)
    handle = dispatcher(EVENT_HANDLERS, app.extensions["sportello.bus"].deps)
    for n, day in enumerate(("2026-11-20", "2026-11-25", "2026-12-10", "2027-01-15")):
        handle(case_opened(f"case_cut_{n}", n, T0, disconnection_date=day), [])
        ids.append(f"case_cut_{n}")
    bus = app.extensions["sportello.bus"]
    handle(case_opened("case_ended", 5, T0, disconnection_date="2026-11-20"), [])
    bus.handle(commands.ChangeState("case_ended", CaseState.ARCHIVED, "op"))  # nothing due
    work(app, ids, rounds=2)
    deps = bus.deps

    assert case_files.lists.ready(SWEEPS_BACKFILL_MARK)

    def both(today: date) -> set[str]:
        from_entries = case_files.due_for_scan(today, 500)  # backfilled: from the entries
        assert len(from_entries) == len(set(from_entries))
        queried = case_files.query_due_for_scan(today, 500)
        assert set(from_entries) == set(queried), today
        return set(from_entries)

    due = [both(today) for today in TODAYS]
    assert due[-1] - due[0]  # later days bring more breaches…
    assert "case_cut_0" in due[0] and "case_cut_0" not in due[-1]  # …and a date that passed
    assert "case_ended" not in due[-1]
    assert scan_deadlines(deps, TODAYS[1]) > 0
    assert_entries_are_the_stored_case_files(case_files)
    assert not both(TODAYS[1])  # announced: nothing left on that day…
    assert both(TODAYS[-1])  # …later days bring more
    assert scan_deadlines(deps, TODAYS[-1]) > 0
    assert not both(TODAYS[-1])
    assert_entries_are_the_stored_case_files(case_files)

    # An entry no case file wants (a write's reconciliation unfinished, a case file gone) is
    # dropped by the scan that finds it, and the case file's own entries stay.
    entries = CaseFileListEntryDoc._get_collection()
    stale = [
        f"d:2026-11-01:000000000000001:{ids[0]}",
        "x:2026-12-02:2026-11-01:000000000000001:case_gone",
    ]
    entries.insert_many([{"_id": stale[0], "case_id": ids[0]}, {"_id": stale[1], "case_id": "x"}])
    assert case_files.due_for_scan(TODAYS[-1]) == []
    assert entries.count_documents({"_id": {"$in": stale}}) == 0
    assert_entries_are_the_stored_case_files(case_files)


def test_retention_reads_from_entries_what_its_query_finds(app, case_files) -> None:
    case_files.lists.backfill(T0)
    ids = open_case_files(app, 12)
    bus = app.extensions["sportello.bus"]
    deps, real_clock = bus.deps, bus.deps.clock
    try:
        for n, case_id in enumerate(ids[:8]):  # ended on eight different days
            deps.clock = lambda n=n: T0 + timedelta(days=n, hours=2)
            bus.handle(commands.ChangeState(case_id, CaseState.ARCHIVED, "op"))
    finally:
        deps.clock = real_clock
    assert case_files.lists.ready(SWEEPS_BACKFILL_MARK)

    def both(closed_before: datetime) -> set[str]:
        from_entries = case_files.retention_candidates(closed_before)  # from the entries
        queried = case_files.query_retention_candidates(closed_before)
        assert set(from_entries) == set(queried), closed_before
        return set(from_entries)

    assert not both(T0)
    assert both(T0 + timedelta(days=3, hours=2)) == set(ids[:4])  # to the millisecond
    assert both(T0 + timedelta(days=30)) == set(ids[:8])
    assert anonymise_expired(deps, timedelta(days=1), T0 + timedelta(days=5)) == 4
    assert both(T0 + timedelta(days=30)) == set(ids[4:8])  # anonymised: out of retention
    assert_entries_are_the_stored_case_files(case_files)


def test_a_tenants_case_files_are_read_from_their_list_as_the_query_finds_them(
    app, case_files
) -> None:
    ids = open_case_files(app, 16)  # four tenants, four case files each
    work(app, ids)
    tenants = [f"ten_{n}" for n in range(4)]

    def both(tenant_id: str) -> list[str]:
        from_list = case_files.ids_of_tenant(tenant_id)
        assert sorted(from_list) == sorted(case_files.query_ids_of_tenant(tenant_id)), tenant_id
        return from_list

    assert [len(both(t)) for t in tenants] == [4, 4, 4, 4]  # not backfilled: the query
    # A database backfilled before the tenants' lists existed: its other lists are read from
    # their entries, the tenants' with the query until the worker's next start backfills them.
    backfills = case_files.collection.database[BACKFILLS]
    backfills.insert_many([{"_id": m, "at": T0} for m in (BACKFILL_MARK, SWEEPS_BACKFILL_MARK)])
    entries = CaseFileListEntryDoc._get_collection()
    entries.delete_many({"_id": {"$regex": "^t:"}})
    assert case_files.lists.ready(BACKFILL_MARK, SWEEPS_BACKFILL_MARK)
    assert not case_files.lists.ready(TENANT_BACKFILL_MARK)
    assert [len(both(t)) for t in tenants] == [4, 4, 4, 4]
    # The other lists are complete: the backfill writes the tenants' entries only (an entry of
    # another list missing here stays missing; a repair would write it).
    missing = entries.find_one_and_delete({"_id": {"$regex": "^a:"}})
    build_worker(app.extensions["sportello.settings"])  # not run: the backfill is at start
    assert case_files.lists.ready(TENANT_BACKFILL_MARK)
    entries = CaseFileListEntryDoc._get_collection()  # the worker connected again
    assert entries.count_documents({"_id": missing["_id"]}) == 0
    entries.insert_one(missing)
    assert_entries_are_the_stored_case_files(case_files)
    assert [len(both(t)) for t in tenants] == [4, 4, 4, 4]
    # From the list now: an entry its case file does not want is left out, and dropped.
    stray = f"t:ten_0:000000000000001:{both('ten_1')[0]}"
    CaseFileListEntryDoc._get_collection().insert_one({"_id": stray, "case_id": ids[1]})
    assert len(case_files.ids_of_tenant("ten_0")) == 4
    assert_entries_are_the_stored_case_files(case_files)
    entries_of_ten_2 = {"_id": {"$regex": "^t:ten_2:"}}
    CaseFileListEntryDoc._get_collection().delete_many(entries_of_ten_2)
    assert case_files.ids_of_tenant("ten_2") == []  # (what shows it reads the list)
    case_files.lists.repair(T0)

    # The erasure finds them there; anonymised, they leave the list (no list of the anonymous).
    erasure = {
        "erasure_id": "era_1",
        "tenant_id": "ten_3",
        "requested_by": "admin",
        "requested_at": T0.isoformat(),
    }
    handle = dispatcher(EVENT_HANDLERS, app.extensions["sportello.bus"].deps)
    handle(decode(encode(make_event(TENANT_ERASURE_REQUESTED, "ten_3", erasure))), [])
    assert case_files.collection.count_documents({"tenant_id": ANONYMOUS}) == 4
    assert both("ten_3") == []
    assert [len(both(t)) for t in tenants[:3]] == [4, 4, 4]
    assert_entries_are_the_stored_case_files(case_files)


def test_a_run_of_openings_in_bulk_ends_as_one_by_one_would(app, case_files) -> None:
    case_files.lists.backfill(T0)
    deps = app.extensions["sportello.bus"].deps
    handle = dispatcher(EVENT_HANDLERS, deps)
    before = case_opened("case_before", 0, T0)
    handle(before, [])
    case_files.collection.database[ERASURES].insert_one({"_id": "ten_gone", "at": T0})
    gone = case_opened_data(case_id="case_gone", tenant_id="ten_gone", opened_at=T0.isoformat())
    fresh = [case_opened(f"case_b{n}", n, T0 + timedelta(minutes=n)) for n in range(10)]
    events = [*fresh[:4], before, decode(encode(make_event(CASE_OPENED, "case_gone", gone)))]
    events += [*fresh[4:], fresh[0]]  # fresh[0] twice in one run: one case file
    applied = on_cases_opened(events, deps)
    # The redelivery and the erased tenant's opening are left to the one-by-one handler.
    assert applied == {e.id for e in fresh}
    for event in events:
        if event.id not in applied:
            handle(event, [])
    assert case_files.collection.count_documents({}) == 12
    assert case_files.get("case_gone").state == CaseState.ARCHIVED  # erased, as one by one
    assert case_files.get("case_b3").tenant_id == "ten_3"
    assert_entries_are_the_stored_case_files(case_files)
    assert_both_paths_agree(case_files, scopes=[None])


def test_the_repair_writes_missing_entries_and_drops_stale_ones(
    app, case_files, environ, monkeypatch
) -> None:
    for name, value in environ.items():  # the command reads its settings from the environment
        monkeypatch.setenv(name, value)
    ids = open_case_files(app, 15)
    work(app, ids)
    # Before the backfill, lists are read with the query.
    assert not case_files.lists.ready()
    entries = CaseFileListEntryDoc._get_collection()
    entries.delete_many({"case_id": {"$in": ids[:3]}})
    entries.insert_one({"_id": f"s:chiuso:000000000000001:{ids[4]}", "case_id": ids[4]})
    entries.insert_one({"_id": "a:000000000000001:case_gone", "case_id": "case_gone"})
    # A case file written before ``list_entries`` existed.
    CaseFileDoc._get_collection().update_one({"_id": ids[5]}, {"$unset": {"list_entries": ""}})
    for _ in range(2):  # idempotent
        assert cli(["repair-case-file-lists"]) == 0
        assert case_files.lists.ready()
        assert_entries_are_the_stored_case_files(case_files)
        assert_both_paths_agree(case_files)
    work(app, ids[5:6])  # its next write keeps its entries in step
    assert_entries_are_the_stored_case_files(case_files)


def test_the_worker_backfills_the_entries_once_at_start(app, case_files) -> None:
    ids = open_case_files(app, 6)
    work(app, ids)
    # Case files stored before the entries existed: none of them, no ids kept, no mark.
    CaseFileListEntryDoc._get_collection().delete_many({})
    case_files.collection.update_many({}, {"$unset": {"list_entries": ""}})
    assert not case_files.lists.ready()
    build_worker(app.extensions["sportello.settings"])  # not run: the backfill is at start
    assert case_files.lists.ready()
    assert_entries_are_the_stored_case_files(case_files)
    CaseFileListEntryDoc._get_collection().delete_many({})
    build_worker(app.extensions["sportello.settings"])  # once done, done: not again
    assert CaseFileListEntryDoc.objects.count() == 0


def test_the_case_files_endpoint_keeps_each_callers_scope(
    app, case_files, environ, monkeypatch
) -> None:
    case_files.lists.backfill(T0)
    work(app, open_case_files(app, 24))
    client = app.test_client()
    callers = [
        ("admin", {}),
        ("coordinator", {}),
        ("operator", {"counters": ("ctr_1",)}),
        ("operator", {"counters": ("ctr_1", "ctr_2")}),
        ("path_caseworker", {"path": "welfare"}),
    ]
    queries = ({}, {"state": "in_valutazione"}, {"building_id": "bld_b"}, {"counter_id": "ctr_1"})
    pages = ((5, 0), (5, 5), (50, 0))
    for (role, scope), query, (limit, offset) in itertools.product(callers, queries, pages):
        response = client.get(
            "/api/v1/case-files",
            query_string={**query, "limit": limit, "offset": offset},
            headers=bearer_headers(environ, role, **scope),
        )
        assert response.status_code == 200, response.json
        forced = {"path": scope["path"]} if "path" in scope else {}
        if "counters" in scope and "counter_id" not in query:
            forced = {"counters": list(scope["counters"])}
        want, total = case_files.query(**query, **forced, limit=limit, offset=offset)
        assert [c["id"] for c in response.json] == [c.id for c in want], (role, query)
        assert response.headers["X-Total-Count"] == str(total), (role, query)
    # A list longer than the counting cap says so instead of its total.
    wanted = {str(q): case_files.query(**q, limit=2) for q in queries}
    # the shortest list is counted to the cap exactly, the longest not
    monkeypatch.setattr(id_lists, "COUNT_CAP", min(total for _, total in wanted.values()))
    counted = []
    for query in queries:
        # a page of 2, not the last: the total is counted (a list's last page gives it)
        response = client.get("/api/v1/case-files", query_string={**query, "limit": 2})
        want, total = wanted[str(query)]
        assert [c["id"] for c in response.json] == [c.id for c in want], query
        counted.append(total_of(response.headers, total))
    assert set(counted) == {True, False}  # lists on both sides of the cap
    monkeypatch.undo()
    deps = app.extensions["sportello.bus"].deps
    real_clock = deps.clock
    deps.clock = lambda: datetime.combine(TODAYS[1], datetime.min.time(), UTC)
    try:
        overdue = client.get("/api/v1/case-files", query_string={"overdue": "true"})
    finally:
        deps.clock = real_clock
    want, total = case_files.query(overdue_on=TODAYS[1])
    assert [c["id"] for c in overdue.json] == [c.id for c in want] != []
    assert [c["next_due"] for c in overdue.json] == sorted(c["next_due"] for c in overdue.json)
    assert overdue.headers["X-Total-Count"] == str(total)


@pytest.mark.parametrize(("read", "most"), [(50, 500), (1, 2)], ids=["a-page", "chunks-of-two"])
def test_the_overdue_report_from_entries_answers_what_its_query_answers(
    app, case_files, monkeypatch, read: int, most: int
) -> None:
    monkeypatch.setattr(repository, "OVERDUE_READ", read)
    monkeypatch.setattr(repository, "OVERDUE_READ_MAX", most)  # 2: a page reads many chunks
    case_files.lists.backfill(T0)
    work(app, open_case_files(app, 24), rounds=3)  # several referrals sent per case file
    everything = case_files.query_overdue_referrals(TODAYS[-1], 1000, 0)
    # What the order has to get right is there: a case file with two overdue referrals, and
    # case files whose rows interleave (a referral due after another case file's earliest).
    per_case = [r["case_id"] for r in everything]
    assert max(per_case.count(c) for c in per_case) >= 2
    first, last = {}, {}
    for i, c in enumerate(per_case):
        first.setdefault(c, i)
        last[c] = i
    assert any(
        first[c] < i < last[c] and per_case[i] != c for c in first for i in range(len(per_case))
    )
    assert len({r["due_date"] for r in everything}) < len(everything)  # ties of due dates too
    # An entry a write has just moved on (its deletion not done yet) gives its case file no rows.
    entry = case_files.lists.collection.find_one({"_id": {"$regex": "^o:"}})
    _, _, rest = entry["_id"].split(":", 2)
    stale = {"_id": f"o:2026-11-01:{rest}", "case_id": entry["case_id"]}
    case_files.lists.collection.insert_one(stale)
    # The read stops one entry past the page's last row.
    read_entries: list[str] = []
    overdue = type(case_files.lists).overdue

    def counted(lists: Any, today: date, chunk: int) -> Iterator[list[tuple[str, str]]]:
        for entries in overdue(lists, today, chunk):
            read_entries.extend(e for e, _ in entries)
            yield entries

    monkeypatch.setattr(type(case_files.lists), "overdue", counted)
    assert case_files.overdue_referrals(TODAYS[-1], 1, 0) == everything[:1]
    queue = case_files.lists.collection.count_documents({"_id": {"$regex": "^o:"}})
    if most == 2:  # two chunks: the stale entry, the first row's, the one putting it in place
        assert len(read_entries) == 4 < queue
    for today, path in itertools.product(TODAYS, (None, *PATHS)):
        rows = case_files.query_overdue_referrals(today, 1000, 0, path)
        pages = [*PAGES, (1000, 0), *((1, k) for k in range(len(rows) + 1)), (3, len(rows) - 2)]
        for limit, offset in pages:
            args = (today, limit, max(offset, 0), path)
            assert case_files.overdue_referrals(*args) == case_files.query_overdue_referrals(
                *args
            ), args
