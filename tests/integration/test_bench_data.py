"""The query benchmark's data is what the services store: loaded with the bench's own loader
(``bench.queries.load``) and read back through the services' APIs.

The loader writes straight into the store (a million cases cannot go through the APIs), so
nothing else notices when its documents drift from the services': a field encrypted by a
service and written in clear, a missing blind index or claim, a key other than the system's.
Then reads fail to decrypt or searches find nothing, and the benchmark measures the wrong thing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pymongo
import pytest
from flask.testing import FlaskClient

from bench import queries, workload
from services.casework.adapters import case_file_lists
from services.casework.entrypoints.app import create_app as casework_app
from services.intake.adapters import case_lists, tenant_lists
from services.intake.entrypoints.app import create_app as intake_app
from shared import crypto, mongo
from shared.crypto import is_encrypted
from shared.outbox import event_text
from tests.support import authorize_app

CASES, TENANTS = 24, 8


@pytest.fixture
def clients(settings_for) -> Iterator[tuple[FlaskClient, FlaskClient]]:
    """intake's and casework's apps in this test's world (their own keys, their indexes)."""
    intake = authorize_app(intake_app(settings_for("intake")))
    casework = authorize_app(casework_app(settings_for("casework")))
    yield intake.test_client(), casework.test_client()
    mongo.disconnect("intake")
    mongo.disconnect("casework")


@pytest.fixture
def loaded(clients, environ: dict[str, str]) -> Iterator[tuple[workload.Scale, Any, Any]]:
    """The bench's data loaded into this test's databases; the scale and both databases."""
    # ``load`` registers ciphers from ``environ`` in this process, where the apps registered
    # theirs: the apps get their own back, so a loader using other keys is caught.
    apps = {alias: crypto.cipher_for(alias) for alias in ("intake", "casework")}
    scale, _ = queries.load(environ, CASES, TENANTS)
    for alias, cipher in apps.items():
        crypto.register(alias, cipher)
    client = pymongo.MongoClient(environ["MONGODB_URI"], tz_aware=True)
    prefix = environ["SPORTELLO_DB_PREFIX"]
    yield scale, client[f"{prefix}_intake"], client[f"{prefix}_casework"]
    client.close()


def events(doc: dict[str, Any], service: str) -> list[dict[str, Any]]:
    """The events in ``doc``'s outbox, each stored encrypted (else the assertion fails)."""
    assert all(is_encrypted(r["value"]) for r in doc["outbox"]), doc["outbox"]
    return [json.loads(event_text(r, service)) for r in doc["outbox"]]


def test_loaded_tenants_read_back_and_are_found_by_codice_fiscale(clients, loaded) -> None:
    intake, _ = clients
    scale, intake_db, _ = loaded
    assert intake_db["tenants"].count_documents({}) == TENANTS
    for tenant_id, fiscal_code in zip(scale.tenant_ids, scale.tenant_fiscal_codes, strict=True):
        stored = intake_db["tenants"].find_one({"_id": tenant_id})
        for name in ("fiscal_code", "phone", "email"):
            assert stored[name] is None or is_encrypted(stored[name]), (name, stored[name])
        [registered] = events(stored, "intake")
        assert registered["type"].endswith("tenant.registered.v1")
        assert registered["data"]["fiscal_code"] == fiscal_code

        response = intake.get(f"/api/v1/tenants/{tenant_id}")
        assert response.status_code == 200, response.json
        assert response.json["fiscal_code"] == fiscal_code
        assert response.json["phone"] == registered["data"]["phone"]
        assert response.json["email"] == registered["data"]["email"]

        found = intake.get(f"/api/v1/tenants?fiscal_code={fiscal_code}")
        assert found.status_code == 200, found.json
        assert [t["id"] for t in found.json] == [tenant_id]

    # The search by name reads the derived ``search_name``.
    some = intake.get(f"/api/v1/tenants/{scale.tenant_ids[0]}").json
    by_name = intake.get(f"/api/v1/tenants?name={some['last_name']}&limit=100")
    assert scale.tenant_ids[0] in [t["id"] for t in by_name.json]


