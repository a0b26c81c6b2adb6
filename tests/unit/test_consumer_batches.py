"""How the consumer loop applies the records of one poll (``ConsumerLoop._apply_batch``), with no
broker: each partition in its order, and the leading runs of one bulk type merged across the
poll's partitions.

The records are built here as kafka-python hands them over (topic, partition, offset, value,
headers); the loop's Kafka side (polling, committing) is tested against the real broker in
``tests/integration/test_consumer_loop.py``.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from kafka.structs import OffsetAndMetadata, TopicPartition

from shared.events import Event, encode, make_event
from shared.events.intake import CASE_OPENED, TENANT_REGISTERED
from shared.kafka import BULK_MIN, BulkHandler, ConsumerLoop, Headers
from tests.unit.test_envelope import case_opened_data
from tests.unit.test_notifications_rules import tenant_data

P0, P1, P2 = (TopicPartition("intake", n) for n in range(3))


def opened(case_id: str) -> Event:
    return make_event(CASE_OPENED, case_id, case_opened_data(case_id=case_id))


def registered(tenant_id: str) -> Event:
    return make_event(TENANT_REGISTERED, tenant_id, tenant_data(tenant_id=tenant_id))


def poll(partitions: dict[TopicPartition, list[Event]]) -> dict[TopicPartition, list[Any]]:
    """A poll's records: each partition's events at offsets 0, 1, …"""
    return {
        tp: [
            SimpleNamespace(
                topic=tp.topic,
                partition=tp.partition,
                offset=offset,
                key=e.subject.encode(),
                value=encode(e),
                headers=[],
            )
            for offset, e in enumerate(events)
        ]
        for tp, events in partitions.items()
    }


class Applied:
    """What the loop applied, in order: ``("one", id)`` by the handler, ``("bulk", [ids])`` by a
    bulk handler (which stores every event but those in ``leave``)."""

    def __init__(self, leave: frozenset[str] = frozenset()) -> None:
        self.leave = leave
        self.log: list[tuple[str, Any]] = []

    def one(self, event: Event, _headers: Headers) -> None:
        self.log.append(("one", event.id))

    def bulk(self, events: list[Event]) -> set[str]:
        self.log.append(("bulk", [e.id for e in events]))
        return {e.id for e in events if e.id not in self.leave}


def apply(
    batch: dict[TopicPartition, list[Any]], applied: Applied, bulk: dict[str, BulkHandler]
) -> dict[TopicPartition, OffsetAndMetadata]:
    loop = ConsumerLoop(
        bootstrap_servers="unused:9092",  # nothing here connects
        group_id="g",
        topics=["intake"],
        handler=applied.one,
        producer=None,  # type: ignore[arg-type] # no event here is dead-lettered
        dead_letter_topic="dlq",
        bulk=bulk,
    )
    done: dict[TopicPartition, OffsetAndMetadata] = {}
    loop._apply_batch(batch, done)
    return done


def test_short_leading_runs_of_several_partitions_make_one_bulk_run() -> None:
    per_partition = BULK_MIN // 2  # too few for a run of their own
    events = {
        tp: [opened(f"case_{tp.partition}_{i}") for i in range(per_partition)] for tp in (P0, P1)
    }
    applied = Applied()

    done = apply(poll(events), applied, {CASE_OPENED: applied.bulk})

    assert applied.log == [("bulk", [e.id for tp in (P0, P1) for e in events[tp]])]
    assert done == {tp: OffsetAndMetadata(per_partition, "", -1) for tp in (P0, P1)}


def test_what_the_bulk_handler_leaves_goes_one_by_one_before_the_rest_of_its_partition() -> None:
    p0 = [opened(f"case_a{i}") for i in range(5)] + [registered("ten_a")]
    p1 = [opened(f"case_b{i}") for i in range(5)]
    left = p0[1]
    applied = Applied(leave=frozenset({left.id}))

    apply(poll({P0: p0, P1: p1}), applied, {CASE_OPENED: applied.bulk})

    bulk_run = [e.id for e in p0[:5] + p1]
    assert applied.log == [("bulk", bulk_run), ("one", left.id), ("one", p0[5].id)]


def test_a_partition_the_bulk_handler_stored_nothing_of_gets_its_own_run() -> None:
    p0 = [opened(f"case_a{i}") for i in range(BULK_MIN - 1)]  # too short for a run of its own
    p1 = [opened(f"case_b{i}") for i in range(BULK_MIN)]
    # The handler stops at the first event it leaves: p0's first, so nothing of the run.
    applied = Applied(leave=frozenset(e.id for e in p0 + p1))

    apply(poll({P0: p0, P1: p1}), applied, {CASE_OPENED: applied.bulk})

    assert applied.log == [
        ("bulk", [e.id for e in p0 + p1]),
        *[("one", e.id) for e in p0],
        ("bulk", [e.id for e in p1]),  # a run of its own, long enough
        *[("one", e.id) for e in p1],
    ]


def test_each_bulk_type_makes_its_own_run_and_a_short_total_goes_one_by_one() -> None:
    p0 = [opened(f"case_a{i}") for i in range(BULK_MIN // 2)]
    p1 = [opened(f"case_b{i}") for i in range(BULK_MIN // 2)]
    p2 = [registered(f"ten_{i}") for i in range(BULK_MIN - 1)]  # short, even merged
    applied = Applied()
    bulk = {CASE_OPENED: applied.bulk, TENANT_REGISTERED: applied.bulk}

    apply(poll({P0: p0, P1: p1, P2: p2}), applied, bulk)

    assert applied.log == [("bulk", [e.id for e in p0 + p1]), *[("one", e.id) for e in p2]]


def test_a_bulk_handler_that_fails_leaves_every_event_to_one_by_one_in_order() -> None:
    p0 = [opened(f"case_a{i}") for i in range(BULK_MIN // 2)]
    p1 = [opened(f"case_b{i}") for i in range(BULK_MIN // 2)]
    applied = Applied()

    def failing(events: list[Event]) -> set[str]:
        applied.log.append(("bulk", [e.id for e in events]))
        raise ConnectionError("the store went away")

    done = apply(poll({P0: p0, P1: p1}), applied, {CASE_OPENED: failing})

    assert applied.log[1:] == [("one", e.id) for e in p0 + p1]
    assert done == {tp: OffsetAndMetadata(BULK_MIN // 2, "", -1) for tp in (P0, P1)}
