"""intake's counters, slots and appointments on the real store: no slot is ever booked twice."""

# ruff: noqa: F811 - the fixtures are shared with the cases API tests

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient

from services.intake.adapters.documents import (
    IntakeAppointmentDoc,
    IntakeAppointmentRefDoc,
    IntakeSlotClaimDoc,
)
from services.intake.adapters.privacy import PrivacyStore
from services.intake.entrypoints.privacy import held_about
from shared.events import decode
from shared.outbox import event_text
from tests.integration.test_intake_cases_api import (  # noqa: F401 - fixtures
    app,
    building_id,
    case_body,
    client,
    register_tenant,
    tenant_id,
)

ROME = ZoneInfo("Europe/Rome")
BOOKED = "it.mm.sportello.intake.appointment.booked.v1"
RESCHEDULED = "it.mm.sportello.intake.appointment.rescheduled.v1"
CANCELLED = "it.mm.sportello.intake.appointment.cancelled.v1"
HOME_VISIT = "it.mm.sportello.intake.home_visit.requested.v1"


def first_opening() -> date:
    """A Tuesday at least a week ahead: every slot of the tests is in the future."""
    today = datetime.now(ROME).date()
    return today + timedelta(days=(1 - today.weekday()) % 7 + 7)


@pytest.fixture
def counter(client: FlaskClient, building_id: str) -> dict:
    response = client.post(
        "/api/v1/counters",
        json={
            "name": "Sportello Giuffrè-Villani",
            "kind": "itinerante",
            "building_id": building_id,
            "room": "Laboratorio Sociale",
            "schedules": [
                {
                    "weekday": 1,
                    "start": "14:00",
                    "end": "17:00",
                    "slot_minutes": 30,
                    "every_weeks": 2,
                    "starts_on": first_opening().isoformat(),
                }
            ],
            "operators": ["operatore.rossi", "operatore.bianchi"],
        },
    )
    assert response.status_code == 201, response.json
    return response.json


def slots(client: FlaskClient, counter_id: str, days: int = 20) -> list[dict]:
    first = first_opening()
    response = client.get(
        f"/api/v1/counters/{counter_id}/slots",
        query_string={"from": first.isoformat(), "to": (first + timedelta(days=days)).isoformat()},
    )
    assert response.status_code == 200, response.json
    return response.json


def meeting(tenant: str, counter_id: str, starts_at: str, **overrides: object) -> dict:
    body = {
        "kind": "incontro",
        "tenant_ids": [tenant],
        "counter_id": counter_id,
        "starts_at": starts_at,
        "booked_by": "operatore.rossi",
    }
    body.update(overrides)
    return body


def outbox(appointment_id: str) -> list:
    doc = IntakeAppointmentDoc.objects.get(id=appointment_id)
    return [(r["key"], decode(event_text(r, "intake").encode())) for r in doc.outbox]


def test_a_counter_every_second_tuesday_offers_its_slots(client, counter) -> None:
    offered = slots(client, counter["id"])
    days = sorted({s["starts_at"][:10] for s in offered})
    first = first_opening()
    assert days == [first.isoformat(), (first + timedelta(days=14)).isoformat()]
    assert len(offered) == 12 and all(s["available"] for s in offered)
    assert offered[0]["starts_at"].startswith(f"{first.isoformat()}T14:00:00")
    assert client.get(f"/api/v1/counters/{counter['id']}").json == counter
    listed = client.get("/api/v1/counters", query_string={"building_id": counter["building_id"]})
    assert listed.headers["X-Total-Count"] == "1"


def test_invalid_counters_and_slot_queries_are_refused(client, building_id, counter) -> None:
    bad = client.post(
        "/api/v1/counters",
        json={
            "name": "X",
            "kind": "volante",
            "building_id": building_id,
            "room": "Sala",
            "schedules": [{"weekday": 9, "start": "25:00", "end": "17:00", "every_weeks": 2}],
        },
    )
    assert bad.status_code == 422
    errors = bad.json["errors"]["json"]
    assert "kind" in errors
    assert {"weekday", "start", "starts_on"} <= set(errors["schedules"]["0"])
    backwards = client.post(
        "/api/v1/counters",
        json={
            "name": "X",
            "kind": "fisso",
            "building_id": building_id,
            "room": "Sala",
            "schedules": [{"weekday": 1, "start": "17:00", "end": "14:00"}],
        },
    )
    assert backwards.status_code == 422
    assert backwards.json["details"]["field"] == "schedules.0.end"
    nowhere = client.post(
        "/api/v1/counters",
        json={
            "name": "X",
            "kind": "fisso",
            "building_id": "bld_nope",
            "room": "Sala",
            "schedules": [{"weekday": 1, "start": "14:00", "end": "17:00"}],
        },
    )
    assert nowhere.status_code == 404
    url = f"/api/v1/counters/{counter['id']}/slots"
    too_long = client.get(url, query_string={"from": "2027-01-01", "to": "2027-12-31"})
    assert too_long.status_code == 422
    assert client.get(url).json["errors"]["query"].keys() == {"from", "to"}
    assert (
        client.get(
            "/api/v1/counters/ctr_nope/slots",
            query_string={"from": "2027-01-01", "to": "2027-01-02"},
        ).status_code
        == 404
    )


