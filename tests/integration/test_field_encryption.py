"""Fields encrypted at rest, on the real store: raw documents hold ciphertext, the APIs plaintext,
and key rotation moves every value to the new key so the old one can be removed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pymongo
import pytest

from services.casework.adapters.documents import ENCRYPTED_PATHS
from services.casework.entrypoints import rotate_keys as casework_rotate
from services.casework.entrypoints.app import create_app as casework_app
from services.intake.entrypoints import rotate_keys as intake_rotate
from services.intake.entrypoints.app import create_app as intake_app
from services.notifications.entrypoints import rotate_keys as notifications_rotate
from services.notifications.entrypoints.app import create_app as notifications_app
from shared import mongo
from shared.crypto import DecryptionError, FieldCipher, generate_key, is_encrypted, transform
from shared.events import casework as cw
from shared.events import intake as ik
from tests.integration.test_casework_api import deliver_case_opened
from tests.integration.test_intake_cases_api import (
    SAINT_BON,
    case_body,
    fiscal_code,
    register_tenant,
)
from tests.integration.test_notifications_api import apply
from tests.support import authorize_app
from tests.unit.test_notifications_rules import (
    appointment_data,
    case_opened,
    referral,
    tenant_data,
)

SECRET = "Figlio con asma grave, debiti con il padrone di casa"
NOTE = "Ha perso il lavoro a ottobre, la moglie è in cura oncologica"
VISIT_NOTE = "Muffa in camera da letto, la bambina ha l'asma"
CANCEL_REASON = "Ricoverata in ospedale fino a fine mese"


def raw(environ: dict[str, str], service: str, collection: str, doc_id: str) -> dict[str, Any]:
    """The document as the store holds it, read around the services' code."""
    client = pymongo.MongoClient(environ["MONGODB_URI"], tz_aware=True)
    try:
        database = client[f"{environ['SPORTELLO_DB_PREFIX']}_{service}"]
        return database[collection].find_one({"_id": doc_id})
    finally:
        client.close()


def versions(environ: dict[str, str]) -> list[dict[str, Any]]:
    """casework's version documents (each write's events), raw."""
    client = pymongo.MongoClient(environ["MONGODB_URI"], tz_aware=True)
    try:
        database = client[f"{environ['SPORTELLO_DB_PREFIX']}_casework"]
        return list(database["case_file_versions"].find())
    finally:
        client.close()


def use_env(monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], **more: str) -> None:
    for name, value in {**environ, **more}.items():
        monkeypatch.setenv(name, value)


