"""The dead-letter CLI: list, show and replay through the normal idempotent path (real broker)."""

from __future__ import annotations

import json

import pytest

from shared import dlq
from shared.events import Event
from shared.kafka import Headers, header
from tests.integration.conftest import Loop, opened
from tests.support import wait_for


@pytest.fixture
def env(monkeypatch, environ) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)


def test_list_show_and_replay_a_dead_lettered_event(world, env, capsys) -> None:
    s, producer = world
    broken = {"on": True}
    applied: list[str] = []

    def handler(event: Event, headers: Headers) -> None:
        if broken["on"] and event.subject == "case_bug":
            raise RuntimeError("bug nel gestore")
        applied.append(event.subject)

    producer.send(s.topic("intake"), "k", b"{not json")
    producer.publish(s.topic("intake"), opened("case_bug"))
    with Loop(s, producer, handler=handler, max_attempts=2):
        letters = wait_for(
            lambda: len(dlq.read_dead_letters(s.kafka_bootstrap_servers, s.dead_letter_topic)) == 2
            and dlq.read_dead_letters(s.kafka_bootstrap_servers, s.dead_letter_topic),
            what="two dead letters",
        )

    assert dlq.main(["casework", "list"]) == 0
    listing = capsys.readouterr().out
    assert "PoisonEvent" in listing and "RuntimeError" in listing

    bug = next(d for d in letters if d.error_type == "RuntimeError")
    assert dlq.main(["casework", "show", bug.ref]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["headers"]["dlq.reason"] == "RuntimeError: bug nel gestore"
    assert shown["key"] == "case_bug"

    assert dlq.main(["casework", "show", "9:999"]) == 1

    # The bug is fixed; the replayed event is applied by the normal consumer path.
    broken["on"] = False
    assert dlq.main(["casework", "replay", bug.ref]) == 0
    with Loop(s, producer, handler=handler):
        wait_for(lambda: applied == ["case_bug"], what="replayed event applied")
    after = dlq.read_dead_letters(s.kafka_bootstrap_servers, s.dead_letter_topic)
    assert len(after) == 2, "a successful replay adds nothing to the dead-letter topic"
    assert header(bug.headers, "dlq.original_topic") == s.topic("intake")
