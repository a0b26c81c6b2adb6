"""GDPR rights end to end, on the running system: a tenant's data exported from every service as
one document; the tenant erased on request, every service anonymising its part by events and
confirming it; the statistics intact."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pymongo

from deploy.privacy import erase_tenant, export_tenant
from deploy.system import System
from shared.crypto import FieldCipher, is_encrypted
from tests.e2e.conftest import Api
from tests.support import mint_token, wait_for

FISCAL_CODE = "BNCLRA80A41F205G"
EMAIL = "laura.bianchi@example.org"
PHONE = "+393331234567"
DESCRIPTION = "Separazione recente, arretrati sulla luce."
BUILDING = {
    "name": "Complesso San Siro",
    "address": "piazza Selinunte 1, Milano",
    "municipio": 7,
    "custodians": [{"name": "Custodia San Siro", "email": "custodia.sansiro@example.org"}],
}


def setup_tenant(intake: Api) -> tuple[str, str, str]:
    """A tenant with contacts and consent, a case and a home visit: (tenant, case, building)."""
    building = intake.post("/api/v1/buildings", json=BUILDING)
    assert building.status_code == 201, building.text
    building_id = building.json()["id"]
    tenant = intake.post(
        "/api/v1/tenants",
        json={
            "building_id": building_id,
            "first_name": "Laura",
            "last_name": "Bianchi",
            "fiscal_code": FISCAL_CODE,
            "email": EMAIL,
            "phone": PHONE,
            "apartment": "scala B, int. 7",
            "consents": [{"channel": "email", "granted": True, "recorded_by": "op.verdi"}],
        },
    )
    assert tenant.status_code == 201, tenant.text
    tenant_id = tenant.json()["id"]
    case = intake.post(
        "/api/v1/cases",
        json={
            "tenant_id": tenant_id,
            "building_id": building_id,
            "channel": "sportello",
            "needs": ["morosita"],
            "opened_by": "op.verdi",
            "description": DESCRIPTION,
            "hardship_signals": ["separazione"],
        },
    )
    assert case.status_code == 201, case.text
    case_id = case.json()["id"]
    visit = intake.post(
        "/api/v1/appointments",
        json={
            "kind": "sopralluogo",
            "case_id": case_id,
            "starts_at": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
            "notes": "Citofono rotto: chiamare al cellulare.",
            "booked_by": "op.verdi",
        },
    )
    assert visit.status_code == 201, visit.text
    return tenant_id, case_id, building_id


def personal(document: object) -> list[str]:
    """Which of the tenant's personal details appear anywhere in ``document``."""
    text = json.dumps(document, ensure_ascii=False)
    return [v for v in (FISCAL_CODE, EMAIL, PHONE, "Bianchi", DESCRIPTION, "Citofono") if v in text]


