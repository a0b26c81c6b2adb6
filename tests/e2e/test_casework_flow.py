"""casework end to end: a case opened at intake, referred to AMAT, to an outcome, closed."""

from __future__ import annotations

from deploy.system import System
from shared.events import decode
from shared.events.intake import CASE_OPENED
from tests.e2e.conftest import Api
from tests.e2e.test_case_opened_flow import BUILDING
from tests.support import read_topic, wait_for

_ODD = dict(
    zip(
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        [1, 0, 5, 7, 9, 13, 15, 17, 19, 21] * 2
        + [2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23],
        strict=True,
    )
)


def fiscal_code(day: int) -> str:
    """A valid codice fiscale for a Mario Rossi born on ``day`` December 1985 (check letter)."""
    body = f"RSSMRA85T{day:02d}A562"
    total = sum(
        _ODD[c] if i % 2 == 0 else (int(c) if c.isdigit() else ord(c) - 65)
        for i, c in enumerate(body)
    )
    return body + chr(65 + total % 26)


def open_case(intake: Api, n: int = 10) -> str:
    """Register a building and a tenant (``n`` makes the tenant unique), open a case."""
    building = ok(intake.post("/api/v1/buildings", json=BUILDING), 201)
    tenant = ok(
        intake.post(
            "/api/v1/tenants",
            json={
                "building_id": building["id"],
                "first_name": "Mario",
                "last_name": "Rossi",
                "fiscal_code": fiscal_code(n),
            },
        ),
        201,
    )
    case = intake.post(
        "/api/v1/cases",
        json={
            "tenant_id": tenant["id"],
            "building_id": building["id"],
            "channel": "sportello",
            "needs": ["lettura_bollette", "morosita"],
            "opened_by": "operatore.bianchi",
            "description": "Bolletta con conguaglio elevato.",
        },
    )
    return ok(case, 201)["id"]


EXPECTED = [
    "case.state_changed",
    "case.assessed",
    "case.state_changed",
    "referral.sent",
    "referral.accepted",
    "referral.completed",
    "case.state_changed",
    "case.closed",
]


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def casework_events(environ: dict, case_id: str, until_type: str) -> list:
    """This case's events on casework's topic (distinct ids: delivery is at least once)."""
    records = read_topic(
        environ["KAFKA_BOOTSTRAP_SERVERS"],
        f"{environ['SPORTELLO_TOPIC_PREFIX']}.casework",
        lambda rs: any(r.key == case_id.encode() and until_type.encode() in r.value for r in rs),
        timeout_s=30,
    )
    events = {}
    for r in records:
        if r.key == case_id.encode():
            event = decode(r.value)
            events.setdefault(event.id, event)
    return list(events.values())


def test_case_opened_referred_to_amat_completed_and_closed_with_every_event_on_kafka(
    system: System, apis: dict[str, Api], environ: dict
) -> None:
    case_id = open_case(apis["intake"])
    cw = apis["casework"]
    base = f"/api/v1/case-files/{case_id}"
    wait_for(lambda: cw.get(base).status_code == 200, what="case file at casework")

    ok(cw.post(f"{base}/transitions", json={"to_state": "in_valutazione", "actor": "op.rossi"}))
    ok(
        cw.post(
            f"{base}/assessments",
            json={
                "classification": "precarieta_energetica",
                "actor": "op.rossi",
                "evidence": {"arrears_cents": 32000, "hardship_signals": ["perdita_lavoro"]},
            },
        ),
        201,
    )
    ok(cw.post(f"{base}/transitions", json={"to_state": "in_carico", "actor": "op.rossi"}))
    ref = ok(
        cw.post(
            f"{base}/referrals",
            json={"path": "amat", "reason": "Lettura bollette e analisi fornitori", "actor": "op"},
        ),
        201,
    )
    sent = ok(cw.post(f"{base}/referrals/{ref['id']}/send", json={"actor": "op.rossi"}))
    assert "needs" not in sent["shared"] and "bills" in sent["shared"]
    ok(cw.post(f"{base}/referrals/{ref['id']}/accept", json={"actor": "amat.verdi"}))
    ok(
        cw.post(
            f"{base}/referrals/{ref['id']}/complete",
            json={
                "actor": "amat.verdi",
                "outcome": "Passaggio a offerta a prezzo fisso, rateizzazione concordata",
                "outcome_for_tenant": "Hai una nuova offerta luce più economica e rate da 40 euro.",
                "measured": [{"kind": "risparmio_fornitore", "value": 15000}],
            },
        )
    )
    closed = ok(
        cw.post(
            f"{base}/transitions",
            json={"to_state": "chiuso", "actor": "op.rossi", "outcome": "Bollette sostenibili"},
        )
    )
    assert closed["state"] == "chiuso"

    events = casework_events(environ, case_id, "casework.case.closed")
    assert [e.type.split(".casework.")[1].removesuffix(".v1") for e in events] == EXPECTED
    assert all(e.subject == case_id and e.data["case_id"] == case_id for e in events)
    completed = next(e for e in events if e.type.endswith("referral.completed.v1"))
    assert completed.data["path"] == "amat"
    assert completed.data["outcome_for_tenant"].startswith("Hai una nuova offerta")
    assert next(e for e in events if e.type.endswith("case.closed.v1")).data["outcome"] == (
        "Bollette sostenibili"
    )
    timeline = ok(cw.get(f"{base}/timeline"))
    assert [t["kind"] for t in timeline].count("invio") == 4  # proposta, inviata, presa, completata
    # Where it began: intake's case.opened, on intake's topic with the case id as key.
    opened = read_topic(
        environ["KAFKA_BOOTSTRAP_SERVERS"],
        f"{environ['SPORTELLO_TOPIC_PREFIX']}.intake",
        lambda rs: any(r.key == case_id.encode() and b"case.opened" in r.value for r in rs),
        timeout_s=30,
    )
    types = {decode(r.value).type for r in opened if r.key == case_id.encode()}
    assert CASE_OPENED in types, types
