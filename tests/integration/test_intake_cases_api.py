"""intake's buildings and cases API on the real store (a case's event waits in its outbox)."""

from __future__ import annotations

import string
import threading
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from services.intake.adapters.documents import IntakeCaseDoc
from services.intake.domain.identifiers import fiscal_check_character
from services.intake.entrypoints.app import create_app
from shared import mongo
from shared.events import decode
from shared.outbox import event_text
from tests.support import authorize_app, bearer_headers

SAINT_BON = {
    "name": "Complesso Saint Bon",
    "address": "via Saint Bon 6, Milano",
    "municipio": 7,
    "custodians": [{"name": "Custodia Saint Bon", "email": "custodia@example.org"}],
}
CASE_OPENED = "it.mm.sportello.intake.case.opened.v1"


def fiscal_code(n: int) -> str:
    """The ``n``-th of many valid, distinct codici fiscali (check character computed)."""
    letters = ""
    for _ in range(6):
        n, digit = divmod(n, 26)
        letters += string.ascii_uppercase[digit]
    first15 = f"{letters}85T10A562"
    return first15 + fiscal_check_character(first15)


def register_tenant(client: FlaskClient, building_id: str, n: int = 0, **overrides) -> dict:
    body = {
        "building_id": building_id,
        "first_name": "Mario",
        "last_name": "Rossi",
        "fiscal_code": fiscal_code(n),
        "apartment": "Scala A, int. 3",
        "email": "mario.rossi@example.org",
        "phone": "+39 333 1234567",
        "consents": [{"channel": "email", "granted": True, "recorded_by": "operatore.rossi"}],
    }
    body.update(overrides)
    response = client.post("/api/v1/tenants", json=body)
    assert response.status_code == 201, response.json
    return response.json


@pytest.fixture
def app(settings_for) -> Iterator[Flask]:
    yield authorize_app(create_app(settings_for("intake")))
    mongo.disconnect("intake")


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def building_id(client: FlaskClient) -> str:
    response = client.post("/api/v1/buildings", json=SAINT_BON)
    assert response.status_code == 201, response.json
    return response.json["id"]


@pytest.fixture
def tenant_id(client: FlaskClient, building_id: str) -> str:
    return register_tenant(client, building_id)["id"]


def case_body(tenant: str, building: str, **overrides: object) -> dict:
    body = {
        "tenant_id": tenant,
        "building_id": building,
        "needs": ["lettura_bollette"],
        "opened_by": "operatore.rossi",
    }
    body.update(overrides)
    return body


BILL = {
    "supplier": "A2A Energia",
    "offer": "Placet variabile",
    "commodity": "luce",
    "period_start": "2026-09-01",
    "period_end": "2026-10-31",
    "pod": "IT001E12345678",
    "consumption": 412.5,
    "amount_cents": 18450,
    "arrears_cents": 9000,
}


def test_opening_a_case_stores_it_with_its_case_opened_event(
    client, building_id, tenant_id
) -> None:
    response = client.post(
        "/api/v1/cases",
        json=case_body(
            tenant_id,
            building_id,
            disconnection_date="2026-12-01",
            hardship_signals=["perdita_lavoro", "malattia"],
            hardship_kind="precarieta",
            bills=[BILL, {**BILL, "commodity": "gas", "pod": None, "pdr": "12345678901234"}],
            isee_band="fino_9530",
            receives_bonus_sociale=False,
        ),
    )
    assert response.status_code == 201, response.json
    case = response.json
    assert case["urgent"] is True
    assert case["status"] == "aperto"
    assert [b["unit"] for b in case["bills"]] == ["kWh", "Smc"]

    doc = IntakeCaseDoc.objects.get(id=case["id"])
    assert len(doc.outbox) == 1
    event = decode(event_text(doc.outbox[0], "intake").encode())
    assert event.type == CASE_OPENED
    assert event.subject == case["id"]
    assert doc.outbox[0]["key"] == case["id"]
    assert event.data["building"]["custodians"][0]["email"] == "custodia@example.org"
    assert event.data["hardship_signals"] == ["perdita_lavoro", "malattia"]
    assert event.data["bills"][0]["pod"] == "IT001E12345678"
    assert event.data["bills"][1]["arrears_cents"] == 9000
    assert event.data["isee_band"] == "fino_9530"
    assert event.data["receives_bonus_sociale"] is False
    assert client.get(f"/api/v1/cases/{case['id']}").json == case


