"""Helpers of the fault-injection scenarios: load in the background, checks of effects."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import requests
from kafka import KafkaConsumer, TopicPartition

from bench import workload
from tests.faults.conftest import World
from tests.support import wait_for, wait_for_count


@dataclass
class BackgroundLoad:
    """Opens cases at a steady pace in a thread; records every answer."""

    world: World
    ctx: workload.Context
    total: int
    pace_s: float = 0.02
    statuses: dict[int, int] = field(default_factory=dict)
    case_ids: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    bodies_5xx: list[dict] = field(default_factory=list)
    sent: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        session = requests.Session()
        intake = self.world.system.url("intake")
        while self.sent < self.total and not self._stop.is_set():
            try:
                response = workload.open_case(session, intake, self.ctx)
            except requests.RequestException as exc:
                self.errors.append(repr(exc))
                continue
            finally:
                self.sent += 1
            self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
            if response.status_code == 201:
                self.case_ids.add(response.json()["id"])
            elif response.status_code >= 500:
                self.bodies_5xx.append(response.json())
            self._stop.wait(self.pace_s)

    def start(self) -> BackgroundLoad:
        self._thread.start()
        return self

    def join(self, timeout_s: float = 600) -> None:
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), "the load did not finish in time"


def custode_query(case_ids: set[str]) -> dict:
    """The custode's notification of each new case (rule ``caso_aperto`` or ``caso_urgente``)."""
    return {"case_id": {"$in": list(case_ids)}, "rule": {"$in": ["caso_aperto", "caso_urgente"]}}


def assert_each_case_once(world: World, case_ids: set[str]) -> int:
    """Every case has exactly one case file and one custode notification; returns the count."""
    case_files = world.db("casework").case_files
    wait_for_count(
        lambda: case_files.count_documents({"_id": {"$in": list(case_ids)}}),
        len(case_ids),
        what="case files",
    )
    stored = [d["_id"] for d in case_files.find({"_id": {"$in": list(case_ids)}}, {"_id": 1})]
    assert len(stored) == len(set(stored)) == len(case_ids)

    notifications = world.db("notifications").notifications
    wait_for_count(
        lambda: notifications.count_documents(custode_query(case_ids)),
        len(case_ids),
        what="custode notifications",
    )
    per_case: dict[str, int] = {}
    for doc in notifications.find(custode_query(case_ids), {"case_id": 1}):
        per_case[doc["case_id"]] = per_case.get(doc["case_id"], 0) + 1
    assert set(per_case) == case_ids, "a custode was never told"
    doubled = {c: n for c, n in per_case.items() if n != 1}
    assert not doubled, f"custodi told more than once: {list(doubled.items())[:5]}"
    return len(stored)


def committed_offsets(world: World, group: str, topic: str) -> dict[int, int]:
    """The committed offset of each partition of ``topic`` for ``group``."""
    consumer = KafkaConsumer(
        bootstrap_servers=world.env["KAFKA_BOOTSTRAP_SERVERS"],
        group_id=group,
        enable_auto_commit=False,
    )
    try:
        # A fresh client may not have the topic's metadata yet: wait for it, never read "none".
        parts = wait_for(
            lambda: consumer.partitions_for_topic(topic),
            timeout_s=30,
            what=f"partitions of {topic}",
        )
        return {p: consumer.committed(TopicPartition(topic, p)) or 0 for p in parts}
    finally:
        consumer.close()
