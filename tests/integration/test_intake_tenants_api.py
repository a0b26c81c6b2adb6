"""intake's tenants API on the real store: validation, duplicates, updates, consents, search.

Every tenant write carries its events in the same document (outbox), keyed by the tenant id.
"""

# ruff: noqa: F811 - the fixtures are shared with the cases API tests

from __future__ import annotations

from flask.testing import FlaskClient

from services.intake.adapters.documents import IntakeTenantDoc
from shared.events import decode
from shared.outbox import event_text
from tests.integration.test_intake_cases_api import (  # noqa: F401 - fixtures
    app,
    building_id,
    client,
    fiscal_code,
    register_tenant,
)

REGISTERED = "it.mm.sportello.intake.tenant.registered.v1"
UPDATED = "it.mm.sportello.intake.tenant.updated.v1"
CONSENT = "it.mm.sportello.intake.tenant.consent_changed.v1"


def outbox(tenant_id: str) -> list:
    """The tenant's pending events, decoded and schema-checked, with their Kafka keys."""
    doc = IntakeTenantDoc.objects.get(id=tenant_id)
    return [(r["key"], decode(event_text(r, "intake").encode())) for r in doc.outbox]


def test_registering_a_tenant_publishes_the_full_snapshot_and_the_consent(
    client: FlaskClient, building_id: str
) -> None:
    tenant = register_tenant(
        client,
        building_id,
        fiscal_code="rssmra85t10a562s",
        preferred_language="ar",
        household_size=4,
    )
    assert tenant["fiscal_code"] == "RSSMRA85T10A562S"
    assert tenant["version"] == 1
    assert tenant["consents"][0]["recorded_by"] == "operatore.rossi"
    events = outbox(tenant["id"])
    assert [e.type for _, e in events] == [REGISTERED, CONSENT]
    assert {key for key, _ in events} == {tenant["id"]}
    snapshot = events[0][1].data
    assert snapshot["email"] == "mario.rossi@example.org"
    assert snapshot["preferred_language"] == "ar"
    assert snapshot["household_size"] == 4
    assert snapshot["consents"][0]["channel"] == "email"
    assert events[1][1].data["consent"]["granted"] is True
    assert client.get(f"/api/v1/tenants/{tenant['id']}").json == tenant


def test_an_invalid_codice_fiscale_is_a_precise_422(client, building_id) -> None:
    body = {
        "building_id": building_id,
        "first_name": "Mario",
        "last_name": "Rossi",
        "fiscal_code": "RSSMRA85T10A562T",
    }
    response = client.post("/api/v1/tenants", json=body)
    assert response.status_code == 422
    assert response.json["errors"]["json"]["fiscal_code"] == [
        "Carattere di controllo del codice fiscale errato."
    ]
    short = client.post("/api/v1/tenants", json={**body, "fiscal_code": "RSSMRA85"})
    assert short.json["errors"]["json"]["fiscal_code"] == [
        "Il codice fiscale deve avere 16 caratteri."
    ]


def test_bad_contacts_and_unknown_fields_are_named(client, building_id) -> None:
    response = client.post(
        "/api/v1/tenants",
        json={
            "building_id": building_id,
            "first_name": "",
            "last_name": "Rossi",
            "fiscal_code": fiscal_code(1),
            "phone": "chiamami",
            "email": "rossi@",
            "preferred_language": "italiano",
            "household_size": 0,
            "consents": [{"channel": "piccione", "granted": True, "recorded_by": "op"}],
            "iban": "IT00",
        },
    )
    assert response.status_code == 422
    errors = response.json["errors"]["json"]
    assert errors["phone"] == ["Numero di telefono non valido."]
    assert errors["email"] == ["Indirizzo email non valido."]
    assert errors["iban"] == ["Campo non previsto."]
    assert {"first_name", "preferred_language", "household_size", "consents"} <= set(errors)


def test_an_unknown_building_is_404_and_a_second_registration_409(client, building_id) -> None:
    missing = client.post(
        "/api/v1/tenants",
        json={
            "building_id": "bld_nope",
            "first_name": "A",
            "last_name": "B",
            "fiscal_code": fiscal_code(2),
        },
    )
    assert missing.status_code == 404
    first = register_tenant(client, building_id, n=3)
    again = client.post(
        "/api/v1/tenants",
        json={
            "building_id": building_id,
            "first_name": "Altro",
            "last_name": "Nome",
            "fiscal_code": fiscal_code(3).lower(),
        },
    )
    assert again.status_code == 409
    assert again.json["code"] == "duplicate_tenant"
    assert again.json["details"]["existing_tenant_id"] == first["id"]


def test_an_update_publishes_the_new_snapshot_with_a_higher_version(client, building_id) -> None:
    tenant = register_tenant(client, building_id)
    response = client.patch(
        f"/api/v1/tenants/{tenant['id']}",
        json={"phone": "02 1234567", "apartment": "Scala C, int. 1", "expected_version": 1},
    )
    assert response.status_code == 200, response.json
    assert response.json["version"] == 2
    events = outbox(tenant["id"])
    assert [e.type for _, e in events][-1] == UPDATED
    snapshot = events[-1][1].data
    assert (snapshot["version"], snapshot["phone"]) == (2, "021234567")
    assert snapshot["consents"] and snapshot["email"] == "mario.rossi@example.org"
    # A stale version is refused; nothing changes and nothing is published.
    stale = client.patch(
        f"/api/v1/tenants/{tenant['id']}", json={"phone": "02 7654321", "expected_version": 1}
    )
    assert stale.status_code == 409
    assert stale.json["details"]["current_version"] == 2
    # No change, no event.
    same = client.patch(f"/api/v1/tenants/{tenant['id']}", json={"phone": "02 1234567"})
    assert same.json["version"] == 2
    assert len(outbox(tenant["id"])) == len(events)


