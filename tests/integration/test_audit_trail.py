"""The audit trail on the real store: every read and write of a tenant's data or a case file leaves
who, when, what and why; refusals too; admins query it; nothing can change it."""

# ruff: noqa: F811 - the fixtures are shared with the cases API tests

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from services.casework.entrypoints.app import create_app as casework_app
from services.intake.entrypoints.app import AUDITED as INTAKE_AUDITED
from services.notifications.entrypoints.app import create_app as notifications_app
from shared import audit, mongo
from tests.integration.test_intake_cases_api import (  # noqa: F401 - fixtures
    app,
    building_id,
    case_body,
    client,
    register_tenant,
    tenant_id,
)
from tests.support import bearer_headers


def trail(client, environ, **filters: str) -> list[dict]:
    response = client.get(
        "/api/v1/audit", query_string=filters, headers=bearer_headers(environ, "admin", sub="dpo")
    )
    assert response.status_code == 200, response.json
    assert int(response.headers["X-Total-Count"]) >= len(response.json)
    return response.json


def test_a_read_and_a_write_of_a_tenant_are_recorded_with_who_what_and_why(
    client, environ, building_id
) -> None:
    operator = bearer_headers(environ, "operator", sub="operatore.rossi", name="Anna Rossi")
    created = client.post(
        "/api/v1/tenants",
        json={
            "building_id": building_id,
            "first_name": "Mario",
            "last_name": "Rossi",
            "fiscal_code": "RSSMRA85T10A562S",
        },
        headers=operator,
    )
    assert created.status_code == 201, created.json
    tenant = created.json["id"]
    before = datetime.now(UTC)
    read = client.get(
        f"/api/v1/tenants/{tenant}",
        headers={**operator, audit.PURPOSE_HEADER: "verifica dei consensi"},
    )
    assert read.status_code == 200

    entries = trail(client, environ, subject=f"tenant:{tenant}")
    assert [(e["method"], e["action"], e["status"]) for e in entries] == [
        ("GET", "read", 200),
        ("POST", "write", 201),
    ]
    newest, first = entries
    assert newest["actor"] == "operatore.rossi"
    assert newest["actor_name"] == "Anna Rossi"
    assert newest["role"] == "operator"
    assert newest["route"] == "/api/v1/tenants/<tenant_id>"
    assert newest["resource"] == "tenant"
    assert newest["purpose"] == "verifica dei consensi"
    assert first["purpose"] == audit.ROLE_PURPOSES["operator"]  # no header: the role's purpose
    at = datetime.fromisoformat(newest["at"])
    assert before - timedelta(seconds=5) <= at <= datetime.now(UTC)
    assert newest["correlation_id"] == read.headers["X-Correlation-ID"]


def test_a_search_is_recorded_with_the_tenants_it_returned_but_not_the_search_text(
    client, environ, building_id
) -> None:
    tenant = register_tenant(client, building_id)["id"]
    found = client.get("/api/v1/tenants", query_string={"name": "Rossi"})
    assert found.status_code == 200 and found.json
    [entry] = [
        e for e in trail(client, environ, subject=f"tenant:{tenant}") if e["method"] == "GET"
    ]
    assert entry["query"] == {"name": [audit.MASK]}
    assert "Rossi" not in str(entry)


def test_a_refused_read_is_recorded_too(client, environ, building_id, tenant_id) -> None:
    custode = bearer_headers(environ, "custode", sub="custode.bianchi")
    refused = client.get(f"/api/v1/tenants/{tenant_id}", headers=custode)
    assert refused.status_code == 403
    [entry] = trail(client, environ, actor="custode.bianchi")
    assert entry["status"] == 403
    assert entry["subjects"] == [f"tenant:{tenant_id}"]


def test_opening_a_case_names_the_case_and_its_tenant(client, environ, building_id, tenant_id):
    opened = client.post("/api/v1/cases", json=case_body(tenant_id, building_id))
    assert opened.status_code == 201, opened.json
    [entry] = trail(client, environ, subject=f"case:{opened.json['id']}")
    assert f"tenant:{tenant_id}" in entry["subjects"]
    assert entry["resource"] == "case" and entry["action"] == "write"


def test_only_admins_read_the_trail_and_nobody_changes_it(client, environ, tenant_id) -> None:
    for role in ("operator", "path_caseworker", "custode", "coordinator"):
        denied = client.get("/api/v1/audit", headers=bearer_headers(environ, role))
        assert denied.status_code == 403, role
        assert denied.json["code"] == "vietato"
    admin = bearer_headers(environ, "admin")
    for method in ("post", "put", "patch", "delete"):
        assert getattr(client, method)("/api/v1/audit", headers=admin).status_code == 405
    bad = client.get("/api/v1/audit", query_string={"subject": "nocolon"}, headers=admin)
    assert bad.status_code == 422
    assert "subject" in bad.json["errors"]["query"]


def test_the_filters_narrow_the_trail(client, environ, building_id) -> None:
    first = register_tenant(client, building_id, n=1)["id"]
    second = register_tenant(client, building_id, n=2)["id"]
    client.get(f"/api/v1/tenants/{first}")
    assert {e["method"] for e in trail(client, environ, subject=f"tenant:{first}")} == {
        "GET",
        "POST",
    }
    assert len(trail(client, environ, subject=f"tenant:{second}")) == 1
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert trail(client, environ, since=future) == []
    admin = bearer_headers(environ, "admin", sub="dpo")
    page = client.get(
        "/api/v1/audit", query_string={"resource": "tenant", "limit": 1}, headers=admin
    )
    assert (
        len(page.json) == 1 and int(page.headers["X-Total-Count"]) == 3
    )  # two registrations, one read


def test_every_personal_data_route_of_intake_is_audited(app: Flask) -> None:
    # By blueprint, so a route added later is audited without anyone remembering to.
    personal = {r.endpoint.split(".")[0] for r in app.url_map.iter_rules()} & {
        "tenants",
        "appointments",
        "cases",
        "erasure",
    }
    assert personal == set(INTAKE_AUDITED)


@pytest.fixture
def other_apps(settings_for) -> Iterator[tuple[Flask, Flask]]:
    yield casework_app(settings_for("casework")), notifications_app(settings_for("notifications"))
    mongo.disconnect("casework")
    mongo.disconnect("notifications")


def test_casework_and_notifications_keep_their_own_trail(other_apps, environ) -> None:
    casework, notifications = other_apps
    operator = bearer_headers(environ, "operator", sub="operatore.verdi")
    assert casework.test_client().get("/api/v1/case-files", headers=operator).status_code == 200
    missing = casework.test_client().get("/api/v1/case-files/case_nope", headers=operator)
    assert missing.status_code == 404
    custode = bearer_headers(environ, "custode", sub="custode.bianchi")
    inbox = notifications.test_client().get("/api/v1/inbox/custode.bianchi", headers=custode)
    assert inbox.status_code == 200
    for service, expected in (
        (casework, {("/api/v1/case-files", 200), ("/api/v1/case-files/<case_id>", 404)}),
        (notifications, {("/api/v1/inbox/<recipient>", 200)}),
    ):
        entries = trail(service.test_client(), environ)
        assert {(e["route"], e["status"]) for e in entries} == expected
    [missing_entry] = trail(casework.test_client(), environ, subject="case:case_nope")
    assert missing_entry["actor"] == "operatore.verdi"