def test_the_building_defaults_to_the_tenants(client, building_id, tenant_id) -> None:
    body = case_body(tenant_id, building_id)
    del body["building_id"]
    response = client.post("/api/v1/cases", json=body)
    assert response.status_code == 201, response.json
    assert response.json["building_id"] == building_id


def test_unknown_tenant_building_or_counter_is_404(client, building_id, tenant_id) -> None:
    unknown_tenant = client.post("/api/v1/cases", json=case_body("ten_nope", building_id))
    assert unknown_tenant.status_code == 404
    assert unknown_tenant.json["message"] == "Inquilino non trovato."
    assert unknown_tenant.json["details"]["field"] == "tenant_id"
    unknown_counter = client.post(
        "/api/v1/cases", json=case_body(tenant_id, building_id, counter_id="ctr_nope")
    )
    assert unknown_counter.status_code == 404
    assert unknown_counter.json["message"] == "Sportello non trovato."
    other = client.post("/api/v1/buildings", json={**SAINT_BON, "name": "Altro"}).json["id"]
    wrong_building = client.post("/api/v1/cases", json=case_body(tenant_id, other))
    assert wrong_building.status_code == 422
    assert wrong_building.json["code"] == "tenant_not_in_building"


def test_a_second_open_case_for_the_same_need_is_409_with_the_existing_id(
    client, building_id, tenant_id
) -> None:
    first = client.post("/api/v1/cases", json=case_body(tenant_id, building_id)).json
    second = client.post(
        "/api/v1/cases",
        json=case_body(tenant_id, building_id, needs=["morosita", "lettura_bollette"]),
    )
    assert second.status_code == 409
    assert second.json["code"] == "duplicate_case"
    assert second.json["details"]["existing_case_id"] == first["id"]
    assert second.json["details"]["need"] == "lettura_bollette"
    # The refused case took nothing: its other need is still free.
    other_need = client.post(
        "/api/v1/cases", json=case_body(tenant_id, building_id, needs=["morosita"])
    )
    assert other_need.status_code == 201, other_need.json
    assert IntakeCaseDoc.objects.count() == 2


def test_an_explicitly_linked_case_is_opened_and_says_so(client, building_id, tenant_id) -> None:
    first = client.post("/api/v1/cases", json=case_body(tenant_id, building_id)).json
    linked = client.post(
        "/api/v1/cases", json=case_body(tenant_id, building_id, linked_case_id=first["id"])
    )
    assert linked.status_code == 201, linked.json
    assert linked.json["linked_case_id"] == first["id"]
    event = decode(
        event_text(IntakeCaseDoc.objects.get(id=linked.json["id"]).outbox[0], "intake").encode()
    )
    assert event.data["linked_case_id"] == first["id"]
    missing = client.post(
        "/api/v1/cases", json=case_body(tenant_id, building_id, linked_case_id="case_nope")
    )
    assert missing.status_code == 404
    assert missing.json["details"]["field"] == "linked_case_id"


def test_concurrent_duplicates_open_exactly_one_case(app, building_id, tenant_id) -> None:
    statuses: list[int] = []
    barrier = threading.Barrier(6)

    def post() -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(
            client.post("/api/v1/cases", json=case_body(tenant_id, building_id)).status_code
        )

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201] + [409] * 5
    assert IntakeCaseDoc.objects.count() == 1


def test_a_replayed_idempotency_key_returns_the_first_result(
    client, building_id, tenant_id
) -> None:
    headers = {"Idempotency-Key": "tablet-7:000123"}
    body = case_body(tenant_id, building_id, description="Bolletta alta")
    first = client.post("/api/v1/cases", json=body, headers=headers)
    assert first.status_code == 201, first.json
    again = client.post("/api/v1/cases", json=body, headers=headers)
    assert again.status_code == 201
    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert IntakeCaseDoc.objects.count() == 1
    # Same key, another request: refused, not mistaken for a retry.
    other = client.post("/api/v1/cases", json={**body, "description": "Altro"}, headers=headers)
    assert other.status_code == 422
    assert other.json["code"] == "idempotency_key_reused"
    assert "Idempotency-Key" in other.json["errors"]["headers"]
    assert IntakeCaseDoc.objects.count() == 1


def test_a_failed_request_gives_its_idempotency_key_back(client, building_id, tenant_id) -> None:
    headers = {"Idempotency-Key": "retry-after-fix"}
    bad = client.post(
        "/api/v1/cases", json=case_body(tenant_id, building_id, needs=[]), headers=headers
    )
    assert bad.status_code == 422
    good = client.post("/api/v1/cases", json=case_body(tenant_id, building_id), headers=headers)
    assert good.status_code == 201, good.json


