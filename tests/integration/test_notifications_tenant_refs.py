"""notifications finds a tenant's cases, and the messages to them or about their cases, from their
entries (``tenant_refs``) as the queries on ``tenant_id``, ``recipient.ref`` and ``case_id`` find
them: on a database whose documents predate the entries (backfilled), through retention and a
tenant's erasure, and after an erasure interrupted between its writes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from services.notifications.adapters.documents import (
    CaseDoc,
    ConsentDoc,
    NotificationDoc,
    TenantRefDoc,
)
from services.notifications.adapters.repository import _about_tenant
from services.notifications.bootstrap import bootstrap
from services.notifications.entrypoints.worker import build_worker
from services.notifications.service_layer.handlers import EVENT_HANDLERS, Dependencies
from shared import id_lists, mongo
from shared.events import casework as cw
from shared.events import decode, encode, make_event
from shared.events import intake as ik
from shared.privacy import ANONYMOUS
from tests.integration.test_notifications_rules import DAY
from tests.unit.test_notifications_rules import case_opened, referral, tenant_data

CASES = {"case_0": "ten_1", "case_1": "ten_1", "case_2": "ten_2", "case_3": "ten_2"}


@pytest.fixture
def deps(settings_for) -> Iterator[Dependencies]:
    yield bootstrap(settings_for("notifications"), clock=lambda: DAY)
    mongo.disconnect("notifications")


def deliver(deps: Dependencies, event_type: str, data: dict[str, Any], subject: str) -> None:
    handle = EVENT_HANDLERS[event_type]
    handle(decode(encode(make_event(event_type, subject, data))), deps)


def messages(query: dict[str, Any]) -> set[str]:
    return {d["_id"] for d in NotificationDoc._get_collection().find(query, {"_id": 1})}


def selected(deps: Dependencies, selection: list[str] | dict[str, Any]) -> set[str]:
    return {d["_id"] for d in deps.notifications.select(selection, {"_id": 1})}


def cases_of(tenant_id: str) -> set[str]:
    return {d["_id"] for d in CaseDoc._get_collection().find({"tenant_id": tenant_id})}


def assert_both_agree(deps: Dependencies, tenant_id: str) -> set[str]:
    """The tenant's cases and messages, from the entries, are what the queries find."""
    case_ids = deps.cases.ids_of_tenant(tenant_id)
    assert set(case_ids) == cases_of(tenant_id)
    found = selected(deps, deps.notifications.messages_about_tenant(tenant_id, case_ids))
    assert found == messages(_about_tenant(tenant_id, case_ids))
    for case_id in case_ids:
        about = deps.notifications.messages_about_cases([case_id])
        assert selected(deps, about) == messages({"case_id": case_id})
    return found


