"""intake's tenant lists read from their entries answer exactly what the tenants query answers.

``GET /api/v1/tenants`` by name prefix and/or building (no codice fiscale) is read from the
tenant list entries (``services.intake.adapters.tenant_lists``): one ``_id`` range read of small
entries and the page's tenants by ``_id``, where the tenants query reads every tenant on
FerretDB. Both paths run here on the same tenants (stored by the repository's own writes, names
with spaces, apostrophes, accents, ``&`` and twins), also after renames, moves and an erasure,
and must give the same pages, in the same order, and the same totals.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask

from bench.workload import fiscal_code_unique
from services.intake.adapters.documents import IntakeTenantListEntryDoc
from services.intake.adapters.privacy import PrivacyStore
from services.intake.adapters.repository import TenantRepository
from services.intake.adapters.tenant_lists import entry_ids, name_key
from services.intake.domain.model import Tenant
from services.intake.entrypoints.app import create_app
from services.intake.entrypoints.cli import main as cli
from shared import id_lists, mongo
from tests.support import authorize_app, bearer_headers, total_of

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
BUILDINGS = ("bld_a", "bld_b", "bld_c")
NAMES = [
    ("Rossi", "Mario"),
    ("Rossi", "Mario"),  # twins by name: the order falls back to the id
    ("Rossini", "Anna"),
    ("Ross", "Ada"),
    ("Ross", ""),
    ("Rossi", "Maria Grazia"),
    ("D'Amico", "Nicolò"),
    ("De Amicis", "Luca"),
    ("Dell'Orto", "Ugo"),
    ("Ross & Figli", "Ditta"),
    ("Àlvarez", "José"),
    ("Bianchi", "Laura"),
    ("Verdi", "Anna"),
    ("rossi", "mario"),
    ("Zanetti", "Zoe"),
    ("Rost", "Piero"),
]
PREFIXES = [None, "ross", "Rossi", "rossi m", "ROSSI MARIA", "d'", "de", "nicolo", "ross &", "zz"]
PREFIXES += ["alvarez", "anonimizzato", "x"]
FILTERS = [*BUILDINGS, None, "bld_nope", "bld:a"]
PAGES = [(50, 0), (3, 2), (4, 5), (100, 100)]


@pytest.fixture
def app(settings_for) -> Iterator[Flask]:
    yield authorize_app(create_app(settings_for("intake")))
    mongo.disconnect("intake")


@pytest.fixture
def tenants(app: Flask) -> TenantRepository:
    return app.extensions["sportello.bus"].deps.tenants


def register(repository: TenantRepository) -> list[Tenant]:
    """The tenants of ``NAMES`` over the buildings, through the repository's write."""
    registered = []
    for n, (last, first) in enumerate(NAMES):
        tenant = Tenant.register(
            now=T0,
            building_id=BUILDINGS[n % len(BUILDINGS)],
            apartment=None,
            first_name=first or "-",
            last_name=last,
            fiscal_code=fiscal_code_unique(n + 7),
            phone=None,
            email=None,
            preferred_language="it",
            household_size=None,
        )
        repository.add(tenant, [])
        registered.append(tenant)
    return registered


def assert_both_paths_agree(repository: TenantRepository) -> None:
    """Every prefix, building and page: the search (entries) equals the tenants query."""
    for name, building, (limit, offset) in itertools.product(PREFIXES, FILTERS, PAGES):
        args = {"name": name, "building_id": building, "limit": limit, "offset": offset}
        found = repository.search(fiscal_code=None, **args)
        queried = repository.query(**args)
        case = (name, building, limit, offset)
        assert [t.id for t in found.items] == [t.id for t in queried.items], case
        assert found.items == queried.items and found.total == queried.total, case


def stored_entries() -> set[str]:
    return {e.id for e in IntakeTenantListEntryDoc.objects}


