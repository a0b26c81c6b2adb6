"""One event end to end: intake → real broker → casework's case file and notifications' record."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pymongo
import pytest

from deploy.system import System
from shared.crypto import FieldCipher, is_encrypted
from shared.events import decode
from tests.e2e.conftest import Api
from tests.support import read_topic, wait_for

ROOT = Path(__file__).resolve().parents[2]
BUILDING = {
    "name": "Complesso Giuffrè-Villani",
    "address": "via Giuffrè 8 – via Villani 3, Milano",
    "municipio": 9,
    "custodians": [{"name": "Custodia Giuffrè", "email": "custodia.giuffre@example.org"}],
}


def open_case(intake: Api) -> str:
    building = intake.post("/api/v1/buildings", json=BUILDING)
    assert building.status_code == 201, building.text
    # A case is opened for a registered tenant.
    tenant = intake.post(
        "/api/v1/tenants",
        json={
            "building_id": building.json()["id"],
            "first_name": "Mario",
            "last_name": "Rossi",
            "fiscal_code": "RSSMRA85T10A562S",
        },
    )
    assert tenant.status_code == 201, tenant.text
    case = intake.post(
        "/api/v1/cases",
        json={
            "tenant_id": tenant.json()["id"],
            "building_id": building.json()["id"],
            "channel": "sportello",
            "needs": ["lettura_bollette", "morosita"],
            "opened_by": "operatore.bianchi",
            "description": "Bolletta con conguaglio elevato.",
        },
    )
    assert case.status_code == 201, case.text
    return case.json()["id"]


def test_a_case_opened_at_intake_reaches_casework_and_notifications(
    system: System, apis, environ
) -> None:
    case_id = open_case(apis["intake"])

    # The event crossed the real broker, keyed by the case id, with a valid schema.
    topic = f"{environ['SPORTELLO_TOPIC_PREFIX']}.intake"
    records = read_topic(
        environ["KAFKA_BOOTSTRAP_SERVERS"],
        topic,
        lambda rs: any(r.key == case_id.encode() for r in rs),
    )
    event = decode(next(r for r in records if r.key == case_id.encode()).value)
    assert event.type == "it.mm.sportello.intake.case.opened.v1"
    assert event.data["case_id"] == case_id

    # casework's and notifications' own databases hold the effects.
    client = pymongo.MongoClient(environ["MONGODB_URI"])
    prefix = environ["SPORTELLO_DB_PREFIX"]
    try:
        case_file = wait_for(
            lambda: client[f"{prefix}_casework"].case_files.find_one({"_id": case_id}),
            what="case file in casework's database",
        )
        assert case_file["state"] == "aperto"
        assert case_file["source_event_id"] == event.id
        note = wait_for(
            lambda: client[f"{prefix}_notifications"].notifications.find_one({"case_id": case_id}),
            what="notification in notifications' database",
        )
        assert note["recipient"]["kind"] == "custode_sociale"
        # An email address is stored encrypted with notifications' key.
        address = note["recipient"]["address"]
        assert is_encrypted(address)
        cipher = FieldCipher(environ["FIELD_ENCRYPTION_KEYS"].split(","))
        assert cipher.decrypt(address) == "custodia.giuffre@example.org"
    finally:
        client.close()

    # And their APIs show them.
    assert apis["casework"].get(f"/api/v1/case-files/{case_id}").json()["state"] == "aperto"
    listed = apis["notifications"].get("/api/v1/notifications", params={"case_id": case_id})
    assert [n["case_id"] for n in listed.json()] == [case_id]


def readiness_failure(api: Api) -> dict | None:
    """The body of a 503 from ``/readyz``, or None while the service says it is ready."""
    response = api.get("/readyz")
    return response.json() if response.status_code == 503 else None


def broker(command: str) -> None:
    """Stop or start the local broker (infra.sh manages it only without KAFKA_BOOTSTRAP_SERVERS)."""
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    subprocess.run([str(ROOT / "deploy" / "infra.sh"), command, "kafka"], check=True, env=env)


def test_with_the_broker_down_readyz_names_kafka_and_events_flow_again_after(
    system: System, apis, environ, infra_is_local
) -> None:
    pids = system.status()
    broker("stop")
    try:
        for service, api in apis.items():
            body = wait_for(lambda api=api: readiness_failure(api), what=f"{service} not ready")
            assert "kafka" in body["message"], body
            assert body["details"]["checks"]["mongodb"] == "ok"
        # intake keeps accepting cases: the event waits in the outbox.
        case_id = open_case(apis["intake"])
    finally:
        broker("start")
    for api in apis.values():
        wait_for(
            lambda api=api: api.get("/readyz").status_code == 200, timeout_s=60, what="ready again"
        )
    assert wait_for(
        lambda: apis["casework"].get(f"/api/v1/case-files/{case_id}").status_code == 200,
        timeout_s=90,
        what="case file after the broker came back",
    )
    assert system.status() == pids, "a process died or was restarted during the outage"
    # Every process is still alive: nothing crash-looped.
    for pid in pids.values():
        assert pid is not None
        os.kill(pid, 0)


@pytest.fixture
def infra_is_local(infra) -> None:
    if not infra.local:
        pytest.skip("the broker is not run by deploy/infra.sh here, so it cannot be stopped")
