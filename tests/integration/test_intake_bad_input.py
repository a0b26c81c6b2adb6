"""Every write route of intake against bad input and retries, on the real store.

For each route: an unknown field is a 422 naming it (top level and inside a nested object), a
body over ``MAX_BODY_BYTES`` is a 413, both in the project's error shape; and a retry with the
same ``Idempotency-Key`` gets the first answer and does nothing twice, while the same key with
another body is refused (422 ``idempotency_key_reused``). The erasure request needs no key: asked
again, whatever the body, it answers with the first request (its documented behaviour).

One app and one isolated world for the whole module (it only adds data, each case its own), and
a test that fails when a write route is added without a row here.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from services.intake.entrypoints.app import create_app
from shared import mongo
from shared.outbox import HINTS
from shared.privacy import ERASURES
from tests.conftest import Infra, drop_isolated, isolated_environ, service_settings
from tests.integration.test_intake_cases_api import SAINT_BON, fiscal_code
from tests.support import authorize_app

ROME = ZoneInfo("Europe/Rome")
UNKNOWN = "campo_sconosciuto"
# What a write may leave behind: documents of every kind, and one outbox hint per staged event.
FOOTPRINT = (
    "buildings",
    "counters",
    "tenants",
    "appointments",
    "cases",
    "slot_bookings",
    "open_case_claims",
    "fiscal_code_claims",
    ERASURES,
    HINTS,
)


@dataclass
class World:
    """The module's app, with what the routes need and fresh things on demand."""

    app: Flask
    client: FlaskClient
    building_id: str
    counter_id: str
    slots: Iterator[str]
    numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1000))

    def tenant(self) -> str:
        """A newly registered tenant (fresh codice fiscale)."""
        body = {
            "building_id": self.building_id,
            "first_name": "Mario",
            "last_name": "Rossi",
            "fiscal_code": fiscal_code(next(self.numbers)),
        }
        response = self.client.post("/api/v1/tenants", json=body)
        assert response.status_code == 201, response.json
        return response.json["id"]

    def building(self) -> str:
        """A newly registered building."""
        response = self.client.post("/api/v1/buildings", json=SAINT_BON)
        assert response.status_code == 201, response.json
        return response.json["id"]

    def counter(self) -> str:
        """A newly registered counter of the module's building."""
        response = self.client.post("/api/v1/counters", json=counter_body(self.building_id))
        assert response.status_code == 201, response.json
        return response.json["id"]

    def meeting(self) -> str:
        """A newly booked meeting in a free slot of the counter."""
        response = self.client.post("/api/v1/appointments", json=self.booking("incontro"))
        assert response.status_code == 201, response.json
        return response.json["id"]

    def booking(self, kind: str) -> dict[str, Any]:
        """The body of a valid booking of ``kind``, at the next free slot of the counter."""
        body: dict[str, Any] = {
            "kind": kind,
            "tenant_ids": [self.tenant()],
            "starts_at": next(self.slots),
            "booked_by": "operatore.rossi",
        }
        if kind == "incontro":
            return {**body, "counter_id": self.counter_id}
        return {**body, "building_id": self.building_id}  # a home visit or a group session

    def footprint(self) -> dict[str, int]:
        """How many documents of each kind the store holds."""
        db = mongo.database("intake")
        return {name: db[name].count_documents({}) for name in FOOTPRINT}


@dataclass(frozen=True)
class Route:
    """A write route: how to call it with a valid body, and what another request looks like."""

    name: str
    method: str
    rule: str  # as in Flask's url_map
    url: Callable[[World], str]
    body: Callable[[World], dict[str, Any]]
    other: dict[str, Any]  # changes that make another valid request
    nested: tuple[str, str] | None = None  # (list, index) of a nested object in the body
    keyed: bool = True  # honours Idempotency-Key (else: idempotent by itself)


def counter_body(building_id: str, weekdays: range = range(1, 2)) -> dict[str, Any]:
    """A valid counter of ``building_id``, open 9:00–17:00 on ``weekdays`` (0 = Monday)."""
    return {
        "name": "Sportello Saint Bon",
        "kind": "fisso",
        "building_id": building_id,
        "room": "Sala comune",
        "schedules": [{"weekday": d, "start": "09:00", "end": "17:00"} for d in weekdays],
    }


def _case(world: World) -> dict[str, Any]:
    return {
        "tenant_id": world.tenant(),
        "building_id": world.building_id,
        "needs": ["lettura_bollette"],
        "opened_by": "operatore.rossi",
        "bills": [
            {
                "supplier": "A2A Energia",
                "commodity": "luce",
                "period_start": "2026-09-01",
                "period_end": "2026-10-31",
                "pod": "IT001E12345678",
                "amount_cents": 18450,
            }
        ],
    }


