"""Scenario 4: poison events end in the dead-letter topic with the reason; the consumer goes on."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bench import workload
from shared.events import encode
from shared.kafka import EventProducer, header
from tests.faults.conftest import ROOT, TALLIES, Tally, World
from tests.support import wait_for


def cli(world: World, *args: str) -> str:
    env = {**os.environ, **world.env, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "shared.dlq", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout


def test_poison_events_are_dead_lettered_listed_and_replayable(world: World) -> None:
    topic = world.topic("intake")
    good_before, good_after = workload.case_opened_event(1), workload.case_opened_event(2)
    unknown_version = json.loads(encode(workload.case_opened_event(3)))
    unknown_version["type"] = unknown_version["type"].replace(".v1", ".v9")
    invalid_data = json.loads(encode(workload.case_opened_event(4)))
    del invalid_data["data"]["tenant_id"]
    # Valid by its schema, refused by casework's domain (a bill that ends before it starts):
    # the handler raises, is retried, and the event is dead-lettered.
    refused = json.loads(encode(workload.case_opened_event(5)))
    refused["data"]["bills"] = [
        {
            "supplier": "Fornitore",
            "commodity": "luce",
            "amount_cents": 100,
            "period_start": "2026-05-01",
            "period_end": "2026-01-31",
        }
    ]

    producer = EventProducer(world.env["KAFKA_BOOTSTRAP_SERVERS"])
    key = good_before.subject  # one key: one partition, so order is kept and proven
    producer.send(topic, key, encode(good_before))
    producer.send(topic, key, b"{questo non e' JSON")
    producer.send(topic, key, json.dumps(unknown_version).encode())
    producer.send(topic, key, json.dumps(invalid_data).encode())
    producer.send(topic, key, json.dumps(refused).encode())
    producer.send(topic, key, encode(good_after))
    producer.close()

    case_files = world.db("casework").case_files
    wait_for(
        lambda: case_files.count_documents(
            {"_id": {"$in": [good_before.subject, good_after.subject]}}
        )
        == 2,
        timeout_s=60,
        what="the good events on both sides of the poison",
    )
    letters = wait_for(
        lambda: len(world.dead_letters("casework")) >= 4 and world.dead_letters("casework"),
        timeout_s=60,
        what="4 dead letters",
    )
    assert len(letters) == 4
    reasons = [d.reason for d in letters]
    assert "JSON non valido" in reasons[0]
    assert "sconosciuto" in reasons[1]
    assert "tenant_id" in reasons[2]
    assert letters[3].error_type not in {"", "PoisonEvent"}
    assert header(letters[3].headers, "dlq.attempts") == world.env.get("CONSUMER_MAX_ATTEMPTS", "3")
    assert {d.original_topic for d in letters} == {topic}

    listing = cli(world, "casework", "list")
    assert all(d.ref in listing for d in letters)
    shown = json.loads(cli(world, "casework", "show", letters[1].ref))
    assert shown["headers"]["dlq.error_type"] == "PoisonEvent"

    # Replay goes through the normal path: poison is poison again, the good events are untouched.
    assert "ripubblicati 4" in cli(world, "casework", "replay", "--all")
    wait_for(
        lambda: len(world.dead_letters("casework")) == 8,
        timeout_s=60,
        what="the replayed poison dead-lettered again",
    )
    assert (
        case_files.count_documents({"_id": {"$in": [good_before.subject, good_after.subject]}}) == 2
    )
    TALLIES.append(Tally("poison events (4 + 4 replayed)", 6, 6, 2, 0, 8, 0))
