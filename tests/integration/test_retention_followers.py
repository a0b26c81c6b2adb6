"""Retention followed by every service: when casework anonymises a closed case
(``casework.case.anonymised``), intake's copy of the case and notifications' messages about it are
anonymised too, and what counts for statistics stays."""

# ruff: noqa: F811 - the fixtures are shared with the cases API tests

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.intake.service_layer.handlers import EVENT_HANDLERS as INTAKE_HANDLERS
from services.intake.service_layer.privacy import PRIVACY_EVENT_HANDLERS
from services.notifications.service_layer.handlers import EVENT_HANDLERS as NOTIFY_HANDLERS
from services.notifications.service_layer.handlers import on_cases_anonymised
from shared.events import casework as cw
from shared.events import decode, encode, make_event
from shared.events import intake as ik
from shared.kafka import dispatcher
from tests.integration.test_audit_trail import other_apps  # noqa: F401 - fixture
from tests.integration.test_intake_cases_api import (  # noqa: F401 - fixtures
    app,
    building_id,
    case_body,
    client,
    tenant_id,
)
from tests.unit.test_notifications_rules import case_opened


def anonymised(case_id: str) -> object:
    """casework's event, through the wire format as a consumer gets it."""
    data = {"case_id": case_id, "actor": "sistema", "at": datetime.now(UTC).isoformat()}
    return decode(encode(make_event(cw.CASE_ANONYMISED, case_id, data)))


def notifications_with_cases(other_apps, case_ids: list[str]) -> tuple[Any, Any]:
    """notifications' dependencies and event handler, once it has heard of these cases opened
    (each one's custode told)."""
    _, notifications = other_apps
    deps = notifications.extensions["sportello.bus"].deps
    handle = dispatcher(NOTIFY_HANDLERS, deps)
    for case_id in case_ids:
        data = {**case_opened(), "case_id": case_id}
        handle(decode(encode(make_event(ik.CASE_OPENED, case_id, data))), [])
    return deps, handle


def test_intake_anonymises_its_copy_of_a_case_casework_anonymised(
    app, client, building_id, tenant_id
) -> None:
    body = case_body(tenant_id, building_id, description="Malattia e debiti", isee_band="fino_9530")
    case = client.post("/api/v1/cases", json=body)
    assert case.status_code == 201, case.json
    handle = dispatcher(
        INTAKE_HANDLERS | PRIVACY_EVENT_HANDLERS, app.extensions["sportello.bus"].deps
    )
    event = anonymised(case.json["id"])
    handle(event, [])
    handle(event, [])  # redelivered: no second effect, no error
    after = client.get(f"/api/v1/cases/{case.json['id']}").json
    assert after["tenant_id"] == "anonimizzato"
    assert after["description"] == "" and after["isee_band"] is None
    assert after["needs"] == case.json["needs"] and after["building_id"] == building_id
    assert after["opened_at"] == case.json["opened_at"]


def test_notifications_anonymise_the_messages_about_a_case_casework_anonymised(
    other_apps,
) -> None:
    deps, handle = notifications_with_cases(other_apps, ["case_1"])
    collection = deps.notifications.database.notifications
    [message] = list(collection.find({"case_id": "case_1"}))
    assert "Saint Bon" in message["text"] and message["status"] == "creata"
    handle(anonymised("case_1"), [])
    [message] = list(collection.find({"case_id": "case_1"}))
    assert message["text"] == message["html"] == message["subject"] == ""
    assert message["status"] == "annullata"  # an emptied message never goes out
    assert message["rule"] == "caso_aperto"  # what was sent to whom stays, for statistics


def test_a_retention_pass_in_bulk_anonymises_the_messages_of_every_case_in_the_run(
    other_apps,
) -> None:
    deps, _ = notifications_with_cases(other_apps, [f"case_{n}" for n in range(5)])
    run = [anonymised(f"case_{n}") for n in range(4)]
    assert on_cases_anonymised([*run, run[0]], deps) == {e.id for e in run}  # one redelivered
    collection = deps.notifications.database.notifications
    by_case = {m["case_id"]: m for m in collection.find({})}
    for n in range(4):
        assert by_case[f"case_{n}"]["text"] == "" and by_case[f"case_{n}"]["status"] == "annullata"
    assert "Saint Bon" in by_case["case_4"]["text"]  # not in the run: untouched
    assert by_case["case_4"]["status"] == "creata"
