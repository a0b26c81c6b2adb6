"""intake's worker on the real broker and store: it relays intake's outbox and applies casework's
``case.closed``, which frees the tenant's needs for a new case (idempotently)."""

# ruff: noqa: F811 - the fixtures are shared with the cases API tests

from __future__ import annotations

import threading
from datetime import UTC, datetime

from services.intake.adapters.documents import IntakeCaseDoc, IntakeOpenCaseClaimDoc
from services.intake.entrypoints.worker import build_worker
from services.intake.service_layer.handlers import EVENT_HANDLERS
from shared.events import decode, encode, make_event
from shared.events.casework import CASE_CLOSED
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
