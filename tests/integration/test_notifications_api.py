"""notifications' HTTP API on the real store: delivery tracking queries, the staff inbox, the
custodians' preference, and precise 4xx answers for bad input."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient

from services.notifications.adapters.documents import CustodianPreferenceDoc
from services.notifications.entrypoints.app import create_app
from services.notifications.service_layer.handlers import EVENT_HANDLERS
from shared import mongo
from shared.events import casework as cw
from shared.events import decode, encode, make_event
from shared.events import intake as ik
from shared.kafka import dispatcher
from tests.support import authorize_app, bearer_headers
from tests.unit.test_notifications_rules import case_opened, referral


@pytest.fixture
def client(settings_for) -> Iterator[FlaskClient]:
    app = authorize_app(create_app(settings_for("notifications")))
    yield app.test_client()
    mongo.disconnect("notifications")


def apply(client: FlaskClient, type_: str, data: dict) -> None:
    """Apply an event the way the worker does (the broker path is covered elsewhere)."""
    deps = client.application.extensions["sportello.bus"].deps
    dispatcher(EVENT_HANDLERS, deps)(decode(encode(make_event(type_, "case_1", data))), [])


def deliver_all(client: FlaskClient) -> None:
    """Deliver what is due through the inbox only (no SMTP here): staff inbox messages."""
    deps = client.application.extensions["sportello.bus"].deps
    from services.notifications.service_layer.sender import Sender

    Sender(deps).run_once()


def test_notifications_are_queried_by_case_status_recipient_and_channel(client) -> None:
    apply(client, ik.CASE_OPENED, case_opened())
    apply(client, cw.REFERRAL_COMPLETED, referral(outcome="ok"))
    listed = client.get("/api/v1/notifications", query_string={"case_id": "case_1"}).json
    assert {n["rule"] for n in listed} >= {"caso_aperto", "esito_invio_operatore"}
    inbox_only = client.get("/api/v1/notifications", query_string={"channel": "inbox"}).json
    # The operator's message, and (the tenant is unknown here) the custodian's hand-delivery task.
    assert {(n["recipient"]["name"], n["task"]) for n in inbox_only} == {
        ("operatore.bianchi", False),
        ("Custodia Saint Bon", True),
    }
    by_recipient = client.get(
        "/api/v1/notifications", query_string={"recipient": "Custodia Saint Bon"}
    ).json
    assert sorted(n["rule"] for n in by_recipient) == [
        "caso_aperto",
        "esito_invio_inquilino:consegna",
    ]
    created = client.get("/api/v1/notifications", query_string={"status": "creata"}).json
    assert len(created) >= 2
    opened = next(n for n in by_recipient if n["rule"] == "caso_aperto")
    detail = client.get(f"/api/v1/notifications/{opened['id']}").json
    assert detail["history"][0]["status"] == "creata"
    assert "Via Saint Bon 6" in detail["text"]


def test_the_staff_inbox_lists_counts_and_marks_read(client) -> None:
    apply(client, ik.CASE_OPENED, case_opened())
    apply(client, cw.REFERRAL_COMPLETED, referral(outcome="contributo concesso"))
    assert client.get("/api/v1/inbox/operatore.bianchi/unread-count").json["unread"] == 0
    deliver_all(client)
    count = client.get("/api/v1/inbox/operatore.bianchi/unread-count").json
    assert count == {"recipient": "operatore.bianchi", "unread": 1}
    [message] = client.get("/api/v1/inbox/operatore.bianchi", query_string={"unread": "true"}).json
    assert "contributo concesso" in message["text"]
    read = client.post(f"/api/v1/inbox/operatore.bianchi/{message['id']}/read")
    assert read.status_code == 200 and read.json["read_at"]
    again = client.post(f"/api/v1/inbox/operatore.bianchi/{message['id']}/read")
    assert again.json["read_at"] == read.json["read_at"]  # idempotent
    assert client.get("/api/v1/inbox/operatore.bianchi/unread-count").json["unread"] == 0
    assert client.get("/api/v1/inbox/operatore.bianchi", query_string={"unread": "1"}).json == []
    assert len(client.get("/api/v1/inbox/operatore.bianchi").json) == 1
    # Someone else's message is not in this inbox.
    other = client.post(f"/api/v1/inbox/operatore.rossi/{message['id']}/read")
    assert other.status_code == 404 and other.json["code"] == "not_found"


def test_a_custodian_chooses_the_daily_digest(client) -> None:
    response = client.put(
        "/api/v1/custodians/Custodia Saint Bon/preference",
        json={"mode": "riepilogo", "actor": "coordinamento"},
    )
    assert response.status_code == 200
    assert response.json == {"custodian": "Custodia Saint Bon", "mode": "riepilogo"}
    assert CustodianPreferenceDoc.objects.get(id="Custodia Saint Bon").mode == "riepilogo"
    apply(client, ik.CASE_OPENED, case_opened())
    [held] = client.get("/api/v1/notifications", query_string={"status": "in_riepilogo"}).json
    assert held["rule"] == "caso_aperto"
    digest = client.get("/api/v1/notifications", query_string={"status": "creata"}).json
    assert [d["template"] for d in digest] == ["riepilogo_giornaliero"]
    assert datetime.fromisoformat(digest[0]["due_at"]) > datetime.now(UTC)


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "field"),
    [
        ("get", "/api/v1/notifications", {"query_string": {"status": "boh"}}, 422, "status"),
        ("get", "/api/v1/notifications", {"query_string": {"colour": "x"}}, 422, "colour"),
        ("get", "/api/v1/notifications", {"query_string": {"limit": "0"}}, 422, "limit"),
        ("get", "/api/v1/notifications", {"query_string": {"channel": "fax"}}, 422, "channel"),
        ("get", "/api/v1/inbox/op", {"query_string": {"unread": "forse"}}, 422, "unread"),
        (
            "put",
            "/api/v1/custodians/Maria/preference",
            {"json": {"mode": "settimanale", "actor": "x"}},
            422,
            "mode",
        ),
        (
            "put",
            "/api/v1/custodians/Maria/preference",
            {"json": {"mode": "riepilogo"}},
            422,
            "actor",
        ),
        (
            "put",
            "/api/v1/custodians/Maria/preference",
            {"json": {"mode": "riepilogo", "actor": "x", "extra": 1}},
            422,
            "extra",
        ),
    ],
)
def test_bad_input_gets_a_precise_4xx(client, method, path, kwargs, status, field) -> None:
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == status, response.json
    errors = response.json["errors"]
    assert any(field in location for location in errors.values()), errors


def test_unknown_ids_are_404_and_a_non_json_body_is_400(client) -> None:
    missing = client.get("/api/v1/notifications/ntf_nope")
    assert missing.status_code == 404 and missing.json["message"] == "Notifica non trovata."
    assert client.post("/api/v1/inbox/op/ntf_nope/read").status_code == 404
    not_json = client.put(
        "/api/v1/custodians/Maria/preference", data="{", content_type="application/json"
    )
    assert not_json.status_code == 400


def test_a_custode_sees_and_sets_only_what_is_addressed_to_them(client, environ) -> None:
    mine = bearer_headers(environ, "custode", name="Custodia Sociale Saint Bon")
    own = client.get(
        "/api/v1/notifications", query_string={"recipient": "Custodia Sociale Saint Bon"},
        headers=mine,
    )  # fmt: skip
    assert own.status_code == 200
    for query in ({"recipient": "Custodia Sociale Giuffrè"}, {}):
        other = client.get("/api/v1/notifications", query_string=query, headers=mine)
        assert other.status_code == 403 and other.json["code"] == "vietato"
    body = {"mode": "riepilogo", "actor": "custode"}
    theirs = client.put("/api/v1/custodians/Altra/preference", json=body, headers=mine)
    assert theirs.status_code == 403
    ok = client.put(
        "/api/v1/custodians/Custodia Sociale Saint Bon/preference", json=body, headers=mine
    )
    assert ok.status_code == 200, ok.json
