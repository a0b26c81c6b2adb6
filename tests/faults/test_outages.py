"""Scenarios 2 and 3: the broker, then the store, restarted while cases are being opened."""

from __future__ import annotations

import requests

from bench import workload
from shared.kafka import EventProducer
from tests.faults.conftest import TALLIES, Tally, World, infra_command
from tests.faults.support import BackgroundLoad, assert_each_case_once, committed_offsets
from tests.support import wait_for


def test_a_broker_restart_mid_stream_loses_nothing(world: World) -> None:
    ctx = workload.prepare(
        world.system.url("intake"), tenants=100, headers=workload.token_headers(world.system.env)
    )
    load = BackgroundLoad(world, ctx, total=400).start()
    wait_for(lambda: load.sent >= 100, timeout_s=120, what="load under way")
    infra_command("stop", "kafka")
    try:
        accepted_before = load.statuses.get(201, 0)
        # With the broker down intake keeps accepting cases: their events wait in the outbox.
        wait_for(
            lambda: load.statuses.get(201, 0) >= accepted_before + 50,
            timeout_s=120,
            what="cases accepted while the broker is down",
        )
        readiness = requests.get(f"{world.system.url('intake')}/readyz", timeout=10)
        assert readiness.status_code == 503
        assert "kafka" in readiness.json()["message"]
        # Stay down until a send has expired in the relay (delivery timeout, 30 s): recovering
        # from that is the hard part (kafka-python's idempotent producer can stay wedged).
        wait_for(
            lambda: world.log_count("intake-worker", "outbox relay paused") > 0,
            timeout_s=120,
            what="a relay send expiring while the broker is down",
        )
    finally:
        infra_command("start", "kafka")
    load.join()
    assert load.statuses == {201: 400}, (load.statuses, load.errors[:3])
    consumed = assert_each_case_once(world, load.case_ids)
    produced, unique = world.intake_events(load.case_ids)
    TALLIES.append(
        Tally(
            "broker restart mid-stream",
            produced,
            unique,
            consumed,
            world.log_count("casework-worker", "already open (redelivery)"),
            0,
            len(load.case_ids) - consumed,
        )
    )


def test_a_store_restart_mid_stream_answers_503_and_commits_nothing_unstored(
    world: World,
) -> None:
    intake = world.system.url("intake")
    ctx = workload.prepare(intake, tenants=100, headers=workload.token_headers(world.system.env))
    load = BackgroundLoad(world, ctx, total=300, pace_s=0.05).start()
    wait_for(lambda: load.sent >= 80, timeout_s=120, what="load under way")
    group, topic = f"{world.prefix}.casework", world.topic("intake")
    infra_command("stop", "mongo")
    try:
        # The APIs answer 503 in the error shape, quickly: never a 500, never a hang.
        def unavailable() -> dict | None:
            response = requests.post(
                f"{intake}/api/v1/cases",
                timeout=15,
                headers=ctx.headers,
                json={
                    "tenant_id": ctx.tenant_ids[0],
                    "building_id": ctx.building_id,
                    "needs": ["altro"],
                    "opened_by": "op",
                },
            )
            return response.json() if response.status_code == 503 else None

        body = wait_for(unavailable, timeout_s=60, what="503 while the store is down")
        assert body["code"] in {"store_unavailable", "store_error"}
        assert "riprova" in body["message"]
        for service in ("intake", "casework", "notifications"):
            ready = requests.get(f"{world.system.url(service)}/readyz", timeout=15)
            assert ready.status_code == 503 and "mongodb" in ready.json()["message"]

        # Events arriving now cannot be stored: casework must not commit past them.
        before = committed_offsets(world, group, topic)
        producer = EventProducer(world.env["KAFKA_BOOTSTRAP_SERVERS"])
        stranded = [workload.case_opened_event(i) for i in range(20)]
        for event in stranded:
            producer.publish(topic, event)
        producer.close()
        wait_for(
            lambda: world.log_count("casework-worker", "infrastructure unavailable") > 0,
            timeout_s=60,
            what="the consumer noticing the outage",
        )
        after = committed_offsets(world, group, topic)
        assert after == before, "offsets were committed for events whose effects are not stored"
    finally:
        infra_command("start", "mongo")
    load.join()
    assert not any(s >= 500 and s != 503 for s in load.statuses), load.statuses
    assert all(b["code"] in {"store_unavailable", "store_error"} for b in load.bodies_5xx)
    assert load.statuses.get(201, 0) > 0 and load.statuses.get(503, 0) > 0, load.statuses
    consumed = assert_each_case_once(world, load.case_ids)
    stranded_ids = {e.subject for e in stranded}
    case_files = world.db("casework").case_files
    wait_for(
        lambda: case_files.count_documents({"_id": {"$in": list(stranded_ids)}}) == 20,
        timeout_s=120,
        what="the stranded events applied after the outage",
    )
    produced, unique = world.intake_events(load.case_ids)
    TALLIES.append(
        Tally(
            "store restart mid-stream",
            produced + 20,
            unique + 20,
            consumed + 20,
            world.log_count("casework-worker", "already open (redelivery)"),
            0,
            0,
        )
    )