def test_a_tenant_is_exported_then_erased_everywhere_and_the_statistics_remain(
    system: System, apis: dict[str, Api], environ: dict[str, str]
) -> None:
    tenant_id, case_id, building_id = setup_tenant(apis["intake"])
    store = pymongo.MongoClient(environ["MONGODB_URI"])
    prefix = environ["SPORTELLO_DB_PREFIX"]
    db = {s: store[f"{prefix}_{s}"] for s in ("intake", "casework", "notifications")}
    cipher = FieldCipher(environ["FIELD_ENCRYPTION_KEYS"].split(","))
    try:
        # Every service has heard of the tenant: case file, contacts, the tenant's message.
        wait_for(lambda: db["casework"].case_files.find_one({"_id": case_id}), what="case file")
        wait_for(lambda: db["notifications"].tenants.find_one({"_id": tenant_id}), what="contact")
        wait_for(
            lambda: db["notifications"].notifications.find_one({"recipient.ref": tenant_id}),
            what="the tenant's home-visit message",
        )
        # A second case whose entry in its tenant's list was never written (a store failure
        # right after the case): intake's erasure cannot find it there, casework's can, and
        # intake follows casework's ``case.anonymised`` for it.
        unlisted = apis["intake"].post(
            "/api/v1/cases",
            json={
                "tenant_id": tenant_id,
                "needs": ["lettura_bollette"],
                "channel": "telefono",
                "opened_by": "op.verdi",
                "description": DESCRIPTION,
            },
        )
        assert unlisted.status_code == 201, unlisted.text
        second = unlisted.json()["id"]
        wait_for(lambda: db["casework"].case_files.find_one({"_id": second}), what="case file")
        dropped = db["intake"].case_list_entries.delete_many(
            {"case_id": second, "_id": {"$regex": "^t:"}}
        )
        assert dropped.deleted_count == 1
        urls = {s: system.url(s) for s in ("intake", "casework", "notifications")}
        token = mint_token(environ, "admin", sub="dpo.comune")

        # Export: one document, one part per service, each with what it holds.
        exported = export_tenant(urls, token, tenant_id)
        parts = exported["services"]
        assert set(parts) == {"intake", "casework", "notifications"}
        assert parts["intake"]["data"]["tenant"]["fiscal_code"] == FISCAL_CODE
        # (the export reads the tenant's list too: the unlisted case is not in it)
        assert [c["id"] for c in parts["intake"]["data"]["cases"]] == [case_id]
        assert parts["intake"]["data"]["cases"][0]["description"] == DESCRIPTION
        assert len(parts["intake"]["data"]["appointments"]) == 1
        case_files = parts["casework"]["data"]["case_files"]
        assert sorted(c["id"] for c in case_files) == sorted([case_id, second])
        assert {c["description"] for c in case_files} == {DESCRIPTION}  # decrypted
        assert parts["notifications"]["data"]["tenant"]["email"] == EMAIL
        assert any(
            n["recipient"]["kind"] == "inquilino"
            for n in parts["notifications"]["data"]["notifications"]
        )
        # The export shows who accessed the tenant's data (here: the registration, the export).
        assert any(a["method"] == "POST" for a in parts["intake"]["accesses"])

        # Erasure: intake at once, the others by events, each confirming.
        done = erase_tenant(urls, token, tenant_id, "richiesta scritta dell'interessata", 90)
        assert done["state"] == "completata", done
        assert {c["service"] for c in done["confirmations"]} == {
            "intake",
            "casework",
            "notifications",
        }
        assert done["requested_by"] == "dpo.comune"
        again = erase_tenant(urls, token, tenant_id, "di nuovo", 0)
        assert again["id"] == done["id"]  # a repeated request is the first one

        wait_for(
            lambda: db["intake"].cases.find_one({"_id": second, "tenant_id": "anonimizzato"}),
            what="the unlisted case anonymised by casework's case.anonymised",
        )
        # Nothing personal is left in any service's API...
        after = export_tenant(urls, token, tenant_id)
        for service, part in after["services"].items():
            assert personal(part["data"]) == [], service
        # ...nor in their stores, event histories included (the outboxes of intake's
        # aggregates and casework's versions).
        for service, database in db.items():
            for name in database.list_collection_names():
                for doc in database[name].find():
                    assert personal(opened(doc, cipher)) == [], (service, name, doc.get("_id"))
        # New data for the erased tenant is refused.
        refused = apis["intake"].post(
            "/api/v1/cases",
            json={
                "tenant_id": tenant_id,
                "needs": ["altro"],
                "channel": "telefono",
                "opened_by": "op.verdi",
            },
        )
        assert refused.status_code == 409 and refused.json()["code"] == "tenant_erased"

        # The statistics remain: the case is counted, archived, in its building, with its needs.
        case_file = apis["casework"].get(f"/api/v1/case-files/{case_id}").json()
        assert case_file["tenant_id"] == "anonimizzato"
        assert case_file["state"] == "archiviato"
        assert case_file["building"]["id"] == building_id
        assert case_file["needs"] == ["morosita"]
        counts = apis["casework"].get("/api/v1/queues/counts").json()
        assert counts["cases_by_state"].get("archiviato") == 2
        intake_case = apis["intake"].get(f"/api/v1/cases/{case_id}").json()
        assert intake_case["needs"] == ["morosita"] and intake_case["building_id"] == building_id
    finally:
        store.close()


def opened(value: object, cipher: FieldCipher) -> object:
    """``value`` with every encrypted string decrypted: erasure must leave nothing, even
    under encryption."""
    if isinstance(value, dict):
        return {k: opened(v, cipher) for k, v in value.items()}
    if isinstance(value, list):
        return [opened(v, cipher) for v in value]
    if is_encrypted(value):
        return cipher.decrypt(value)  # type: ignore[arg-type]
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
