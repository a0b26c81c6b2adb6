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


def complete(client, case_id: str, path: str, measured: list[tuple[str, float]]) -> None:
    """A referral to ``path`` sent, accepted and completed with these measured figures."""
    base = f"/api/v1/case-files/{case_id}/referrals"
    ref = post(client, base, {"path": path, "reason": "Bollette alte", "actor": "op"}, 201)
    post(client, f"{base}/{ref['id']}/send", {"actor": "op"})
    post(client, f"{base}/{ref['id']}/accept", {"actor": f"{path}.team"})
    body = {
        "actor": f"{path}.team",
        "outcome": "Esito misurato",
        "outcome_for_tenant": "Abbiamo concluso la pratica.",
        "measured": [{"kind": kind, "value": value} for kind, value in measured],
    }
    post(client, f"{base}/{ref['id']}/complete", body)


def totals(client, group_by: str) -> list[tuple]:
    answer = client.get("/api/v1/reports/outcomes", query_string={"group_by": group_by})
    assert answer.status_code == 200, answer.json
    return [(r[group_by], r["kind"], r["unit"], r["total"], r["count"]) for r in answer.json]


def test_measured_outcomes_are_summed_per_building_counter_and_path(app_and_client) -> None:
    app, client = app_and_client
    # Two case files in Saint Bon (two counters), one in Giuffrè-Villani.
    deliver_case_opened(app, "case_o1", counter_id="cnt_saintbon")
    deliver_case_opened(app, "case_o2", counter_id="cnt_itinerante")
    deliver_case_opened(app, "case_o3", building=GIUFFRE, counter_id="cnt_itinerante")
    complete(client, "case_o1", "amat", [("risparmio_fornitore", 12000), ("riduzione_kwh", 300)])
    complete(client, "case_o2", "amat", [("risparmio_fornitore", 8000)])
    # An outcome of no referral: the case's own (path None).
    post(
        client,
        "/api/v1/case-files/case_o2/outcomes",
        {"kind": "bonus_sociale", "value": 15000, "actor": "op"},
        201,
    )
    complete(client, "case_o3", "welfare", [("bonus_sociale", 20000), ("morosita_saldata", 5000)])
    complete(client, "case_o3", "amat", [("risparmio_fornitore", 5000), ("riduzione_kwh", 120.5)])
    deliver_case_opened(app, "case_o4")  # no outcome: counts nowhere

    assert totals(client, "building") == [
        ("bld_1", "bonus_sociale", "centesimi/anno", 15000.0, 1),
        ("bld_1", "riduzione_kwh", "kWh/anno", 300.0, 1),
        ("bld_1", "risparmio_fornitore", "centesimi/anno", 20000.0, 2),
        ("bld_giuffre", "bonus_sociale", "centesimi/anno", 20000.0, 1),
        ("bld_giuffre", "morosita_saldata", "centesimi", 5000.0, 1),
        ("bld_giuffre", "riduzione_kwh", "kWh/anno", 120.5, 1),
        ("bld_giuffre", "risparmio_fornitore", "centesimi/anno", 5000.0, 1),
    ]
    assert totals(client, "path") == [
        (None, "bonus_sociale", "centesimi/anno", 15000.0, 1),
        ("amat", "riduzione_kwh", "kWh/anno", 420.5, 2),
        ("amat", "risparmio_fornitore", "centesimi/anno", 25000.0, 3),
        ("welfare", "bonus_sociale", "centesimi/anno", 20000.0, 1),
        ("welfare", "morosita_saldata", "centesimi", 5000.0, 1),
    ]
    assert totals(client, "counter") == [
        ("cnt_itinerante", "bonus_sociale", "centesimi/anno", 35000.0, 2),
        ("cnt_itinerante", "morosita_saldata", "centesimi", 5000.0, 1),
        ("cnt_itinerante", "riduzione_kwh", "kWh/anno", 120.5, 1),
        ("cnt_itinerante", "risparmio_fornitore", "centesimi/anno", 13000.0, 2),
        ("cnt_saintbon", "riduzione_kwh", "kWh/anno", 300.0, 1),
        ("cnt_saintbon", "risparmio_fornitore", "centesimi/anno", 12000.0, 1),
    ]
    # Every way of summing adds up to the same grand total per kind.
    for kind in ("risparmio_fornitore", "bonus_sociale", "riduzione_kwh", "morosita_saldata"):
        sums = {
            group_by: sum(t[3] for t in totals(client, group_by) if t[1] == kind)
            for group_by in ("building", "counter", "path")
        }
        assert len(set(sums.values())) == 1, (kind, sums)


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
