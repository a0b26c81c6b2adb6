"""Row- and field-level scope, on the real store: an operator sees its counters' cases and
appointments, a path caseworker the case files referred to its path (and of each only what its
path receives), a custode its buildings and its own inbox. Out of scope is 403 in the error shape.
"""

# ruff: noqa: F811 - the fixtures are shared with the intake API tests

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from services.casework.entrypoints.app import create_app as casework_app
from services.notifications.entrypoints.app import create_app as notifications_app
from shared import mongo
from shared.events import casework as cw
from tests.integration.test_casework_api import deliver_case_opened
from tests.integration.test_intake_appointments_api import meeting, slots
from tests.integration.test_intake_cases_api import (  # noqa: F401 - fixtures
    SAINT_BON,
    app,
    building_id,
    case_body,
    client,
    register_tenant,
    tenant_id,
)
from tests.integration.test_notifications_api import apply, deliver_all
from tests.support import authorize_app, bearer_headers
from tests.unit.test_notifications_rules import case_opened, referral

SOCIAL_NOTE = "Separazione recente, figli in affido ai nonni"


def refused(response) -> None:
    assert response.status_code == 403, (response.status_code, response.json)
    assert response.json["code"] == "vietato" and response.json["status"] == 403
    assert response.json["message"]


# --- intake: operators -----------------------------------------------------------------------


def new_counter(client: FlaskClient, building: str) -> dict:
    """A counter at ``building`` open every Tuesday afternoon."""
    response = client.post(
        "/api/v1/counters",
        json={
            "name": f"Sportello {building}",
            "kind": "fisso",
            "building_id": building,
            "room": "Portineria",
            "schedules": [{"weekday": 1, "start": "14:00", "end": "17:00", "slot_minutes": 30}],
        },
    )
    assert response.status_code == 201, response.json
    return response.json


@pytest.fixture
def two_counters(client: FlaskClient, building_id: str) -> tuple[dict, dict]:
    mine = new_counter(client, building_id)
    other_building = client.post("/api/v1/buildings", json={**SAINT_BON, "name": "Altro"}).json
    return mine, new_counter(client, other_building["id"])


def test_an_operator_sees_only_its_counters_cases(
    client, building_id, tenant_id, two_counters, environ
) -> None:
    mine, theirs = two_counters
    at_mine = client.post(
        "/api/v1/cases", json=case_body(tenant_id, building_id, counter_id=mine["id"])
    )
    at_theirs = client.post(
        "/api/v1/cases",
        json=case_body(tenant_id, building_id, counter_id=theirs["id"], needs=["altro"]),
    )
    assert at_mine.status_code == at_theirs.status_code == 201, (at_mine.json, at_theirs.json)
    operator = bearer_headers(environ, "operator", counters=(mine["id"],))

    listed = client.get("/api/v1/cases", headers=operator)
    assert listed.status_code == 200
    assert [c["id"] for c in listed.json] == [at_mine.json["id"]]
    assert listed.headers["X-Total-Count"] == "1"
    assert (
        client.get("/api/v1/cases", query_string={"counter_id": mine["id"]}, headers=operator).json
        == listed.json
    )
    refused(
        client.get("/api/v1/cases", query_string={"counter_id": theirs["id"]}, headers=operator)
    )

    assert client.get(f"/api/v1/cases/{at_mine.json['id']}", headers=operator).status_code == 200
    refused(client.get(f"/api/v1/cases/{at_theirs.json['id']}", headers=operator))
    # The admin (the fixture's client) still sees both.
    assert client.get("/api/v1/cases").headers["X-Total-Count"] == "2"
    # Tenants are not scoped: a tenant may come to any counter.
    assert client.get(f"/api/v1/tenants/{tenant_id}", headers=operator).status_code == 200
    assert client.get("/api/v1/tenants", headers=operator).status_code == 200


