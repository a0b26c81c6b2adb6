"""Realistic Sportello data for the benchmarks: buildings, tenants, cases, events."""

from __future__ import annotations

import itertools
import random
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import requests

from services.intake.domain.identifiers import fiscal_check_character
from shared import crypto
from shared.auth import Principal, mint
from shared.config import Settings
from shared.events import Event, decode, encode, make_event
from shared.events.intake import CASE_OPENED
from shared.outbox import outbox_record

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


# --- data at scale (the queries benchmark) ----------------------------------------------------
#
# Documents are built with the services' own domain objects, mappings and document classes, so
# they have exactly the shape the services write: fields encrypted at rest with the keys of the
# system that reads them (``register_ciphers``), blind index, search name, and the claims intake
# keeps beside them. They are then inserted straight into the store with insert_many (going
# through the APIs would take hours at a million cases). The outbox of each aggregate keeps its
# published records, encrypted, as it does in production (the relay never removes them); no
# outbox hints are written, so nothing is published again. ``tests/integration/
# test_bench_data.py`` reads loaded documents back through the APIs: it fails when they drift.

FIRST_NAMES = [
    "Maria", "Giuseppe", "Anna", "Luca", "Fatima", "Ahmed", "Giovanni", "Rosa", "Francesco",
    "Lucia", "Mohamed", "Elena", "Carlo", "Nicolò", "Giulia", "Ion", "Mariana", "Paolo", "Chiara",
    "Abdul", "Sara", "Antonio", "Teresa", "Marco", "Ana", "Wei", "Andrea", "Aisha", "Pietro",
]  # fmt: skip
LAST_NAMES = [
    "Rossi", "Bianchi", "Esposito", "Colombo", "El Amrani", "Ferrari", "Romano", "Ricci",
    "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano",
    "Rizzo", "Lombardi", "Moretti", "Popescu", "Santos", "Hossain", "Barbieri", "Fontana",
    "Caruso", "Mariani", "Ferrara", "Villa", "Sala", "Galli", "Cattaneo", "Brambilla", "Zhou",
]  # fmt: skip
STREETS = [
    "via Saint Bon", "via Giuffrè", "via Villani", "via Coppin", "via Bagarotti", "via Odazio",
    "via Lorenteggio", "via Segneri", "piazza Selinunte", "via Gola", "via Mompiani",
]  # fmt: skip
ASSIGNEES = [f"operatore.{n}" for n in ("rossi", "bianchi", "colombo", "ferrari", "sala", "villa")]
PATHS = ["welfare", "casa", "amat"]
SUPPLIERS = ["Enel Energia", "A2A Energia", "Edison", "Hera Comm", "Iren", "Sorgenia"]
# How the case files of a mature desk are spread over their states (weights, in CaseState order).
STATE_WEIGHTS = {
    "aperto": 5,
    "in_valutazione": 5,
    "in_carico": 15,
    "sospeso": 3,
    "chiuso": 62,
    "archiviato": 10,
}


@dataclass
class Scale:
    """Ids of the loaded data that the queries use as filter values (real, existing values)."""

    building_ids: list[str] = field(default_factory=list)
    counter_ids: list[str] = field(default_factory=list)
    tenant_ids: list[str] = field(default_factory=list)
    tenant_fiscal_codes: list[str] = field(default_factory=list)
    oldest: datetime | None = None
    newest: datetime | None = None