def test_concurrent_retries_with_one_key_open_one_case(app, building_id, tenant_id) -> None:
    results: list = []
    barrier = threading.Barrier(5)

    def post() -> None:
        client = app.test_client()
        barrier.wait()
        r = client.post(
            "/api/v1/cases",
            json=case_body(tenant_id, building_id),
            headers={"Idempotency-Key": "same"},
        )
        results.append((r.status_code, r.json))

    threads = [threading.Thread(target=post) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert IntakeCaseDoc.objects.count() == 1
    case_id = IntakeCaseDoc.objects.get().id
    for status, body in results:
        # The first answer, or "in progress": never a second case, never a duplicate-case 409.
        assert (status, body.get("id")) == (201, case_id) or body[
            "code"
        ] == "idempotency_in_progress"
    assert (201, case_id) in [(s, b.get("id")) for s, b in results]


@pytest.mark.parametrize(
    ("overrides", "path", "message"),
    [
        ({"needs": []}, "needs", "La lunghezza deve essere tra 1 e 8."),
        ({"needs": ["volare"]}, "needs", None),
        ({"bogus": 1}, "bogus", "Campo non previsto."),
        ({"tenant_id": None}, "tenant_id", "Il campo non può essere nullo."),
        ({"disconnection_date": "domani"}, "disconnection_date", None),
        ({"channel": "piccione"}, "channel", None),
        ({"hardship_signals": ["sfortuna"]}, "hardship_signals", None),
        ({"isee_band": "tanti"}, "isee_band", None),
    ],
)
def test_invalid_cases_get_a_precise_422_in_italian(
    client, building_id, tenant_id, overrides, path, message
) -> None:
    response = client.post("/api/v1/cases", json=case_body(tenant_id, building_id, **overrides))
    assert response.status_code == 422
    body = response.json
    assert body["code"] == "validation_error"
    assert path in body["errors"]["json"]
    if message:
        assert message in str(body["errors"]["json"][path])


@pytest.mark.parametrize(
    ("bill", "field", "message"),
    [
        ({"pod": "IT001E1234"}, "pod", "POD non valido"),
        ({"commodity": "gas", "pod": None, "pdr": "123"}, "pdr", "PDR non valido"),
        ({"pdr": "12345678901234"}, "pdr", "Il PDR riguarda il gas"),
        ({"unit": "Smc"}, "unit", "Per luce l'unità è kWh."),
        ({"period_end": "2026-08-01"}, "period_end", "precede"),
        ({"amount_cents": 12.5}, "amount_cents", "Numero intero non valido."),
        ({"amount_cents": -1}, "amount_cents", None),
        ({"iban": "IT00"}, "iban", "Campo non previsto."),
    ],
)
def test_invalid_bills_are_named_by_their_path(
    client, building_id, tenant_id, bill, field, message
) -> None:
    response = client.post(
        "/api/v1/cases", json=case_body(tenant_id, building_id, bills=[BILL, {**BILL, **bill}])
    )
    assert response.status_code == 422, response.json
    errors = response.json["errors"]["json"]["bills"]["1"]
    assert field in errors
    if message:
        assert message in str(errors[field])


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
    huge_idem = client.post(
        "/api/v1/cases", json={"description": "x" * 70_000}, headers={"Idempotency-Key": "k"}
    )
    assert huge_idem.status_code == 413


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


def test_an_unknown_building_is_404(client) -> None:
    response = client.get("/api/v1/buildings/bld_nope")
    assert response.status_code == 404
    assert response.json["message"] == "Edificio non trovato."


def test_case_lists_filter_sort_and_paginate(client, building_id) -> None:
    counter = client.post(
        "/api/v1/counters",
        json={
            "name": "Sportello Saint Bon",
            "kind": "fisso",
            "building_id": building_id,
            "room": "Sala del Comitato",
            "schedules": [{"weekday": 1, "start": "14:00", "end": "17:00"}],
        },
    ).json["id"]
    opened = []
    for n in range(5):
        tenant = register_tenant(client, building_id, n=n + 1)["id"]
        body = case_body(
            tenant,
            building_id,
            counter_id=counter if n % 2 == 0 else None,
            disconnection_date="2026-12-01" if n == 4 else None,
        )
        response = client.post("/api/v1/cases", json=body)
        assert response.status_code == 201, response.json
        opened.append(response.json)

    page = client.get("/api/v1/cases", query_string={"limit": 2})
    assert page.headers["X-Total-Count"] == "5"
    newest_first = sorted(opened, key=lambda c: c["opened_at"], reverse=True)
    assert [c["id"] for c in page.json] == [c["id"] for c in newest_first[:2]]
    rest = client.get("/api/v1/cases", query_string={"limit": 50, "offset": 2}).json
    assert [c["id"] for c in rest] == [c["id"] for c in newest_first[2:]]

    by_counter = client.get("/api/v1/cases", query_string={"counter_id": counter})
    assert by_counter.headers["X-Total-Count"] == "3"
    urgent = client.get("/api/v1/cases", query_string={"urgent": "true"}).json
    assert [c["id"] for c in urgent] == [opened[4]["id"]]
    in_building = client.get(
        "/api/v1/cases", query_string={"building_id": building_id, "status": "aperto"}
    )
    assert in_building.headers["X-Total-Count"] == "5"
    # The date filter is by the counter's local day (Rome), not the UTC date of opened_at.
    opened_at = datetime.fromisoformat(opened[0]["opened_at"].replace("Z", "+00:00"))
    day = opened_at.astimezone(ZoneInfo("Europe/Rome")).date().isoformat()
    today = client.get("/api/v1/cases", query_string={"from": day, "to": day})
    assert today.headers["X-Total-Count"] == "5"
    past = client.get("/api/v1/cases", query_string={"from": "2020-01-01", "to": "2020-01-31"})
    assert past.json == [] and past.headers["X-Total-Count"] == "0"
    bad = client.get("/api/v1/cases", query_string={"limit": 0, "urgent": "forse", "x": 1})
    assert bad.status_code == 422
    assert set(bad.json["errors"]["query"]) == {"limit", "urgent", "x"}


def test_buildings_are_listed_by_name_with_the_total(client) -> None:
    for name, municipio in (("Coppin", 7), ("Saint Bon", 7), ("Giuffrè", 9)):
        client.post("/api/v1/buildings", json={**SAINT_BON, "name": name, "municipio": municipio})
    page = client.get("/api/v1/buildings", query_string={"municipio": 7, "limit": 1})
    assert page.headers["X-Total-Count"] == "2"
    assert [b["name"] for b in page.json] == ["Coppin"]
    assert client.get("/api/v1/buildings", query_string={"municipio": 10}).status_code == 422


@pytest.mark.parametrize(
    ("method", "url", "payload"),
    [
        ("get", "/api/v1/cases?from=9999-12-30&to=9999-12-31", None),
        ("get", "/api/v1/counters/ctr_x/slots?from=9999-12-30&to=9999-12-31", None),
        (
            "post",
            "/api/v1/appointments",
            {"kind": "sopralluogo", "starts_at": "9999-12-31T23:30:00Z", "booked_by": "op"},
        ),
    ],
)
def test_dates_out_of_any_plausible_range_are_422_not_an_overflow(
    client, method, url, payload
) -> None:
    response = getattr(client, method)(url, json=payload)
    assert response.status_code == 422, response.json
    assert "2000–2100" in str(response.json["errors"])


@pytest.mark.parametrize(("age_s", "status"), [(5, 409), (600, 201)])
def test_an_open_case_claim_whose_case_never_landed_is_taken_over_after_the_grace(
    client, building_id, tenant_id, age_s: int, status: int
) -> None:
    from datetime import UTC, datetime, timedelta

    from services.intake.adapters.documents import IntakeOpenCaseClaimDoc

    IntakeOpenCaseClaimDoc._get_collection().insert_one(
        {
            "_id": f"{tenant_id}:lettura_bollette",
            "case_id": "case_lost",
            "claimed_at": datetime.now(UTC) - timedelta(seconds=age_s),
        }
    )
    response = client.post("/api/v1/cases", json=case_body(tenant_id, building_id))
    assert response.status_code == status, response.json
    if status == 409:
        assert response.json["details"]["existing_case_id"] == "case_lost"


def test_an_operator_opens_cases_only_at_its_own_counters(
    client, building_id, tenant_id, environ
) -> None:
    operator = bearer_headers(environ, "operator", counters=("ctr_mine",))
    for counter_id in ("ctr_other", None):
        refused = client.post(
            "/api/v1/cases",
            json=case_body(tenant_id, building_id, counter_id=counter_id),
            headers=operator,
        )
        assert refused.status_code == 403 and refused.json["code"] == "vietato"
        assert "tuoi sportelli" in refused.json["message"]
    # In scope, the call reaches intake (which does not know this counter: 404).
    mine = client.post(
        "/api/v1/cases",
        json=case_body(tenant_id, building_id, counter_id="ctr_mine"),
        headers=operator,
    )
    assert mine.status_code == 404, mine.json
