"""``until_connected``: a client built once the broker answers, or nothing once asked to stop."""

from __future__ import annotations

import threading

import pytest
from kafka.errors import NoBrokersAvailable

from shared.kafka import until_connected


def test_retries_while_no_broker_answers_then_returns_the_client() -> None:
    calls: list[int] = []

    def connect() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise NoBrokersAvailable()
        return "client"

    assert until_connected(connect, threading.Event(), "consumer", max_wait_s=0.01) == "client"
    assert len(calls) == 3


def test_a_stop_request_ends_the_wait_without_a_client() -> None:
    stop = threading.Event()

    def connect() -> str:
        stop.set()  # SIGTERM arrives while the broker is still away
        raise NoBrokersAvailable()

    assert until_connected(connect, stop, "producer") is None


def test_other_errors_are_not_swallowed() -> None:
    def connect() -> str:
        raise ValueError("bad configuration")

    with pytest.raises(ValueError, match="bad configuration"):
        until_connected(connect, threading.Event(), "consumer")