def fiscal_code_unique(i: int) -> str:
    """A syntactically valid codice fiscale, unique for any ``i`` below 20**6 (64 million)."""
    letters = "BCDFGHJKLMNPQRSTVWXZ"
    code = "".join(letters[(i // 20**k) % 20] for k in range(6))
    body = f"{code}{50 + i % 50:02d}{'ABCDEHLMPRST'[i % 12]}{(i % 28) + 1:02d}F205"
    return body + fiscal_check_character(body)


def buildings_for(tenants: int) -> int:
    """Public-housing complexes hold about 150 households each."""
    return max(3, tenants // 150)


def scale_ids(tenants: int, seed: int = 9) -> Scale:
    """The building, counter and tenant ids of a generated data set (deterministic by seed)."""
    rng = random.Random(seed)
    scale = Scale()
    scale.building_ids = [f"bld_{rng.getrandbits(128):032x}" for _ in range(buildings_for(tenants))]
    scale.counter_ids = [f"ctr_{rng.getrandbits(128):032x}" for _ in range(20)]
    scale.tenant_ids = [f"ten_{rng.getrandbits(128):032x}" for _ in range(tenants)]
    scale.tenant_fiscal_codes = [fiscal_code_unique(i) for i in range(tenants)]
    return scale


def register_ciphers(env: Mapping[str, str]) -> None:
    """Register intake's and casework's ciphers from ``env``, as their bootstraps do.

    The loaded documents are then encrypted (and blind-indexed) with the keys of the system
    whose environment ``env`` is, so its services read them as their own.
    """
    from services.casework import config as casework_config
    from services.casework.adapters.documents import ALIAS as CASEWORK
    from services.intake import config as intake_config
    from services.intake.adapters.documents import ALIAS as INTAKE

    for alias, config in ((INTAKE, intake_config), (CASEWORK, casework_config)):
        crypto.register(alias, crypto.cipher_from_settings(config.load_settings(env)))


def _event_like(template: Event, subject: str, data: dict, at: datetime) -> Event:
    """An event of ``template``'s type and source with its own id, subject and data.

    ``make_event`` validates the data against the schema (half a millisecond): the template,
    built by the service's own event function, was validated; copies change only values.
    """
    return Event(type=template.type, source=template.source, subject=subject, data=data, time=at)


def tenant_docs(scale: Scale, topic: str, seed: int = 10) -> Iterator[tuple[dict, dict]]:
    """(tenant document, codice fiscale claim) pairs as intake stores them, one per id in
    ``scale`` (a generator). Needs intake's cipher registered (``register_ciphers``).

    Each document is the repository's own mapping of a domain ``Tenant`` (search name, blind
    index, codice fiscale / phone / email encrypted), with its ``tenant.registered`` event in
    the outbox, encrypted; the claim is what registration takes (``_id`` = the blind index).
    """
    from services.intake.adapters.documents import ALIAS, IntakeTenantDoc
    from services.intake.adapters.repository import (
        _encrypted,
        _tenant_fields,
        fiscal_code_claims,
    )
    from services.intake.domain.model import Consent, ConsentChannel, Tenant
    from services.intake.service_layer.handlers import tenant_event
    from shared.events.intake import TENANT_REGISTERED

    cipher = crypto.cipher_for(ALIAS)
    owner = fiscal_code_claims().owner_field
    rng = random.Random(seed)
    now = datetime.now(UTC)
    consents = [Consent(ConsentChannel.SMS, True, "operatore.bench", now)]
    template: Event | None = None
    mapped_consents: list[dict] = []
    for i, tenant_id in enumerate(scale.tenant_ids):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        tenant = Tenant(
            id=tenant_id,
            building_id=scale.building_ids[i % len(scale.building_ids)],
            apartment=f"Scala {rng.randint(1, 4)}, int. {rng.randint(1, 60)}",
            first_name=first,
            last_name=last,
            fiscal_code=scale.tenant_fiscal_codes[i],
            phone=f"+3934{rng.randint(0, 99_999_999):08d}" if rng.random() < 0.8 else None,
            email=f"{first.lower()}.{i}@example.org" if rng.random() < 0.4 else None,
            preferred_language="it",
            household_size=rng.randint(1, 6),
            # The same consent for every tenant: mapped once, below (a quarter of the cost).
            consents=[] if template else consents,
            version=1,
            registered_at=now
            - timedelta(days=rng.randint(0, 3 * 365), seconds=rng.randint(0, 86399)),
        )
        # The repository's own mapping: search name, blind index, three fields encrypted.
        doc = _encrypted(IntakeTenantDoc, _tenant_fields(tenant))
        doc["_id"] = doc.pop("id")
        if template is None:
            mapped_consents = [c.to_mongo().to_dict() for c in doc["consents"]]
            template = tenant_event(TENANT_REGISTERED, tenant)
        doc["consents"] = [dict(c) for c in mapped_consents]
        # The snapshot's keys are the tenant's attributes, but its id and its consents (the
        # same for every tenant).
        data = {
            k: v if k == "consents" else getattr(tenant, k, v) for k, v in template.data.items()
        }
        data["tenant_id"] = tenant_id
        event = _event_like(template, tenant_id, data, tenant.registered_at)
        doc["outbox"] = [outbox_record(topic, event, cipher)]
        doc["outbox_seq"] = 1
        claim = {
            "_id": doc["fiscal_code_index"],
            owner: tenant_id,
            "claimed_at": tenant.registered_at,
        }
        yield doc, claim


def case_docs(
    scale: Scale, cases: int, intake_topic: str, seed: int = 11
) -> Iterator[tuple[dict, dict, list[dict]]]:
    """(intake case document, casework case file document, intake's open-case claims) for
    ``cases`` cases. Needs both services' ciphers registered (``register_ciphers``).

    Cases are opened over the last three years, newest last; most of them are closed by now. An
    open case holds its (tenant, need) claims, as intake's OpenCase takes them; a second open case
    of a tenant for a need already claimed is a linked case (``linked_case_id``, no claims), the
    one way intake opens it.
    """
    from services.casework.adapters.documents import ALIAS as CASEWORK
    from services.casework.adapters.repository import CaseFileRepository
    from services.casework.domain.model import (
        CaseFile,
        CaseState,
        Referral,
        ReferralState,
        Transition,
    )
    from services.intake.adapters.documents import ALIAS as INTAKE
    from services.intake.adapters.documents import IntakeBillDoc, IntakeCaseDoc
    from services.intake.adapters.repository import _case, open_case_claims
    from services.intake.domain.model import Building, Custodian
    from services.intake.service_layer.handlers import case_opened_event

    rng = random.Random(seed)
    cipher = crypto.cipher_for(INTAKE)
    repository = CaseFileRepository(crypto.cipher_for(CASEWORK), [10, 3, 1])
    owner = open_case_claims().owner_field
    claimed: dict[str, str] = {}  # a (tenant, need) claim → the open case holding it
    custodians = [Custodian(**c) for c in BUILDING["custodians"]]
    now = datetime.now(UTC).replace(microsecond=0)
    span_s = 3 * 365 * 86400
    scale.oldest, scale.newest = now - timedelta(seconds=span_s), now
    states = list(STATE_WEIGHTS)
    weights = list(STATE_WEIGHTS.values())
    templates: dict[str, tuple[dict, dict, Event]] = {}
    for i in range(cases):
        case_id = f"case_{rng.getrandbits(128):032x}"
        t = rng.randrange(len(scale.tenant_ids))
        tenant_id = scale.tenant_ids[t]
        building_id = scale.building_ids[t % len(scale.building_ids)]
        opened_at = scale.oldest + timedelta(seconds=span_s * i // max(cases, 1))
        urgent = rng.random() < 0.08
        needs = rng.sample(NEEDS, rng.randint(1, 2))
        counter_id = rng.choice(scale.counter_ids) if rng.random() < 0.9 else None
        state = CaseState(rng.choices(states, weights)[0])
        closed = state.value in ("chiuso", "archiviato")
        closed_at = opened_at + timedelta(days=rng.randint(10, 120)) if closed else None
        building = {
            "id": building_id,
            "name": f"Complesso {rng.choice(STREETS)} (bench)",
            "address": f"{rng.choice(STREETS)} {rng.randint(1, 40)}, Milano",
            "municipio": rng.randint(1, 9),
        }
        # A case file in charge or suspended has a referral sent and waiting for its path's
        # answer, due then (past due for most: the scan has announced it, once).
        waiting = state.value in ("in_carico", "sospeso")
        path = rng.choice(PATHS) if waiting else ""
        due = (opened_at + timedelta(days=rng.randint(5, 40))).date()
        announced = due if due < now.date() else None
        sent_at = opened_at + timedelta(days=1)
        template = templates.get(state.value)
        fresh = template is None or i % 500 == 0
        if not fresh:
            needs = template[0]["needs"]  # needs and bills come with the template, as a unit
        # Claims of an open case: the ones its opening took (closing gave them back).
        keys = [] if closed else [f"{tenant_id}:{n}" for n in needs]
        linked = next((claimed[k] for k in keys if k in claimed), None)
        claims = []
        if linked is None:
            claimed.update(dict.fromkeys(keys, case_id))
            claims = [{"_id": k, owner: case_id, "claimed_at": opened_at} for k in keys]
        if fresh:
            # The real path: the services' document class, domain objects, the intake handler's
            # event and the casework repository's mapping. It costs milliseconds a case, so most
            # cases copy the latest real triple of their state.
            bills = []
            if "lettura_bollette" in needs:
                start = (opened_at - timedelta(days=90)).date()
                bills.append(
                    IntakeBillDoc(
                        supplier=rng.choice(SUPPLIERS),
                        commodity="luce",
                        pod=f"IT001E{rng.randint(0, 99_999_999):08d}",
                        period_start=start,
                        period_end=start + timedelta(days=60),
                        consumption=float(rng.randint(200, 900)),
                        unit="kWh",
                        amount_cents=rng.randint(5_000, 60_000),
                        arrears_cents=rng.choice([0, 0, rng.randint(10_000, 150_000)]),
                    )
                )
            case_doc = IntakeCaseDoc(
                id=case_id,
                tenant_id=tenant_id,
                building_id=building_id,
                counter_id=counter_id,
                channel="sportello",
                needs=needs,
                description="Bolletta con conguaglio elevato.",
                urgent=urgent,
                opened_by="operatore.bench",
                opened_at=opened_at,
                hardship_kind="da_valutare",
                bills=bills,
                linked_case_id=linked,
                status="chiuso" if closed else "aperto",
                closed_at=closed_at,
            )
            case = case_doc.to_mongo().to_dict()  # the description encrypted by its field
            event = case_opened_event(_case(case_doc), Building(**building, custodians=custodians))
            # casework's file, from the event as its consumer receives it.
            received = decode(encode(event))
            case_file = CaseFile.from_intake(received.id, received.data)
            case_file.state = state
            if state.value != "aperto":
                case_file.assignee = rng.choice(ASSIGNEES)
            if waiting:
                sent = ReferralState.SENT.value
                case_file.referrals.append(
                    Referral(
                        id=f"ref_{rng.getrandbits(64):016x}",
                        path=path,
                        state=ReferralState.SENT,
                        reason="Richiesta di contributo per le bollette arretrate.",
                        created_by="operatore.bench",
                        created_at=opened_at,
                        sent_at=sent_at,
                        due_date=due,
                        breaches=1 if announced else 0,
                        announced_due=announced,
                        history=[
                            Transition(
                                ReferralState.PROPOSED.value, sent, "operatore.bench", sent_at
                            )
                        ],
                    )
                )
            # The repository's own mapping (derived fields, encrypted fields): no store write.
            file_doc = repository._document(case_file)
            file_doc["_id"] = case_id
            templates[state.value] = (case, file_doc, event)
        else:
            # The fast path: a copy of a real triple of the same state with this case's own
            # values. The description is the template's ciphertext (same text, same keys).
            real_case, real_file, real_event = template
            case = dict(real_case)
            case.update(
                _id=case_id,
                tenant_id=tenant_id,
                building_id=building_id,
                counter_id=counter_id,
                urgent=urgent,
                opened_at=opened_at,
                closed_at=closed_at,
                linked_case_id=linked,
            )
            data = dict(real_event.data)
            data.update(
                case_id=case_id,
                tenant_id=tenant_id,
                counter_id=counter_id,
                building={**building, "custodians": real_event.data["building"]["custodians"]},
                urgent=urgent,
                opened_at=opened_at.isoformat(),
                linked_case_id=linked,
            )
            event = _event_like(real_event, case_id, data, opened_at)
            file_doc = dict(real_file)
            file_doc.update(
                _id=case_id,
                tenant_id=tenant_id,
                building=building,
                counter_id=counter_id,
                urgent=urgent,
                opened_at=opened_at,
                source_event_id=event.id,
                assignee=rng.choice(ASSIGNEES) if state.value != "aperto" else None,
                history=[{**real_file["history"][0], "at": opened_at}],
            )
        # Published long ago: kept in the outbox, encrypted, with no hint (never sent again).
        case["outbox"] = [outbox_record(intake_topic, event, cipher)]
        case["outbox_seq"] = 1
        if waiting and not fresh:
            # The template's referral with this case's own path and dates, and the derived
            # fields the lists read (the template's encrypted reason kept, as the description).
            file_doc["referrals"] = [
                {
                    **template[1]["referrals"][0],
                    "id": f"ref_{rng.getrandbits(64):016x}",
                    "path": path,
                    "created_at": opened_at,
                    "sent_at": sent_at,
                    "due_date": due.isoformat(),
                    "breaches": 1 if announced else 0,
                    "announced_due": announced.isoformat() if announced else None,
                    "history": [{**template[1]["referrals"][0]["history"][0], "at": sent_at}],
                }
            ]
            file_doc["referral_paths"] = [path]
            file_doc["next_due"] = due.isoformat()
            file_doc["unannounced_due"] = None if announced else due.isoformat()
        file_doc["version"] = rng.randint(1, 8)
        yield case, file_doc, claims
