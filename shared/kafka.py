"""Kafka plumbing on kafka-python: topic creation, an acknowledged producer, the consumer loop.

The consumer loop is where the delivery guarantees live:

- auto-commit is off; a batch's offsets (``offset + 1``) are committed only after every record of
  the batch has had its effects stored, or has been dead-lettered;
- a poison event (bad JSON, unknown type or version, invalid data) goes straight to the
  dead-letter topic: retrying cannot fix it;
- a handler that raises is retried a bounded number of times, then the event is dead-lettered with
  the reason in headers and the loop moves on;
- an unreachable store or broker is not the event's fault: the loop waits and retries the same
  record, without committing, until the outage ends or it is asked to stop;
- SIGTERM / SIGINT set a stop flag; the loop finishes the record in hand, commits, and closes;
- a commit refused (a rebalance in progress, a coordinator moving) is kept and tried again on the
  next rounds, for the partitions still assigned to this member, and once more before closing.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata, TopicPartition
from opentelemetry.trace import SpanKind
from pymongo.errors import ConnectionFailure
from tenacity import Retrying, retry_if_not_exception_type, stop_after_attempt, wait_exponential

from shared import metrics, tracing
from shared.events import Event, PoisonEvent, decode, encode
from shared.logs import correlation

log = logging.getLogger(__name__)

Headers = list[tuple[str, bytes]]
T = TypeVar("T")
CORRELATION_HEADER = "correlation_id"
TRACEPARENT_HEADER = "traceparent"

# Errors that say "the infrastructure is down", not "this event is bad".
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (ConnectionFailure, KafkaError)


def header(headers: Iterable[tuple[str, bytes]] | None, name: str) -> str | None:
    """The value of header ``name`` decoded as UTF-8, if present."""
    for key, value in headers or ():
        if key == name and value is not None:
            return value.decode("utf-8", "replace")
    return None


def until_connected(
    connect: Callable[[], T], stop_event: threading.Event, what: str, max_wait_s: float = 5.0
) -> T | None:
    """Call ``connect`` until the broker answers (kafka-python clients need one to be built).

    A worker whose broker went away between two steps of its start waits instead of crashing.
    Returns None if ``stop_event`` is set first.
    """
    wait = 0.2
    while not stop_event.is_set():
        try:
            return connect()
        except KafkaError as exc:
            log.warning("Kafka unreachable, cannot create the %s yet: %s", what, exc)
            stop_event.wait(wait)
            wait = min(wait * 2, max_wait_s)
    return None


def ensure_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    partitions: int,
    timeout_s: float | None = 60,
    stop_event: threading.Event | None = None,
) -> bool:
    """Create ``topics`` if missing (idempotent), retrying while the broker does not answer.

    With ``timeout_s=None`` it waits until the broker answers or ``stop_event`` is set (a worker
    started before the broker must wait, not crash-loop). Returns False if stopped first.
    """
    wanted = list(dict.fromkeys(topics))
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    wait = 0.5
    while True:
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=bootstrap_servers,
                client_id="sportello-admin",
                # Fail fast and come round the loop, which sees a stop request.
                api_version_auto_timeout_ms=2_000,
            )
            try:
                existing = set(admin.list_topics())
                missing = [t for t in wanted if t not in existing]
                if missing:
                    with contextlib.suppress(TopicAlreadyExistsError):
                        # Another process may create one between list and create.
                        admin.create_topics(
                            [
                                NewTopic(t, num_partitions=partitions, replication_factor=1)
                                for t in missing
                            ]
                        )
                return True
            finally:
                admin.close()
        except TopicAlreadyExistsError:
            return True
        except KafkaError as exc:
            if deadline is not None and time.monotonic() > deadline:
                raise
            log.warning("Kafka not ready for topic creation, retrying: %s", exc)
            if stop_event is not None:
                if stop_event.wait(wait):
                    return False
            else:
                time.sleep(wait)
            wait = min(wait * 2, 5.0)


class EventProducer:
    """A kafka-python producer that waits for every send to be acknowledged by the broker.

    ``acks="all"`` with idempotence: a record is acknowledged once every in-sync replica has it,
    and the broker drops the duplicates a retry would write. kafka-python 2 then keeps one
    request in flight per connection, which is what keeps a retried batch in order.

    After a failed send the underlying client is closed and a fresh one is made for the next
    send: once a batch has expired during a broker outage, kafka-python's idempotent producer can
    stay wedged (every later future times out) even after the broker is back. A new client gets a
    new producer id, which is harmless: the records are re-sent in order and consumers are
    idempotent.
    """

    def __init__(self, bootstrap_servers: str, linger_ms: int = 2, client_id: str = "sportello"):
        self._config = {
            "bootstrap_servers": bootstrap_servers,
            "client_id": client_id,
            "linger_ms": linger_ms,
            "acks": "all",
            "enable_idempotence": True,
            "retries": 2**31 - 1,  # bounded by delivery_timeout_ms instead
            "delivery_timeout_ms": 30_000,
            "request_timeout_ms": 10_000,
            "max_block_ms": 10_000,
        }
        self._lock = threading.Lock()
        self._producer = KafkaProducer(**self._config)
        self._broken = False
        self.replacements = 0

    def send(
        self,
        topic: str,
        key: str,
        value: bytes,
        headers: Headers | None = None,
        timeout_s: float = 30,
    ) -> None:
        """Send one record and wait for the broker's acknowledgement."""
        self.send_many([(topic, key, value, headers or [])], timeout_s)

    def send_many(
        self, records: Iterable[tuple[str, str, bytes, Headers]], timeout_s: float = 30
    ) -> None:
        """Send records in order and wait until every one is acknowledged (raises on failure)."""
        if self._broken:
            self._replace()  # raises while there is still no broker to bootstrap from
        producer = self._producer
        try:
            futures = [
                producer.send(topic, key=key.encode(), value=value, headers=list(headers))
                for topic, key, value, headers in records
            ]
            producer.flush(timeout=timeout_s)
            for future in futures:
                future.get(timeout=timeout_s)
        except KafkaError:
            with self._lock:
                if self._producer is producer:
                    self._broken = True
            raise

    def _replace(self) -> None:
        """Swap in a fresh client for the failed one (once, however many threads saw it fail)."""
        with self._lock:
            if not self._broken:
                return
            fresh = KafkaProducer(**self._config)  # first, so a failure leaves the old one usable
            with contextlib.suppress(Exception):
                self._producer.close(timeout=0)
            self._producer, self._broken = fresh, False
            self.replacements += 1
            log.info("producer replaced after a failed send")

    def publish(self, topic: str, event: Event, headers: Headers | None = None) -> None:
        """Publish an event keyed by its subject (the case id)."""
        self.send(topic, event.subject, encode(event), headers)

    def close(self, timeout_s: float = 10) -> None:
        """Flush what is pending and close."""
        self._producer.close(timeout=timeout_s)


