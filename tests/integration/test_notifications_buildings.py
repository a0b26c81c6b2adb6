"""notifications keeps the building's custodi sociali current from intake's ``building.updated``,
through the real broker: a replaced custode is told from the next notification on, and a late or
redelivered older snapshot (a ``building.updated`` or a ``case.opened`` that carries the building)
never brings the replaced custode back.
"""

# ruff: noqa: F811 - the fixtures are shared with the notification rules tests

from __future__ import annotations

from services.notifications.adapters.documents import BuildingDoc
from shared.events import casework as cw
from shared.events import intake as ik
from tests.integration.test_notifications_rules import (  # noqa: F401 - fixtures
    CUSTODIAN,
    DAY,
    World,
    clock,
    open_case,
    sms,
    smtp,
    world,
)
from tests.support import wait_for
from tests.unit.test_notifications_rules import building, case_opened

NEW = "custode.nuovo@example.org"
NEWEST = "custode.ultimo@example.org"


def updated(version: int, email: str) -> dict:
    """A ``building.updated`` snapshot of the test building with one custode."""
    custode = {"name": f"Custode {email.split('@')[0]}", "email": email, "channel": "email"}
    return {**building([custode]), "version": version, "works_notes": None}


def publish_update(w: World, version: int, email: str) -> None:
    w.publish(ik.BUILDING_UPDATED, updated(version, email), subject="bld_saintbon")


def stored_version() -> int | None:
    doc = BuildingDoc.objects(id="bld_saintbon").first()
    return doc.version if doc else None


def applied(w: World, count: int) -> None:
    """Wait until the worker's consumer applied ``count`` events (the warm-up included)."""
    wait_for(
        lambda: w.worker.consumer and w.worker.consumer.stats.applied >= count,
        what=f"{count} events applied",
    )


def disconnection(w: World) -> None:
    """casework's alert about case_1: it names no building, so the custodi come from the model."""
    data = {
        "case_id": "case_1",
        "actor": "sistema",
        "at": DAY.isoformat(),
        "disconnection_date": "2026-11-23",
        "days_left": 3,
        "paths": [],
    }
    w.publish(cw.DISCONNECTION_DEADLINE_APPROACHING, data)


SUBJECT = "Sportello Energia: distacco imminente nel suo stabile"


def subjects(w: World, address: str) -> list[str]:
    return [m["Subject"] for m in w.mailbox.to(address)]


def test_a_replaced_custode_is_told_from_the_next_notification_on(world: World) -> None:
    open_case(world)  # the building as intake published it before versions: the old custode
    wait_for(lambda: BuildingDoc.objects(id="bld_saintbon").first(), what="building model")
    publish_update(world, 2, NEW)
    wait_for(lambda: stored_version() == 2, what="building.updated applied")

    disconnection(world)  # no new case: the alert names only the case
    wait_for(lambda: SUBJECT in subjects(world, NEW), what="alert to the new custode")
    # The next case of the building, as intake now publishes it (snapshot with its version).
    world.publish(
        ik.CASE_OPENED,
        {**case_opened(), "case_id": "case_2", "building": updated(2, NEW)},
        subject="case_2",
    )
    wait_for(lambda: len(world.mailbox.to(NEW)) == 2, what="new case told to the new custode")
    world.worker.sender.run_once()
    assert SUBJECT not in subjects(world, CUSTODIAN)
    assert len(world.mailbox.to(CUSTODIAN)) == 1  # only the first case, before the change


def test_an_older_snapshot_arriving_late_changes_nothing(world: World) -> None:
    publish_update(world, 3, NEWEST)
    wait_for(lambda: stored_version() == 3, what="building.updated v3 applied")
    # Then, late: the older update redelivered, and a case opened before the change.
    publish_update(world, 2, NEW)
    publish_update(world, 2, NEW)
    world.publish(ik.CASE_OPENED, {**case_opened(), "building": updated(2, NEW)})
    applied(world, 5)  # warm-up, v3, v2 twice, case.opened

    doc = BuildingDoc.objects.get(id="bld_saintbon")
    assert doc.version == 3
    assert [c["email"] for c in doc.custodians] == [NEWEST]
    # The late case is told to the current custode, not to the one its snapshot names.
    wait_for(lambda: world.mailbox.to(NEWEST), what="the case told to the current custode")
    disconnection(world)
    wait_for(lambda: SUBJECT in subjects(world, NEWEST), what="alert to the current custode")
    world.worker.sender.run_once()
    assert world.mailbox.to(NEW) == []