def test_an_operator_sees_and_changes_only_its_counters_appointments(
    client, tenant_id, two_counters, environ
) -> None:
    mine, theirs = two_counters
    booked = {}
    for c in (mine, theirs):
        start = slots(client, c["id"])[0]["starts_at"]
        response = client.post("/api/v1/appointments", json=meeting(tenant_id, c["id"], start))
        assert response.status_code == 201, response.json
        booked[c["id"]] = response.json["id"]
    operator = bearer_headers(environ, "operator", counters=(mine["id"],))

    listed = client.get("/api/v1/appointments", headers=operator)
    assert [a["id"] for a in listed.json] == [booked[mine["id"]]]
    refused(
        client.get(
            "/api/v1/appointments", query_string={"counter_id": theirs["id"]}, headers=operator
        )
    )
    assert (
        client.get(f"/api/v1/appointments/{booked[mine['id']]}", headers=operator).status_code
        == 200
    )
    other = booked[theirs["id"]]
    refused(client.get(f"/api/v1/appointments/{other}", headers=operator))
    cancel = {"reason": "Non può venire", "actor": "operatore.rossi"}
    refused(client.post(f"/api/v1/appointments/{other}/cancel", json=cancel, headers=operator))
    start = slots(client, theirs["id"])[1]["starts_at"]
    refused(
        client.post(
            "/api/v1/appointments", json=meeting(tenant_id, theirs["id"], start), headers=operator
        )
    )
    assert client.get(f"/api/v1/appointments/{other}").json["status"] != "annullato"


def test_path_caseworkers_do_not_read_tenants_or_intakes_cases(
    client, building_id, tenant_id, environ
) -> None:
    amat = bearer_headers(environ, "path_caseworker", path="amat")
    case = client.post("/api/v1/cases", json=case_body(tenant_id, building_id)).json
    refused(client.get(f"/api/v1/tenants/{tenant_id}", headers=amat))
    refused(client.get("/api/v1/cases", headers=amat))
    refused(client.get(f"/api/v1/cases/{case['id']}", headers=amat))


def test_a_custode_sees_only_the_buildings_in_its_claim(client, building_id, environ) -> None:
    other = client.post("/api/v1/buildings", json={**SAINT_BON, "name": "Altro"}).json["id"]
    custode = bearer_headers(
        environ, "custode", name="Custodia Saint Bon", buildings=(building_id,)
    )
    listed = client.get("/api/v1/buildings", headers=custode)
    assert [b["id"] for b in listed.json] == [building_id]
    assert listed.headers["X-Total-Count"] == "1"
    assert client.get(f"/api/v1/buildings/{building_id}", headers=custode).status_code == 200
    refused(client.get(f"/api/v1/buildings/{other}", headers=custode))
    # Without a buildings claim a custode sees none; other roles see them all.
    bare = bearer_headers(environ, "custode", name="Nessuno")
    assert client.get("/api/v1/buildings", headers=bare).json == []
    assert len(client.get("/api/v1/buildings").json) == 2


# --- casework ----------------------------------------------------------------------------------


@pytest.fixture
def casework(settings_for) -> Iterator[tuple[Flask, FlaskClient]]:
    app = authorize_app(casework_app(settings_for("casework")))
    yield app, app.test_client()
    mongo.disconnect("casework")


def refer(client: FlaskClient, case_id: str, path: str) -> dict:
    proposed = client.post(
        f"/api/v1/case-files/{case_id}/referrals",
        json={"path": path, "reason": f"Invio a {path}", "actor": "op.rossi"},
    )
    assert proposed.status_code == 201, proposed.json
    sent = client.post(
        f"/api/v1/case-files/{case_id}/referrals/{proposed.json['id']}/send",
        json={"actor": "op.rossi"},
    )
    assert sent.status_code == 200, sent.json
    return sent.json