Handler = Callable[[Event, Headers], None]
# Applies a run of events of one type at once (a backlog) and returns the ids of the events whose
# effects it stored. The loop applies the others one by one with its handler, as if there were no
# bulk handler, so both must be idempotent together: ``ConsumerLoop`` explains.
BulkHandler = Callable[[list[Event]], set[str]]
# A run shorter than this is applied event by event (with its per-event span and log context).
# Two, not more: at 50 cases a second a poll brings two or three ``case.opened`` in all, and a
# bulk handler writes each kind of document once for the run where one by one writes it once per
# event (bench/run.py end to end, p99: 137 and 163 ms with 2; 315, 484 and 345 ms with 8).
BULK_MIN = 2


@dataclass
class ConsumerStats:
    """What a consumer loop has done (for logs, metrics and tests)."""

    applied: int = 0
    dead_lettered: int = 0
    infra_retries: int = 0


class PendingCommits:
    """Offsets whose commit was refused, kept to be tried again (newest per partition).

    A refused commit loses nothing (effects are stored, records would be redelivered), but left
    alone it stays refused until the next batch, and an idle consumer may have none for long.
    """

    def __init__(self) -> None:
        self.offsets: dict[TopicPartition, OffsetAndMetadata] = {}

    def refused(self, offsets: Mapping[TopicPartition, OffsetAndMetadata]) -> None:
        """``offsets`` could not be committed."""
        for tp, offset in offsets.items():
            kept = self.offsets.get(tp)
            if kept is None or offset.offset > kept.offset:
                self.offsets[tp] = offset

    def committed(self, offsets: Mapping[TopicPartition, OffsetAndMetadata]) -> None:
        """``offsets`` were committed: older pending offsets of those partitions are done."""
        for tp, offset in offsets.items():
            kept = self.offsets.get(tp)
            if kept is not None and kept.offset <= offset.offset:
                del self.offsets[tp]

    def to_retry(
        self, assigned: Iterable[TopicPartition]
    ) -> dict[TopicPartition, OffsetAndMetadata]:
        """What to commit again: only partitions this member still holds. The others are
        forgotten: their new owner starts from the last committed offset (a redelivery). With no
        partitions at all (mid-rebalance) nothing is tried and nothing forgotten."""
        mine = set(assigned)
        if not mine:
            return {}
        self.offsets = {tp: o for tp, o in self.offsets.items() if tp in mine}
        return dict(self.offsets)


