"""Dead-letter topics: list, show and replay the events a consumer could not apply.

    python -m shared.dlq casework list
    python -m shared.dlq casework show 3
    python -m shared.dlq casework replay 3 5     # or: replay --all

A replay publishes the original bytes, key and headers (without the ``dlq.*`` ones) to the original
topic, so the event goes through the normal, idempotent consumer path again. Replaying twice is
harmless for the same reason.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition

from shared.config import Settings
from shared.kafka import EventProducer, Headers, header

# Every service whose worker consumes events has a dead-letter topic.
CONSUMERS = ("intake", "casework", "notifications")


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered record and why it is there."""

    partition: int
    offset: int
    key: str
    value: bytes
    headers: Headers

    @property
    def ref(self) -> str:
        """A short reference used on the command line: ``partition:offset``."""
        return f"{self.partition}:{self.offset}"

    @property
    def reason(self) -> str:
        return header(self.headers, "dlq.reason") or ""

    @property
    def error_type(self) -> str:
        return header(self.headers, "dlq.error_type") or ""

    @property
    def original_topic(self) -> str:
        return header(self.headers, "dlq.original_topic") or ""

    def original_headers(self) -> Headers:
        """The headers the event had before it was dead-lettered."""
        return [(k, v) for k, v in self.headers if not k.startswith("dlq.")]


def read_dead_letters(
    bootstrap_servers: str, topic: str, timeout_ms: int = 2000
) -> list[DeadLetter]:
    """Every record currently in the dead-letter ``topic``, oldest first per partition."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, fetch_max_wait_ms=100
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        letters: list[DeadLetter] = []
        while any(consumer.position(tp) < end[tp] for tp in tps):
            batch = consumer.poll(timeout_ms=timeout_ms)
            if not batch:
                break
            for records in batch.values():
                letters.extend(
                    DeadLetter(
                        r.partition,
                        r.offset,
                        r.key.decode("utf-8", "replace") if r.key else "",
                        r.value or b"",
                        list(r.headers or []),
                    )
                    for r in records
                )
        return sorted(letters, key=lambda d: (d.partition, d.offset))
    finally:
        consumer.close()


def replay(producer: EventProducer, letters: Iterable[DeadLetter]) -> int:
    """Publish each dead letter back to its original topic; returns how many were replayed."""
    records = [
        (
            d.original_topic,
            d.key,
            d.value,
            [*d.original_headers(), ("dlq.replayed_from", d.ref.encode())],
        )
        for d in letters
        if d.original_topic
    ]
    producer.send_many(records)
    return len(records)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m shared.dlq", description=__doc__.split("\n")[0]
    )
    parser.add_argument("service", choices=CONSUMERS, help="il servizio che consuma")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="elenca gli eventi nel dead-letter topic")
    show = sub.add_parser("show", help="mostra un evento (partizione:offset)")
    show.add_argument("ref")
    again = sub.add_parser("replay", help="ripubblica eventi sul topic d'origine")
    again.add_argument("refs", nargs="*")
    again.add_argument("--all", action="store_true")
    args = parser.parse_args(argv)

    settings = Settings.from_env(args.service)
    letters = read_dead_letters(settings.kafka_bootstrap_servers, settings.dead_letter_topic)
    by_ref = {d.ref: d for d in letters}
    if args.command == "list":
        if not letters:
            print(f"{settings.dead_letter_topic}: vuoto")
        for d in letters:
            print(f"{d.ref:>10}  {d.error_type:<18} {d.original_topic:<28} {d.reason[:80]}")
        return 0
    if args.command == "show":
        d = by_ref.get(args.ref)
        if d is None:
            print(f"nessun evento {args.ref} in {settings.dead_letter_topic}", file=sys.stderr)
            return 1
        headers = {k: v.decode("utf-8", "replace") for k, v in d.headers}
        print(
            json.dumps(
                {
                    "ref": d.ref,
                    "key": d.key,
                    "headers": headers,
                    "value": d.value.decode("utf-8", "replace"),
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        return 0
    chosen = letters if args.all else [by_ref[r] for r in args.refs if r in by_ref]
    missing = [] if args.all else [r for r in args.refs if r not in by_ref]
    if missing:
        print(f"non trovati: {', '.join(missing)}", file=sys.stderr)
        return 1
    producer = EventProducer(settings.kafka_bootstrap_servers, client_id="sportello-dlq-replay")
    try:
        print(f"ripubblicati {replay(producer, chosen)} eventi")
    finally:
        producer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
