"""Fixtures of the integration ring: a consumer loop in a thread, on the real broker."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from shared.config import Settings
from shared.events import Event, make_event
from shared.events.intake import CASE_OPENED
from shared.kafka import ConsumerLoop, EventProducer, Headers, ensure_topics
from tests.unit.test_envelope import case_opened_data


def opened(case_id: str) -> Event:
    return make_event(CASE_OPENED, case_id, case_opened_data(case_id=case_id))


class Loop:
    """A consumer loop running in a thread, with what its handler saw."""

    def __init__(
        self, s: Settings, producer: EventProducer, handler=None, max_attempts=3, bulk=None
    ):
        self.seen: list[str] = []
        self.calls = 0
        self.loop = ConsumerLoop(
            bootstrap_servers=s.kafka_bootstrap_servers,
            group_id=s.consumer_group,
            topics=[s.topic("intake")],
            handler=handler or self.record,
            producer=producer,
            dead_letter_topic=s.dead_letter_topic,
            max_attempts=max_attempts,
            retry_wait_s=0.01,
            bulk=bulk,
        )
        self.thread = threading.Thread(target=self.loop.run, daemon=True)

    def record(self, event: Event, headers: Headers) -> None:
        self.calls += 1
        self.seen.append(event.subject)

    def __enter__(self) -> Loop:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.stop()
        self.thread.join(timeout=20)
        assert not self.thread.is_alive(), "the consumer did not stop within its deadline"


@pytest.fixture
def world(settings_for) -> Iterator[tuple[Settings, EventProducer]]:
    s = settings_for("casework")
    ensure_topics(s.kafka_bootstrap_servers, [s.topic("intake"), s.dead_letter_topic], 2)
    producer = EventProducer(s.kafka_bootstrap_servers)
    yield s, producer
    producer.close()
