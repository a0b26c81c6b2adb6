"""Changing a building or a counter at intake, on the real store and broker.

The custodi sociali of a building change, and so do its committee contact and the notes on works
in progress; a counter's schedules, room and operators too. Each change is a PATCH (partial,
guarded by ``expected_version``, retryable with ``Idempotency-Key``) whose full new snapshot is
published in the same write: ``building.updated`` keyed by the building id, ``counter.updated``
keyed by the counter id.
"""

# ruff: noqa: F811 - the fixtures are shared with the cases API tests

from __future__ import annotations

import threading
from datetime import date

import pytest
from flask.testing import FlaskClient

from services.intake.adapters.documents import IntakeBuildingDoc, IntakeCounterDoc
from services.intake.entrypoints.worker import build_worker
from shared.events import Event, decode
from shared.outbox import event_text
from tests.integration.test_intake_bad_input import counter_body
from tests.integration.test_intake_cases_api import (  # noqa: F401 - fixtures
    app,
    building_id,
    client,
)
from tests.support import read_topic

BUILDING_UPDATED = "it.mm.sportello.intake.building.updated.v1"
COUNTER_UPDATED = "it.mm.sportello.intake.counter.updated.v1"
NEW_CUSTODE = {
    "name": "Custode Villani",
    "email": "custode.villani@example.org",
    "phone": "+39 333 1112222",
    "channel": "sms",
}


def outbox(document: type, doc_id: str) -> list[tuple[str, Event]]:
    """The aggregate's events, decoded and schema-checked, with their Kafka keys."""
    doc = document.objects.get(id=doc_id)
    return [(r["key"], decode(event_text(r, "intake").encode())) for r in doc.outbox]


@pytest.fixture
def counter_id(client: FlaskClient, building_id: str) -> str:
    response = client.post("/api/v1/counters", json=counter_body(building_id))
    assert response.status_code == 201, response.json
    return response.json["id"]


def test_a_building_update_publishes_its_full_snapshot_with_a_higher_version(
    client: FlaskClient, building_id: str
) -> None:
    url = f"/api/v1/buildings/{building_id}"
    assert client.get(url).json["version"] == 1
    response = client.patch(
        url,
        json={
            "custodians": [NEW_CUSTODE],
            "works_notes": "Cappotto termico: ponteggi fino a marzo.",
            "expected_version": 1,
        },
    )
    assert response.status_code == 200, response.json
    assert response.json["version"] == 2
    assert response.json["custodians"] == [NEW_CUSTODE]
    assert response.json["name"] == "Complesso Saint Bon"  # untouched fields stay
    assert client.get(url).json == response.json
    [(key, event)] = outbox(IntakeBuildingDoc, building_id)
    assert (key, event.type) == (building_id, BUILDING_UPDATED)
    assert event.data["version"] == 2
    assert event.data["custodians"] == [NEW_CUSTODE]
    assert event.data["works_notes"] == "Cappotto termico: ponteggi fino a marzo."
    assert event.data["committee_contact"] is None

    # The same data again: no change, no event, same version.
    same = client.patch(url, json={"custodians": [NEW_CUSTODE]})
    assert same.json["version"] == 2
    assert len(outbox(IntakeBuildingDoc, building_id)) == 1
    # A field can be cleared.
    cleared = client.patch(url, json={"works_notes": None, "expected_version": 2})
    assert (cleared.json["version"], cleared.json["works_notes"]) == (3, None)