def test_invalid_updates_are_refused(client, building_id) -> None:
    tenant = register_tenant(client, building_id)
    url = f"/api/v1/tenants/{tenant['id']}"
    assert client.patch(url, json={}).status_code == 422
    assert client.patch(url, json={"fiscal_code": "XXX"}).status_code == 422
    assert client.patch(url, json={"version": 9}).json["errors"]["json"]["version"] == [
        "Campo non previsto."
    ]
    assert client.patch(url, json={"building_id": "bld_nope"}).status_code == 404
    assert client.patch("/api/v1/tenants/ten_nope", json={"phone": "021234567"}).status_code == 404
    other = register_tenant(client, building_id, n=9)
    taken = client.patch(url, json={"fiscal_code": other["fiscal_code"]})
    assert taken.status_code == 409
    assert taken.json["details"]["existing_tenant_id"] == other["id"]


def test_consent_changes_are_published_and_withdrawable(client, building_id) -> None:
    tenant = register_tenant(client, building_id)
    url = f"/api/v1/tenants/{tenant['id']}/consents"
    granted = client.post(url, json={"channel": "sms", "granted": True, "recorded_by": "op.b"})
    assert granted.status_code == 200, granted.json
    withdrawn = client.post(url, json={"channel": "sms", "granted": False, "recorded_by": "op.v"})
    assert withdrawn.json["version"] == 3
    sms = next(c for c in withdrawn.json["consents"] if c["channel"] == "sms")
    assert (sms["granted"], sms["recorded_by"]) == (False, "op.v")
    types = [e.type for _, e in outbox(tenant["id"])]
    assert types == [REGISTERED, CONSENT, CONSENT, UPDATED, CONSENT, UPDATED]
    last_consent = [e for _, e in outbox(tenant["id"]) if e.type == CONSENT][-1]
    assert last_consent.data["consent"] == {
        "channel": "sms",
        "granted": False,
        "recorded_by": "op.v",
        "recorded_at": last_consent.data["consent"]["recorded_at"],
    }
    bad = client.post(url, json={"channel": "fax", "granted": "forse"})
    assert bad.status_code == 422
    assert set(bad.json["errors"]["json"]) == {"channel", "granted", "recorded_by"}


def test_tenants_are_found_by_name_codice_fiscale_or_building(client, building_id) -> None:
    other_building = client.post(
        "/api/v1/buildings", json={"name": "Giuffrè", "address": "via Giuffrè 8", "municipio": 9}
    ).json["id"]
    rossi = register_tenant(client, building_id, n=1, last_name="Rossi", first_name="Anna")
    rossini = register_tenant(client, building_id, n=2, last_name="Rossini", first_name="Bruno")
    nicolo = register_tenant(client, other_building, n=3, last_name="Nicolò", first_name="Carla")

    by_name = client.get("/api/v1/tenants", query_string={"name": "ross"})
    assert [t["id"] for t in by_name.json] == [rossi["id"], rossini["id"]]
    assert by_name.headers["X-Total-Count"] == "2"
    accents = client.get("/api/v1/tenants", query_string={"name": "NICOLO"}).json
    assert [t["id"] for t in accents] == [nicolo["id"]]
    by_code = client.get(
        "/api/v1/tenants", query_string={"fiscal_code": rossini["fiscal_code"].lower()}
    ).json
    assert [t["id"] for t in by_code] == [rossini["id"]]
    in_building = client.get("/api/v1/tenants", query_string={"building_id": building_id})
    assert in_building.headers["X-Total-Count"] == "2"
    page = client.get("/api/v1/tenants", query_string={"limit": 1, "offset": 1})
    assert page.headers["X-Total-Count"] == "3" and len(page.json) == 1
    # Regex characters are searched literally.
    assert client.get("/api/v1/tenants", query_string={"name": ".*"}).json == []
    bad = client.get("/api/v1/tenants", query_string={"name": "r", "limit": 500, "foo": 1})
    assert bad.status_code == 422
    assert set(bad.json["errors"]["query"]) == {"name", "limit", "foo"}


def test_an_oversized_body_is_413(client, building_id) -> None:
    response = client.post(
        "/api/v1/tenants", json={"building_id": building_id, "first_name": "x" * 70_000}
    )
    assert response.status_code == 413
    assert response.json["code"] == "payload_too_large"


def test_a_replayed_registration_returns_the_first_tenant(client, building_id) -> None:
    body = {
        "building_id": building_id,
        "first_name": "Lia",
        "last_name": "Neri",
        "fiscal_code": fiscal_code(5),
    }
    headers = {"Idempotency-Key": "reg-1"}
    first = client.post("/api/v1/tenants", json=body, headers=headers)
    again = client.post("/api/v1/tenants", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json == first.json
    assert IntakeTenantDoc.objects.count() == 1
