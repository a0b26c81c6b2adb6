"""Demo data for the browser tests, registered through intake's API."""

from __future__ import annotations

from datetime import date, timedelta

import requests

# The Authorization header of each running intake API (set by the ``site`` fixture).
HEADERS: dict[str, dict[str, str]] = {}


def authorize(intake: str, headers: dict[str, str]) -> None:
    """Send ``headers`` (an admin token) with every call this module makes to ``intake``."""
    HEADERS[intake] = headers


def seed(intake: str, suffix: str = "") -> dict:
    """A building (its custode reads the in-app inbox), a counter open every day, a tenant."""
    building = requests.post(
        f"{intake}/buildings",
        json={
            "name": "Complesso Giuffrè-Villani",
            "address": "via Giuffrè 8 – via Villani 3, 20161 Milano",
            "municipio": 9,
            "custodians": [{"name": "Custodia Sociale Giuffrè-Villani", "channel": "inbox"}],
            "committee_contact": "Laboratorio Sociale MM Giuffrè-Villani",
        },
        headers=HEADERS.get(intake, {}),
        timeout=10,
    )
    assert building.status_code == 201, building.text
    building = building.json()
    tomorrow = date.today() + timedelta(days=1)
    counter = requests.post(
        f"{intake}/counters",
        json={
            "name": "Sportello itinerante Giuffrè-Villani",
            "kind": "itinerante",
            "building_id": building["id"],
            "room": "Laboratorio Sociale, piano terra",
            "schedules": [
                {
                    "weekday": (tomorrow.weekday() + k) % 7,
                    "start": "14:00",
                    "end": "17:00",
                    "slot_minutes": 30,
                    "every_weeks": 1,
                    "starts_on": (tomorrow + timedelta(days=k)).isoformat(),
                }
                for k in range(2)
            ],
            "operators": ["operatore.rossi"],
        },
        headers=HEADERS.get(intake, {}),
        timeout=10,
    )
    assert counter.status_code == 201, counter.text
    tenant = requests.post(
        f"{intake}/tenants",
        json={
            "building_id": building["id"],
            "first_name": "Laura",
            "last_name": "Bianchi",
            "fiscal_code": "BNCLRA70C41F205I",
            "apartment": "Scala B, int. 12",
            "email": "laura.bianchi@example.org",
            "consents": [{"channel": "email", "granted": True, "recorded_by": "operatore.rossi"}],
        },
        headers=HEADERS.get(intake, {}),
        timeout=10,
    )
    assert tenant.status_code == 201, tenant.text
    return {"building": building, "counter": counter.json(), "tenant": tenant.json()}


def cases_of(intake: str, tenant_id: str) -> list[dict]:
    """The tenant's cases at intake."""
    return requests.get(
        f"{intake}/cases",
        params={"tenant_id": tenant_id},
        headers=HEADERS.get(intake, {}),
        timeout=10,
    ).json()


def appointments_of(intake: str, tenant_id: str) -> list[dict]:
    """The tenant's appointments at intake."""
    return requests.get(
        f"{intake}/appointments",
        params={"tenant_id": tenant_id},
        headers=HEADERS.get(intake, {}),
        timeout=10,
    ).json()
