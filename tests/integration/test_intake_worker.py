"""intake's worker on the real broker and store: it relays intake's outbox and applies casework's
``case.closed`` and ``case.state_changed`` to ``archiviato``, which free the tenant's needs for a
new case (idempotently)."""

# ruff: noqa: F811 - the fixtures are shared with the cases API tests

from __future__ import annotations

import threading
from datetime import UTC, datetime

from services.intake.adapters.documents import IntakeCaseDoc, IntakeOpenCaseClaimDoc
from services.intake.entrypoints.worker import build_worker
from services.intake.service_layer.handlers import EVENT_HANDLERS
from services.intake.service_layer.privacy import PRIVACY_EVENT_HANDLERS
from shared.events import decode, encode, make_event
from shared.events.casework import CASE_ANONYMISED, CASE_CLOSED, CASE_STATE_CHANGED
from shared.kafka import EventProducer, dispatcher
from shared.outbox import HINTS
from tests.integration.test_intake_cases_api import (  # noqa: F401 - fixtures
    app,
    building_id,
    case_body,
    client,
    tenant_id,
)
from tests.support import read_topic, wait_for


def closed(case_id: str) -> bytes:
    data = {
        "case_id": case_id,
        "actor": "op.casework",
        "at": datetime.now(UTC).isoformat(),
        "outcome": "risolto",
    }
    return encode(make_event(CASE_CLOSED, case_id, data))


def state_changed(case_id: str, to_state: str = "archiviato", from_state: str = "aperto") -> bytes:
    data = {
        "case_id": case_id,
        "actor": "op.casework",
        "at": datetime.now(UTC).isoformat(),
        "from_state": from_state,
        "to_state": to_state,
        "reason": "Inquilino non più reperibile",
    }
    return encode(make_event(CASE_STATE_CHANGED, case_id, data))


def anonymised(case_id: str) -> bytes:
    data = {"case_id": case_id, "actor": "sistema", "at": datetime.now(UTC).isoformat()}
    return encode(make_event(CASE_ANONYMISED, case_id, data))


def test_a_closed_case_frees_its_needs_even_when_redelivered(
    app, client, building_id, tenant_id
) -> None:
    case = client.post("/api/v1/cases", json=case_body(tenant_id, building_id)).json
    assert client.post("/api/v1/cases", json=case_body(tenant_id, building_id)).status_code == 409
    apply = dispatcher(EVENT_HANDLERS, app.extensions["sportello.bus"].deps)
    event = decode(closed(case["id"]))
    for _ in range(3):
        apply(event, [])
    assert client.get(f"/api/v1/cases/{case['id']}").json["status"] == "chiuso"
    assert IntakeOpenCaseClaimDoc.objects.count() == 0
    again = client.post("/api/v1/cases", json=case_body(tenant_id, building_id))
    assert again.status_code == 201, again.json
    listed = client.get("/api/v1/cases", query_string={"status": "chiuso"}).json
    assert [c["id"] for c in listed] == [case["id"]]
    # A case intake never opened is none of its business.
    apply(decode(closed("case_elsewhere")), [])


def test_an_archived_case_frees_its_needs_even_when_redelivered(
    app, client, building_id, tenant_id
) -> None:
    case = client.post("/api/v1/cases", json=case_body(tenant_id, building_id)).json
    apply = dispatcher(EVENT_HANDLERS, app.extensions["sportello.bus"].deps)
    # A move that does not end the case keeps it open here, and its need taken.
    apply(decode(state_changed(case["id"], "in_valutazione")), [])
    assert client.get(f"/api/v1/cases/{case['id']}").json["status"] == "aperto"
    assert client.post("/api/v1/cases", json=case_body(tenant_id, building_id)).status_code == 409
    event = decode(state_changed(case["id"], "archiviato", "in_valutazione"))
    for _ in range(3):
        apply(event, [])
    assert client.get(f"/api/v1/cases/{case['id']}").json["status"] == "archiviato"
    assert IntakeOpenCaseClaimDoc.objects.count() == 0
    again = client.post("/api/v1/cases", json=case_body(tenant_id, building_id))
    assert again.status_code == 201, again.json
    # Redelivered after the new case was opened: the new case keeps its claim.
    apply(event, [])
    third = client.post("/api/v1/cases", json=case_body(tenant_id, building_id))
    assert third.status_code == 409
    assert third.json["details"]["existing_case_id"] == again.json["id"]
    listed = client.get("/api/v1/cases", query_string={"status": "archiviato"}).json
    assert [c["id"] for c in listed] == [case["id"]]
    apply(decode(state_changed("case_elsewhere")), [])


