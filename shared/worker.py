"""A service's worker process: the outbox relay and, where the service consumes, the consumer loop.

Both run until SIGTERM or SIGINT; then the consumer finishes the record in hand and commits, the
relay finishes its round, the producer flushes, and the process exits.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from pymongo.database import Database
from pymongo.errors import PyMongoError

from shared.config import Settings
from shared.kafka import (
    BulkHandler,
    ConsumerLoop,
    EventProducer,
    Handler,
    ensure_topics,
    until_connected,
)
from shared.logs import configure_logging
from shared.outbox import OutboxRelay
from shared.tracing import configure_tracing

log = logging.getLogger(__name__)


@dataclass
class Consumption:
    """What a worker consumes: topics, the handler applying each event, and bulk handlers for
    backlogs (``ConsumerLoop``)."""

    topics: list[str]
    handler: Handler
    bulk: dict[str, BulkHandler] = field(default_factory=dict)


class Worker:
    """The relay (a thread) and the consumer loop (the main thread) of one service."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        outbox_collections: list[str],
        consumption: Consumption | None = None,
    ) -> None:
        self.settings = settings
        self.stop_event = threading.Event()
        self.producer: EventProducer | None = None
        self.db = db
        self.outbox_collections = outbox_collections
        self.consumption = consumption
        self.relay: OutboxRelay | None = None
        self.consumer: ConsumerLoop | None = None

    def topics_to_create(self) -> list[str]:
        """This service's own topic, what it consumes, and its dead-letter topic."""
        topics = [self.settings.topic(self.settings.service)]
        if self.consumption:
            topics += [*self.consumption.topics, self.settings.dead_letter_topic]
        return topics

    def stop(self) -> None:
        """Ask every loop to stop."""
        self.stop_event.set()

    def install_signal_handlers(self) -> None:
        """SIGTERM (process managers, containers) and SIGINT (Ctrl-C) stop gracefully."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop())

    def run(self) -> None:
        """Create topics, then relay and consume until stopped."""
        s = self.settings
        if not ensure_topics(
            s.kafka_bootstrap_servers,
            self.topics_to_create(),
            s.kafka_partitions,
            timeout_s=None,
            stop_event=self.stop_event,
        ):
            return
        producer = until_connected(
            lambda: EventProducer(
                s.kafka_bootstrap_servers, s.kafka_linger_ms, client_id=f"sportello-{s.service}"
            ),
            self.stop_event,
            "producer",
        )
        if producer is None:
            return
        self.producer = producer
        self.relay = OutboxRelay(
            self.db,
            self.outbox_collections,
            self.producer,
            poll_interval_s=s.outbox_poll_ms / 1000,
            stop_event=self.stop_event,
            service=s.service,
        )
        relay_thread = threading.Thread(target=self.relay.run, name="outbox-relay", daemon=True)
        relay_thread.start()
        try:
            if self.consumption:
                self.consumer = ConsumerLoop(
                    bootstrap_servers=s.kafka_bootstrap_servers,
                    group_id=s.consumer_group,
                    topics=self.consumption.topics,
                    handler=self.consumption.handler,
                    producer=self.producer,
                    dead_letter_topic=s.dead_letter_topic,
                    max_attempts=s.consumer_max_attempts,
                    fetch_max_wait_ms=s.kafka_fetch_max_wait_ms,
                    client_id=f"sportello-{s.service}-worker",
                    stop_event=self.stop_event,
                    service=s.service,
                    group_instance_id=(
                        None if s.kafka_group_instance_id == "-" else s.kafka_group_instance_id
                    ),
                    bulk=self.consumption.bulk,
                )
                self.consumer.run()
            else:
                self.stop_event.wait()
        finally:
            self.stop()
            relay_thread.join(timeout=10)
            self.producer.close()
            log.info("worker stopped")


def backfill_once(what: str, backfill: Callable[[], int | None], counted: str) -> None:
    """Run a one-off backfill at a worker's start: the entries (claims, list entries, refs) of
    the documents stored before they existed, once per database (not in an API: it may take
    minutes; the reads use the queries meanwhile). ``backfill`` returns a count, logged as
    ``counted``, or None when it was done already. A store that is down leaves it to the next
    start."""
    try:
        seen = backfill()
    except PyMongoError as exc:
        log.warning("%s not backfilled: %s", what, exc)
        return
    if seen is not None:
        log.info("%s backfilled", what, extra={counted: seen})


def serve(settings: Settings, build: Callable[[Settings], Worker]) -> None:
    """A worker process's ``main``: JSON logs, signal handlers, run until stopped."""
    configure_logging(settings.service, settings.log_level, settings.kafka_log_level)
    configure_tracing(settings.service, settings.traces_exporter)
    worker = build(settings)
    # What the process built at start stays: out of the full collections' walk (as the APIs,
    # ``shared.gunicorn_base.post_worker_init``), its garbage collected first.
    gc.collect()
    gc.freeze()
    worker.install_signal_handlers()
    worker.run()
