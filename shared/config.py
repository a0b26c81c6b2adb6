"""Configuration from environment variables, read once at start-up.

Every variable is declared once in ``VARIABLES``; the README's configuration table lists the same
names (a test keeps them in step). An invalid value stops the process at start with a message that
names the variable, never later with a stack trace.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SERVICES = ("intake", "casework", "notifications", "web")


class ConfigError(ValueError):
    """An environment variable is missing or has an invalid value."""


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("deve essere un intero positivo")
    return value


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("deve essere un intero maggiore o uguale a zero")
    return value


def _port(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 65535:
        raise ValueError("deve essere una porta tra 1 e 65535")
    return value


def _mongo_uri(raw: str) -> str:
    if not raw.startswith(("mongodb://", "mongodb+srv://")):
        raise ValueError("deve iniziare con mongodb:// o mongodb+srv://")
    return raw


def _bootstrap(raw: str) -> str:
    servers = [s.strip() for s in raw.split(",") if s.strip()]
    if not servers or any(":" not in s for s in servers):
        raise ValueError("deve essere un elenco host:porta separato da virgole")
    return ",".join(servers)


def _name(raw: str) -> str:
    if not raw or not all(c.isalnum() or c in "-_" for c in raw):
        raise ValueError("solo lettere, cifre, '-' e '_'")
    return raw


def one_of(*choices: str) -> Callable[[str], str]:
    """A parser accepting one of ``choices`` (case-insensitive), e.g. ``one_of("dev", "prod")``."""

    def parse(raw: str) -> str:
        value = raw.lower()
        if value not in choices:
            raise ValueError("uno tra " + ", ".join(choices))
        return value

    return parse


def _optional_name(raw: str) -> str:
    """A name, or ``-`` for none (an empty variable falls back to the default)."""
    return raw if raw == "-" else _name(raw)


class JwtKeys(dict[str, str]):
    """The token keys by key id (``kid``); never shows the secrets in a repr or a log line."""

    def __repr__(self) -> str:
        return f"JwtKeys(kids={sorted(self)})"

    __str__ = __repr__


# HS256 keys shorter than this are guessable offline from a single token.
MIN_JWT_KEY_CHARS = 32


def _jwt_keys(raw: str) -> JwtKeys:
    """``kid1:secret1,kid2:secret2`` (``-`` or empty: no keys, every token is refused)."""
    keys = JwtKeys()
    if raw in ("", "-"):
        return keys
    for item in raw.split(","):
        kid, sep, secret = item.strip().partition(":")
        if not sep or not kid or not secret:
            raise ValueError("deve essere un elenco kid:segreto separato da virgole")
        _name(kid)
        if len(secret) < MIN_JWT_KEY_CHARS:
            raise ValueError(f"ogni segreto deve avere almeno {MIN_JWT_KEY_CHARS} caratteri")
        if kid in keys:
            raise ValueError(f"kid ripetuto: {kid}")
        keys[kid] = secret
    return keys


def _flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value not in {"0", "1", "true", "false"}:
        raise ValueError("uno tra 0, 1")
    return value in {"1", "true"}


def _log_level(raw: str) -> str:
    level = raw.upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("uno tra DEBUG, INFO, WARNING, ERROR")
    return level


@dataclass(frozen=True)
class Variable:
    """One environment variable: its name, default, parser and what it is for."""

    name: str
    default: str
    parse: Callable[[str], Any]
    description: str
    attr: str


VARIABLES: tuple[Variable, ...] = (
    Variable(
        "KAFKA_BOOTSTRAP_SERVERS",
        "127.0.0.1:9092",
        _bootstrap,
        "Kafka brokers (host:port, comma separated).",
        "kafka_bootstrap_servers",
    ),
    Variable(
        "MONGODB_URI",
        "mongodb://127.0.0.1:27017/",
        _mongo_uri,
        "MongoDB (or FerretDB) connection URI, without a database name.",
        "mongodb_uri",
    ),
    Variable(
        "SPORTELLO_DB_PREFIX",
        "sportello",
        _name,
        "Each service uses the database `<prefix>_<service>`.",
        "db_prefix",
    ),
    Variable(
        "SPORTELLO_TOPIC_PREFIX",
        "sportello",
        _name,
        "Topics are `<prefix>.<service>` and `<prefix>.<consumer>.dlq`.",
        "topic_prefix",
    ),
    Variable(
        "KAFKA_PARTITIONS",
        "6",
        _positive_int,
        "Partitions of each topic created at start-up.",
        "kafka_partitions",
    ),
    Variable(
        "KAFKA_LINGER_MS",
        "2",
        _non_negative_int,
        "Producer linger: how long a batch waits for more records.",
        "kafka_linger_ms",
    ),
    Variable(
        "KAFKA_FETCH_MAX_WAIT_MS",
        "50",
        _positive_int,
        "Consumer fetch wait when no data is available (kafka-python waits 500 ms by default).",
        "kafka_fetch_max_wait_ms",
    ),
    Variable(
        "KAFKA_GROUP_INSTANCE_ID",
        "-",
        _optional_name,
        "Static group membership id of this worker (`-`: dynamic). A restarted worker with the"
        " same id gets its partitions back at once, without a rebalance.",
        "kafka_group_instance_id",
    ),
    Variable(
        "CONSUMER_MAX_ATTEMPTS",
        "3",
        _positive_int,
        "Attempts of a failing event handler before the event goes to the dead-letter topic.",
        "consumer_max_attempts",
    ),
    Variable(
        "OUTBOX_POLL_MS",
        "50",
        _positive_int,
        "How often the outbox relay looks for events to publish.",
        "outbox_poll_ms",
    ),
    Variable(
        "MAX_BODY_BYTES",
        "65536",
        _positive_int,
        "Largest accepted HTTP request body.",
        "max_body_bytes",
    ),
    Variable("LOG_LEVEL", "INFO", _log_level, "DEBUG, INFO, WARNING or ERROR.", "log_level"),
    Variable(
        "KAFKA_LOG_LEVEL",
        "WARNING",
        _log_level,
        "Level of kafka-python's own log lines; INFO shows every join, assignment and reconnect.",
        "kafka_log_level",
    ),
    Variable(
        "OTEL_TRACES_EXPORTER",
        "none",
        one_of("none", "console"),
        "Where spans go: `none` (trace context still propagates) or `console`.",
        "traces_exporter",
    ),
    Variable(
        "AUTH_JWT_KEYS",
        "-",
        _jwt_keys,
        "Keys that verify access tokens (HS256): `kid1:secret1,kid2:secret2`, each secret at"
        " least 32 characters. `-`: none, every request but health checks is refused.",
        "auth_jwt_keys",
    ),
    Variable(
        "AUTH_JWT_SIGNING_KID",
        "-",
        _optional_name,
        "Key id (in `AUTH_JWT_KEYS`) that signs new tokens (`-`: the first listed key).",
        "auth_jwt_signing_kid",
    ),
    Variable(
        "AUTH_TOKEN_TTL_S",
        "900",
        _positive_int,
        "Lifetime of a new access token, in seconds.",
        "auth_token_ttl_s",
    ),
    Variable(
        "AUTH_DEMO_TOKENS",
        "0",
        _flag,
        "`1` lets `python -m shared.auth mint` print demo tokens. Local use only.",
        "auth_demo_tokens",
    ),
    Variable("INTAKE_PORT", "8001", _port, "HTTP port of the intake API.", "intake_port"),
    Variable("CASEWORK_PORT", "8002", _port, "HTTP port of the casework API.", "casework_port"),
    Variable(
        "NOTIFICATIONS_PORT",
        "8003",
        _port,
        "HTTP port of the notifications API.",
        "notifications_port",
    ),
    Variable(
        "GUNICORN_WORKERS",
        "2",
        _positive_int,
        "gunicorn worker processes per API.",
        "gunicorn_workers",
    ),
)


@dataclass(frozen=True)
class Settings:
    """The settings of one service process."""

    service: str
    kafka_bootstrap_servers: str
    mongodb_uri: str
    db_prefix: str
    topic_prefix: str
    kafka_partitions: int
    kafka_linger_ms: int
    kafka_fetch_max_wait_ms: int
    kafka_group_instance_id: str
    consumer_max_attempts: int
    outbox_poll_ms: int
    max_body_bytes: int
    log_level: str
    kafka_log_level: str
    traces_exporter: str
    auth_jwt_keys: JwtKeys
    auth_jwt_signing_kid: str
    auth_token_ttl_s: int
    auth_demo_tokens: bool
    intake_port: int
    casework_port: int
    notifications_port: int
    gunicorn_workers: int
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(
        cls,
        service: str,
        environ: Mapping[str, str] | None = None,
        extra: Sequence[Variable] = (),
    ) -> Settings:
        """Read every variable from ``environ`` (default: the process environment).

        ``extra`` are the service's own variables (declared in its ``config.py``); their values
        are in ``settings.extra[attr]``.
        """
        if service not in SERVICES:
            raise ConfigError(f"servizio sconosciuto: {service}")
        env = os.environ if environ is None else environ
        values = _parse(VARIABLES, env)
        kid = values["auth_jwt_signing_kid"]
        if kid != "-" and values["auth_jwt_keys"] and kid not in values["auth_jwt_keys"]:
            raise ConfigError(f"AUTH_JWT_SIGNING_KID={kid!r} non valido: non è in AUTH_JWT_KEYS")
        return cls(service=service, extra=_parse(extra, env), **values)

    @property
    def database(self) -> str:
        """This service's own database."""
        return f"{self.db_prefix}_{self.service}"

    @property
    def port(self) -> int:
        """This service's HTTP port."""
        return int(getattr(self, f"{self.service}_port"))

    def topic(self, producer_service: str) -> str:
        """The events topic of ``producer_service``."""
        return topic_name(self.topic_prefix, producer_service)

    @property
    def dead_letter_topic(self) -> str:
        """This service's dead-letter topic (for events it consumed but could not apply)."""
        return f"{self.topic_prefix}.{self.service}.dlq"

    @property
    def consumer_group(self) -> str:
        """Kafka consumer group of this service's worker."""
        return f"{self.topic_prefix}.{self.service}"


def _parse(variables: Sequence[Variable], env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for var in variables:
        raw = env.get(var.name, "").strip() or var.default
        try:
            values[var.attr] = var.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{var.name}={raw!r} non valido: {exc}") from None
    return values


def topic_name(prefix: str, producer_service: str) -> str:
    """The events topic a service publishes to."""
    return f"{prefix}.{producer_service}"
