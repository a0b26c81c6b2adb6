"""The role matrix: every endpoint of every service, called as every role, without a token and
with a bad one. The expected policy is written here as data, so this file documents it.

Allowed calls carry dummy ids and empty bodies, so they may answer 404/409/422: what matters is
that they are not refused (401/403). Denied calls answer 403 in the error shape; calls without a
valid token answer 401 with ``WWW-Authenticate: Bearer``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import jwt
import pytest
from flask import Flask

from services.casework.entrypoints.app import create_app as casework_app
from services.intake.entrypoints.app import create_app as intake_app
from services.notifications.entrypoints.app import create_app as notifications_app
from shared import auth, mongo
from shared.web import PUBLIC_ENDPOINTS
from tests.support import mint_token

FACTORIES = {"intake": intake_app, "casework": casework_app, "notifications": notifications_app}

ALL = frozenset(auth.ROLES)
OP, PC, CU, CO, AD = "operator", "path_caseworker", "custode", "coordinator", "admin"
CASE_READERS = frozenset({OP, PC, CO, AD})
CASE_WRITERS = frozenset({OP, PC, AD})

# (method, rule) -> roles allowed. Every API route must be listed, and nothing else.
POLICY: dict[str, dict[tuple[str, str], frozenset[str]]] = {
    "intake": {
        ("GET", "/api/v1/buildings"): ALL,
        ("POST", "/api/v1/buildings"): frozenset({AD}),
        ("GET", "/api/v1/buildings/<building_id>"): ALL,
        ("PATCH", "/api/v1/buildings/<building_id>"): frozenset({AD}),
        ("GET", "/api/v1/counters"): ALL,
        ("POST", "/api/v1/counters"): frozenset({AD}),
        ("GET", "/api/v1/counters/<counter_id>"): ALL,
        ("PATCH", "/api/v1/counters/<counter_id>"): frozenset({AD}),
        ("GET", "/api/v1/counters/<counter_id>/slots"): frozenset({OP, CO, AD}),
        ("GET", "/api/v1/tenants"): frozenset({OP, AD}),
        ("POST", "/api/v1/tenants"): frozenset({OP, AD}),
        ("GET", "/api/v1/tenants/<tenant_id>"): frozenset({OP, AD}),
        ("PATCH", "/api/v1/tenants/<tenant_id>"): frozenset({OP, AD}),
        ("POST", "/api/v1/tenants/<tenant_id>/consents"): frozenset({OP, AD}),
        ("GET", "/api/v1/appointments"): frozenset({OP, CO, AD}),
        ("POST", "/api/v1/appointments"): frozenset({OP, AD}),
        ("GET", "/api/v1/appointments/<appointment_id>"): frozenset({OP, CO, AD}),
        ("POST", "/api/v1/appointments/<appointment_id>/reschedule"): frozenset({OP, AD}),
        ("POST", "/api/v1/appointments/<appointment_id>/cancel"): frozenset({OP, AD}),
        ("GET", "/api/v1/cases"): frozenset({OP, CO, AD}),
        ("POST", "/api/v1/cases"): frozenset({OP, AD}),
        ("GET", "/api/v1/cases/<case_id>"): frozenset({OP, CO, AD}),
    },
    "casework": {
        ("GET", "/api/v1/case-files"): CASE_READERS,
        ("GET", "/api/v1/case-files/<case_id>"): CASE_READERS,
        ("POST", "/api/v1/case-files/<case_id>/transitions"): CASE_WRITERS,
        ("PUT", "/api/v1/case-files/<case_id>/assignee"): CASE_WRITERS,
        ("GET", "/api/v1/case-files/<case_id>/timeline"): CASE_READERS,
        ("POST", "/api/v1/case-files/<case_id>/assessment-proposal"): CASE_WRITERS,
        ("GET", "/api/v1/case-files/<case_id>/assessments"): CASE_READERS,
        ("POST", "/api/v1/case-files/<case_id>/assessments"): CASE_WRITERS,
        ("GET", "/api/v1/case-files/<case_id>/referrals"): CASE_READERS,
        ("POST", "/api/v1/case-files/<case_id>/referrals"): CASE_WRITERS,
        ("GET", "/api/v1/case-files/<case_id>/referrals/<referral_id>"): CASE_READERS,
        ("POST", "/api/v1/case-files/<case_id>/referrals/<referral_id>/send"): CASE_WRITERS,
        ("POST", "/api/v1/case-files/<case_id>/referrals/<referral_id>/accept"): frozenset(
            {PC, AD}
        ),
        ("POST", "/api/v1/case-files/<case_id>/referrals/<referral_id>/decline"): frozenset(
            {PC, AD}
        ),
        ("POST", "/api/v1/case-files/<case_id>/referrals/<referral_id>/complete"): frozenset(
            {PC, AD}
        ),
        ("POST", "/api/v1/case-files/<case_id>/referrals/<referral_id>/cancel"): CASE_WRITERS,
        ("POST", "/api/v1/case-files/<case_id>/referrals/<referral_id>/reassign"): CASE_WRITERS,
        ("GET", "/api/v1/case-files/<case_id>/disclosures"): CASE_READERS,
        ("GET", "/api/v1/case-files/<case_id>/home-visits"): CASE_READERS,
        ("POST", "/api/v1/case-files/<case_id>/home-visits"): CASE_WRITERS,
        ("GET", "/api/v1/case-files/<case_id>/diary"): CASE_READERS,
        ("POST", "/api/v1/case-files/<case_id>/diary"): CASE_WRITERS,
        ("GET", "/api/v1/case-files/<case_id>/outcomes"): CASE_READERS,
        ("POST", "/api/v1/case-files/<case_id>/outcomes"): frozenset({PC, AD}),
        ("GET", "/api/v1/case-files/<case_id>/notes"): CASE_READERS,
        ("POST", "/api/v1/case-files/<case_id>/notes"): CASE_WRITERS,
        ("GET", "/api/v1/case-files/<case_id>/tasks"): CASE_READERS,
        ("POST", "/api/v1/case-files/<case_id>/tasks"): CASE_WRITERS,
        ("POST", "/api/v1/case-files/<case_id>/tasks/<task_id>/complete"): CASE_WRITERS,
        ("GET", "/api/v1/queues/overdue-referrals"): frozenset({PC, CO, AD}),
        ("GET", "/api/v1/queues/counts"): frozenset({PC, CO, AD}),
        ("GET", "/api/v1/reports/outcomes"): frozenset({CO, AD}),
        ("GET", "/api/v1/reports/dashboard"): frozenset({CO, AD}),
        ("GET", "/api/v1/referral-paths"): ALL,
    },
    "notifications": {
        ("GET", "/api/v1/notifications"): frozenset({CU, CO, AD}),
        ("GET", "/api/v1/notifications/<notification_id>"): frozenset({CO, AD}),
        ("GET", "/api/v1/inbox/<recipient>"): ALL,
        ("GET", "/api/v1/inbox/<recipient>/unread-count"): ALL,
        ("POST", "/api/v1/inbox/<recipient>/<notification_id>/read"): ALL,
        ("PUT", "/api/v1/custodians/<custodian>/preference"): frozenset({CU, AD}),
    },
}

# Every service has its own audit trail and its part of a tenant's export: for admins only.
for routes in POLICY.values():
    routes[("GET", "/api/v1/audit")] = frozenset({AD})
    routes[("GET", "/api/v1/privacy/tenants/<tenant_id>/export")] = frozenset({AD})
POLICY["intake"][("POST", "/api/v1/privacy/tenants/<tenant_id>/erasure")] = frozenset({AD})
POLICY["intake"][("GET", "/api/v1/privacy/tenants/<tenant_id>/erasure")] = frozenset({AD})

# Every token of the matrix names the same person and scope, and every path parameter is that
# name: so a custode's own inbox and a caller's own counter are in scope.
DUMMY = "dummy"
SCOPE = {"name": DUMMY, "counters": (DUMMY,), "path": "amat", "buildings": (DUMMY,)}
# Query strings some allowed calls need to be in scope (a custode lists only their messages).
QUERY = {("GET", "/api/v1/notifications"): {"recipient": DUMMY}}


@pytest.fixture(params=list(FACTORIES))
def service_app(request, settings_for) -> Iterator[tuple[str, Flask]]:
    service = request.param
    yield service, FACTORIES[service](settings_for(service))
    mongo.disconnect(service)


def api_routes(app: Flask) -> dict[tuple[str, str], str]:
    """(method, rule) -> endpoint of every route that is not public."""
    found = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found[(method, rule.rule)] = rule.endpoint
    return found


def test_every_route_declares_its_roles_and_the_matrix_lists_them_all(service_app) -> None:
    service, app = service_app
    routes = api_routes(app)
    for (method, rule), endpoint in routes.items():
        declared = auth.declared_roles(app.view_functions[endpoint], method)
        assert declared is not None, f"{method} {rule} declares no roles"
        assert declared == POLICY[service][(method, rule)], f"{method} {rule}"
    assert set(routes) == set(POLICY[service])


def assert_refused(response, status: int, code: str) -> None:
    assert response.status_code == status, (response.status_code, response.json)
    body = response.json
    assert body["status"] == status and body["code"] == code
    assert isinstance(body["message"], str) and body["message"]


def test_every_endpoint_as_every_role(service_app, environ) -> None:
    service, app = service_app
    client = app.test_client()
    tokens = {role: mint_token(environ, role, sub=DUMMY, **SCOPE) for role in auth.ROLES}
    forged = jwt.encode(
        {"sub": "x", "role": "admin", "iss": "sportello", "aud": "sportello", "iat": 0,
         "exp": int(time.time()) + 60},
        "wrong-secret-" + "x" * 32,
        algorithm="HS256",
        headers={"kid": environ["AUTH_JWT_SIGNING_KID"]},
    )  # fmt: skip
    for (method, rule), allowed in POLICY[service].items():
        url = re.sub(r"<[^>]+>", DUMMY, rule)
        query = QUERY.get((method, rule), {})
        body = {} if method in {"POST", "PUT", "PATCH"} else None

        def call(headers: dict[str, str], url=url, method=method, query=query, body=body):
            return client.open(url, method=method, query_string=query, json=body, headers=headers)

        for headers in ({}, {"Authorization": f"Bearer {forged}"}, {"Authorization": "Basic x"}):
            response = call(headers)
            assert_refused(response, 401, "non_autenticato")
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
        for role, token in tokens.items():
            response = call({"Authorization": f"Bearer {token}"})
            where = f"{role}: {method} {rule} -> {response.status_code} {response.json}"
            if role in allowed:
                assert response.status_code not in (401, 403), where
                assert response.status_code < 500, where
            else:
                assert_refused(response, 403, "vietato")


def test_health_metrics_and_documents_need_no_token(service_app) -> None:
    _, app = service_app
    client = app.test_client()
    for path in ("/healthz", "/openapi.json", "/docs", "/metrics"):
        assert client.get(path).status_code == 200, path
