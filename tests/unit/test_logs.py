"""Logging set-up: JSON lines on stderr, and kafka-python's own level."""

from __future__ import annotations

import json
import logging

import pytest

from shared.logs import configure_logging, correlation


@pytest.fixture(autouse=True)
def _restore_logging():
    root, kafka = logging.getLogger(), logging.getLogger("kafka")
    handlers, level, kafka_level = root.handlers[:], root.level, kafka.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    kafka.setLevel(kafka_level)


def test_kafka_python_is_quiet_by_default_and_can_be_turned_up() -> None:
    configure_logging("casework", "INFO")
    assert logging.getLogger("kafka").level == logging.WARNING
    configure_logging("casework", "INFO", kafka_level="INFO")
    assert logging.getLogger("kafka").level == logging.INFO
    # The service's own level still bounds it: ERROR everywhere means ERROR for kafka-python too.
    configure_logging("casework", "ERROR", kafka_level="DEBUG")
    assert logging.getLogger("kafka").level == logging.ERROR


def test_a_line_is_json_with_the_service_and_the_correlation_id(capsys) -> None:
    configure_logging("intake", "INFO")
    with correlation("abc123"):
        logging.getLogger("intake.test").info("caso aperto")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["message"] == "caso aperto"
    assert line["service"] == "intake"
    assert line["correlation_id"] == "abc123"
    assert line["level"] == "INFO"
