"""Realistic Sportello data for the benchmarks: buildings, tenants, cases, events."""

from __future__ import annotations

import itertools
import random
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests

from services.intake.domain.identifiers import fiscal_check_character
from shared.auth import Principal, mint
from shared.config import Settings
from shared.events import Event, make_event
from shared.events.intake import CASE_OPENED

NEEDS = [
    "lettura_bollette",
    "analisi_fornitori",
    "morosita",
    "riscaldamento_comfort",
    "consumi_elettrodomestici",
    "diario_energetico",
    "informazioni_lavori",
    "altro",
]
BUILDING = {
    "name": "Complesso Saint Bon (bench)",
    "address": "via Saint Bon 6, 20147 Milano",
    "municipio": 7,
    "custodians": [{"name": "Custodia Sociale Saint Bon", "email": "custodia@example.org"}],
}


@dataclass
class Context:
    """What the load needs: a building and tenants to open cases for (one open case each)."""

    building_id: str
    tenant_ids: list[str]
    headers: dict[str, str] = field(default_factory=dict)
    counter: itertools.count = field(default_factory=itertools.count)
    lock: threading.Lock = field(default_factory=threading.Lock)


# Load runs can outlast a person's 15-minute token: the load's own token lives this long.
LOAD_TOKEN_TTL_S = 6 * 3600


def token_headers(env: Mapping[str, str], role: str = "admin") -> dict[str, str]:
    """An ``Authorization`` header for the load, signed with the keys in ``env`` (the system's)."""
    settings = Settings.from_env("intake", env)
    token = mint(settings, Principal(sub=f"bench-{role}", role=role), ttl_s=LOAD_TOKEN_TTL_S)
    return {"Authorization": f"Bearer {token}"}


def prepare(intake: str, tenants: int, headers: Mapping[str, str] | None = None) -> Context:
    """Register the building and ``tenants`` tenants through the intake API.

    ``headers`` (see ``token_headers``) go with these calls and with every ``open_case``.
    """
    session = requests.Session()
    session.headers.update(headers or {})
    building = session.post(f"{intake}/api/v1/buildings", json=BUILDING, timeout=10)
    building.raise_for_status()
    building_id = building.json()["id"]
    tenant_ids = []
    for i in range(tenants):
        response = session.post(
            f"{intake}/api/v1/tenants", json=tenant_body(building_id, i), timeout=10
        )
        if response.status_code in (404, 405):
            # An intake without a tenants resource: any id will do.
            tenant_ids = [f"ten_bench_{n}" for n in range(tenants)]
            break
        response.raise_for_status()
        tenant_ids.append(response.json()["id"])
    return Context(building_id, tenant_ids, dict(headers or {}))


def tenant_body(building_id: str, i: int) -> dict:
    """A valid tenant (synthetic codice fiscale with a correct check character)."""
    return {
        "first_name": random.choice(["Maria", "Giuseppe", "Anna", "Luca", "Fatima", "Ahmed"]),
        "last_name": random.choice(["Rossi", "Bianchi", "Esposito", "Colombo", "El Amrani"]),
        "fiscal_code": fiscal_code(i),
        "building_id": building_id,
        "apartment": f"Scala {i % 4 + 1}, int. {i % 60 + 1}",
        "household_size": i % 5 + 1,
    }


def fiscal_code(i: int) -> str:
    """A syntactically valid codice fiscale, unique per ``i``."""
    letters = "BCDFGHJKLMNPQRSTVWXZ"
    surname = "".join(letters[(i // 20**k) % 20] for k in range(3))
    body = f"{surname}MRA{80 + i % 20:02d}A{(i % 28) + 1:02d}F205"
    return body + fiscal_check_character(body)


def open_case(session: requests.Session, intake: str, ctx: Context) -> requests.Response:
    """POST one case for the next tenant (each tenant gets distinct needs, so no 409)."""
    with ctx.lock:
        i = next(ctx.counter)
    tenant = ctx.tenant_ids[i % len(ctx.tenant_ids)]
    need = NEEDS[(i // len(ctx.tenant_ids)) % len(NEEDS)]
    return session.post(
        f"{intake}/api/v1/cases",
        json={
            "tenant_id": tenant,
            "building_id": ctx.building_id,
            "needs": [need],
            "opened_by": "operatore.bench",
            "description": "Bolletta con conguaglio elevato.",
        },
        headers=ctx.headers,
        timeout=10,
    )


def bare_body(i: int) -> dict:
    """A body of similar size for the bare ceiling endpoint."""
    return {
        "tenant_id": f"ten_{i}",
        "needs": ["lettura_bollette"],
        "opened_by": "operatore.bench",
        "description": "Bolletta con conguaglio elevato.",
    }


def case_opened_event(i: int) -> Event:
    """A valid ``case.opened`` event (for the catch-up backlog)."""
    case_id = f"case_{uuid.uuid4().hex}"
    return make_event(
        CASE_OPENED,
        case_id,
        {
            "case_id": case_id,
            "tenant_id": f"ten_{i}",
            "counter_id": None,
            "building": {
                "id": "bld_bench",
                "name": BUILDING["name"],
                "address": BUILDING["address"],
                "municipio": 7,
                "custodians": BUILDING["custodians"],
            },
            "channel": "sportello",
            "needs": [NEEDS[i % len(NEEDS)]],
            "description": "",
            "urgent": i % 10 == 0,
            "opened_by": "operatore.bench",
            "opened_at": datetime.now(UTC).isoformat(),
        },
    )


def case_file_like(i: int) -> dict:
    """A document the size of a case file (for the raw insert ceiling)."""
    return {
        "_id": f"case_{uuid.uuid4().hex}",
        "tenant_id": f"ten_{i}",
        "building": {"id": "bld_bench", "name": BUILDING["name"], "municipio": 7},
        "needs": [NEEDS[i % len(NEEDS)]],
        "state": "aperto",
        "opened_at": datetime.now(UTC),
        "applied_events": [uuid.uuid4().hex],
    }
