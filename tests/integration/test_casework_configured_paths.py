"""A referral path added by configuration (``CASEWORK_PATHS_FILE``) works end to end, on the real
store: it joins the built-in three, a case is referred to it, and its caseworkers sign in with a
token naming it, see the case (only what their path receives) and answer the referral; the
caseworkers of another path do not see it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from services.casework.entrypoints.app import create_app
from shared import mongo
from tests.integration.test_casework_api import deliver_case_opened
from tests.support import authorize_app, bearer_headers

EXTRA_PATHS = {
    "acqua": {
        "label": "Servizio idrico — bonus acqua",
        "response_working_days": 7,
        "shares": ["anagrafica", "bollette"],
    },
    "sociale_quartiere": {
        "label": "Servizio sociale di quartiere",
        "response_working_days": 12,
        "shares": ["anagrafica", "bisogni", "storia_sociale"],
    },
}


@pytest.fixture
def casework(settings_for, tmp_path: Path) -> Iterator[tuple[Flask, FlaskClient]]:
    paths_file = tmp_path / "paths.json"
    paths_file.write_text(json.dumps(EXTRA_PATHS))
    app = authorize_app(create_app(settings_for("casework", CASEWORK_PATHS_FILE=str(paths_file))))
    yield app, app.test_client()
    mongo.disconnect("casework")


def test_the_configured_paths_join_the_built_in_ones(casework) -> None:
    _, client = casework
    paths = {p["name"]: p for p in client.get("/api/v1/referral-paths").json}
    assert set(paths) == {"welfare", "casa", "amat", "acqua", "sociale_quartiere"}
    assert paths["acqua"]["response_working_days"] == 7


def test_a_caseworker_of_a_configured_path_sees_and_answers_its_referral(casework, environ) -> None:
    app, client = casework
    deliver_case_opened(app, "case_acqua", description="Bolletta dell'acqua non pagata")
    deliver_case_opened(app, "case_amat")
    base = "/api/v1/case-files/case_acqua/referrals"
    proposed = client.post(base, json={"path": "acqua", "reason": "Bonus idrico", "actor": "op"})
    assert proposed.status_code == 201, proposed.json
    sent = client.post(f"{base}/{proposed.json['id']}/send", json={"actor": "op"})
    assert sent.status_code == 200, sent.json
    assert sent.json["due_date"]
    other = client.post(
        "/api/v1/case-files/case_amat/referrals",
        json={"path": "amat", "reason": "Lettura bollette", "actor": "op"},
    )
    assert other.status_code == 201, other.json

    acqua = bearer_headers(environ, "path_caseworker", sub="acqua.rossi", path="acqua")
    listed = client.get("/api/v1/case-files", headers=acqua)
    assert listed.status_code == 200, listed.json
    assert [c["id"] for c in listed.json] == ["case_acqua"]
    body = client.get("/api/v1/case-files/case_acqua", headers=acqua).json
    # Only what the configured path receives: anagrafica and bollette, not the needs.
    assert body["bills"] and body["tenant_id"]
    assert "description" not in body and "needs" not in body
    refs = client.get("/api/v1/case-files/case_acqua/referrals", headers=acqua).json
    assert [r["path"] for r in refs] == ["acqua"]
    assert client.get("/api/v1/case-files/case_amat", headers=acqua).status_code == 403

    # It works the referral like a built-in path's team.
    accepted = client.post(
        f"{base}/{proposed.json['id']}/accept", json={"actor": "acqua.rossi"}, headers=acqua
    )
    assert accepted.status_code == 200, accepted.json
    assert accepted.json["state"] == "presa_in_carico"

    # Another configured path and a built-in one do not see it.
    quartiere = bearer_headers(environ, "path_caseworker", path="sociale_quartiere")
    assert client.get("/api/v1/case-files", headers=quartiere).json == []
    assert client.get("/api/v1/case-files/case_acqua", headers=quartiere).status_code == 403
    amat = bearer_headers(environ, "path_caseworker", path="amat")
    assert [c["id"] for c in client.get("/api/v1/case-files", headers=amat).json] == ["case_amat"]
    assert client.get("/api/v1/case-files/case_acqua", headers=amat).status_code == 403
    refused = client.get("/api/v1/case-files", query_string={"path": "acqua"}, headers=amat)
    assert refused.status_code == 403
