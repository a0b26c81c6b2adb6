from __future__ import annotations

import pytest

from shared.config import VARIABLES, ConfigError, Settings


def test_defaults_give_the_documented_ports_and_names() -> None:
    s = Settings.from_env("casework", {})
    assert (s.intake_port, s.casework_port, s.notifications_port) == (8001, 8002, 8003)
    assert s.port == 8002
    assert s.database == "sportello_casework"
    assert s.topic("intake") == "sportello.intake"
    assert s.dead_letter_topic == "sportello.casework.dlq"
    assert s.kafka_bootstrap_servers == "127.0.0.1:9092"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KAFKA_PARTITIONS", "zero"),
        ("KAFKA_PARTITIONS", "0"),
        ("MONGODB_URI", "postgres://x"),
        ("KAFKA_BOOTSTRAP_SERVERS", "localhost"),
        ("INTAKE_PORT", "70000"),
        ("LOG_LEVEL", "LOUD"),
        ("SPORTELLO_TOPIC_PREFIX", "a.b"),
    ],
)
def test_an_invalid_value_stops_with_a_message_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env("intake", {name: value})


def test_unknown_service_is_refused() -> None:
    with pytest.raises(ConfigError):
        Settings.from_env("billing", {})


def test_every_variable_has_a_description_and_a_valid_default() -> None:
    for var in VARIABLES:
        assert var.description
        var.parse(var.default)