def test_booking_a_slot_publishes_and_a_second_booking_is_409(
    client, building_id, counter, tenant_id
) -> None:
    slot = slots(client, counter["id"])[0]
    response = client.post(
        "/api/v1/appointments", json=meeting(tenant_id, counter["id"], slot["starts_at"])
    )
    assert response.status_code == 201, response.json
    appointment = response.json
    assert appointment["location"] == "Laboratorio Sociale"
    assert appointment["building_id"] == building_id
    [(key, event)] = outbox(appointment["id"])
    assert key == tenant_id  # no case yet: keyed by the tenant
    assert event.type == BOOKED
    assert event.data["counter_id"] == counter["id"]
    assert slots(client, counter["id"])[0]["available"] is False

    other = register_tenant(client, building_id, n=7)["id"]
    again = client.post(
        "/api/v1/appointments", json=meeting(other, counter["id"], slot["starts_at"])
    )
    assert again.status_code == 409
    assert again.json["code"] == "slot_taken"
    assert IntakeAppointmentDoc.objects.count() == 1


def test_concurrent_bookings_of_one_slot_give_it_to_exactly_one(
    app, client, building_id, counter
) -> None:
    slot = slots(client, counter["id"])[3]
    tenants = [register_tenant(client, building_id, n=20 + i)["id"] for i in range(6)]
    statuses: list[int] = []
    barrier = threading.Barrier(len(tenants))

    def book(tenant: str) -> None:
        c = app.test_client()
        barrier.wait()
        r = c.post("/api/v1/appointments", json=meeting(tenant, counter["id"], slot["starts_at"]))
        statuses.append(r.status_code)

    threads = [threading.Thread(target=book, args=(t,)) for t in tenants]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201] + [409] * 5
    assert IntakeAppointmentDoc.objects.count() == 1


def test_a_time_that_is_not_a_slot_is_422(client, counter, tenant_id) -> None:
    first = first_opening()
    off_grid = datetime(first.year, first.month, first.day, 14, 10, tzinfo=ROME).isoformat()
    off_week = datetime(first.year, first.month, first.day, 14, tzinfo=ROME) + timedelta(days=7)
    for starts_at in (off_grid, off_week.isoformat()):
        response = client.post(
            "/api/v1/appointments", json=meeting(tenant_id, counter["id"], starts_at)
        )
        assert response.status_code == 422
        assert response.json["code"] == "not_a_slot"
    naive = client.post(
        "/api/v1/appointments", json=meeting(tenant_id, counter["id"], "2030-01-01T14:00:00")
    )
    assert naive.status_code == 422
    assert "starts_at" in naive.json["errors"]["json"]


def test_reschedule_moves_the_claim_and_cancel_frees_the_slot(
    client, building_id, counter, tenant_id
) -> None:
    first, second, third = slots(client, counter["id"])[:3]
    booked = client.post(
        "/api/v1/appointments", json=meeting(tenant_id, counter["id"], first["starts_at"])
    ).json
    other = register_tenant(client, building_id, n=8)["id"]
    taken = client.post(
        "/api/v1/appointments", json=meeting(other, counter["id"], third["starts_at"])
    )
    assert taken.status_code == 201

    url = f"/api/v1/appointments/{booked['id']}"
    moved = client.post(
        f"{url}/reschedule",
        json={
            "starts_at": second["starts_at"],
            "reason": "visita medica",
            "actor": "operatore.rossi",
        },
    )
    assert moved.status_code == 200, moved.json
    assert (
        moved.json["starts_at"]
        == datetime.fromisoformat(second["starts_at"]).astimezone(UTC).isoformat()
    )
    available = {s["starts_at"]: s["available"] for s in slots(client, counter["id"])}
    assert available[first["starts_at"]] is True
    assert available[second["starts_at"]] is False
    event = outbox(booked["id"])[-1][1]
    assert event.type == RESCHEDULED
    assert event.data["reason"] == "visita medica"
    assert event.data["previous_starts_at"] == datetime.fromisoformat(first["starts_at"])

    onto_taken = client.post(
        f"{url}/reschedule",
        json={"starts_at": third["starts_at"], "reason": "preferenza", "actor": "operatore.rossi"},
    )
    assert onto_taken.status_code == 409
    assert onto_taken.json["code"] == "slot_taken"
    no_reason = client.post(
        f"{url}/reschedule", json={"starts_at": first["starts_at"], "actor": "op"}
    )
    assert no_reason.status_code == 422
    assert no_reason.json["errors"]["json"]["reason"] == ["Campo obbligatorio."]

    cancelled = client.post(f"{url}/cancel", json={"reason": "trasloco", "actor": "op"})
    assert cancelled.status_code == 200
    assert (cancelled.json["status"], cancelled.json["cancel_reason"]) == ("annullato", "trasloco")
    event = outbox(booked["id"])[-1][1]
    assert (event.type, event.data["reason"], event.data["status"]) == (
        CANCELLED,
        "trasloco",
        "annullato",
    )
    again = client.post(f"{url}/cancel", json={"reason": "trasloco", "actor": "op"})
    assert again.status_code == 409
    # The freed slot can be booked by someone else.
    rebook = client.post(
        "/api/v1/appointments", json=meeting(other, counter["id"], second["starts_at"])
    )
    assert rebook.status_code == 201, rebook.json
    assert (
        client.post(
            "/api/v1/appointments/apt_nope/cancel", json={"reason": "boh boh", "actor": "op"}
        ).status_code
        == 404
    )


