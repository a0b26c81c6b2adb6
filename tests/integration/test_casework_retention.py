"""Retention on the real store: closed case files are anonymised after the configured period,
keeping their non-personal statistics. Time is an injected clock: nothing sleeps."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pymongo

from services.casework.entrypoints.app import create_app
from services.casework.entrypoints.worker import DeadlineScanner
from services.casework.service_layer.handlers import anonymise_expired
from shared import mongo
from tests.integration.test_casework_api import deliver_case_opened, outbox_types, post
from tests.support import authorize_app

SECRET = "Vive sola, invalidità al 100%, rate arretrate col fornitore"
NOTE = "Il figlio è in comunità, la signora non riesce a pagare l'affitto"
KEEP = timedelta(days=30)


def test_closed_case_files_are_anonymised_after_the_retention_period(settings_for, environ) -> None:
    app = authorize_app(create_app(settings_for("casework", RETENTION_CLOSED_CASE_DAYS="30")))
    client = app.test_client()
    deps = app.extensions["sportello.bus"].deps
    now = [datetime(2026, 11, 3, 9, tzinfo=UTC)]
    deps.clock = lambda: now[0]

    def close(case_id: str) -> None:
        base = f"/api/v1/case-files/{case_id}"
        post(client, f"{base}/notes", {"text": NOTE, "actor": "op.rossi"}, 201)
        post(client, f"{base}/transitions", {"to_state": "in_valutazione", "actor": "op.rossi"})
        post(
            client,
            f"{base}/assessments",
            {"classification": "poverta_energetica", "actor": "op.rossi", "evidence": {}},
            201,
        )
        post(
            client,
            f"{base}/transitions",
            {"to_state": "chiuso", "actor": "op.rossi", "outcome": "Bonus sociale ottenuto"},
        )

    for case_id in ("case_old", "case_recent", "case_open"):
        deliver_case_opened(
            app, case_id, description=SECRET, hardship_signals=["malattia"], isee_band="fino_9530"
        )
    close("case_old")
    closed_at = now[0]
    now[0] = closed_at + timedelta(days=20)
    close("case_recent")

    # Not yet: 29 days after closing.
    assert anonymise_expired(deps, KEEP, closed_at + timedelta(days=29)) == 0

    # The worker's scanner, with its clock 31 days after the first closing.
    now[0] = closed_at + timedelta(days=31)
    scanner = DeadlineScanner(deps, 60, threading.Event(), deps.clock, KEEP)
    assert scanner.apply_retention() == 1
    assert scanner.apply_retention() == 0  # once an hour
    assert anonymise_expired(deps, KEEP) == 0  # idempotent

    raw_client = pymongo.MongoClient(environ["MONGODB_URI"], tz_aware=True)
    try:
        files = raw_client[f"{environ['SPORTELLO_DB_PREFIX']}_casework"]["case_files"]
        old = files.find_one({"_id": "case_old"})
        recent = files.find_one({"_id": "case_recent"})
    finally:
        raw_client.close()
    assert old["tenant_id"] == "anonimizzato" and old["anonymised_at"] == now[0]
    assert old["description"] == "" and old["notes"] == [] and old["hardship_signals"] == []
    assert old["isee_band"] is None and old["bills"] == []
    assert old["assessments"][0]["evidence"]["hardship_signals"] == []
    # Statistics stay: building and municipio, dates, states, classification.
    assert old["building"]["municipio"] == 7 and old["state"] == "chiuso"
    assert [t["to_state"] for t in old["history"]] == ["aperto", "in_valutazione", "chiuso"]
    assert old["classification"] == "poverta_energetica"
    assert old["opened_at"] and old["history"][-1]["at"] == closed_at
    assert recent["tenant_id"] != "anonimizzato" and recent.get("anonymised_at") is None

    body = client.get("/api/v1/case-files/case_old").json
    assert body["tenant_id"] == "anonimizzato" and body["state"] == "chiuso"
    assert SECRET not in json.dumps(body) and NOTE not in json.dumps(body)
    assert client.get("/api/v1/case-files/case_recent").json["description"] == SECRET
    assert outbox_types("case_old")[-1] == "case.anonymised.v1"

    # Later, the second one too; the open case never.
    assert anonymise_expired(deps, KEEP, closed_at + timedelta(days=52)) == 1
    assert client.get("/api/v1/case-files/case_open").json["description"] == SECRET
    mongo.disconnect("casework")
