"""The embedded outbox and its relay, against the real store and broker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mongoengine import StringField

from shared import mongo
from shared.config import Settings
from shared.events import decode
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
    from shared.events import make_event

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


def test_state_and_events_are_one_write_and_the_relay_publishes_then_clears(world) -> None:
    s, relay = world
    doc = Aggregate(id="case_a", name="x")
    with correlation("cid-123"):
        stage(doc, s.topic("intake"), [event("case_a"), event("case_a")])
    doc.save(force_insert=True)
    stored = Aggregate.objects.get(id="case_a")
    assert len(stored.outbox) == 2 and stored.outbox_seq == 2

    assert relay.run_once() == 2

    records = read_topic(s.kafka_bootstrap_servers, s.topic("intake"), lambda r: len(r) >= 2)
    assert [r.key for r in records] == [b"case_a", b"case_a"]
    assert [decode(r.value).id for r in records] == [e["id"] for e in stored.outbox]
    assert header(records[0].headers, "correlation_id") == "cid-123"
    assert Aggregate.objects.get(id="case_a").outbox == []
    assert relay.db[HINTS].count_documents({}) == 0
    assert relay.run_once() == 0


def test_events_added_while_the_relay_publishes_are_not_lost(world) -> None:
    s, relay = world
    doc = Aggregate(id="case_b")
    stage(doc, s.topic("intake"), [event("case_b")])
    doc.save(force_insert=True)

    # A write lands between the relay's read and its removal: the compare-and-set must notice.
    original_send = relay.producer.send_many

    def send_and_interleave(records):
        original_send(records)
        Aggregate._get_collection().update_one(
            {"_id": "case_b"}, outbox_update(s.topic("intake"), [event("case_b")])
        )

    relay.producer.send_many = send_and_interleave  # type: ignore[method-assign]
    assert relay.run_once() == 1
    relay.producer.send_many = original_send  # type: ignore[method-assign]

    assert len(Aggregate.objects.get(id="case_b").outbox) == 1
    assert relay.sweep() == 1
    assert Aggregate.objects.get(id="case_b").outbox == []


def test_the_sweep_publishes_an_outbox_whose_hint_was_lost(world) -> None:
    s, relay = world
    doc = Aggregate(id="case_c")
    stage(doc, s.topic("intake"), [event("case_c")])
    doc.save(force_insert=True)
    relay.db[HINTS].delete_many({})

    assert relay.run_once() == 0
    assert relay.sweep() == 1
    records = read_topic(s.kafka_bootstrap_servers, s.topic("intake"), lambda r: len(r) >= 1)
    assert records[0].key == b"case_c"