def test_a_home_visit_for_a_case_requests_the_visit_keyed_by_the_case(
    client, building_id, tenant_id
) -> None:
    case = client.post(
        "/api/v1/cases", json=case_body(tenant_id, building_id, needs=["riscaldamento_comfort"])
    ).json
    when = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    response = client.post(
        "/api/v1/appointments",
        json={
            "kind": "sopralluogo",
            "case_id": case["id"],
            "starts_at": when.isoformat(),
            "notes": "Muffa in camera da letto",
            "booked_by": "operatore.rossi",
        },
    )
    assert response.status_code == 201, response.json
    visit = response.json
    assert visit["tenant_ids"] == [tenant_id]
    assert visit["location"] == "alloggio Scala A, int. 3"
    events = outbox(visit["id"])
    assert [e.type for _, e in events] == [BOOKED, HOME_VISIT]
    assert {key for key, _ in events} == {case["id"]}
    requested = events[1][1].data
    assert requested["building"]["custodians"][0]["email"] == "custodia@example.org"
    assert requested["reason"] == "Muffa in camera da letto"
    assert requested["requested_for"] == when


def test_a_group_session_gathers_attendees(client, building_id, counter) -> None:
    attendees = [register_tenant(client, building_id, n=30 + i)["id"] for i in range(3)]
    when = (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0)
    response = client.post(
        "/api/v1/appointments",
        json={
            "kind": "incontro_plenario",
            "tenant_ids": attendees,
            "counter_id": counter["id"],
            "starts_at": when.isoformat(),
            "booked_by": "operatore.bianchi",
        },
    )
    assert response.status_code == 201, response.json
    session = response.json
    assert session["tenant_ids"] == attendees
    assert datetime.fromisoformat(session["ends_at"]) - when == timedelta(hours=2)
    [(key, event)] = outbox(session["id"])
    assert key == attendees[0] and event.data["kind"] == "incontro_plenario"
    by_tenant = client.get("/api/v1/appointments", query_string={"tenant_id": attendees[1]})
    assert [a["id"] for a in by_tenant.json] == [session["id"]]
    assert by_tenant.headers["X-Total-Count"] == "1"


def test_unknown_people_and_things_are_404_and_bad_bodies_422(client, counter, tenant_id) -> None:
    slot = slots(client, counter["id"])[0]["starts_at"]
    assert (
        client.post(
            "/api/v1/appointments", json=meeting("ten_nope", counter["id"], slot)
        ).status_code
        == 404
    )
    assert (
        client.post("/api/v1/appointments", json=meeting(tenant_id, "ctr_nope", slot)).status_code
        == 404
    )
    no_case = client.post(
        "/api/v1/appointments", json=meeting(tenant_id, counter["id"], slot, case_id="case_nope")
    )
    assert no_case.status_code == 404
    bad = client.post("/api/v1/appointments", json={"kind": "aperitivo", "colour": "red"})
    assert bad.status_code == 422
    assert set(bad.json["errors"]["json"]) == {"kind", "colour", "starts_at", "booked_by"}
    two = client.post(
        "/api/v1/appointments",
        json=meeting(tenant_id, counter["id"], slot, tenant_ids=[tenant_id, "ten_x"]),
    )
    assert two.status_code in (404, 422)
    assert client.get("/api/v1/appointments/apt_nope").status_code == 404
    huge = client.post("/api/v1/appointments", json={"notes": "x" * 70_000})
    assert huge.status_code == 413


