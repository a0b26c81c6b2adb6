"""At the counter, end to end: an operator registers a tenant, books a meeting and opens a case.

The real processes run (gunicorn API, the intake worker's outbox relay) against the real broker:
every expected event is on Kafka, keyed as the contracts say, with a schema-valid payload.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from deploy.system import System
from shared.events import decode
from tests.e2e.conftest import Api
from tests.support import read_topic

PREFIX = "it.mm.sportello.intake."


def next_tuesday() -> str:
    today = datetime.now(ZoneInfo("Europe/Rome")).date()
    return (today + timedelta(days=(1 - today.weekday()) % 7 + 7)).isoformat()


def created(response) -> dict:
    assert response.status_code == 201, response.text
    return response.json()


def test_tenant_meeting_and_case_reach_kafka_with_their_keys(
    system: System, apis: dict[str, Api], environ: dict[str, str]
) -> None:
    intake = apis["intake"]
    building = created(
        intake.post(
            "/api/v1/buildings",
            json={
                "name": "Complesso Giuffrè-Villani",
                "address": "via Giuffrè 8 – via Villani 3, Milano",
                "municipio": 9,
                "custodians": [{"name": "Custodia Giuffrè", "email": "custodia@example.org"}],
            },
        )
    )
    counter = created(
        intake.post(
            "/api/v1/counters",
            json={
                "name": "Sportello itinerante Giuffrè-Villani",
                "kind": "itinerante",
                "building_id": building["id"],
                "room": "Laboratorio Sociale MM",
                "schedules": [
                    {
                        "weekday": 1,
                        "start": "14:00",
                        "end": "17:00",
                        "every_weeks": 2,
                        "starts_on": next_tuesday(),
                    }
                ],
            },
        )
    )
    tenant = created(
        intake.post(
            "/api/v1/tenants",
            json={
                "building_id": building["id"],
                "apartment": "Scala B, int. 12",
                "first_name": "Anna",
                "last_name": "Bianchi",
                "fiscal_code": "BNCLRA70C41F205I",
                "phone": "+39 333 7654321",
                "preferred_language": "it",
                "consents": [{"channel": "sms", "granted": True, "recorded_by": "op.rossi"}],
            },
        )
    )
    slot = intake.get(
        f"/api/v1/counters/{counter['id']}/slots",
        params={"from": next_tuesday(), "to": next_tuesday()},
    ).json()[0]
    meeting = created(
        intake.post(
            "/api/v1/appointments",
            json={
                "kind": "incontro",
                "tenant_ids": [tenant["id"]],
                "counter_id": counter["id"],
                "starts_at": slot["starts_at"],
                "booked_by": "op.rossi",
            },
        )
    )
    case_body = {
        "tenant_id": tenant["id"],
        "counter_id": counter["id"],
        "needs": ["lettura_bollette", "morosita"],
        "opened_by": "op.rossi",
        "disconnection_date": (datetime.now(UTC).date() + timedelta(days=20)).isoformat(),
        "hardship_signals": ["perdita_lavoro"],
        "bills": [
            {
                "supplier": "A2A Energia",
                "commodity": "luce",
                "period_start": "2026-09-01",
                "period_end": "2026-10-31",
                "pod": "IT001E12345678",
                "amount_cents": 18450,
                "arrears_cents": 36900,
            }
        ],
    }
    # Flaky wifi: the tablet sends the same request twice with one Idempotency-Key.
    headers = {"Idempotency-Key": "tablet-3:42"}
    case = created(intake.post("/api/v1/cases", json=case_body, headers=headers))
    assert intake.post("/api/v1/cases", json=case_body, headers=headers).json() == case

    expected = {
        (PREFIX + "tenant.registered.v1", tenant["id"]),
        (PREFIX + "tenant.consent_changed.v1", tenant["id"]),
        (PREFIX + "appointment.booked.v1", tenant["id"]),
        (PREFIX + "case.opened.v1", case["id"]),
    }

    def seen(records: list) -> set:
        return {(decode(r.value).type, r.key.decode()) for r in records}

    records = read_topic(
        environ["KAFKA_BOOTSTRAP_SERVERS"],
        f"{environ['SPORTELLO_TOPIC_PREFIX']}.intake",
        lambda rs: expected <= seen(rs),
        timeout_s=30,
    )
    events = {decode(r.value).type: decode(r.value) for r in records}
    assert events[PREFIX + "tenant.registered.v1"].data["phone"] == "+393337654321"
    assert events[PREFIX + "tenant.registered.v1"].data["consents"][0]["channel"] == "sms"
    assert events[PREFIX + "appointment.booked.v1"].data["appointment_id"] == meeting["id"]
    opened = events[PREFIX + "case.opened.v1"].data
    assert opened["urgent"] is True
    assert opened["counter_id"] == counter["id"]
    assert opened["bills"][0]["arrears_cents"] == 36900
    assert opened["building"]["custodians"][0]["email"] == "custodia@example.org"
    # One case, one case.opened: the replay did not open a second one.
    opened_events = [r for r in records if decode(r.value).type == PREFIX + "case.opened.v1"]
    assert len({decode(r.value).data["case_id"] for r in opened_events}) == 1