def test_loaded_cases_and_case_files_read_back(clients, loaded) -> None:
    intake, casework = clients
    _, intake_db, casework_db = loaded
    cases = list(intake_db["cases"].find())
    assert len(cases) == CASES
    claims = {c["_id"]: c["case_id"] for c in intake_db["open_case_claims"].find()}
    for stored in cases:
        case_id = stored["_id"]
        assert is_encrypted(stored["description"])
        [opened] = events(stored, "intake")
        assert opened["type"].endswith("case.opened.v1")
        assert opened["subject"] == case_id
        assert opened["data"]["tenant_id"] == stored["tenant_id"]
        if stored["status"] == "aperto" and not stored.get("linked_case_id"):
            # Intake's one open case per tenant and need is kept by these claims.
            for need in stored["needs"]:
                assert claims.get(f"{stored['tenant_id']}:{need}") == case_id

        case = intake.get(f"/api/v1/cases/{case_id}")
        assert case.status_code == 200, case.json
        assert case.json["description"] == opened["data"]["description"] != ""
        assert case.json["tenant_id"] == stored["tenant_id"]

        stored_file = casework_db["case_files"].find_one({"_id": case_id})
        assert is_encrypted(stored_file["description"])
        case_file = casework.get(f"/api/v1/case-files/{case_id}")
        assert case_file.status_code == 200, case_file.json
        assert case_file.json["description"] == opened["data"]["description"]
        assert case_file.json["tenant_id"] == stored["tenant_id"]
        assert case_file.json["building"]["id"] == stored["building_id"]
        assert case_file.json["state"] == stored_file["state"]
    assert set(claims.values()) <= {c["_id"] for c in cases}


def test_each_benchmarked_query_matches_what_the_api_counts(clients, loaded) -> None:
    """The pymongo ceiling of each query finds what its endpoint finds (same store query)."""
    intake, casework = clients
    scale, intake_db, casework_db = loaded
    for q in queries.queries(scale):
        client, db = (intake, intake_db) if q.service == "intake" else (casework, casework_db)
        response = client.get(q.path)
        assert response.status_code == 200, (q.name, response.json)
        if not q.counted:  # a report: its rows are of the case files its entries list
            listed = {r["case_id"] for r in response.json}
            assert 0 < len(listed) <= queries.store_total(db, q), q.name
            # The loaded referrals are real ones: the report's query finds the same rows.
            case_files = client.application.extensions["sportello.bus"].deps.case_files
            queried = case_files.query_overdue_referrals(scale.newest.date(), 50, 0)
            assert [r["referral_id"] for r in response.json] == [
                r.get("referral_id") for r in queried
            ]
            continue
        assert int(response.headers["X-Total-Count"]) == queries.store_total(db, q), q.name
    by_fiscal_code = next(q for q in queries.queries(scale) if "fiscal" in q.path)
    assert queries.store_total(intake_db, by_fiscal_code) == 1