def test_intake_stores_the_case_description_encrypted_and_rotates_it(
    settings_for, environ, monkeypatch
) -> None:
    old = environ["FIELD_ENCRYPTION_KEYS"]
    client = authorize_app(intake_app(settings_for("intake"))).test_client()
    building = client.post("/api/v1/buildings", json=SAINT_BON).json["id"]
    tenant = register_tenant(client, building)["id"]
    opened = client.post("/api/v1/cases", json=case_body(tenant, building, description=SECRET))
    assert opened.status_code == 201, opened.json
    case_id = opened.json["id"]

    stored = raw(environ, "intake", "cases", case_id)
    assert is_encrypted(stored["description"])
    # Nowhere in the document: not the field, not the case.opened event kept in its outbox.
    assert SECRET not in json.dumps(stored, default=str)
    assert is_encrypted(stored["outbox"][0]["value"])
    assert client.get(f"/api/v1/cases/{case_id}").json["description"] == SECRET

    # The tenant's codice fiscale, phone and email: ciphertext, and a blind index to find them.
    person = client.get(f"/api/v1/tenants/{tenant}").json
    stored_tenant = raw(environ, "intake", "tenants", tenant)
    for name in ("fiscal_code", "phone", "email"):
        assert is_encrypted(stored_tenant[name]), name
        assert person[name] not in json.dumps(stored_tenant, default=str), name
    assert stored_tenant["fiscal_code_index"].startswith("bi:v1:")
    assert_found_by_fiscal_code(client, person)
    # An appointment's notes and cancel reason, written on insert and on update.
    visit = client.post(
        "/api/v1/appointments",
        json={
            "kind": "sopralluogo",
            "case_id": case_id,
            "starts_at": (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0).isoformat(),
            "notes": VISIT_NOTE,
            "booked_by": "operatore.rossi",
        },
    )
    assert visit.status_code == 201, visit.json
    visit_id = visit.json["id"]
    cancelled = client.post(
        f"/api/v1/appointments/{visit_id}/cancel",
        json={"reason": CANCEL_REASON, "actor": "operatore.rossi"},
    )
    assert cancelled.status_code == 200, cancelled.json
    stored_visit = raw(environ, "intake", "appointments", visit_id)
    assert is_encrypted(stored_visit["notes"]) and is_encrypted(stored_visit["cancel_reason"])
    text = json.dumps(stored_visit, default=str)
    assert VISIT_NOTE not in text and CANCEL_REASON not in text
    shown = client.get(f"/api/v1/appointments/{visit_id}").json
    assert (shown["notes"], shown["cancel_reason"]) == (VISIT_NOTE, CANCEL_REASON)
    # A phone changed later is stored encrypted too (the update path writes around the document).
    patched = client.patch(f"/api/v1/tenants/{tenant}", json={"phone": "+39 347 7654321"})
    assert patched.status_code == 200, patched.json
    stored_tenant = raw(environ, "intake", "tenants", tenant)
    assert is_encrypted(stored_tenant["phone"]) and "7654321" not in stored_tenant["phone"]
    person = patched.json

    # A value written before encryption is read as it is, and encrypted by the rotation.
    legacy = client.post("/api/v1/cases", json=case_body(tenant, building, needs=["altro"]))
    assert legacy.status_code == 201, legacy.json
    legacy_id = legacy.json["id"]
    db = pymongo.MongoClient(environ["MONGODB_URI"])[f"{environ['SPORTELLO_DB_PREFIX']}_intake"]
    db.cases.update_one({"_id": legacy_id}, {"$set": {"description": "scritta in chiaro"}})
    assert client.get(f"/api/v1/cases/{legacy_id}").json["description"] == "scritta in chiaro"
    # A tenant written before its data was encrypted: plaintext, no blind index.
    legacy_tenant = dict(raw(environ, "intake", "tenants", tenant), _id="ten_legacy", outbox=[])
    legacy_code = fiscal_code(77)
    legacy_tenant.update(fiscal_code=legacy_code, phone="+39 333 7777777", email="l@example.org")
    del legacy_tenant["fiscal_code_index"]
    db.tenants.insert_one(legacy_tenant)
    assert client.get("/api/v1/tenants/ten_legacy").json["phone"] == "+39 333 7777777"
    mongo.disconnect("intake")

    # Rotation: the new key first, the old one still there to decrypt.
    new = generate_key()
    use_env(monkeypatch, environ, FIELD_ENCRYPTION_KEYS=f"{new},{old}")
    assert intake_rotate.main(["--check"]) == 1  # values under the old key (and plaintext) left
    assert intake_rotate.main([]) == 0
    assert intake_rotate.main([]) == 0  # idempotent: nothing left to do
    for doc_id, plain in ((case_id, SECRET), (legacy_id, "scritta in chiaro")):
        stored = raw(environ, "intake", "cases", doc_id)
        assert FieldCipher([new]).decrypt(stored["description"]) == plain
        with pytest.raises(DecryptionError):
            FieldCipher([old]).decrypt(stored["description"])
        assert all(FieldCipher([new]).is_current(r["value"]) for r in stored["outbox"])
    tenant_doc = raw(environ, "intake", "tenants", tenant)
    assert all(FieldCipher([new]).is_current(r["value"]) for r in tenant_doc["outbox"])
    legacy_doc = raw(environ, "intake", "tenants", "ten_legacy")
    assert FieldCipher([new]).decrypt(legacy_doc["fiscal_code"]) == legacy_code
    assert legacy_doc["fiscal_code_index"] == FieldCipher([new]).blind_index(legacy_code)
    assert is_encrypted(legacy_doc["phone"]) and is_encrypted(legacy_doc["email"])
    for name in ("fiscal_code", "phone", "email"):
        assert FieldCipher([new]).decrypt(tenant_doc[name]) == person[name], name
    # The blind index is derived from the key: recomputed under the new one.
    assert tenant_doc["fiscal_code_index"] == FieldCipher([new]).blind_index(person["fiscal_code"])
    visit_doc = raw(environ, "intake", "appointments", visit_id)
    assert FieldCipher([new]).decrypt(visit_doc["notes"]) == VISIT_NOTE
    assert FieldCipher([new]).decrypt(visit_doc["cancel_reason"]) == CANCEL_REASON

    # The old key can go.
    client = authorize_app(
        intake_app(settings_for("intake", FIELD_ENCRYPTION_KEYS=new))
    ).test_client()
    assert client.get(f"/api/v1/cases/{case_id}").json["description"] == SECRET
    assert client.get(f"/api/v1/tenants/{tenant}").json == person
    assert_found_by_fiscal_code(client, person)
    assert client.get(f"/api/v1/appointments/{visit_id}").json["notes"] == VISIT_NOTE
    found = client.get("/api/v1/tenants", query_string={"fiscal_code": legacy_code}).json
    assert [t["id"] for t in found] == ["ten_legacy"]
    mongo.disconnect("intake")


