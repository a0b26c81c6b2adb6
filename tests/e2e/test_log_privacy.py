"""No personal data in the logs: a flow full of it leaves no codice fiscale, phone or email."""

from __future__ import annotations

import re

from bench import workload
from deploy.system import System
from tests.support import wait_for

FISCAL_CODE = re.compile(
    r"\b[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-EHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]\b"
)
PHONE = re.compile(r"(?<![\w.])\+?39[ ]?3\d{2}[ ]?\d{6,7}\b|\b3\d{2}[ ]?\d{3}[ ]?\d{4}\b")
EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b")


def test_the_logs_of_a_whole_flow_hold_no_personal_data(system: System, apis) -> None:
    intake = apis["intake"]
    building = intake.post("/api/v1/buildings", json=workload.BUILDING).json()["id"]
    tenant_body = {
        **workload.tenant_body(building, 4242),
        "phone": "+39 347 1234567",
        "email": "maria.rossi@example.org",
        "consents": [
            {"channel": "email", "granted": True, "recorded_by": "op"},
            {"channel": "sms", "granted": True, "recorded_by": "op"},
        ],
    }
    tenant = intake.post("/api/v1/tenants", json=tenant_body)
    assert tenant.status_code == 201, tenant.text
    tenant_id = tenant.json()["id"]
    found = intake.get("/api/v1/tenants", params={"fiscal_code": tenant_body["fiscal_code"]})
    assert found.status_code == 200
    case = intake.post(
        "/api/v1/cases",
        json={
            "tenant_id": tenant_id,
            "building_id": building,
            "needs": ["morosita"],
            "opened_by": "operatore.verdi",
            "description": "Preavviso di distacco ricevuto.",
            "disconnection_date": "2026-12-15",
        },
    )
    assert case.status_code == 201, case.text
    case_id = case.json()["id"]
    wait_for(
        lambda: apis["notifications"]
        .get("/api/v1/notifications", params={"case_id": case_id})
        .json(),
        what="the custode's notification",
    )
    wait_for(
        lambda: apis["casework"].get(f"/api/v1/case-files/{case_id}").status_code == 200,
        what="the case file",
    )

    leaks = []
    for log in sorted(system.log_dir.glob("*.log")):
        text = log.read_text()
        for name, pattern in (
            ("codice fiscale", FISCAL_CODE),
            ("telefono", PHONE),
            ("email", EMAIL),
        ):
            leaks += [f"{log.name}: {name}: {m}" for m in pattern.findall(text)]
    assert tenant_body["fiscal_code"] not in "".join(
        p.read_text() for p in system.log_dir.glob("*.log")
    )
    assert not leaks, leaks[:10]