def test_a_counter_update_publishes_its_full_snapshot(
    client: FlaskClient, building_id: str, counter_id: str
) -> None:
    url = f"/api/v1/counters/{counter_id}"
    schedule = {
        "weekday": 1,
        "start": "14:00",
        "end": "17:00",
        "every_weeks": 2,
        "starts_on": "2026-12-01",
    }
    response = client.patch(
        url,
        json={
            "room": "Laboratorio Sociale, piano terra",
            "schedules": [schedule],
            "operators": ["op.rossi", "op.bianchi", "op.rossi"],
            "expected_version": 1,
        },
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert body["version"] == 2
    assert body["operators"] == ["op.rossi", "op.bianchi"]
    assert body["schedules"][0]["every_weeks"] == 2
    assert client.get(url).json == body
    [(key, event)] = outbox(IntakeCounterDoc, counter_id)
    assert (key, event.type) == (counter_id, COUNTER_UPDATED)
    assert event.data["room"] == "Laboratorio Sociale, piano terra"
    assert event.data["building_id"] == building_id
    assert event.data["schedules"] == [
        {**schedule, "slot_minutes": 30, "starts_on": date(2026, 12, 1), "ends_on": None}
    ]
    # The new schedule produces the slots: every second Tuesday from 1 December, 14:00–17:00.
    slots = client.get(f"{url}/slots", query_string={"from": "2026-12-01", "to": "2026-12-14"})
    assert len(slots.json) == 6 and slots.json[0]["starts_at"].startswith("2026-12-01T14:00")


def test_both_updates_reach_kafka_keyed_by_their_id(
    app, client: FlaskClient, building_id: str, counter_id: str
) -> None:
    building = client.patch(f"/api/v1/buildings/{building_id}", json={"custodians": [NEW_CUSTODE]})
    counter = client.patch(f"/api/v1/counters/{counter_id}", json={"room": "Sala del Comitato"})
    assert (building.status_code, counter.status_code) == (200, 200)
    settings = app.extensions["sportello.settings"]
    worker = build_worker(settings)
    thread = threading.Thread(target=worker.run, name="intake-worker")
    thread.start()
    try:
        records = read_topic(
            settings.kafka_bootstrap_servers,
            settings.topic("intake"),
            lambda rs: {building_id, counter_id} <= {r.key.decode() for r in rs},
            timeout_s=30,
        )
    finally:
        worker.stop()
        thread.join(timeout=30)
    assert not thread.is_alive()
    events = {r.key.decode(): decode(r.value) for r in records}  # schema-checked
    assert events[building_id].type == BUILDING_UPDATED
    assert events[building_id].data["custodians"][0]["email"] == NEW_CUSTODE["email"]
    assert events[counter_id].type == COUNTER_UPDATED
    assert events[counter_id].data["room"] == "Sala del Comitato"


@pytest.mark.parametrize("kind", ["buildings", "counters"])
def test_a_stale_version_is_a_409_naming_the_current_one(client, building_id, counter_id, kind):
    url = f"/api/v1/{kind}/{building_id if kind == 'buildings' else counter_id}"
    change = {"name": "Nuovo nome"}
    assert client.patch(url, json={**change, "expected_version": 1}).status_code == 200
    stale = client.patch(url, json={"name": "Altro nome", "expected_version": 1})
    assert stale.status_code == 409
    assert stale.json["code"] == "version_conflict"
    assert stale.json["details"]["current_version"] == 2
    assert "modificato nel frattempo" in stale.json["message"]
    assert client.get(url).json["name"] == "Nuovo nome"


@pytest.mark.parametrize("kind", ["buildings", "counters"])
def test_a_retried_patch_gets_the_first_answer_and_publishes_once(
    client, building_id, counter_id, kind
) -> None:
    doc_id = building_id if kind == "buildings" else counter_id
    url = f"/api/v1/{kind}/{doc_id}"
    body = {"name": "Nuovo nome", "expected_version": 1}
    headers = {"Idempotency-Key": f"tablet-3:{kind}"}
    first = client.patch(url, json=body, headers=headers)
    again = client.patch(url, json=body, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)  # not a 409 on its own change
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    document = IntakeBuildingDoc if kind == "buildings" else IntakeCounterDoc
    assert len(outbox(document, doc_id)) == 1


def test_invalid_changes_are_refused_in_italian(client, building_id, counter_id) -> None:
    building, counter = f"/api/v1/buildings/{building_id}", f"/api/v1/counters/{counter_id}"
    for url in (building, counter):
        empty = client.patch(url, json={"expected_version": 1})
        assert empty.status_code == 422
        assert empty.json["errors"]["json"]["_schema"] == [
            "Indicare almeno un campo da modificare."
        ]
        unknown = client.patch(url, json={"version": 9})
        assert unknown.json["errors"]["json"]["version"] == ["Campo non previsto."]
    assert client.patch(building, json={"municipio": 10}).status_code == 422
    bad_mail = client.patch(building, json={"custodians": [{"name": "X", "email": "x"}]})
    assert list(bad_mail.json["errors"]["json"]["custodians"]["0"]) == ["email"]
    assert client.patch(counter, json={"schedules": []}).status_code == 422
    backwards = client.patch(
        counter, json={"schedules": [{"weekday": 1, "start": "17:00", "end": "14:00"}]}
    )
    assert backwards.status_code == 422
    assert backwards.json["details"]["field"] == "schedules.0.end"
    assert client.get(counter).json["version"] == 1  # nothing stored
    assert IntakeBuildingDoc.objects.get(id=building_id).outbox == []


def test_unknown_ids_are_404(client, counter_id) -> None:
    missing = client.patch("/api/v1/buildings/bld_nope", json={"name": "X"})
    assert missing.status_code == 404 and missing.json["message"] == "Edificio non trovato."
    missing = client.patch("/api/v1/counters/ctr_nope", json={"room": "X"})
    assert missing.status_code == 404 and missing.json["message"] == "Sportello non trovato."
    moved = client.patch(f"/api/v1/counters/{counter_id}", json={"building_id": "bld_nope"})
    assert moved.status_code == 404 and moved.json["details"]["field"] == "building_id"


def test_only_an_admin_changes_buildings_and_counters(
    client, building_id, counter_id, token_for
) -> None:
    for role, scope in (
        ("operator", {"counters": (counter_id,)}),
        ("custode", {"buildings": (building_id,)}),
        ("coordinator", {}),
    ):
        headers = {"Authorization": f"Bearer {token_for(role, **scope)}"}
        for url in (f"/api/v1/buildings/{building_id}", f"/api/v1/counters/{counter_id}"):
            refused = client.patch(url, json={"name": "X"}, headers=headers)
            assert refused.status_code == 403, (role, url, refused.json)
    assert client.get(f"/api/v1/buildings/{building_id}").json["name"] == "Complesso Saint Bon"


def test_a_building_stored_before_versions_existed_is_version_1(client, building_id) -> None:
    IntakeBuildingDoc._get_collection().update_one(
        {"_id": building_id}, {"$unset": {"version": "", "outbox": "", "outbox_seq": ""}}
    )
    url = f"/api/v1/buildings/{building_id}"
    assert client.get(url).json["version"] == 1
    response = client.patch(
        url, json={"committee_contact": "Comitato: 333 000", "expected_version": 1}
    )
    assert response.status_code == 200, response.json
    assert response.json["version"] == 2
    [(_, event)] = outbox(IntakeBuildingDoc, building_id)
    assert event.data["committee_contact"] == "Comitato: 333 000"
