"""The embedded outbox and its relay, against the real store and broker."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from mongoengine import StringField

from shared import mongo
from shared.config import Settings
from shared.events import decode, make_event
from shared.events.intake import CASE_OPENED
from shared.kafka import EventProducer, ensure_topics, header
from shared.logs import correlation
from shared.outbox import HINTS, OutboxDocument, OutboxRelay, outbox_update, stage
from tests.support import read_topic
from tests.unit.test_envelope import case_opened_data

ALIAS = "outbox_test"


class Aggregate(OutboxDocument):
    meta = {"collection": "aggregates", "db_alias": ALIAS}
    id = StringField(primary_key=True)
    name = StringField()


def event(case_id: str):
    return make_event(CASE_OPENED, case_id, case_opened_data(case_id=case_id))


@pytest.fixture
def world(settings_for) -> Iterator[tuple[Settings, OutboxRelay]]:
    s = settings_for("intake")
    db = mongo.connect(ALIAS, s.mongodb_uri, s.database)
    ensure_topics(s.kafka_bootstrap_servers, [s.topic("intake")], 2)
    producer = EventProducer(s.kafka_bootstrap_servers)
    yield s, OutboxRelay(db, ["aggregates"], producer)
    producer.close()
    mongo.disconnect(ALIAS)


def test_state_and_events_are_one_write_and_the_relay_publishes_each_once(world) -> None:
    s, relay = world
    doc = Aggregate(id="case_a", name="x")
    with correlation("cid-123"):
        stage(doc, s.topic("intake"), [event("case_a"), event("case_a")])
    doc.save(force_insert=True)
    stored = Aggregate.objects.get(id="case_a")
    assert len(stored.outbox) == 2 and stored.outbox_seq == 2
    assert relay.db[HINTS].count_documents({}) == 2

    assert relay.run_once() == 2

    records = read_topic(s.kafka_bootstrap_servers, s.topic("intake"), lambda r: len(r) >= 2)
    assert [r.key for r in records] == [b"case_a", b"case_a"]
    assert [decode(r.value).id for r in records] == [e["id"] for e in stored.outbox]
    assert header(records[0].headers, "correlation_id") == "cid-123"
    assert relay.db[HINTS].count_documents({}) == 0
    assert relay.run_once() == 0, "a published event is not sent again"
    # The relay never rewrote the aggregate: it keeps its events as history.
    assert Aggregate.objects.get(id="case_a").outbox == stored.outbox


def test_events_added_by_a_later_update_are_published_in_order(world) -> None:
    s, relay = world
    doc = Aggregate(id="case_b")
    stage(doc, s.topic("intake"), [event("case_b")])
    doc.save(force_insert=True)
    assert relay.run_once() == 1
    collection = Aggregate._get_collection()
    later = [event("case_b"), event("case_b")]
    ops = outbox_update(
        s.topic("intake"), later, db=relay.db, collection="aggregates", doc_id="case_b"
    )
    ops["$set"] = {"name": "updated"}
    collection.update_one({"_id": "case_b"}, ops)

    assert relay.run_once() == 2
    records = read_topic(s.kafka_bootstrap_servers, s.topic("intake"), lambda r: len(r) >= 3)
    assert [decode(r.value).id for r in records][1:] == [e.id for e in later]
    assert Aggregate.objects.get(id="case_b").name == "updated"


def test_the_relay_never_loses_a_concurrent_state_change(world) -> None:
    """Writers keep updating the aggregate while the relay publishes: every write survives."""
    s, relay = world
    doc = Aggregate(id="case_c", name="0")
    stage(doc, s.topic("intake"), [event("case_c")])
    doc.save(force_insert=True)
    collection = Aggregate._get_collection()
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, daemon=True)
    relay.stop_event = stop
    thread.start()
    try:
        for i in range(1, 41):
            ops = outbox_update(
                s.topic("intake"),
                [event("case_c")],
                db=relay.db,
                collection="aggregates",
                doc_id="case_c",
            )
            ops["$set"] = {"name": str(i)}
            collection.update_one({"_id": "case_c"}, ops)
    finally:
        records = read_topic(
            s.kafka_bootstrap_servers,
            s.topic("intake"),
            lambda r: len({decode(x.value).id for x in r}) >= 41,
        )
        stop.set()
        thread.join(10)
    final = Aggregate.objects.get(id="case_c")
    assert final.name == "40"
    assert len(final.outbox) == 41, "an event was lost from the aggregate"
    assert {decode(r.value).id for r in records} == {e["id"] for e in final.outbox}


def test_a_hint_whose_write_never_landed_is_dropped_after_the_grace(world) -> None:
    _, relay = world
    relay.db[HINTS].insert_one(
        {
            "_id": "evt-ghost",
            "collection": "aggregates",
            "doc_id": "case_never_written",
            "at": datetime.now(UTC) - timedelta(minutes=5),
        }
    )
    relay.db[HINTS].insert_one(
        {
            "_id": "evt-young",
            "collection": "aggregates",
            "doc_id": "case_being_written",
            "at": datetime.now(UTC),
        }
    )
    assert relay.run_once() == 0
    assert [h["_id"] for h in relay.db[HINTS].find({})] == ["evt-young"]
