"""The consumer loop against the real broker: commit after effects, retries, dead letters."""

from __future__ import annotations

import pytest
from kafka import KafkaConsumer, TopicPartition

from shared.config import Settings
from shared.events import Event, encode
from shared.events.intake import CASE_OPENED
from shared.kafka import BULK_MIN, Headers, header
from tests.integration.conftest import Loop, opened
from tests.support import read_topic, wait_for


def committed(s: Settings) -> int:
    """Sum of the committed offsets of the group on the intake topic."""
    c = KafkaConsumer(
        bootstrap_servers=s.kafka_bootstrap_servers,
        group_id=s.consumer_group,
        enable_auto_commit=False,
    )
    try:
        parts = wait_for(lambda: c.partitions_for_topic(s.topic("intake")), what="partitions")
        return sum(c.committed(TopicPartition(s.topic("intake"), p)) or 0 for p in parts)
    finally:
        c.close()


def test_events_are_applied_in_order_per_case_and_committed_after(world) -> None:
    s, producer = world
    for i in range(5):
        producer.publish(s.topic("intake"), opened("case_same"))
        producer.publish(s.topic("intake"), opened(f"case_{i}"))
    with Loop(s, producer) as loop:
        wait_for(lambda: len(loop.seen) == 10, what="10 events applied")
        wait_for(lambda: committed(s) == 10, what="offsets committed")
    assert loop.seen.count("case_same") == 5
    assert loop.loop.stats.dead_lettered == 0


def test_poison_goes_to_the_dead_letter_topic_with_the_reason_and_the_loop_goes_on(world) -> None:
    s, producer = world
    producer.send(s.topic("intake"), "k1", b"{not json")
    bad_type = encode(opened("case_x")).replace(b".v1", b".v7")
    producer.send(s.topic("intake"), "case_x", bad_type)
    producer.publish(s.topic("intake"), opened("case_ok"))
    producer.publish(s.topic("intake"), opened("k1"))
    with Loop(s, producer) as loop:
        wait_for(lambda: sorted(loop.seen) == ["case_ok", "k1"], what="good events applied")
        dlq = read_topic(s.kafka_bootstrap_servers, s.dead_letter_topic, lambda r: len(r) >= 2)
        wait_for(lambda: committed(s) == 4, what="poison committed past")
    reasons = sorted(header(r.headers, "dlq.reason") for r in dlq)
    assert "JSON non valido" in reasons[0]
    assert "sconosciuto" in reasons[1]
    assert {header(r.headers, "dlq.original_topic") for r in dlq} == {s.topic("intake")}
    assert {r.value for r in dlq} == {b"{not json", bad_type}


def test_a_failing_handler_is_retried_a_bounded_number_of_times_then_dead_lettered(world) -> None:
    s, producer = world
    attempts: dict[str, int] = {}
    applied: list[str] = []

    def flaky(event: Event, headers: Headers) -> None:
        attempts[event.subject] = attempts.get(event.subject, 0) + 1
        if event.subject == "case_bad":
            raise RuntimeError("regola violata")
        if event.subject == "case_flaky" and attempts[event.subject] < 2:
            raise RuntimeError("transitorio")
        applied.append(event.subject)

    producer.publish(s.topic("intake"), opened("case_bad"))
    producer.publish(s.topic("intake"), opened("case_flaky"))
    producer.publish(s.topic("intake"), opened("case_good"))
    with Loop(s, producer, handler=flaky, max_attempts=3):
        wait_for(lambda: sorted(applied) == ["case_flaky", "case_good"], what="applied")
        dlq = read_topic(s.kafka_bootstrap_servers, s.dead_letter_topic, lambda r: len(r) >= 1)
    assert attempts["case_bad"] == 3
    assert attempts["case_flaky"] == 2
    assert len(dlq) == 1
    assert header(dlq[0].headers, "dlq.reason") == "RuntimeError: regola violata"
    assert header(dlq[0].headers, "dlq.attempts") == "3"


def test_uncommitted_events_are_redelivered_after_a_restart(world) -> None:
    s, producer = world
    for i in range(3):
        producer.publish(s.topic("intake"), opened(f"case_{i}"))
    with Loop(s, producer) as first:
        wait_for(lambda: len(first.seen) == 3, what="first delivery")
    producer.publish(s.topic("intake"), opened("case_3"))
    with Loop(s, producer) as second:
        wait_for(lambda: second.seen == ["case_3"], what="only the new event")


def test_the_producer_waits_for_all_replicas_and_is_idempotent(world) -> None:
    s, producer = world
    producer.publish(s.topic("intake"), opened("case_acks"))
    config = producer._producer.config  # kafka-python's resolved configuration
    assert config["acks"] == -1, "acks='all'"
    assert config["enable_idempotence"] is True
    # Idempotence needs one request in flight to keep a retried batch in order.
    assert config["max_in_flight_requests_per_connection"] == 1


def test_a_backlog_run_goes_to_the_bulk_handler_and_what_it_leaves_one_by_one(world) -> None:
    s, producer = world
    topic = s.topic("intake")
    events = [opened("case_bulk") for _ in range(30)]  # one key: one partition, in order
    for event in events[:12]:
        producer.publish(topic, event)
    producer.send(topic, "case_bulk", b"{not json")  # poison ends a run
    for event in events[12:]:
        producer.publish(topic, event)
    runs: list[list[str]] = []

    def bulk(run: list[Event]) -> set[str]:
        runs.append([e.id for e in run])
        if len(runs) == 2:
            raise ConnectionError("the store went away")  # all of the run: one by one
        return {e.id for n, e in enumerate(run) if n % 3}  # leaves every third

    ids: list[str] = []
    with Loop(s, producer, handler=lambda e, h: ids.append(e.id), bulk={CASE_OPENED: bulk}):
        wait_for(lambda: committed(s) == 31, what="every record committed")
    assert runs == [[e.id for e in events[:12]], [e.id for e in events[12:]]]
    bulked = [i for n, i in enumerate(runs[0]) if n % 3]
    # Each event applied once, by one of them; the bulk handler's leftovers in their order.
    assert sorted([*bulked, *ids]) == sorted(e.id for e in events)
    assert ids == [e.id for n, e in enumerate(events[:12]) if not n % 3] + runs[1]
    dlq = read_topic(s.kafka_bootstrap_servers, s.dead_letter_topic, lambda r: len(r) >= 1)
    assert [r.value for r in dlq] == [b"{not json"]


def test_a_run_shorter_than_the_bulk_minimum_is_applied_one_by_one(world) -> None:
    s, producer = world
    events = [opened("case_short") for _ in range(BULK_MIN - 1)]
    for event in events:
        producer.publish(s.topic("intake"), event)
    ids: list[str] = []
    bulk = {CASE_OPENED: lambda run: pytest.fail("a short run went to the bulk handler")}
    with Loop(s, producer, handler=lambda e, h: ids.append(e.id), bulk=bulk):
        wait_for(lambda: committed(s) == len(events), what="every record committed")
    assert ids == [e.id for e in events]
