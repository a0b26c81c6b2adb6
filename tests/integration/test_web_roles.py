"""Each role sees only the actions its role may take: the pages against the real casework API.

casework runs in a thread on a free port, on the real store; intake and notifications point at a
closed port (the pages say so and go on). A coordinator reads the case file and gets no action
form; an operator gets the referral and diary forms. The web app's table of actions is compared
with the roles the APIs themselves declare (``shared.auth.allow``), so the two cannot drift.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from services.casework.entrypoints.app import create_app as create_casework
from services.intake.entrypoints.app import create_app as create_intake
from services.notifications.entrypoints.app import create_app as create_notifications
from services.web.config import load_settings as load_web_settings
from services.web.domain.identity import ACTION_CALLS, ACTION_ROLES
from services.web.entrypoints.app import create_app as create_web
from shared import auth, mongo
from tests.integration.test_casework_api import deliver_case_opened
from tests.integration.test_web_counter import closed_port_url

COUNTER = "ctr_ruoli"
CASE = "case_ruoli"


@pytest.fixture
def casework(settings_for) -> Iterator[tuple[Flask, str]]:
    app = create_casework(settings_for("casework"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        mongo.disconnect("casework")


@pytest.fixture
def web_as(casework: tuple[Flask, str], environ: dict[str, str]):
    """``web_as(role, **scope)``: a web client signed in with that role."""
    app, url = casework
    deliver_case_opened(app, CASE, counter_id=COUNTER)
    settings = load_web_settings(
        {
            "AUTH_JWT_KEYS": environ["AUTH_JWT_KEYS"],
            "AUTH_JWT_SIGNING_KID": environ["AUTH_JWT_SIGNING_KID"],
            "WEB_SECRET_KEY": "test-key",
            "INTAKE_URL": closed_port_url(),
            "CASEWORK_URL": url,
            "NOTIFICATIONS_URL": closed_port_url(),
            "WEB_API_TIMEOUT_S": "2",
        }
    )
    web = create_web(settings)

    def sign_in(role: str, **scope: str) -> FlaskClient:
        client = web.test_client()
        answer = client.post("/accesso", data={"username": f"{role}.prova", "role": role, **scope})
        assert answer.status_code == 303, answer.text
        return client

    return sign_in


def action_forms(html: str) -> list[str]:
    """The actions of the forms that post, except signing out."""
    actions = re.findall(r'<form method="post" action="([^"]+)"', html)
    return [a for a in actions if a != "/esci"]


def test_a_coordinator_reads_the_case_file_without_any_action(web_as) -> None:
    coordinator = web_as("coordinatore")
    page = coordinator.get(f"/casi/{CASE}")
    assert page.status_code == 200
    assert f"Fascicolo del caso {CASE}" in page.text
    assert "Riepilogo" in page.text and "Diario energetico" in page.text
    assert action_forms(page.text) == []
    assert "Invia a un percorso" not in page.text
    assert "Aggiungi una lettura" not in page.text
    # The posts the page no longer offers are refused by the web app too (the API would say 403).
    refer = coordinator.post(f"/casi/{CASE}/invii", data={"path": "amat", "reason": "prova"})
    assert refer.status_code == 403
    assert "Il tuo ruolo non consente questa operazione" in refer.text
    reading = coordinator.post(f"/casi/{CASE}/diario", data={"read_on": "2026-11-01"})
    assert reading.status_code == 403
    # A team's inbox is not a coordinator's page: back to the dashboard.
    assert coordinator.get("/percorso").headers["Location"] == "/coordinamento"


def test_an_operator_gets_the_referral_and_diary_forms(web_as) -> None:
    operator = web_as("operatore", counter_id=COUNTER)
    page = operator.get(f"/casi/{CASE}")
    assert page.status_code == 200
    assert action_forms(page.text) == [f"/casi/{CASE}/invii", f"/casi/{CASE}/diario"]
    sent = operator.post(f"/casi/{CASE}/invii", data={"path": "amat", "reason": "Bollette alte"})
    assert sent.status_code == 303, sent.text


def test_a_path_caseworker_answers_referrals_in_the_inbox(web_as) -> None:
    operator = web_as("operatore", counter_id=COUNTER)
    operator.post(f"/casi/{CASE}/invii", data={"path": "amat", "reason": "Bollette alte"})
    amat = web_as("percorso", path="amat")
    page = amat.get("/percorso")
    assert page.status_code == 200
    forms = action_forms(page.text)
    assert [f.rsplit("/", 1)[1] for f in forms] == ["accetta", "rifiuta"]


def test_the_web_apps_actions_match_the_roles_the_apis_declare(settings_for) -> None:
    apps = {
        "intake": create_intake(settings_for("intake")),
        "casework": create_casework(settings_for("casework")),
        "notifications": create_notifications(settings_for("notifications")),
    }
    try:
        endpoints = {
            (service, method, rule.rule): app.view_functions[rule.endpoint]
            for service, app in apps.items()
            for rule in app.url_map.iter_rules()
            for method in rule.methods
        }
        for action, calls in ACTION_CALLS.items():
            allowed = frozenset(auth.ROLES)
            for call in calls:
                declared = auth.declared_roles(endpoints[call], call[1])
                assert declared is not None, call
                allowed &= declared
            assert ACTION_ROLES[action] == allowed, action
    finally:
        for service in apps:
            mongo.disconnect(service)