ROUTES = [
    Route(
        "buildings",
        "POST",
        "/api/v1/buildings",
        lambda w: "/api/v1/buildings",
        lambda w: SAINT_BON,
        {"name": "Complesso Giuffrè-Villani"},
        nested=("custodians", "0"),
    ),
    Route(
        "counters",
        "POST",
        "/api/v1/counters",
        lambda w: "/api/v1/counters",
        lambda w: counter_body(w.building_id),
        {"room": "Laboratorio Sociale"},
        nested=("schedules", "0"),
    ),
    Route(
        "building_update",
        "PATCH",
        "/api/v1/buildings/<building_id>",
        lambda w: f"/api/v1/buildings/{w.building()}",
        lambda w: {
            "custodians": [{"name": "Custode Villani", "email": "villani@example.org"}],
            "expected_version": 1,
        },
        {"works_notes": "Ponteggi fino a marzo"},
        nested=("custodians", "0"),
    ),
    Route(
        "counter_update",
        "PATCH",
        "/api/v1/counters/<counter_id>",
        lambda w: f"/api/v1/counters/{w.counter()}",
        lambda w: {
            "schedules": [{"weekday": 3, "start": "14:00", "end": "17:00"}],
            "expected_version": 1,
        },
        {"room": "Sala del Comitato"},
        nested=("schedules", "0"),
    ),
    Route(
        "tenants",
        "POST",
        "/api/v1/tenants",
        lambda w: "/api/v1/tenants",
        lambda w: {
            "building_id": w.building_id,
            "first_name": "Laura",
            "last_name": "Bianchi",
            "fiscal_code": fiscal_code(next(w.numbers)),
            "consents": [{"channel": "email", "granted": True, "recorded_by": "op.rossi"}],
        },
        {"first_name": "Luigi"},
        nested=("consents", "0"),
    ),
    Route(
        "tenant_update",
        "PATCH",
        "/api/v1/tenants/<tenant_id>",
        lambda w: f"/api/v1/tenants/{w.tenant()}",
        lambda w: {"phone": "+39 333 1234567", "expected_version": 1},
        {"phone": "+39 333 7654321"},
    ),
    Route(
        "consents",
        "POST",
        "/api/v1/tenants/<tenant_id>/consents",
        lambda w: f"/api/v1/tenants/{w.tenant()}/consents",
        lambda w: {"channel": "sms", "granted": True, "recorded_by": "operatore.rossi"},
        {"granted": False},
    ),
    Route(
        "meeting",
        "POST",
        "/api/v1/appointments",
        lambda w: "/api/v1/appointments",
        lambda w: w.booking("incontro"),
        {"notes": "Portare le bollette"},
    ),
    Route(
        "home_visit",
        "POST",
        "/api/v1/appointments",
        lambda w: "/api/v1/appointments",
        lambda w: w.booking("sopralluogo"),
        {"notes": "Muffa in camera"},
    ),
    Route(
        "group_session",
        "POST",
        "/api/v1/appointments",
        lambda w: "/api/v1/appointments",
        lambda w: w.booking("incontro_plenario"),
        {"location": "Sala del Comitato"},
    ),
    Route(
        "reschedule",
        "POST",
        "/api/v1/appointments/<appointment_id>/reschedule",
        lambda w: f"/api/v1/appointments/{w.meeting()}/reschedule",
        lambda w: {"starts_at": next(w.slots), "reason": "malattia", "actor": "operatore.rossi"},
        {"reason": "lavoro"},
    ),
    Route(
        "cancel",
        "POST",
        "/api/v1/appointments/<appointment_id>/cancel",
        lambda w: f"/api/v1/appointments/{w.meeting()}/cancel",
        lambda w: {"reason": "trasloco", "actor": "operatore.rossi"},
        {"reason": "ricovero"},
    ),
    Route(
        "cases",
        "POST",
        "/api/v1/cases",
        lambda w: "/api/v1/cases",
        _case,
        {"description": "Conguaglio elevato"},
        nested=("bills", "0"),
    ),
    Route(
        "erasure",
        "POST",
        "/api/v1/privacy/tenants/<tenant_id>/erasure",
        lambda w: f"/api/v1/privacy/tenants/{w.tenant()}/erasure",
        lambda w: {"reason": "richiesta scritta dell'interessato"},
        {"reason": "altra richiesta"},
        keyed=False,
    ),
]
BY_NAME = pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])