@pytest.mark.parametrize(("age_s", "status"), [(5, 409), (600, 201)])
def test_a_claim_whose_booking_never_landed_is_taken_over_after_the_grace(
    client, counter, tenant_id, age_s: int, status: int
) -> None:
    # A process took the slot and died before storing its appointment (INTAKE_CLAIM_GRACE_S=60).
    slot = slots(client, counter["id"])[0]["starts_at"]
    key = f"{counter['id']}:{datetime.fromisoformat(slot).astimezone(UTC).isoformat()}"
    IntakeSlotClaimDoc._get_collection().insert_one(
        {
            "_id": key,
            "appointment_id": "apt_lost",
            "claimed_at": datetime.now(UTC) - timedelta(seconds=age_s),
        }
    )
    response = client.post("/api/v1/appointments", json=meeting(tenant_id, counter["id"], slot))
    assert response.status_code == status, response.json
    holder = IntakeSlotClaimDoc._get_collection().find_one({"_id": key})["appointment_id"]
    assert holder == (response.json["id"] if status == 201 else "apt_lost")


def test_a_claim_left_by_a_cancelled_appointment_is_taken_over_at_once(
    client, building_id, counter, tenant_id
) -> None:
    slot = slots(client, counter["id"])[0]["starts_at"]
    first = client.post("/api/v1/appointments", json=meeting(tenant_id, counter["id"], slot)).json
    key = f"{counter['id']}:{datetime.fromisoformat(slot).astimezone(UTC).isoformat()}"
    claim = IntakeSlotClaimDoc._get_collection().find_one({"_id": key})
    cancelled = client.post(
        f"/api/v1/appointments/{first['id']}/cancel", json={"reason": "trasloco", "actor": "op"}
    )
    assert cancelled.status_code == 200
    # As if the process had died after cancelling and before freeing the slot.
    IntakeSlotClaimDoc._get_collection().insert_one(claim)
    other = register_tenant(client, building_id, n=11)["id"]
    response = client.post("/api/v1/appointments", json=meeting(other, counter["id"], slot))
    assert response.status_code == 201, response.json


def test_a_tenants_appointments_are_found_by_their_entries(
    app, client, building_id, counter
) -> None:
    deps = app.extensions["sportello.bus"].deps
    refs = deps.appointments.refs
    alone, *others = [register_tenant(client, building_id, n=40 + i)["id"] for i in range(3)]
    when = (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0)

    def session(tenants: list[str], days: int) -> str:
        body = meeting(tenants[0], counter["id"], (when + timedelta(days=days)).isoformat())
        response = client.post(
            "/api/v1/appointments",
            json={**body, "kind": "incontro_plenario", "tenant_ids": tenants},
        )
        assert response.status_code == 201, response.json
        return response.json["id"]

    later, sooner = session([alone, *others], 2), session([alone], 1)
    entries = IntakeAppointmentRefDoc._get_collection()
    written = {e["_id"] for e in entries.find({})}
    assert written == {f"t:{t}:{later}" for t in [alone, *others]} | {f"t:{alone}:{sooner}"}

    def found(tenant: str) -> set[str]:
        return {d["_id"] for d in refs.of_tenant(tenant, {"tenant_ids": 1})}

    # Not backfilled yet: the query finds them. Appointments stored before the entries
    # existed get the same entries from the backfill.
    assert not refs.backfills.done()
    assert found(alone) == {later, sooner} and found(others[0]) == {later}
    entries.delete_many({})
    assert refs.backfill(datetime.now(UTC)) == 2 and refs.backfills.done()
    assert {e["_id"] for e in entries.find({})} == written
    # From the entries now: one naming an appointment without the tenant is skipped, a
    # missing one is an appointment not found (what shows the source).
    entries.insert_one({"_id": f"t:{others[1]}:{sooner}", "appointment_id": sooner})
    assert found(others[1]) == {later}
    entries.delete_one({"_id": f"t:{others[0]}:{later}"})
    assert found(others[0]) == set()
    entries.insert_one({"_id": f"t:{others[0]}:{later}", "appointment_id": later})
    # The export lists them in time order.
    exported = held_about(deps, alone)["appointments"]
    assert [a["id"] for a in exported] == [sooner, later]
    # The erasure takes the tenant out of both and drops their entries; the others stay.
    assert PrivacyStore(deps.appointments.topic).anonymise_appointments(alone) == 2
    assert found(alone) == set() and found(others[0]) == {later}
    assert not [e["_id"] for e in entries.find({}) if e["_id"].startswith(f"t:{alone}:")]
    assert IntakeAppointmentDoc.objects.get(id=later).tenant_ids == others