class StopRequested(Exception):
    """The loop was asked to stop while it waited for the infrastructure to come back."""


class ConsumerLoop:
    """Consume events from ``topics`` with at-least-once delivery and a dead-letter topic.

    Each event is applied by ``handler``, with bounded retries, then dead-lettered. ``bulk``
    (event type → ``BulkHandler``) serves a backlog: a run of at least ``BULK_MIN`` consecutive
    events of one such type in a partition's batch is first handed to the bulk handler at once
    (one store write of each kind for the run instead of one per event). The events it did not
    store, and all of them if it raised, then go through ``handler`` one by one in their order,
    with its retries and dead letters; so a bulk handler only has to do the common case. Offsets
    are committed after both, so the guarantees are the same.
    """

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        group_id: str,
        topics: list[str],
        handler: Handler,
        producer: EventProducer,
        dead_letter_topic: str,
        max_attempts: int = 3,
        fetch_max_wait_ms: int = 50,
        retry_wait_s: float = 0.1,
        client_id: str = "sportello-worker",
        stop_event: threading.Event | None = None,
        service: str = "unknown",
        group_instance_id: str | None = None,
        bulk: Mapping[str, BulkHandler] | None = None,
    ) -> None:
        self.service = service
        self.bulk = dict(bulk or {})
        self.group_id = group_id
        self.topics = topics
        self.handler = handler
        self.producer = producer
        self.dead_letter_topic = dead_letter_topic
        self.max_attempts = max_attempts
        self.retry_wait_s = retry_wait_s
        self.stats = ConsumerStats()
        self.stop_event = stop_event or threading.Event()
        self.pending = PendingCommits()
        self._decoded: dict[tuple[str, int, int], Event] = {}  # this poll's (``_decode``)
        self._consumer_config: dict[str, Any] = dict(
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            client_id=client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=fetch_max_wait_ms,
            # A backlog comes in runs of up to this many records, applied in bulk (``bulk``).
            max_poll_records=500,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=3_000,
            # A batch may wait long for a store outage to end; stay in the group meanwhile.
            max_poll_interval_ms=600_000,
        )
        if group_instance_id:
            self._consumer_config["group_instance_id"] = group_instance_id

    def install_signal_handlers(self) -> None:
        """Stop gracefully on SIGTERM (containers, process managers) and SIGINT (Ctrl-C)."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop_event.set())

    def stop(self) -> None:
        """Ask the loop to stop after the record in hand."""
        self.stop_event.set()

    def run(self) -> None:
        """Poll, apply, commit; until ``stop()``."""
        consumer = until_connected(
            lambda: KafkaConsumer(**self._consumer_config), self.stop_event, "consumer"
        )
        if consumer is None:
            return
        # Know every topic's partitions before joining: a group leader that assigns with missing
        # metadata gives its members nothing until the next rebalance.
        while not self.stop_event.is_set() and not all(
            consumer.partitions_for_topic(t) for t in self.topics
        ):
            self.stop_event.wait(0.2)
        consumer.subscribe(self.topics)
        log.info("consumer started", extra={"group": self.group_id, "topics": self.topics})
        try:
            while not self.stop_event.is_set():
                batch = consumer.poll(timeout_ms=200)
                if self.pending.offsets:
                    self._commit(consumer, self.pending.to_retry(consumer.assignment()))
                if not batch:
                    continue
                done: dict[TopicPartition, OffsetAndMetadata] = {}
                try:
                    self._apply_batch(batch, done)
                except StopRequested:
                    # Records not yet applied are not committed: they will be redelivered.
                    pass
                finally:
                    if done:
                        self._commit(consumer, done)
                        self._record_lag(consumer, done)
        finally:
            self._commit_before_close(consumer)
            consumer.close(autocommit=False)
            log.info("consumer stopped", extra={"group": self.group_id})

    def _commit_before_close(self, consumer: KafkaConsumer, deadline_s: float = 5.0) -> None:
        """Commit what is still pending before leaving, within ``deadline_s``.

        A stop often lands while a rebalance is under way (a worker just started, another just
        left): the commit is refused until this member rejoins, which happens inside ``poll``.
        So poll (its records are not applied, hence not committed) and try again.
        """
        end = time.monotonic() + deadline_s
        while self.pending.offsets and time.monotonic() < end:
            self._commit(consumer, self.pending.to_retry(consumer.assignment()))
            if self.pending.offsets:
                with contextlib.suppress(KafkaError):
                    consumer.poll(timeout_ms=200)

    def _record_lag(self, consumer: KafkaConsumer, done: dict) -> None:
        for tp, position in done.items():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                metrics.CONSUMER_LAG.labels(self.service, tp.topic, str(tp.partition)).set(
                    max(highwater - position.offset, 0)
                )

    def _commit(self, consumer: KafkaConsumer, offsets: dict) -> None:
        if not offsets:
            return
        try:
            consumer.commit(offsets)
        except KafkaError as exc:
            # Effects are stored and idempotent: a failed commit only means redelivery, unless a
            # later try succeeds.
            log.warning("offset commit failed, will try again: %s", exc)
            self.pending.refused(offsets)
        else:
            self.pending.committed(offsets)

    def _apply_batch(
        self,
        batch: Mapping[TopicPartition, list[Any]],
        done: dict[TopicPartition, OffsetAndMetadata],
    ) -> None:
        """Apply a poll's records, each partition in its order, noting in ``done`` the offset
        to commit for each partition as its records are applied."""
        # Each record is decoded once per poll, though the bulk runs look at it before it is
        # applied (a short leading run is looked at twice).
        self._decoded = {}
        leading, applied = self._apply_leading_runs(batch)
        for tp, records in batch.items():
            n = leading.get(tp, 0)
            # Lazily: a later run goes to its bulk handler only after what precedes it.
            runs = itertools.chain([(records[:n], applied)], self._runs(records[n:]))
            for run, bulk_applied in runs:
                for record in run:
                    if _key(record) not in bulk_applied:
                        self._process(record)
                    done[tp] = OffsetAndMetadata(record.offset + 1, "", -1)

    def _apply_leading_runs(
        self, batch: Mapping[TopicPartition, list[Any]]
    ) -> tuple[dict[TopicPartition, int], set[tuple[str, int, int]]]:
        """Each partition's leading run of one bulk type, merged across the batch's partitions
        and applied at once when together they are ``BULK_MIN`` or more; returns how many
        leading records of each partition went (the rest of their run is then applied one by
        one before anything after it in the partition) and the keys of those stored.

        A steady flow spreads over the partitions in a few records each, too few for a run of
        its own; together they make one. Partitions are independent (keys), so applying one's
        leading run before another's earlier records keeps every guarantee of a partition.
        """
        runs: dict[str, list[tuple[TopicPartition, list[Event]]]] = {}
        for tp, records in batch.items():
            events = self._bulk_run(records, 0)
            if events:
                runs.setdefault(events[0].type, []).append((tp, events))
        leading: dict[TopicPartition, int] = {}
        applied: set[tuple[str, int, int]] = set()
        for parts in runs.values():
            events = [e for _, evs in parts for e in evs]
            if len(events) < BULK_MIN:
                continue
            records = [r for tp, evs in parts for r in batch[tp][: len(evs)]]
            stored = self._apply_bulk(records, events)
            applied |= stored
            # A partition of which the handler stored nothing (it stops at the first event it
            # leaves) keeps its chance of a bulk run of its own (``_runs``).
            leading |= {
                tp: len(evs)
                for tp, evs in parts
                if any(_key(r) in stored for r in batch[tp][: len(evs)])
            }
        return leading, applied

    def _runs(self, records: list[Any]) -> Iterable[tuple[list[Any], set[tuple[str, int, int]]]]:
        """``records`` in runs, each with the keys (``_key``) of its records already applied: a
        run of ``BULK_MIN`` or more events of one bulk type is applied by its bulk handler
        first; a shorter one, or a record no bulk handler takes, by nobody yet."""
        start = 0
        while start < len(records):
            events = self._bulk_run(records, start)
            end = start + max(len(events), 1)
            run = records[start:end]
            yield run, self._apply_bulk(run, events) if len(events) >= BULK_MIN else set()
            start = end

    def _bulk_run(self, records: list[Any], start: int) -> list[Event]:
        """The events of the longest run from ``start`` that one bulk handler takes (each
        record is read once: a short run is left whole to the one-by-one path)."""
        events: list[Event] = []
        for record in itertools.islice(records, start, None):
            event = self._bulk_event(record, events[0].type if events else None)
            if event is None:
                break
            events.append(event)
        return events

    def _bulk_event(self, record: Any, kind: str | None) -> Event | None:
        """The event of ``record`` if a bulk handler takes it (of type ``kind``, when given)."""
        if not self.bulk:
            return None
        try:
            event = self._decode(record)
        except PoisonEvent:
            return None  # dead-lettered on its own
        if event.type not in self.bulk or kind not in (None, event.type):
            return None
        return event

    def _decode(self, record: Any) -> Event:
        """The event of ``record``, decoded once per poll (``_apply_batch``); raises
        ``PoisonEvent`` each time for a record that is not one."""
        key = _key(record)
        event = self._decoded.get(key)
        if event is None:
            event = self._decoded[key] = decode(record.value)
        return event

    def _apply_bulk(self, run: list[Any], events: list[Event]) -> set[tuple[str, int, int]]:
        """Apply ``events`` (of ``run``) with their bulk handler; the keys of those stored."""
        kind = events[0].type
        try:
            with tracing.span(f"consume {kind} in bulk", None, SpanKind.CONSUMER):
                stored = self.bulk[kind](events)
        except Exception as exc:  # noqa: BLE001 - applied one by one instead, with retries
            log.warning("bulk apply of %d %s failed, one by one: %s", len(events), kind, exc)
            return set()
        applied = {_key(r) for r, e in zip(run, events, strict=True) if e.id in stored}
        self.stats.applied += len(applied)
        metrics.EVENTS_CONSUMED.labels(self.service, kind).inc(len(applied))
        return applied

    def _process(self, record: Any) -> None:
        headers: Headers = list(record.headers or [])
        with correlation(header(headers, CORRELATION_HEADER)):
            try:
                event = self._decode(record)
            except PoisonEvent as exc:
                reason = str(exc)
                self._until_stored(lambda: self._dead_letter(record, reason, "PoisonEvent", 0))
                return
            with tracing.span(
                f"consume {event.type}", tracing.extract_kafka(headers), SpanKind.CONSUMER
            ):
                self._until_stored(lambda: self._apply(record, event, headers))

    def _apply(self, record: Any, event: Event, headers: Headers) -> None:
        try:
            for attempt in Retrying(
                stop=stop_after_attempt(self.max_attempts),
                wait=wait_exponential(multiplier=self.retry_wait_s, max=2),
                # An outage or a poison event is not fixed by trying again at once.
                retry=retry_if_not_exception_type((*INFRASTRUCTURE_ERRORS, PoisonEvent)),
                reraise=True,
            ):
                with attempt:
                    try:
                        self.handler(event, headers)
                    except Exception:
                        metrics.EVENTS_FAILED.labels(self.service, event.type).inc()
                        raise
        except INFRASTRUCTURE_ERRORS:
            raise
        except PoisonEvent as exc:
            self._dead_letter(record, str(exc), "PoisonEvent", 1)
            return
        except Exception as exc:
            log.exception("handler failed %d times, dead-lettering %s", self.max_attempts, event.id)
            self._dead_letter(
                record, f"{type(exc).__name__}: {exc}", type(exc).__name__, self.max_attempts
            )
            return
        self.stats.applied += 1
        metrics.EVENTS_CONSUMED.labels(self.service, event.type).inc()

    def _dead_letter(self, record: Any, reason: str, error_type: str, attempts: int) -> None:
        dlq_headers = [(k, v) for k, v in (record.headers or []) if not k.startswith("dlq.")] + [
            ("dlq.reason", reason[:2000].encode()),
            ("dlq.error_type", error_type.encode()),
            ("dlq.attempts", str(attempts).encode()),
            ("dlq.original_topic", record.topic.encode()),
            ("dlq.original_partition", str(record.partition).encode()),
            ("dlq.original_offset", str(record.offset).encode()),
            ("dlq.consumer_group", self.group_id.encode()),
            ("dlq.time", str(time.time()).encode()),
        ]
        key = record.key.decode("utf-8", "replace") if record.key else "unknown"
        self.producer.send(self.dead_letter_topic, key, record.value or b"", dlq_headers)
        self.stats.dead_lettered += 1
        metrics.EVENTS_DEAD_LETTERED.labels(self.service, error_type).inc()
        log.warning(
            "event dead-lettered: %s",
            reason,
            extra={"topic": record.topic, "offset": record.offset},
        )

    def _until_stored(self, action: Callable[[], None]) -> None:
        """Run ``action`` until the infrastructure lets it finish, or a stop is requested."""
        wait = 0.2
        while True:
            try:
                action()
                return
            except INFRASTRUCTURE_ERRORS as exc:
                self.stats.infra_retries += 1
                log.warning("infrastructure unavailable, retrying the same event: %s", exc)
                if self.stop_event.wait(wait):
                    raise StopRequested from exc
                wait = min(wait * 2, 5.0)


def _key(record: Any) -> tuple[str, int, int]:
    """A consumed record's place: topic, partition, offset."""
    return record.topic, record.partition, record.offset


def dispatcher(table: Mapping[str, Callable[[Event, Any], None]], deps: Any) -> Handler:
    """A consumer handler routing each event type to ``table[type](event, deps)``.

    Types absent from ``table`` are ignored (the service does not care about them); types nobody
    declared never get here: ``decode`` dead-letters them as poison.
    """

    def handle(event: Event, _headers: Headers) -> None:
        handler = table.get(event.type)
        if handler is not None:
            handler(event, deps)

    return handle