def test_an_operator_works_only_on_case_files_of_its_counters(casework, environ) -> None:
    app, client = casework
    deliver_case_opened(app, "case_mine", counter_id="ctr_mine")
    deliver_case_opened(app, "case_theirs", counter_id="ctr_theirs")
    operator = bearer_headers(environ, "operator", counters=("ctr_mine",))

    listed = client.get("/api/v1/case-files", headers=operator)
    assert [c["id"] for c in listed.json] == ["case_mine"]
    refused(
        client.get(
            "/api/v1/case-files", query_string={"counter_id": "ctr_theirs"}, headers=operator
        )
    )
    assert client.get("/api/v1/case-files/case_mine", headers=operator).status_code == 200
    refused(client.get("/api/v1/case-files/case_theirs", headers=operator))
    for section in ("timeline", "referrals", "notes", "tasks", "diary", "assessments"):
        refused(client.get(f"/api/v1/case-files/case_theirs/{section}", headers=operator))
    # Writes too: nothing is stored on a case file out of scope.
    note = {"text": "Nota", "actor": "op.rossi"}
    refused(client.post("/api/v1/case-files/case_theirs/notes", json=note, headers=operator))
    assert client.get("/api/v1/case-files/case_theirs/notes").json == []
    mine = client.post("/api/v1/case-files/case_mine/notes", json=note, headers=operator)
    assert mine.status_code == 201, mine.json


def test_a_path_caseworker_sees_only_referred_case_files_and_only_what_its_path_needs(
    casework, environ
) -> None:
    app, client = casework
    deliver_case_opened(
        app,
        "case_energy",
        description="Conguaglio alto",
        hardship_signals=["perdita_lavoro"],
        isee_band="sotto_9530",
    )
    deliver_case_opened(app, "case_other")
    note = {"text": SOCIAL_NOTE, "actor": "op.rossi"}
    assert client.post("/api/v1/case-files/case_energy/notes", json=note).status_code == 201
    amat_referral = refer(client, "case_energy", "amat")
    welfare_referral = refer(client, "case_energy", "welfare")
    amat = bearer_headers(environ, "path_caseworker", path="amat")
    casa = bearer_headers(environ, "path_caseworker", path="casa")

    # The list is forced to the path; another path asked for is refused.
    listed = client.get("/api/v1/case-files", headers=amat)
    assert [c["id"] for c in listed.json] == ["case_energy"]
    refused(client.get("/api/v1/case-files", query_string={"path": "welfare"}, headers=amat))
    assert client.get("/api/v1/case-files", headers=casa).json == []
    refused(client.get("/api/v1/case-files/case_energy", headers=casa))
    refused(client.get("/api/v1/case-files/case_other", headers=amat))

    # AMAT receives anagrafica, bollette, consumi: bills yes; social history, needs, assessment no.
    body = client.get("/api/v1/case-files/case_energy", headers=amat).json
    assert body["bills"] and body["tenant_id"] and body["building"]["id"]
    for hidden in ("description", "needs", "hardship_signals", "isee_band", "history", "outcome"):
        assert hidden not in body, hidden
    assert listed.json[0].keys() == body.keys()
    for section in ("notes", "timeline", "assessments", "tasks"):
        refused(client.get(f"/api/v1/case-files/case_energy/{section}", headers=amat))
    assert client.get("/api/v1/case-files/case_energy/diary", headers=amat).status_code == 200
    # Only its own referral, disclosure and outcomes; another path's referral is refused.
    referrals = client.get("/api/v1/case-files/case_energy/referrals", headers=amat).json
    assert [r["id"] for r in referrals] == [amat_referral["id"]]
    assert SOCIAL_NOTE not in str(referrals)
    disclosures = client.get("/api/v1/case-files/case_energy/disclosures", headers=amat).json
    assert [d["path"] for d in disclosures] == ["amat"]
    refused(
        client.get(
            f"/api/v1/case-files/case_energy/referrals/{welfare_referral['id']}", headers=amat
        )
    )

    # Welfare receives the social history: it reads the notes and the hardship signals.
    welfare = bearer_headers(environ, "path_caseworker", path="welfare")
    body = client.get("/api/v1/case-files/case_energy", headers=welfare).json
    assert body["hardship_signals"] == ["perdita_lavoro"] and body["description"]
    notes = client.get("/api/v1/case-files/case_energy/notes", headers=welfare).json
    assert [n["text"] for n in notes] == [SOCIAL_NOTE]
    # The admin sees everything.
    assert "hardship_signals" in client.get("/api/v1/case-files/case_energy").json


