"""notifications applies a backlog's run of ``case.opened`` in bulk (``on_cases_opened``): the
store ends exactly as applying the same events one by one leaves it, down to every field of every
message, its send-queue entry, and the read models."""

from __future__ import annotations

from typing import Any

import pymongo

from services.notifications.adapters.repository import SEND_QUEUE
from services.notifications.bootstrap import bootstrap
from services.notifications.service_layer.handlers import (
    EVENT_HANDLERS,
    Dependencies,
    on_cases_opened,
)
from shared import crypto, mongo
from shared.events import Event, make_event
from shared.events import intake as ik
from shared.kafka import dispatcher
from tests.integration.test_notifications_rules import DAY
from tests.unit.test_notifications_rules import case_opened


def building(building_id: str, version: int, custode: str) -> dict[str, Any]:
    email = f"{custode.lower().replace(' ', '.')}@example.org"
    return {
        "id": building_id,
        "name": f"Stabile {building_id}",
        "address": "via Saint Bon 6, Milano",
        "municipio": 7,
        "version": version,
        "custodians": [{"name": custode, "email": email, "channel": "email"}],
    }


def opened(case_id: str, bld: dict[str, Any], urgent: bool = False) -> Event:
    data = {**case_opened(urgent), "case_id": case_id, "tenant_id": f"ten_{case_id}"}
    return make_event(ik.CASE_OPENED, case_id, {**data, "building": bld})


CURRENT = building("bld_a", 2, "Custode Nuovo")
LATE = building("bld_a", 1, "Custode Vecchio")  # a snapshot from before the change
DIGEST = building("bld_b", 1, "Custode Riepilogo")  # chose the daily digest

BEFORE = opened("case_before", CURRENT)  # applied before the run: redelivered in it
FRESH = [opened(f"case_{n}", CURRENT) for n in range(10)]
LATE_CASE = opened("case_late", LATE)
TO_DIGEST = [opened("case_d1", DIGEST), opened("case_d2", DIGEST)]
URGENT = opened("case_urgent", DIGEST, urgent=True)  # immediate, digest or not
# bld_b's custode replaced within the run, after a message joined the old one's digest.
CHANGED = opened("case_changed", building("bld_b", 2, "Custode Subentrato"))
RUN = [
    *FRESH[:4],
    BEFORE,
    LATE_CASE,
    TO_DIGEST[0],
    CHANGED,
    *FRESH[4:],
    URGENT,
    TO_DIGEST[1],
    FRESH[0],
]


def prepared(settings) -> Dependencies:
    deps = bootstrap(settings, clock=lambda: DAY)
    deps.preferences.set("Custode Riepilogo", "riepilogo", "coordinatore", DAY)
    dispatcher(EVENT_HANDLERS, deps)(BEFORE, [])
    return deps


def stored(settings) -> dict[str, list[dict[str, Any]]]:
    """Every document notifications holds after the run, collection by collection."""
    client = pymongo.MongoClient(settings.mongodb_uri)
    try:
        db = client[settings.database]
        names = ("notifications", SEND_QUEUE, "cases", "buildings")
        docs = {name: list(db[name].find({}).sort("_id", 1)) for name in names}
    finally:
        client.close()
    cipher = crypto.cipher_for("notifications")
    for doc in docs["notifications"]:  # each encryption of an address is a different text
        doc["recipient"]["address"] = cipher.decrypt(doc["recipient"]["address"])
    return docs


def test_a_run_of_openings_in_bulk_ends_as_one_by_one_would(settings_for, environ) -> None:
    bulk_settings = settings_for("notifications")
    deps = prepared(bulk_settings)
    handle = dispatcher(EVENT_HANDLERS, deps)
    applied = on_cases_opened(RUN, deps)
    # In bulk up to the first message that joins a digest; the redelivery is left over too.
    assert applied == {e.id for e in [*FRESH[:4], LATE_CASE]}
    for event in RUN:
        if event.id not in applied:
            handle(event, [])
    in_bulk = stored(bulk_settings)
    mongo.disconnect("notifications")

    prefix = f"{environ['SPORTELLO_DB_PREFIX']}_one"  # dropped with the test's databases
    one_settings = settings_for("notifications", SPORTELLO_DB_PREFIX=prefix)
    deps = prepared(one_settings)
    handle = dispatcher(EVENT_HANDLERS, deps)
    for event in RUN:
        handle(event, [])
    one_by_one = stored(one_settings)
    mongo.disconnect("notifications")

    assert in_bulk == one_by_one
    notes = in_bulk["notifications"]
    # One message per case (the late one to the current custode), and the digest itself.
    assert len(notes) == len({e.id for e in RUN}) + 1 == 17
    late = next(n for n in notes if n.get("case_id") == "case_late")
    assert late["recipient"]["name"] == "Custode Nuovo"
    by_case = {n.get("case_id"): n for n in notes}
    assert by_case["case_d1"]["status"] == "in_riepilogo"  # before the change: the old custode
    assert by_case["case_d2"]["recipient"]["name"] == "Custode Subentrato"
    assert by_case["case_urgent"]["recipient"]["name"] == "Custode Subentrato"
    # Queued: each message but the one the digest holds, and the digest.
    assert len(in_bulk[SEND_QUEUE]) == 17 - 1
    assert [b["version"] for b in in_bulk["buildings"]] == [2, 2]
