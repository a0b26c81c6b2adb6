"""Scenarios 5 and 6: two workers in one group (one dies, one joins); graceful stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from kafka import KafkaConsumer, TopicPartition

from bench import workload
from shared.events import PoisonEvent, decode
from tests.faults.conftest import ROOT, TALLIES, Tally, World
from tests.faults.support import BackgroundLoad, assert_each_case_once, committed_offsets
from tests.support import wait_for


def start_second_worker(world: World) -> subprocess.Popen:
    env = {
        **world.system.env,
        "PYTHONPATH": str(ROOT),
        "KAFKA_GROUP_INSTANCE_ID": "casework-worker-2",
    }
    log = open(world.system.log_dir / "casework-worker-2.log", "ab")  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "services.casework.entrypoints.worker"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def test_two_workers_in_one_group_rebalance_and_apply_each_event_once(world: World) -> None:
    ctx = workload.prepare(
        world.system.url("intake"), tenants=150, headers=workload.token_headers(world.system.env)
    )
    second = start_second_worker(world)
    try:
        load = BackgroundLoad(world, ctx, total=600, pace_s=0.01).start()
        wait_for(lambda: load.sent >= 200, timeout_s=120, what="load under way")
        second.send_signal(signal.SIGKILL)  # one dies: its partitions move to the other
        second.wait(timeout=10)
        wait_for(lambda: load.sent >= 400, timeout_s=120, what="more load")
        second = start_second_worker(world)  # one joins: partitions are shared again
        load.join()
        assert load.statuses == {201: 600}, load.statuses
        consumed = assert_each_case_once(world, load.case_ids)
    finally:
        second.terminate()
        second.wait(timeout=30)
    produced, unique = world.intake_events(load.case_ids)
    suppressed = sum(
        world.log_count(p, "already open (redelivery)")
        for p in ("casework-worker", "casework-worker-2")
    )
    TALLIES.append(
        Tally(
            "two workers, one killed, one joining",
            produced,
            unique,
            consumed,
            suppressed,
            0,
            len(load.case_ids) - consumed,
        )
    )


def test_sigterm_finishes_the_batch_commits_and_exits_in_time(world: World) -> None:
    ctx = workload.prepare(
        world.system.url("intake"), tenants=100, headers=workload.token_headers(world.system.env)
    )
    load = BackgroundLoad(world, ctx, total=300, pace_s=0.005).start()
    case_files = world.db("casework").case_files
    wait_for(lambda: case_files.count_documents({}) >= 50, timeout_s=120, what="work in progress")
    pid = world.system.pid("casework-worker")
    assert pid
    os.kill(pid, signal.SIGTERM)

    def exit_status() -> tuple[int] | None:
        done, status = os.waitpid(pid, os.WNOHANG)
        return (status,) if done else None

    (status,) = wait_for(exit_status, timeout_s=20, what="the worker exiting after SIGTERM")
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status

    # Every event below the committed offsets has its effect stored.
    group, topic = f"{world.prefix}.casework", world.topic("intake")
    committed = committed_offsets(world, group, topic)
    consumer = KafkaConsumer(
        bootstrap_servers=world.env["KAFKA_BOOTSTRAP_SERVERS"], enable_auto_commit=False
    )
    below: set[str] = set()
    try:
        for partition, offset in committed.items():
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek_to_beginning(tp)
            while consumer.position(tp) < offset:
                for records in consumer.poll(timeout_ms=500).values():
                    for r in records:
                        if r.offset >= offset:
                            break
                        try:
                            event = decode(r.value)
                        except PoisonEvent:
                            continue
                        if event.type.endswith("case.opened.v1"):
                            below.add(event.subject)
    finally:
        consumer.close()
    assert below, f"nothing was committed before the stop: {committed}"
    stored = {d["_id"] for d in case_files.find({"_id": {"$in": list(below)}}, {"_id": 1})}
    assert stored == below, f"committed without effect: {list(below - stored)[:5]}"

    world.system.start(only=["casework-worker"])
    load.join()
    consumed = assert_each_case_once(world, load.case_ids)
    TALLIES.append(
        Tally(
            "graceful stop (SIGTERM) and restart",
            0,
            0,
            consumed,
            world.log_count("casework-worker", "already open (redelivery)"),
            0,
            len(load.case_ids) - consumed,
        )
    )