def test_loaded_case_lists_are_read_from_entries_like_the_cases_query(clients, loaded) -> None:
    """The loader writes each case's list entries (and their backfill's mark), as intake does:
    the lists the API reads from them are the cases query's pages."""
    intake, _ = clients
    scale, intake_db, _ = loaded
    stored = list(
        intake_db["cases"].find(
            {},
            {
                "building_id": 1,
                "counter_id": 1,
                "tenant_id": 1,
                "opened_at": 1,
                "urgent": 1,
                "status": 1,
            },
        )
    )
    want = {e["_id"] for case in stored for e in case_lists.entry_docs(case)}
    assert {e["_id"] for e in intake_db[queries.CASE_LIST_ENTRIES].find({}, {"_id": 1})} == want
    for mark in case_lists.MARKS:
        assert intake_db["backfills"].find_one({"_id": mark})
    for q in queries.queries(scale):
        if not q.entries or q.service != "intake":
            continue  # intake's case lists (work queues, tenants: below)
        cursor = intake_db["cases"].find(q.filter, {"_id": 1}).sort(q.sort)
        newest_first = [c["_id"] for c in cursor]
        for offset in (0, 5):
            separator = "&" if "?" in q.path else "?"
            response = intake.get(f"{q.path}{separator}limit=7&offset={offset}")
            assert response.status_code == 200, (q.name, response.json)
            assert [c["id"] for c in response.json] == newest_first[offset : offset + 7], q.name
            assert response.headers["X-Total-Count"] == str(len(newest_first)), q.name


def test_loaded_work_queues_are_read_from_entries_like_the_case_files_query(
    clients, loaded
) -> None:
    """The loader writes each case file's work-queue entries and their ids in the case file (and
    the backfill's mark), as casework does: the queues the API reads from them are the
    case-files query's pages, in its order (the overdue queue: most overdue first)."""
    _, casework = clients
    scale, _, casework_db = loaded
    stored = list(casework_db[queries.CASE_FILES].find({}))
    want = {e for doc in stored for e in case_file_lists.entry_ids(doc["_id"], doc)}
    entries = casework_db[queries.CASE_FILE_LIST_ENTRIES].find({}, {"_id": 1})
    assert {e["_id"] for e in entries} == want
    for doc in stored:
        assert doc["list_entries"] == case_file_lists.entry_ids(doc["_id"], doc)
    for mark in case_file_lists.MARKS:  # casework's worker does not read them all again
        assert casework_db["backfills"].find_one({"_id": mark}), mark
    work_queues = [q for q in queries.queries(scale) if q.service == "casework" and q.counted]
    assert all(q.entries for q in work_queues)
    for q in work_queues:
        cursor = casework_db[q.collection].find(q.filter, {"_id": 1}).sort(q.sort)
        in_order = [c["_id"] for c in cursor]
        for offset in (0, 5):
            separator = "&" if "?" in q.path else "?"
            response = casework.get(f"{q.path}{separator}limit=7&offset={offset}")
            assert response.status_code == 200, (q.name, response.json)
            assert [c["id"] for c in response.json] == in_order[offset : offset + 7], q.name
            assert response.headers["X-Total-Count"] == str(len(in_order)), q.name


def test_loaded_tenant_lists_are_read_from_entries_like_the_tenants_query(clients, loaded) -> None:
    """The loader writes each tenant's list entries (and their backfill's mark), as intake's
    reconciliation does: the searches the API reads from them are the tenants query's pages."""
    intake, _ = clients
    scale, intake_db, _ = loaded
    stored = list(intake_db["tenants"].find({}, {"search_name": 1, "building_id": 1}))
    want = {i: t["_id"] for t in stored for i in tenant_lists.entry_ids(t)}
    entries = intake_db[queries.TENANT_LIST_ENTRIES].find({}, {"tenant_id": 1})
    assert {e["_id"]: e["tenant_id"] for e in entries} == want
    assert intake_db["backfills"].find_one({"_id": tenant_lists.BACKFILL_MARK})
    checked = 0
    for q in queries.queries(scale):
        if not q.tenant_list:
            continue
        by_name = [t["_id"] for t in intake_db["tenants"].find(q.filter, {"_id": 1}).sort(q.sort)]
        for offset in (0, 2):
            separator = "&" if "?" in q.path else "?"
            response = intake.get(f"{q.path}{separator}limit=3&offset={offset}")
            assert response.status_code == 200, (q.name, response.json)
            assert [t["id"] for t in response.json] == by_name[offset : offset + 3], q.name
            assert response.headers["X-Total-Count"] == str(len(by_name)), q.name
        checked += 1
    assert checked == 2