def test_a_tenants_cases_and_messages_are_found_from_their_entries(
    deps, settings_for, monkeypatch
) -> None:
    for tenant_id in ("ten_1", "ten_2", "ten_10"):
        deliver(deps, ik.TENANT_REGISTERED, tenant_data(tenant_id=tenant_id), tenant_id)
    for n, (case_id, tenant_id) in enumerate(CASES.items()):
        opened = {**case_opened(), "case_id": case_id, "tenant_id": tenant_id}
        deliver(deps, ik.CASE_OPENED, opened, case_id)
        outcome = referral(
            case_id=case_id,
            referral_id=f"ref_{n}",
            outcome="contributo regionale 250 EUR",
            outcome_for_tenant="Riceverà un aiuto di 250 euro.",
        )
        deliver(deps, cw.REFERRAL_COMPLETED, outcome, case_id)
    refs = TenantRefDoc._get_collection()
    written = {e["_id"] for e in refs.find({})}
    # Each case of its tenant; each message about its case, the tenant's messages to them.
    assert {e for e in written if e.startswith("t:")} == {f"t:{t}:{c}" for c, t in CASES.items()}
    to_tenant = [e for e in written if e.startswith("r:ten_1:")]
    assert len(to_tenant) >= 2  # the outcome of each of their two cases, at least

    # Documents stored before the entries existed: the queries until the worker backfills.
    refs.delete_many({})
    assert not deps.notifications.refs.ready("ten_1")
    assert len(assert_both_agree(deps, "ten_1")) >= 6  # custode, operator, tenant, per case
    build_worker(settings_for("notifications"))  # not run: the backfill is at start
    deps = bootstrap(settings_for("notifications"), clock=lambda: DAY)  # connected again
    assert deps.notifications.refs.ready("ten_1")
    assert {e["_id"] for e in TenantRefDoc._get_collection().find({})} == written
    of_ten_1, of_ten_2 = assert_both_agree(deps, "ten_1"), assert_both_agree(deps, "ten_2")
    assert of_ten_1 and of_ten_2 and not of_ten_1 & of_ten_2
    # From the entries now: a case's entries gone, its messages are not found (the source).
    refs = TenantRefDoc._get_collection()
    lost = list(refs.find({"_id": {"$regex": "^c:case_3:"}}))
    refs.delete_many({"_id": {"$in": [e["_id"] for e in lost]}})
    assert selected(deps, deps.notifications.messages_about_cases(["case_3"])) == set()
    refs.insert_many(lost)
    lost = list(refs.find({"_id": {"$regex": "^r:ten_2:"}}))
    refs.delete_many({"_id": {"$in": [e["_id"] for e in lost]}})
    assert selected(deps, deps.notifications.messages_about_tenant("ten_2", [])) == set()
    refs.insert_many(lost)

    # Retention anonymises the messages about a case, found by its entries.
    about_case_2 = messages({"case_id": "case_2"})
    # Ids are read in chunks the store serves from its index (1,000 there; 2 here).
    monkeypatch.setattr(id_lists, "ID_CHUNK", 2)
    assert assert_both_agree(deps, "ten_2") == of_ten_2
    # A tenant with neither cases nor messages: no ids, no read of the messages at all.
    assert deps.cases.ids_of_tenant("ten_10") == []
    assert deps.notifications.messages_about_tenant("ten_10", []) == []
    assert deps.notifications.messages_about_cases(["case_none"]) == []
    assert deps.notifications.anonymise(deps.notifications.messages_about_cases(["case_2"]), DAY)
    assert {d["_id"] for d in NotificationDoc._get_collection().find({"text": ""})} == about_case_2

    # An erasure interrupted after it unlinked the cases, before it dropped their entries: the
    # request redelivered still finds the cases, and the messages about them.
    unlinked = {"$set": {"tenant_id": ANONYMOUS}}
    CaseDoc._get_collection().update_many({"tenant_id": "ten_1"}, unlinked)
    assert sorted(deps.cases.ids_of_tenant("ten_1")) == ["case_0", "case_1"]
    erasure = {
        "erasure_id": "era_1",
        "tenant_id": "ten_1",
        "requested_by": "admin",
        "requested_at": DAY.isoformat(),
    }
    deliver(deps, ik.TENANT_ERASURE_REQUESTED, erasure, "ten_1")
    erased = NotificationDoc._get_collection().find({"_id": {"$in": sorted(of_ten_1)}})
    assert all(d["text"] == "" for d in erased)
    assert deps.cases.ids_of_tenant("ten_1") == []
    assert not [e["_id"] for e in refs.find({}) if e["_id"].startswith("t:ten_1:")]
    assert assert_both_agree(deps, "ten_2") == of_ten_2
    # Their consents went with them; those of ten_10 (whose id ten_1 begins) stay.
    consents = {d["_id"] for d in ConsentDoc._get_collection().find({})}
    assert not [c for c in consents if c.startswith("ten_1|")]
    assert {"ten_10|sms", "ten_10|email"} <= consents
    # A case.opened redelivered after the erasure does not link the tenant to the case again.
    opened = {**case_opened(), "case_id": "case_0", "tenant_id": "ten_1"}
    deliver(deps, ik.CASE_OPENED, opened, "case_0")
    assert deps.cases.ids_of_tenant("ten_1") == []
    assert not [e["_id"] for e in refs.find({}) if e["_id"].startswith("t:ten_1:")]
