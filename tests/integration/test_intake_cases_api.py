"""intake's buildings and cases API on the real store (a case's event waits in its outbox)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from services.intake.adapters.documents import CaseDoc
from services.intake.entrypoints.app import create_app
from shared import mongo
from shared.events import decode

SAINT_BON = {
    "name": "Complesso Saint Bon",
    "address": "via Saint Bon 6, Milano",
    "municipio": 7,
    "custodians": [{"name": "Custodia Saint Bon", "email": "custodia@example.org"}],
}


@pytest.fixture
def client(settings_for) -> Iterator[FlaskClient]:
    app = create_app(settings_for("intake"))
    yield app.test_client()
    mongo.disconnect("intake")


@pytest.fixture
def building_id(client: FlaskClient) -> str:
    response = client.post("/api/v1/buildings", json=SAINT_BON)
    assert response.status_code == 201, response.json
    return response.json["id"]


def case_body(building_id: str, **overrides: object) -> dict:
    body = {
        "tenant_id": "ten_1",
        "building_id": building_id,
        "needs": ["lettura_bollette"],
        "opened_by": "operatore.rossi",
    }
    body.update(overrides)
    return body


def test_opening_a_case_stores_it_with_its_case_opened_event(client, building_id) -> None:
    response = client.post(
        "/api/v1/cases", json=case_body(building_id, disconnection_date="2026-12-01")
    )
    assert response.status_code == 201, response.json
    case = response.json
    assert case["urgent"] is True

    doc = CaseDoc.objects.get(id=case["id"])
    assert len(doc.outbox) == 1
    event = decode(doc.outbox[0]["value"].encode())
    assert event.type == "it.mm.sportello.intake.case.opened.v1"
    assert event.subject == case["id"]
    assert doc.outbox[0]["key"] == case["id"]
    assert event.data["building"]["custodians"][0]["email"] == "custodia@example.org"
    assert client.get(f"/api/v1/cases/{case['id']}").json == case


def test_an_unknown_building_is_404(client) -> None:
    response = client.post("/api/v1/cases", json=case_body("bld_nope"))
    assert response.status_code == 404
    assert response.json["code"] == "not_found"
    assert response.json["message"] == "Edificio non trovato."


@pytest.mark.parametrize(
    ("overrides", "path", "message"),
    [
        ({"needs": []}, "needs", "La lunghezza deve essere tra 1 e 8."),
        ({"needs": ["volare"]}, "needs", None),
        ({"bogus": 1}, "bogus", "Campo non previsto."),
        ({"tenant_id": None}, "tenant_id", "Il campo non può essere nullo."),
        ({"disconnection_date": "domani"}, "disconnection_date", None),
        ({"channel": "piccione"}, "channel", None),
    ],
)
def test_invalid_cases_get_a_precise_422_in_italian(
    client, building_id, overrides, path, message
) -> None:
    response = client.post("/api/v1/cases", json=case_body(building_id, **overrides))
    assert response.status_code == 422
    body = response.json
    assert body["code"] == "validation_error"
    assert path in body["errors"]["json"]
    if message:
        assert message in str(body["errors"]["json"][path])


def test_a_missing_field_is_named(client) -> None:
    response = client.post("/api/v1/cases", json={"needs": ["altro"]})
    assert response.status_code == 422
    assert response.json["errors"]["json"]["tenant_id"] == ["Campo obbligatorio."]


def test_a_body_that_is_not_json_is_400_and_an_oversized_one_413(client) -> None:
    bad = client.post("/api/v1/cases", data="{nope", content_type="application/json")
    assert bad.status_code == 400
    assert bad.json["code"] == "bad_request"
    huge = client.post("/api/v1/cases", json={"description": "x" * 70_000})
    assert huge.status_code == 413
    assert huge.json["code"] == "payload_too_large"


def test_invalid_buildings_are_refused(client) -> None:
    response = client.post(
        "/api/v1/buildings",
        json={
            **SAINT_BON,
            "municipio": 12,
            "custodians": [{"name": "X", "email": "non-una-email"}],
        },
    )
    assert response.status_code == 422
    errors = response.json["errors"]["json"]
    assert "municipio" in errors
    assert errors["custodians"]["0"]["email"] == ["Indirizzo email non valido."]