def assert_found_by_fiscal_code(client: Any, person: dict[str, Any]) -> None:
    """Search by codice fiscale (any case, spaces) finds the tenant; a duplicate is refused."""
    code = person["fiscal_code"]
    for query in (code, code.lower()):
        found = client.get("/api/v1/tenants", query_string={"fiscal_code": query})
        assert [t["id"] for t in found.json] == [person["id"]], query
    again = client.post(
        "/api/v1/tenants",
        json={
            "building_id": person["building_id"],
            "first_name": "Altro",
            "last_name": "Nome",
            "fiscal_code": code.lower(),
            "consents": [],
        },
    )
    assert again.status_code == 409, again.json
    assert again.json["details"]["existing_tenant_id"] == person["id"]


def test_casework_stores_free_text_encrypted_and_rotates_it(
    settings_for, environ, monkeypatch
) -> None:
    old = environ["FIELD_ENCRYPTION_KEYS"]
    app = authorize_app(casework_app(settings_for("casework")))
    client = app.test_client()
    deliver_case_opened(app, "case_enc", description=SECRET)
    note = client.post(
        "/api/v1/case-files/case_enc/notes", json={"text": NOTE, "actor": "op.rossi"}
    )
    assert note.status_code == 201, note.json
    referral = client.post(
        "/api/v1/case-files/case_enc/transitions",
        json={"to_state": "in_valutazione", "actor": "op.rossi"},
    )
    assert referral.status_code == 200, referral.json

    stored = raw(environ, "casework", "case_files", "case_enc")
    text = json.dumps(stored, default=str) + json.dumps(versions(environ), default=str)
    assert SECRET not in text and NOTE not in text
    assert is_encrypted(stored["description"]) and is_encrypted(stored["notes"][-1]["text"])
    body = client.get("/api/v1/case-files/case_enc").json
    assert body["description"] == SECRET
    assert NOTE in [n["text"] for n in client.get("/api/v1/case-files/case_enc/notes").json]
    mongo.disconnect("casework")

    new = generate_key()
    use_env(monkeypatch, environ, FIELD_ENCRYPTION_KEYS=f"{new},{old}")
    assert casework_rotate.main(["--check"]) == 1
    assert casework_rotate.main([]) == 0
    assert casework_rotate.main([]) == 0
    stored = raw(environ, "casework", "case_files", "case_enc")
    values: list[str] = []
    transform(stored, ENCRYPTED_PATHS, lambda v: values.append(v) or v)
    assert values and all(FieldCipher([new]).is_current(v) for v in values)
    assert FieldCipher([new]).decrypt(stored["description"]) == SECRET
    records = [r for v in versions(environ) for r in v["outbox"]]
    assert records and all(FieldCipher([new]).is_current(r["value"]) for r in records)

    client = authorize_app(
        casework_app(settings_for("casework", FIELD_ENCRYPTION_KEYS=new))
    ).test_client()
    assert client.get("/api/v1/case-files/case_enc").json["description"] == SECRET
    assert NOTE in [n["text"] for n in client.get("/api/v1/case-files/case_enc/notes").json]
    mongo.disconnect("casework")


