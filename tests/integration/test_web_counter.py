"""The web app's counter pages against the real intake API (served over HTTP, real store).

The web app has no store: it calls intake over HTTP. Here intake runs in a thread on a free port,
on the real MongoDB-wire server; casework and notifications point at a closed port, so the pages
must say, in Italian, which part is unavailable instead of failing.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from services.intake.entrypoints.app import create_app as create_intake
from services.web.config import load_settings as load_web_settings
from services.web.entrypoints.app import create_app as create_web
from tests.integration.test_intake_cases_api import SAINT_BON, fiscal_code
from tests.support import bearer_headers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port_url() -> str:
    """A URL nobody listens on: a service that is down."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def intake_url(settings_for) -> Iterator[str]:
    app = create_intake(settings_for("intake"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def world(intake_url: str, environ: dict[str, str]) -> dict:
    """A building, a counter and a tenant registered through intake's API (as an admin)."""
    import requests

    api = f"{intake_url}/api/v1"
    http = requests.Session()
    http.headers.update(bearer_headers(environ))
    building = http.post(f"{api}/buildings", json=SAINT_BON, timeout=10).json()
    monday = date.today() + timedelta(days=(7 - date.today().weekday()) % 7 or 7)
    counter = http.post(
        f"{api}/counters",
        json={
            "name": "Sportello Saint Bon",
            "kind": "fisso",
            "building_id": building["id"],
            "room": "Sala del Comitato",
            "schedules": [
                {
                    "weekday": 0,
                    "start": "09:00",
                    "end": "12:00",
                    "slot_minutes": 30,
                    "every_weeks": 1,
                    "starts_on": monday.isoformat(),
                }
            ],
            "operators": ["operatore.rossi"],
        },
        timeout=10,
    ).json()
    tenant = http.post(
        f"{api}/tenants",
        json={
            "building_id": building["id"],
            "first_name": "Anna",
            "last_name": "Bianchi",
            "fiscal_code": fiscal_code(7),
        },
        timeout=10,
    ).json()
    return {
        "api": api,
        "building": building,
        "counter": counter,
        "tenant": tenant,
        "headers": bearer_headers(environ),
    }


@pytest.fixture
def web(intake_url: str, world: dict, environ: dict[str, str]) -> FlaskClient:
    settings = load_web_settings(
        {
            "AUTH_JWT_KEYS": environ["AUTH_JWT_KEYS"],
            "AUTH_JWT_SIGNING_KID": environ["AUTH_JWT_SIGNING_KID"],
            "WEB_SECRET_KEY": "test-key",
            "INTAKE_URL": intake_url,
            "CASEWORK_URL": closed_port_url(),
            "NOTIFICATIONS_URL": closed_port_url(),
            "WEB_API_TIMEOUT_S": "2",
        }
    )
    client = create_web(settings).test_client()
    answer = client.post(
        "/accesso",
        data={
            "username": "operatore.rossi",
            "role": "operatore",
            "counter_id": world["counter"]["id"],
        },
    )
    assert answer.status_code == 303 and answer.headers["Location"] == "/sportello"
    return client


def cases_of(world: dict) -> list[dict]:
    import requests

    return requests.get(
        f"{world['api']}/cases",
        params={"tenant_id": world["tenant"]["id"]},
        headers=world["headers"],
        timeout=10,
    ).json()


def test_the_day_view_shows_the_counter_and_finds_a_tenant(web: FlaskClient, world: dict) -> None:
    page = web.get("/sportello?q=bian")
    assert page.status_code == 200
    assert "Sportello Saint Bon" in page.text
    assert "Scegli Bianchi Anna" in page.text
    assert f"inquilino={world['tenant']['id']}" in page.text


def test_opening_a_case_without_needs_shows_intakes_italian_message_next_to_the_field(
    web: FlaskClient, world: dict
) -> None:
    page = web.post("/sportello/casi", data={"tenant_id": world["tenant"]["id"]})
    assert page.status_code == 422
    # intake's own Italian message sits next to the needs checkboxes, linked for screen readers.
    import requests

    direct = requests.post(
        f"{world['api']}/cases",
        json={"tenant_id": world["tenant"]["id"], "needs": [], "opened_by": "operatore.rossi"},
        headers=world["headers"],
        timeout=10,
    ).json()
    [message] = direct["errors"]["json"]["needs"]
    assert f'<p class="field-error" id="c-needs-err">{message}</p>' in page.text
    assert 'aria-describedby="c-needs-err"' in page.text
    assert cases_of(world) == []


def test_a_wrong_disconnection_date_is_reported_on_its_field(web: FlaskClient, world: dict) -> None:
    page = web.post(
        "/sportello/casi",
        data={
            "tenant_id": world["tenant"]["id"],
            "needs": ["morosita"],
            "disconnection_date": "31/12/2026",
        },
    )
    assert page.status_code == 422
    assert 'id="c-disconnection-err"' in page.text
    assert 'aria-invalid="true" aria-describedby="c-disconnection-err"' in page.text


def test_opening_a_case_goes_to_its_file_and_names_the_part_that_is_down(
    web: FlaskClient, world: dict
) -> None:
    answer = web.post(
        "/sportello/casi",
        data={
            "tenant_id": world["tenant"]["id"],
            "needs": ["lettura_bollette", "morosita"],
            "description": "Conguaglio elevato.",
        },
    )
    assert answer.status_code == 303, answer.text
    [case] = cases_of(world)
    assert answer.headers["Location"] == f"/casi/{case['id']}?nuovo=1"
    assert case["opened_by"] == "operatore.rossi"
    assert case["counter_id"] == world["counter"]["id"]
    # casework is down: the case file page says so in plain Italian instead of failing.
    page = web.get(answer.headers["Location"])
    assert page.status_code == 200
    assert "Non disponibile: il fascicolo dei casi e gli invii ai percorsi." in page.text


def test_the_offline_queue_resending_with_the_same_key_opens_one_case(
    web: FlaskClient, world: dict
) -> None:
    body = {"tenant_id": [world["tenant"]["id"]], "needs": ["analisi_fornitori"]}
    headers = {"Idempotency-Key": "tablet-3:000042", "Accept": "application/json"}
    first = web.post("/sportello/casi", json=body, headers=headers)
    again = web.post("/sportello/casi", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json["id"] == again.json["id"]
    assert [c["id"] for c in cases_of(world)] == [first.json["id"]]


def test_json_errors_for_the_queue_name_the_fields(web: FlaskClient, world: dict) -> None:
    answer = web.post(
        "/sportello/casi",
        json={"tenant_id": [world["tenant"]["id"]], "needs": ["bollette_a_caso"]},
        headers={"Idempotency-Key": "k-1", "Accept": "application/json"},
    )
    assert answer.status_code == 422
    assert set(answer.json["errors"]) == {"needs"}


def test_booking_a_meeting_in_a_free_slot(web: FlaskClient, world: dict) -> None:
    import requests

    page = web.get(f"/sportello?inquilino={world['tenant']['id']}")
    slot = page.text.split('id="a-slot" name="starts_at"')[1].split('<option value="')[1]
    slot = slot.split('"')[0]
    answer = web.post(
        "/sportello/appuntamenti",
        data={"kind": "incontro", "tenant_id": world["tenant"]["id"], "starts_at": slot},
    )
    assert answer.status_code == 303, answer.text
    booked = requests.get(
        f"{world['api']}/appointments",
        params={"tenant_id": world["tenant"]["id"]},
        headers=world["headers"],
        timeout=10,
    ).json()
    assert [a["kind"] for a in booked] == ["incontro"]
    # The same slot again: intake refuses it and the page says why.
    again = web.post(
        "/sportello/appuntamenti",
        data={"kind": "incontro", "tenant_id": world["tenant"]["id"], "starts_at": slot},
    )
    assert again.status_code == 409
    assert 'class="form-error"' in again.text


def test_registering_a_tenant_with_a_wrong_fiscal_code_shows_the_check(
    web: FlaskClient, world: dict
) -> None:
    page = web.post(
        "/sportello/inquilini",
        data={
            "building_id": world["building"]["id"],
            "first_name": "Luca",
            "last_name": "Neri",
            "fiscal_code": "RSSMRA85T10A562X",
        },
    )
    assert page.status_code == 422
    assert 'id="t-fiscal_code-err"' in page.text


def test_another_role_is_sent_to_its_own_home(web: FlaskClient) -> None:
    assert web.get("/coordinamento").headers["Location"] == "/sportello"
    web.post("/esci")
    assert web.get("/sportello").headers["Location"].startswith("/accesso")


ENEL = {
    "bill-0-commodity": "luce",
    "bill-0-supplier": "Enel Energia",
    "bill-0-offer": "Servizio di tutela",
    "bill-0-period_start": "2026-09-01",
    "bill-0-period_end": "2026-10-31",
    "bill-0-meter": "it001e12345678",
    "bill-0-consumption": "420,5",
    "bill-0-amount": "184,50",
    "bill-0-arrears": "1.090,00",
}


def test_a_case_with_isee_bonus_sociale_and_bills(web: FlaskClient, world: dict) -> None:
    page = web.get(f"/sportello?inquilino={world['tenant']['id']}")
    for field in ("c-isee", "c-bonus-si", "bill-0-supplier", "bill-0-meter", "bill-0-amount"):
        assert f'id="{field}"' in page.text
    assert 'id="bolletta-modello"' in page.text
    answer = web.post(
        "/sportello/casi",
        data={
            "tenant_id": world["tenant"]["id"],
            "needs": ["lettura_bollette", "morosita"],
            "isee_band": "fino_9530",
            "receives_bonus_sociale": "si",
            **ENEL,
            # A second bill, gas; a third left empty is not sent.
            "bill-1-commodity": "gas",
            "bill-1-supplier": "A2A Energia",
            "bill-1-period_start": "2026-09-01",
            "bill-1-period_end": "2026-10-31",
            "bill-1-meter": "0088 1234 5678 90",
            "bill-1-consumption": "95",
            "bill-1-amount": "120",
            "bill-2-commodity": "luce",
        },
    )
    assert answer.status_code == 303, answer.text
    [case] = cases_of(world)
    assert case["isee_band"] == "fino_9530"
    assert case["receives_bonus_sociale"] is True
    luce, gas = case["bills"]
    assert (luce["supplier"], luce["pod"], luce["pdr"]) == ("Enel Energia", "IT001E12345678", None)
    assert (luce["consumption"], luce["unit"]) == (420.5, "kWh")
    assert (luce["amount_cents"], luce["arrears_cents"]) == (18_450, 109_000)
    assert (gas["pdr"], gas["pod"], gas["unit"], gas["amount_cents"]) == (
        "00881234567890",
        None,
        "Smc",
        12_000,
    )


def test_wrong_pod_and_pdr_are_reported_next_to_their_bill(web: FlaskClient, world: dict) -> None:
    page = web.post(
        "/sportello/casi",
        data={
            "tenant_id": world["tenant"]["id"],
            "needs": ["lettura_bollette"],
            # Bill 0 left empty: intake's bills.0 is the form's bill 1.
            "bill-0-commodity": "luce",
            "bill-1-commodity": "luce",
            "bill-1-supplier": "Enel Energia",
            "bill-1-period_start": "2026-09-01",
            "bill-1-period_end": "2026-10-31",
            "bill-1-meter": "IT001X1234",
            "bill-1-amount": "10",
            "bill-2-commodity": "gas",
            "bill-2-supplier": "A2A Energia",
            "bill-2-period_start": "2026-09-01",
            "bill-2-period_end": "2026-10-31",
            "bill-2-meter": "12345",
        },
    )
    assert page.status_code == 422
    pod = "POD non valido: formato IT + 3 cifre + E + 8 cifre (14 caratteri)."
    assert f'<p class="field-error" id="bill-1-meter-err">{pod}</p>' in page.text
    assert 'aria-invalid="true" aria-describedby="bill-1-meter-err"' in page.text
    assert '<p class="field-error" id="bill-2-meter-err">PDR non valido: deve avere 14 cifre.' in (
        page.text
    )
    # The required amount of the gas bill is missing: said next to its field, in Italian.
    assert 'id="bill-2-amount-err"' in page.text
    # What was typed is shown again, bill by bill.
    assert 'value="IT001X1234"' in page.text and 'value="A2A Energia"' in page.text
    assert cases_of(world) == []


def test_the_offline_queue_sends_the_bills_too(web: FlaskClient, world: dict) -> None:
    body = {
        "tenant_id": [world["tenant"]["id"]],
        "needs": ["lettura_bollette"],
        "isee_band": ["9530_15000"],
        "receives_bonus_sociale": ["no"],
        **{k: [v] for k, v in ENEL.items()},
    }
    headers = {"Idempotency-Key": "tablet-3:000043", "Accept": "application/json"}
    first = web.post("/sportello/casi", json=body, headers=headers)
    assert first.status_code == 201, first.json
    [case] = cases_of(world)
    assert case["receives_bonus_sociale"] is False and case["isee_band"] == "9530_15000"
    assert [b["pod"] for b in case["bills"]] == ["IT001E12345678"]
    wrong = dict(body, **{"bill-0-meter": ["IT1"]})
    headers = {"Idempotency-Key": "k-2", "Accept": "application/json"}
    refused = web.post("/sportello/casi", json=wrong, headers=headers)
    assert refused.status_code == 422
    assert set(refused.json["errors"]) == {"bill-0-meter"}