def test_tenant_lists_from_entries_answer_what_the_tenants_query_answers(tenants) -> None:
    assert tenants.lists.backfill(T0) == 0  # an empty database: lists read entries from now on
    registered = register(tenants)
    assert len(stored_entries()) == 2 * len(registered)
    assert_both_paths_agree(tenants)
    assert tenants.search(
        name="ross", fiscal_code=None, building_id=None, limit=50, offset=0
    ).total == sum(1 for last, _ in NAMES if last.lower().startswith("ross"))
    # A rename and a move: the old entries go, the new ones come.
    renamed, moved = registered[0], registered[2]
    previous = renamed.version
    renamed.update({"last_name": "Bianchi-Rossi"})
    tenants.update(renamed, previous, [])
    previous = moved.version
    moved.update({"building_id": "bld_c", "first_name": "Annamaria"})
    tenants.update(moved, previous, [])
    assert {e for e in stored_entries() if e.endswith(f"#{renamed.id}")} == {
        f"n:bianchi$2drossi$20mario#{renamed.id}",
        f"tb:bld_a:bianchi$2drossi$20mario#{renamed.id}",
    }
    assert {e for e in stored_entries() if e.endswith(f"#{moved.id}")} == {
        f"n:rossini$20annamaria#{moved.id}",
        f"tb:bld_c:rossini$20annamaria#{moved.id}",
    }
    assert_both_paths_agree(tenants)
    # An erasure: no entry keeps the name, the tenant is listed as the tenants query lists it.
    erased = registered[6]
    PrivacyStore(tenants.topic).anonymise_tenant(erased.id)
    mine = {e for e in stored_entries() if e.endswith(f"#{erased.id}")}
    assert mine and not [e for e in mine if name_key("d'amico") in e]
    assert_both_paths_agree(tenants)
    assert len(stored_entries()) == 2 * len(registered)


def test_the_repair_writes_missing_entries_and_drops_stale_ones(
    tenants, environ, monkeypatch
) -> None:
    for name, value in environ.items():  # the command reads its settings from the environment
        monkeypatch.setenv(name, value)
    registered = register(tenants)
    assert not tenants.lists.ready()  # before the backfill: the tenants query
    assert_both_paths_agree(tenants)
    want = set().union(
        *(
            entry_ids({"_id": t.id, "search_name": s, "building_id": t.building_id})
            for t, s in ((t, f"{t.last_name} {t.first_name}".lower()) for t in registered)
            if s.isascii()
        )
    )
    entries = IntakeTenantListEntryDoc._get_collection()
    entries.delete_many({"tenant_id": {"$in": [registered[1].id, registered[4].id]}})
    entries.insert_one({"_id": f"n:zzz#{registered[3].id}", "tenant_id": registered[3].id})
    entries.insert_one({"_id": "n:ghost#ten_gone", "tenant_id": "ten_gone"})
    for _ in range(2):  # idempotent
        assert cli(["repair-tenant-lists"]) == 0
        assert len(stored_entries()) == 2 * len(registered)
        assert want <= stored_entries()
        assert tenants.lists.ready()
        assert_both_paths_agree(tenants)


def test_the_tenants_endpoint_answers_as_the_tenants_query(
    app, tenants, environ, monkeypatch
) -> None:
    tenants.lists.backfill(T0)
    register(tenants)
    client = app.test_client()
    headers = bearer_headers(environ, "operator", counters=("ctr_1",))
    for query, (limit, offset) in itertools.product(
        (
            {},
            {"name": "ross"},
            {"name": "Rossi M"},
            {"building_id": "bld_b"},
            {"name": "de", "building_id": "bld_a"},
        ),
        ((5, 0), (5, 5), (50, 0)),
    ):
        response = client.get(
            "/api/v1/tenants",
            query_string={**query, "limit": limit, "offset": offset},
            headers=headers,
        )
        assert response.status_code == 200, response.json
        args = {"name": None, "building_id": None, **query}
        want = tenants.query(**args, limit=limit, offset=offset)
        assert [t["id"] for t in response.json] == [t.id for t in want.items], query
        assert response.headers["X-Total-Count"] == str(want.total), query
    # A list longer than the counting cap says so instead of its total.
    queries = ({}, {"name": "ross"}, {"building_id": "bld_b"})
    wanted = {
        str(q): tenants.query(**{"name": None, "building_id": None, **q}, limit=2, offset=0)
        for q in queries
    }
    # the shortest list is counted to the cap exactly, the longest not
    monkeypatch.setattr(id_lists, "COUNT_CAP", min(w.total for w in wanted.values()))
    counted = []
    for query in queries:
        # a page of 2, not the last: the total is counted (a list's last page gives it)
        response = client.get(
            "/api/v1/tenants", query_string={**query, "limit": 2}, headers=headers
        )
        want = wanted[str(query)]
        assert [t["id"] for t in response.json] == [t.id for t in want.items], query
        counted.append(total_of(response.headers, want.total))
    assert set(counted) == {True, False}  # lists on both sides of the cap