def test_notifications_store_tenant_contacts_and_addresses_encrypted_and_rotate_them(
    settings_for, environ, monkeypatch
) -> None:
    old = environ["FIELD_ENCRYPTION_KEYS"]
    client = authorize_app(notifications_app(settings_for("notifications"))).test_client()
    tenant = tenant_data()
    apply(client, ik.TENANT_REGISTERED, tenant)
    starts = (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0)
    apply(client, ik.APPOINTMENT_BOOKED, appointment_data(starts.isoformat()))
    apply(client, ik.CASE_OPENED, case_opened())
    apply(client, cw.REFERRAL_COMPLETED, referral(outcome="contributo concesso"))

    stored = raw(environ, "notifications", "tenants", tenant["tenant_id"])
    assert is_encrypted(stored["phone"]) and is_encrypted(stored["email"])
    messages = all_raw(environ, "notifications", "notifications")
    personal = [m for m in messages if m["channel"] in ("email", "sms")]
    to_tenant = [m for m in personal if m["recipient"]["kind"] == "inquilino"]
    assert to_tenant and all(is_encrypted(m["recipient"]["address"]) for m in personal)
    text = json.dumps(messages, default=str)
    assert tenant["phone"] not in text and tenant["email"] not in text
    # An inbox id is a staff id the inbox is looked up by: in clear.
    inbox = [m for m in messages if m["channel"] == "inbox"]
    assert inbox and {m["recipient"]["address"] for m in inbox} >= {"operatore.bianchi"}
    shown = client.get("/api/v1/notifications", query_string={"channel": to_tenant[0]["channel"]})
    assert {n["recipient"]["address"] for n in shown.json} <= {tenant["phone"], tenant["email"]}
    mongo.disconnect("notifications")

    new = generate_key()
    use_env(monkeypatch, environ, FIELD_ENCRYPTION_KEYS=f"{new},{old}")
    assert notifications_rotate.main(["--check"]) == 1
    assert notifications_rotate.main([]) == 0
    assert notifications_rotate.main([]) == 0
    stored = raw(environ, "notifications", "tenants", tenant["tenant_id"])
    assert FieldCipher([new]).decrypt(stored["phone"]) == tenant["phone"]
    assert FieldCipher([new]).is_current(stored["email"])
    for m in all_raw(environ, "notifications", "notifications"):
        address = m["recipient"]["address"]
        if m["channel"] == "inbox":
            assert not is_encrypted(address)
        else:
            assert FieldCipher([new]).is_current(address)

    client = authorize_app(
        notifications_app(settings_for("notifications", FIELD_ENCRYPTION_KEYS=new))
    ).test_client()
    shown = client.get("/api/v1/notifications", query_string={"channel": to_tenant[0]["channel"]})
    assert {n["recipient"]["address"] for n in shown.json} <= {tenant["phone"], tenant["email"]}
    assert shown.json
    mongo.disconnect("notifications")


def all_raw(environ: dict[str, str], service: str, collection: str) -> list[dict[str, Any]]:
    """Every document of a collection as the store holds it."""
    client = pymongo.MongoClient(environ["MONGODB_URI"], tz_aware=True)
    try:
        return list(client[f"{environ['SPORTELLO_DB_PREFIX']}_{service}"][collection].find())
    finally:
        client.close()