def test_overdue_referrals_of_a_path_caseworker_are_of_its_path(casework, environ) -> None:
    app, client = casework
    deliver_case_opened(app, "case_late")
    refer(client, "case_late", "amat")
    refer(client, "case_late", "welfare")
    # A month later both referrals are past their deadline.
    app.extensions["sportello.bus"].deps.clock = lambda: datetime.now(UTC) + timedelta(days=60)
    assert {r["path"] for r in client.get("/api/v1/queues/overdue-referrals").json} == {
        "amat",
        "welfare",
    }
    amat = bearer_headers(environ, "path_caseworker", path="amat")
    response = client.get("/api/v1/queues/overdue-referrals", headers=amat)
    assert response.status_code == 200
    assert [r["path"] for r in response.json] == ["amat"]


# --- notifications -----------------------------------------------------------------------------


@pytest.fixture
def notifications(settings_for) -> Iterator[FlaskClient]:
    app = authorize_app(notifications_app(settings_for("notifications")))
    yield app.test_client()
    mongo.disconnect("notifications")


def test_an_inbox_is_read_only_by_its_owner_or_an_admin(notifications, environ) -> None:
    client = notifications
    apply(client, "it.mm.sportello.intake.case.opened.v1", case_opened())
    apply(client, cw.REFERRAL_COMPLETED, referral(outcome="contributo concesso"))
    deliver_all(client)
    owner = "operatore.bianchi"
    [message] = client.get(f"/api/v1/inbox/{owner}").json  # the admin reads any inbox
    me = bearer_headers(environ, "operator", sub=owner, counters=("c1",))
    someone = bearer_headers(environ, "operator", sub="operatore.rossi", counters=("c1",))
    custode = bearer_headers(environ, "custode", name="Custodia Saint Bon")

    assert client.get(f"/api/v1/inbox/{owner}", headers=me).status_code == 200
    assert client.get(f"/api/v1/inbox/{owner}/unread-count", headers=me).json["unread"] == 1
    for headers in (someone, custode):
        refused(client.get(f"/api/v1/inbox/{owner}", headers=headers))
        refused(client.get(f"/api/v1/inbox/{owner}/unread-count", headers=headers))
        refused(client.post(f"/api/v1/inbox/{owner}/{message['id']}/read", headers=headers))
    assert client.get(f"/api/v1/inbox/{owner}/unread-count").json["unread"] == 1
    read = client.post(f"/api/v1/inbox/{owner}/{message['id']}/read", headers=me)
    assert read.status_code == 200 and read.json["read_at"]
    # A custode's inbox is its name: it reads its own.
    assert client.get("/api/v1/inbox/Custodia Saint Bon", headers=custode).status_code == 200


def test_a_custode_with_buildings_sees_only_their_messages(notifications, environ) -> None:
    client = notifications
    apply(client, "it.mm.sportello.intake.case.opened.v1", case_opened())
    name = "Custodia Saint Bon"
    own = {"recipient": name}
    all_mine = client.get("/api/v1/notifications", query_string=own).json
    assert all_mine
    here = bearer_headers(environ, "custode", name=name, buildings=("bld_saintbon",))
    elsewhere = bearer_headers(environ, "custode", name=name, buildings=("bld_9",))
    listed = client.get("/api/v1/notifications", query_string=own, headers=here).json
    assert [n["id"] for n in listed] == [n["id"] for n in all_mine]
    assert client.get("/api/v1/notifications", query_string=own, headers=elsewhere).json == []
