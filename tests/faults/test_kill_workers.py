"""Scenario 1: SIGKILL the workers (relay and consumers) at random moments under load.

Afterwards every case exists in casework exactly once, every expected notification exists exactly
once, and nothing unexpected is in a dead-letter topic.
"""

from __future__ import annotations

import random
import signal
import threading

import pytest

from bench import workload
from bench.load import closed_loop
from tests.faults.conftest import TALLIES, Tally, World
from tests.faults.support import custode_query
from tests.support import wait_for, wait_for_count

CASES = 2000
VICTIMS = ("intake-worker", "casework-worker", "notifications-worker")


def chaos(world: World, stop: threading.Event, kills: dict[str, int], seed: int) -> None:
    """Kill a random worker every 1–4 s and restart it after 0–1 s, until ``stop``."""
    rng = random.Random(seed)
    while not stop.wait(rng.uniform(1.0, 4.0)):
        victim = rng.choice(VICTIMS)
        world.system.signal(victim, signal.SIGKILL)
        kills[victim] += 1
        stop.wait(rng.uniform(0, 1.0))
        wait_for(
            lambda victim=victim: world.system.pid(victim) is None,
            timeout_s=10,
            what=f"{victim} dead",
        )
        world.system.start(only=[victim])


# The drain after the load is bounded by the store on a small machine; a stall (no progress for
# 90 s) fails long before this.
@pytest.mark.timeout(1200)
def test_killing_workers_loses_nothing_and_doubles_nothing(world: World) -> None:
    intake = world.system.url("intake")
    ctx = workload.prepare(
        intake, tenants=CASES // 4, headers=workload.token_headers(world.system.env)
    )
    kills = dict.fromkeys(VICTIMS, 0)
    stop = threading.Event()
    chaos_thread = threading.Thread(target=chaos, args=(world, stop, kills, 20261122))
    chaos_thread.start()
    try:
        load = closed_loop(
            lambda s, i: workload.open_case(s, intake, ctx),
            clients=8,
            duration_s=600,
            max_requests=CASES,
            keep_bodies=True,
        )
        # Keep killing while the backlog drains, until every worker has died at least twice (a
        # fast load may end before the random victims cover them all), and a little after.
        wait_for(
            lambda: min(kills.values()) >= 2,
            timeout_s=120,
            what="every worker killed twice",
        )
        stop.wait(3)
    finally:
        stop.set()
        chaos_thread.join()
    for victim in VICTIMS:
        world.system.start(only=[victim])
    assert load.ok == CASES, load.statuses
    assert all(kills[v] >= 2 for v in VICTIMS), f"not every worker was killed twice: {kills}"

    case_ids = {body["id"] for body in load.bodies}
    assert len(case_ids) == CASES
    case_files = world.db("casework").case_files
    # The database is this test's own: its size (from collection metadata, no scan) shows the
    # drain's progress without loading FerretDB, which must drain the backlog meanwhile.
    wait_for_count(case_files.estimated_document_count, CASES, what="case files", every_s=2)
    stored = [d["_id"] for d in case_files.find({}, {"_id": 1})]
    assert len(stored) == len(set(stored)) == CASES
    assert set(stored) == case_ids

    notifications = world.db("notifications").notifications
    # Cheap progress first (the collection's size), then the exact count, polled less often.
    wait_for_count(notifications.estimated_document_count, CASES, what="messages", every_s=2)
    wait_for_count(
        lambda: notifications.count_documents(custode_query(case_ids)),
        CASES,
        what="custode notifications",
        every_s=2,
    )
    per_case: dict[str, int] = {}
    for doc in notifications.find(custode_query(case_ids), {"case_id": 1}):
        per_case[doc["case_id"]] = per_case.get(doc["case_id"], 0) + 1
    assert set(per_case) == case_ids, "a case's custode was never told"
    doubled = {c: n for c, n in per_case.items() if n != 1}
    assert not doubled, f"custodi told more than once: {list(doubled.items())[:5]}"

    assert world.dead_letters("casework") == []
    assert world.dead_letters("notifications") == []

    produced, unique = world.intake_events(case_ids)
    TALLIES.append(
        Tally(
            scenario=f"kill workers ({sum(kills.values())} SIGKILLs)",
            produced=produced,
            unique_events=unique,
            consumed=len(stored),
            duplicates_suppressed=world.log_count("casework-worker", "already open (redelivery)"),
            dead_lettered=0,
            lost=CASES - len(set(stored)),
        )
    )
    assert unique == CASES