def test_a_case_anonymised_by_retention_gives_its_needs_back(
    app, client, building_id, tenant_id
) -> None:
    # A case archived before intake followed archiving is still open here: casework anonymises
    # only ended cases, so its retention frees the tenant's needs at the latest.
    case = client.post("/api/v1/cases", json=case_body(tenant_id, building_id)).json
    apply = dispatcher(
        EVENT_HANDLERS | PRIVACY_EVENT_HANDLERS, app.extensions["sportello.bus"].deps
    )
    event = decode(anonymised(case["id"]))
    for _ in range(2):
        apply(event, [])
    assert IntakeOpenCaseClaimDoc.objects.count() == 0
    again = client.post("/api/v1/cases", json=case_body(tenant_id, building_id))
    assert again.status_code == 201, again.json


def test_the_worker_consumes_an_archived_case_once_whatever_the_redeliveries(
    app, client, building_id, tenant_id
) -> None:
    settings = app.extensions["sportello.settings"]
    case = client.post("/api/v1/cases", json=case_body(tenant_id, building_id)).json
    assert client.post("/api/v1/cases", json=case_body(tenant_id, building_id)).status_code == 409
    archive = state_changed(case["id"])
    worker = build_worker(settings)
    thread = threading.Thread(target=worker.run, name="intake-worker")
    thread.start()
    producer = EventProducer(settings.kafka_bootstrap_servers)
    try:
        producer.send(settings.topic("casework"), case["id"], archive)
        wait_for(
            lambda: IntakeCaseDoc.objects.get(id=case["id"]).status == "archiviato",
            timeout_s=30,
            what="case archived by the worker",
        )
        archived_at = IntakeCaseDoc.objects.get(id=case["id"]).closed_at
        again = client.post("/api/v1/cases", json=case_body(tenant_id, building_id))
        assert again.status_code == 201, again.json
        # The same record again (a relay that published twice), then retention's event for the
        # case: same key, same partition, so once that one is applied the redelivery was too.
        producer.send(settings.topic("casework"), case["id"], archive)
        producer.send(settings.topic("casework"), case["id"], anonymised(case["id"]))
        wait_for(
            lambda: IntakeCaseDoc.objects.get(id=case["id"]).tenant_id == "anonimizzato",
            timeout_s=30,
            what="the events after the redelivery applied",
        )
    finally:
        producer.close()
        worker.stop()
        thread.join(timeout=30)
    assert not thread.is_alive()
    old = IntakeCaseDoc.objects.get(id=case["id"])
    assert (old.status, old.closed_at) == ("archiviato", archived_at)
    assert IntakeCaseDoc.objects.get(id=again.json["id"]).status == "aperto"
    duplicate = client.post("/api/v1/cases", json=case_body(tenant_id, building_id))
    assert duplicate.status_code == 409
    assert duplicate.json["details"]["existing_case_id"] == again.json["id"]


def test_the_worker_relays_intake_events_and_consumes_case_closed(
    app, client, building_id, tenant_id, settings_for
) -> None:
    settings = app.extensions["sportello.settings"]
    case = client.post("/api/v1/cases", json=case_body(tenant_id, building_id)).json
    worker = build_worker(settings)
    thread = threading.Thread(target=worker.run, name="intake-worker")
    thread.start()
    try:
        records = read_topic(
            settings.kafka_bootstrap_servers,
            settings.topic("intake"),
            lambda rs: {case["id"], tenant_id} <= {r.key.decode() for r in rs},
            timeout_s=30,
        )
        # case.opened keyed by the case, the tenant's events by the tenant.
        types = {(decode(r.value).type.split(".")[-2], r.key.decode()) for r in records}
        assert ("opened", case["id"]) in types and ("registered", tenant_id) in types
        hints = IntakeCaseDoc._get_db()[HINTS]
        wait_for(lambda: not hints.count_documents({"doc_id": case["id"]}), what="outbox sent")

        producer = EventProducer(settings.kafka_bootstrap_servers)
        try:
            producer.send(settings.topic("casework"), case["id"], closed(case["id"]))
        finally:
            producer.close()
        wait_for(
            lambda: IntakeCaseDoc.objects.get(id=case["id"]).status == "chiuso",
            timeout_s=30,
            what="case closed by the worker",
        )
    finally:
        worker.stop()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert client.post("/api/v1/cases", json=case_body(tenant_id, building_id)).status_code == 201
