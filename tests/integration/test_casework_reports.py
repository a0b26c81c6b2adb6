"""casework's dashboard report on the real store: sums over every case file, for coordinators."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from services.casework.domain.reports import dashboard, first_response_hours
from services.casework.entrypoints.app import create_app
from shared import mongo
from tests.integration.test_casework_api import deliver_case_opened, post
from tests.support import authorize_app, mint_token

GIUFFRE = {
    "id": "bld_giuffre",
    "name": "Giuffrè-Villani",
    "address": "via Giuffrè 8",
    "municipio": 9,
    "custodians": [],
}
START = datetime(2026, 11, 2, 9, tzinfo=UTC)


@pytest.fixture
def app_and_client(settings_for) -> Iterator[tuple]:
    app = authorize_app(create_app(settings_for("casework")))
    yield app, app.test_client()
    mongo.disconnect("casework")


def refer(app, client, case_id: str, path: str, answer: str | None, after_h: float) -> None:
    """Propose and send a referral to ``path`` at START; the team answers ``after_h`` later."""
    deps = app.extensions["sportello.bus"].deps
    base = f"/api/v1/case-files/{case_id}/referrals"
    deps.clock = lambda: START
    ref = post(client, base, {"path": path, "reason": "Bollette alte", "actor": "op"}, 201)
    post(client, f"{base}/{ref['id']}/send", {"actor": "op"})
    if answer:
        deps.clock = lambda: START + timedelta(hours=after_h)
        body = {"actor": f"{path}.team"}
        if answer == "decline":
            body["reason"] = "Requisiti non soddisfatti"
        post(client, f"{base}/{ref['id']}/{answer}", body)


def test_the_dashboard_sums_every_case_file(app_and_client) -> None:
    app, client = app_and_client
    deliver_case_opened(app, "case_r1")
    deliver_case_opened(app, "case_r2")
    deliver_case_opened(app, "case_r3", building=GIUFFRE)
    deliver_case_opened(app, "case_r4", building=GIUFFRE)
    refer(app, client, "case_r1", "amat", "accept", 2)
    refer(app, client, "case_r2", "amat", "accept", 6)
    refer(app, client, "case_r3", "amat", "accept", 10)
    refer(app, client, "case_r3", "welfare", "decline", 48)
    refer(app, client, "case_r4", "welfare", None, 0)
    # A proposal not sent yet counts as a referral, not as a case of the path.
    post(
        client,
        "/api/v1/case-files/case_r4/referrals",
        {"path": "casa", "reason": "Alloggio", "actor": "op"},
        201,
    )

    answer = client.get("/api/v1/reports/dashboard")
    assert answer.status_code == 200, answer.json
    report = answer.json
    assert report["total_cases"] == 4
    assert report["cases_by_state"] == {"aperto": 4}
    assert report["cases_by_path"] == {"amat": 3, "welfare": 2}
    assert [(b["building_id"], b["name"], b["cases"]) for b in report["cases_by_building"]] == [
        ("bld_giuffre", "Giuffrè-Villani", 2),
        ("bld_1", "Saint Bon", 2),
    ]
    assert report["referrals_by_path"] == {
        "amat": {"presa_in_carico": 3},
        "casa": {"proposta": 1},
        "welfare": {"inviata": 1, "rifiutata": 1},
    }
    assert report["first_response_hours"] == {
        "amat": {"answered": 3, "mean": 6.0, "median": 6.0},
        "welfare": {"answered": 1, "mean": 48.0, "median": 48.0},
    }


def test_only_coordinators_and_admins_read_the_dashboard(app_and_client, environ) -> None:
    _, client = app_and_client
    for role, status in (("coordinator", 200), ("operator", 403), ("path_caseworker", 403)):
        token = mint_token(environ, role, sub="x", path="amat", counters=("c",))
        answer = client.get(
            "/api/v1/reports/dashboard", headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == status, (role, answer.json)
    assert client.get("/openapi.json").json["paths"]["/api/v1/reports/dashboard"]["get"]


def test_first_response_counts_from_the_first_sending() -> None:
    sent, resent = START, START + timedelta(hours=30)
    referral = {
        "path": "amat",
        "state": "presa_in_carico",
        "sent_at": resent,  # reassigned: sent again
        "history": [
            {"to_state": "proposta", "at": START - timedelta(hours=1)},
            {"to_state": "inviata", "at": sent.replace(tzinfo=None)},  # naive UTC from the store
            {"to_state": "inviata", "at": resent},
            {"to_state": "presa_in_carico", "at": resent + timedelta(hours=3)},
        ],
    }
    assert first_response_hours(referral) == 33.0
    assert first_response_hours({"path": "amat", "state": "proposta", "history": []}) is None
    assert dashboard([])["first_response_hours"] == {}