def free_slots(client: FlaskClient, counter_id: str) -> Iterator[str]:
    """The counter's slots from next week on, each handed out once."""
    first = datetime.now(ROME).date() + timedelta(days=7)
    response = client.get(
        f"/api/v1/counters/{counter_id}/slots",
        query_string={"from": first.isoformat(), "to": (first + timedelta(days=90)).isoformat()},
    )
    assert response.status_code == 200, response.json
    return iter([s["starts_at"] for s in response.json if s["available"]])


@pytest.fixture(scope="module")
def world(infra: Infra) -> Iterator[World]:
    environ = isolated_environ(infra)
    app = authorize_app(create_app(service_settings("intake", environ)))
    client = app.test_client()
    try:
        building_id = client.post("/api/v1/buildings", json=SAINT_BON).json["id"]
        counter = counter_body(building_id, weekdays=range(5))
        counter_id = client.post("/api/v1/counters", json=counter).json["id"]
        yield World(app, client, building_id, counter_id, free_slots(client, counter_id))
    finally:
        mongo.disconnect("intake")
        drop_isolated(infra, environ)


def send(world: World, route: Route, url: str, body: Any, **headers: str) -> Any:
    """Call ``route`` at ``url`` with ``body`` (JSON) and ``headers``."""
    return world.client.open(url, method=route.method, json=body, headers=headers)


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The answer is the project's error shape with ``status`` and ``code``; returns the body."""
    assert response.status_code == status, response.json
    body = response.json
    assert body["status"] == status and body["code"] == code
    assert body["message"] and body["correlation_id"]
    assert set(body) <= {"status", "code", "message", "errors", "details", "correlation_id"}
    return body


def test_every_write_route_of_intake_is_in_this_table(world: World) -> None:
    routes = {
        (method, rule.rule)
        for rule in world.app.url_map.iter_rules()
        for method in rule.methods or ()
        if method in {"POST", "PUT", "PATCH", "DELETE"}
    }
    assert routes == {(r.method, r.rule) for r in ROUTES}


@BY_NAME
def test_an_unknown_field_is_a_422_naming_it(world: World, route: Route) -> None:
    url, body = route.url(world), {**route.body(world), UNKNOWN: "x"}
    before = world.footprint()  # after the set-up (a tenant, a meeting) the request needs
    headers = {"Idempotency-Key": f"unknown-{route.name}"} if route.keyed else {}
    answer = assert_error(send(world, route, url, body, **headers), 422, "validation_error")
    assert answer["errors"]["json"][UNKNOWN] == ["Campo non previsto."]
    assert world.footprint() == before


@pytest.mark.parametrize("route", [r for r in ROUTES if r.nested], ids=lambda r: r.name)
def test_an_unknown_field_inside_a_nested_object_is_named_by_its_path(
    world: World, route: Route
) -> None:
    assert route.nested is not None
    container, index = route.nested
    url, body = route.url(world), route.body(world)
    body = {**body, container: [dict(item) for item in body[container]]}
    body[container][int(index)][UNKNOWN] = 1
    before = world.footprint()
    answer = assert_error(send(world, route, url, body), 422, "validation_error")
    assert answer["errors"]["json"][container][index][UNKNOWN] == ["Campo non previsto."]
    assert world.footprint() == before


@BY_NAME
def test_a_body_over_the_size_limit_is_a_413(world: World, route: Route) -> None:
    limit = world.app.extensions["sportello.settings"].max_body_bytes
    url, body = route.url(world), {**route.body(world), "notes": "x" * limit}
    before = world.footprint()
    # With a key too: the key's check reads the body, and must not read past the limit.
    for headers in ({}, {"Idempotency-Key": f"huge-{route.name}"}):
        assert_error(send(world, route, url, body, **headers), 413, "payload_too_large")
    assert world.footprint() == before


@BY_NAME
def test_a_retry_gets_the_first_answer_and_does_nothing_twice(world: World, route: Route) -> None:
    url, body = route.url(world), route.body(world)
    key = {"Idempotency-Key": f"tablet-3:{route.name}"} if route.keyed else {}
    first = send(world, route, url, body, **key)
    assert 200 <= first.status_code < 300, first.json
    after_first = world.footprint()

    again = send(world, route, url, body, **key)
    assert again.status_code == first.status_code, again.json
    assert again.json["id"] == first.json["id"] and again.json == first.json
    if route.keyed:
        assert again.headers["Idempotent-Replayed"] == "true"
    assert world.footprint() == after_first

    other = send(world, route, url, {**body, **route.other}, **key)
    if route.keyed:
        # The same key for another request is a mistake of the client, not a retry.
        answer = assert_error(other, 422, "idempotency_key_reused")
        assert "Idempotency-Key" in answer["errors"]["headers"]
    else:
        # The erasure is asked once per tenant: asked again, it answers with the first request.
        assert (other.status_code, other.json) == (first.status_code, first.json)
    assert world.footprint() == after_first
