"""A codice fiscale is found through its claim (``fiscal_code_claims``, ``_id`` = blind index), on
the real store: registration's uniqueness, search, a changed codice fiscale, a claim left behind,
the backfill of tenants stored before claims existed, key rotation and erasure.

Every lookup reads by ``_id``: a filter on the tenants' ``fiscal_code_index`` would read every
tenant on FerretDB (``tests/integration/test_store_id_lookups.py`` checks the plans).
"""

# ruff: noqa: F811 - the fixtures are shared with the cases API tests

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pymongo
import pytest
from flask.testing import FlaskClient

from services.intake.entrypoints import rotate_keys as intake_rotate
from services.intake.entrypoints.app import create_app as intake_app
from services.intake.entrypoints.worker import build_worker
from shared import mongo
from shared.crypto import FieldCipher, generate_key
from tests.integration.test_intake_cases_api import (  # noqa: F401 - fixtures
    SAINT_BON,
    app,
    building_id,
    case_body,
    client,
    fiscal_code,
    register_tenant,
)
from tests.support import authorize_app

CLAIMS = "fiscal_code_claims"


# One client for the module's raw reads and writes (closed at the end).
_CLIENTS: dict[str, pymongo.MongoClient] = {}


@pytest.fixture(scope="module", autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    for mongo_client in _CLIENTS.values():
        mongo_client.close()
    _CLIENTS.clear()


def intake_db(environ: dict[str, str]) -> Any:
    """intake's database, read and written around the service's code."""
    uri = environ["MONGODB_URI"]
    if uri not in _CLIENTS:
        _CLIENTS[uri] = pymongo.MongoClient(uri, tz_aware=True)
    return _CLIENTS[uri][f"{environ['SPORTELLO_DB_PREFIX']}_intake"]


@pytest.fixture(autouse=True)
def backfilled(environ: dict[str, str]) -> None:
    """As intake's worker leaves a database at start: every tenant has its claim, so a lookup
    that finds no claim does not fall back to reading the tenants (these tests prove the
    claims alone)."""
    intake_db(environ)["backfills"].insert_one({"_id": "fiscal_code_claims"})


def claims_of(environ: dict[str, str], tenant_id: str) -> list[str]:
    return sorted(d["_id"] for d in intake_db(environ)[CLAIMS].find({"tenant_id": tenant_id}))


def found(client: FlaskClient, code: str, **more: Any) -> list[str]:
    response = client.get("/api/v1/tenants", query_string={"fiscal_code": code, **more})
    assert response.status_code == 200, response.json
    assert response.headers["X-Total-Count"] == str(len(response.json))
    return [t["id"] for t in response.json]


def register(client: FlaskClient, building: str, code: str) -> Any:
    body = {"building_id": building, "first_name": "Altro", "last_name": "Nome"}
    return client.post("/api/v1/tenants", json={**body, "fiscal_code": code})


def test_registration_claims_the_codice_fiscale_and_a_duplicate_is_409_with_the_holder(
    client, building_id, environ
) -> None:
    tenant = register_tenant(client, building_id, n=11, last_name="Verdi", first_name="Ada")
    key = FieldCipher([environ["FIELD_ENCRYPTION_KEYS"]]).blind_index(fiscal_code(11))
    assert claims_of(environ, tenant["id"]) == [key]

    again = register(client, building_id, fiscal_code(11).lower())
    assert again.status_code == 409, again.json
    assert again.json["code"] == "duplicate_tenant"
    assert again.json["details"]["existing_tenant_id"] == tenant["id"]
    assert claims_of(environ, tenant["id"]) == [key]  # the refused one left nothing

    # The search finds it by its claim; its other filters still apply to what it found.
    assert found(client, fiscal_code(11).lower()) == [tenant["id"]]
    assert found(client, fiscal_code(11), name="verd", building_id=building_id) == [tenant["id"]]
    assert found(client, fiscal_code(11), name="bianchi") == []
    assert found(client, fiscal_code(11), building_id="bld_other") == []
    assert found(client, fiscal_code(12)) == []
    page = client.get("/api/v1/tenants", query_string={"fiscal_code": fiscal_code(11), "offset": 1})
    assert (page.json, page.headers["X-Total-Count"]) == ([], "1")


def test_a_changed_codice_fiscale_moves_its_claim(client, building_id, environ) -> None:
    tenant = register_tenant(client, building_id, n=21)
    other = register_tenant(client, building_id, n=22)
    url = f"/api/v1/tenants/{tenant['id']}"

    taken = client.patch(url, json={"fiscal_code": fiscal_code(22)})
    assert taken.status_code == 409
    assert taken.json["details"]["existing_tenant_id"] == other["id"]
    assert len(claims_of(environ, tenant["id"])) == 1  # nothing taken on the way

    moved = client.patch(url, json={"fiscal_code": fiscal_code(23)})
    assert moved.status_code == 200, moved.json
    key = FieldCipher([environ["FIELD_ENCRYPTION_KEYS"]]).blind_index(fiscal_code(23))
    assert claims_of(environ, tenant["id"]) == [key]
    assert found(client, fiscal_code(23)) == [tenant["id"]]
    assert found(client, fiscal_code(21)) == []
    # The old codice fiscale is free, the new one taken.
    assert register(client, building_id, fiscal_code(21)).status_code == 201
    refused = register(client, building_id, fiscal_code(23))
    assert refused.json["details"]["existing_tenant_id"] == tenant["id"]
    # A version conflict gives back what the refused write claimed.
    stale = client.patch(url, json={"fiscal_code": fiscal_code(24), "expected_version": 1})
    assert stale.status_code == 409
    assert claims_of(environ, tenant["id"]) == [key]


def test_a_claim_left_behind_is_taken_over_and_one_on_its_way_is_respected(
    client, building_id, environ
) -> None:
    claims = intake_db(environ)[CLAIMS]
    cipher = FieldCipher([environ["FIELD_ENCRYPTION_KEYS"]])
    now = datetime.now(UTC)
    # A registration that died after claiming (its tenant never stored), long ago…
    claims.insert_one(
        {
            "_id": cipher.blind_index(fiscal_code(31)),
            "tenant_id": "ten_never_stored",
            "claimed_at": now - timedelta(hours=1),
        }
    )
    late = register(client, building_id, fiscal_code(31))
    assert late.status_code == 201, late.json
    assert claims_of(environ, late.json["id"]) == [cipher.blind_index(fiscal_code(31))]
    # …and one still on its way (claimed just now): a duplicate, with no tenant to show yet.
    claims.insert_one(
        {
            "_id": cipher.blind_index(fiscal_code(32)),
            "tenant_id": "ten_on_its_way",
            "claimed_at": now,
        }
    )
    early = register(client, building_id, fiscal_code(32))
    assert early.status_code == 409
    assert early.json["details"]["existing_tenant_id"] is None
    assert found(client, fiscal_code(32)) == []
    # A claim whose tenant has another codice fiscale now is stale at once.
    holder = register_tenant(client, building_id, n=33)
    claims.insert_one(
        {"_id": cipher.blind_index(fiscal_code(34)), "tenant_id": holder["id"], "claimed_at": now}
    )
    assert found(client, fiscal_code(34)) == []
    assert register(client, building_id, fiscal_code(34)).status_code == 201


def test_tenants_stored_before_the_claims_are_found_and_backfilled_once_by_the_worker(
    settings_for, client, building_id, environ
) -> None:
    tenant = register_tenant(client, building_id, n=41)
    db = intake_db(environ)
    # As before claims existed: no claim, no marker.
    db[CLAIMS].delete_many({})
    db["backfills"].delete_many({})
    mongo.disconnect("intake")

    # Until the backfill, the lookups fall back to the tenants' blind index.
    before = authorize_app(intake_app(settings_for("intake"))).test_client()
    assert found(before, fiscal_code(41)) == [tenant["id"]]
    refused = register(before, building_id, fiscal_code(41))
    assert refused.json["details"]["existing_tenant_id"] == tenant["id"]
    mongo.disconnect("intake")

    build_worker(settings_for("intake"))  # the worker backfills at start
    mongo.disconnect("intake")
    key = FieldCipher([environ["FIELD_ENCRYPTION_KEYS"]]).blind_index(fiscal_code(41))
    assert claims_of(environ, tenant["id"]) == [key]
    assert db["backfills"].find_one({"_id": "fiscal_code_claims"}) is not None
    after = authorize_app(intake_app(settings_for("intake"))).test_client()
    assert found(after, fiscal_code(41)) == [tenant["id"]]
    # Once: the marker says done, so nothing reads the tenants any more (a claim gone later is
    # not found by a fallback, nor brought back by the next start).
    db[CLAIMS].delete_many({})
    assert found(after, fiscal_code(41)) == []
    mongo.disconnect("intake")
    build_worker(settings_for("intake"))
    mongo.disconnect("intake")
    assert claims_of(environ, tenant["id"]) == []


def test_a_key_rotation_keeps_every_codice_fiscale_found_and_unique(
    settings_for, environ, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = environ["FIELD_ENCRYPTION_KEYS"]
    client = authorize_app(intake_app(settings_for("intake"))).test_client()
    building = client.post("/api/v1/buildings", json=SAINT_BON).json["id"]
    tenant = register_tenant(client, building, n=51)
    mongo.disconnect("intake")

    # The new key first, the old one still there: claimed under the old key, still found.
    new = generate_key()
    client = authorize_app(
        intake_app(settings_for("intake", FIELD_ENCRYPTION_KEYS=f"{new},{old}"))
    ).test_client()
    assert found(client, fiscal_code(51)) == [tenant["id"]]
    refused = register(client, building, fiscal_code(51))
    assert refused.json["details"]["existing_tenant_id"] == tenant["id"]
    # Registered during the rotation: claimed under the new key.
    during = register_tenant(client, building, n=52)
    assert claims_of(environ, during["id"]) == [FieldCipher([new]).blind_index(fiscal_code(52))]
    mongo.disconnect("intake")

    for name, value in {**environ, "FIELD_ENCRYPTION_KEYS": f"{new},{old}"}.items():
        monkeypatch.setenv(name, value)
    assert intake_rotate.main(["--check"]) == 1  # a claim (and an index) under the old key
    assert intake_rotate.main([]) == 0
    assert intake_rotate.main(["--check"]) == 0
    assert claims_of(environ, tenant["id"]) == [FieldCipher([new]).blind_index(fiscal_code(51))]

    # The old key can go: every codice fiscale is still found and still unique.
    client = authorize_app(
        intake_app(settings_for("intake", FIELD_ENCRYPTION_KEYS=new))
    ).test_client()
    for n, holder in ((51, tenant["id"]), (52, during["id"])):
        assert found(client, fiscal_code(n)) == [holder]
        assert register(client, building, fiscal_code(n)).json["details"]["existing_tenant_id"] == (
            holder
        )
    mongo.disconnect("intake")


def test_erasure_frees_the_codice_fiscale(client, building_id, environ) -> None:
    tenant = register_tenant(client, building_id, n=61)
    erased = client.post(
        f"/api/v1/privacy/tenants/{tenant['id']}/erasure",
        json={"reason": "richiesta scritta dell'interessato"},
    )
    assert erased.status_code in (200, 201, 202), erased.json
    assert claims_of(environ, tenant["id"]) == []
    assert found(client, fiscal_code(61)) == []
    again = register(client, building_id, fiscal_code(61))
    assert again.status_code == 201, again.json
    assert found(client, fiscal_code(61)) == [again.json["id"]]


def test_a_tenant_whose_erasure_was_interrupted_gets_nothing_new(app, client, building_id) -> None:
    tenant = register_tenant(client, building_id, n=62)
    # The request died after anonymising the tenant and before it was recorded: asked again, it
    # finishes. Meanwhile nothing new is recorded about the tenant.
    app.extensions["sportello.bus"].deps.privacy.anonymise_tenant(tenant["id"])
    refused = client.post("/api/v1/cases", json=case_body(tenant["id"], building_id))
    assert refused.status_code == 409 and refused.json["code"] == "tenant_erased", refused.json
    erased = client.post(
        f"/api/v1/privacy/tenants/{tenant['id']}/erasure",
        json={"reason": "richiesta scritta dell'interessato"},
    )
    assert erased.status_code in (200, 201, 202), erased.json
    refused = client.post("/api/v1/cases", json=case_body(tenant["id"], building_id))
    assert refused.status_code == 409 and refused.json["code"] == "tenant_erased", refused.json
