"""Test fixtures: real Kafka and a real MongoDB-wire server, and isolation per test.

Where they come from, in order: ``KAFKA_BOOTSTRAP_SERVERS`` / ``MONGODB_URI`` when set (``make
test`` sets them after starting the local infrastructure on test ports); else real ``mongo`` and
``apache/kafka`` images through testcontainers where a Docker engine answers; else the project's
own local infrastructure, started here and stopped at the end.

Every test gets its own database prefix and topic prefix, so tests run in any order.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymongo
import pytest
from kafka import KafkaAdminClient

from shared.config import Settings

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Infra:
    """Where the real broker and store of this test session are."""

    kafka: str
    mongo: str
    local: bool  # started by deploy/infra.sh on this machine (so tests may stop and restart it)


def _local_kafka_running() -> bool:
    """Whether the broker is the one deploy/infra.sh runs from ``SPORTELLO_RUN_DIR``."""
    run_dir = os.environ.get("SPORTELLO_RUN_DIR")
    if not run_dir:
        return False
    pidfile = Path(run_dir) / "kafka" / "kafka.pid"
    try:
        os.kill(int(pidfile.read_text()), 0)
    except (OSError, ValueError):
        return False
    return True


def _docker_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:  # noqa: BLE001 - no engine, no socket, no client: all mean "no Docker"
        return False
    return True


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    """The session's real Kafka broker and MongoDB-wire server."""
    kafka, mongo = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("MONGODB_URI")
    if kafka and mongo:
        yield Infra(kafka, mongo, local=_local_kafka_running())
        return
    if _docker_available():
        from testcontainers.kafka import KafkaContainer
        from testcontainers.mongodb import MongoDbContainer

        with (
            MongoDbContainer("mongo:7") as m,
            KafkaContainer("apache/kafka:4.1.1").with_kraft() as k,
        ):
            yield Infra(k.get_bootstrap_server(), m.get_connection_url(), local=False)
        return
    env = {
        **os.environ,
        "SPORTELLO_RUN_DIR": str(ROOT / ".run" / "test"),
        "SPORTELLO_KAFKA_PORT": "19092",
        "SPORTELLO_MONGO_PORT": "27018",
    }
    subprocess.run([str(ROOT / "deploy" / "infra.sh"), "start"], env=env, check=True)
    os.environ.update(
        {k: env[k] for k in ("SPORTELLO_RUN_DIR", "SPORTELLO_KAFKA_PORT", "SPORTELLO_MONGO_PORT")}
    )
    try:
        yield Infra("127.0.0.1:19092", "mongodb://127.0.0.1:27018/", local=True)
    finally:
        subprocess.run([str(ROOT / "deploy" / "infra.sh"), "stop"], env=env, check=False)


# Test-only token keys (two, so rotation can be exercised); never used outside the tests.
TEST_JWT_KEYS = "test-old:" + "o" * 40 + ",test-new:" + "n" * 40
TEST_SIGNING_KID = "test-new"


def unique_prefix() -> str:
    """A prefix no other test uses."""
    return f"t{uuid.uuid4().hex[:10]}"


def isolated_environ(infra: Infra) -> dict[str, str]:
    """Environment variables of an isolated Sportello: own databases, own topics."""
    prefix = unique_prefix()
    return {
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka,
        "MONGODB_URI": infra.mongo,
        "SPORTELLO_DB_PREFIX": prefix,
        "SPORTELLO_TOPIC_PREFIX": prefix,
        "KAFKA_PARTITIONS": "2",
        "OUTBOX_POLL_MS": "20",
        "LOG_LEVEL": "INFO",
        "FIELD_ENCRYPTION_KEYS": "YF556KJXdJS-WldnRn5opfeYc-R5gPwQAr0euAZ3UUY=",  # tests' own key
        "AUTH_JWT_KEYS": TEST_JWT_KEYS,
        "AUTH_JWT_SIGNING_KID": TEST_SIGNING_KID,
    }


def drop_isolated(infra: Infra, environ: dict[str, str]) -> None:
    """Drop the databases and topics of the isolated world ``environ`` describes."""
    prefix = environ["SPORTELLO_DB_PREFIX"]
    client = pymongo.MongoClient(infra.mongo, serverSelectionTimeoutMS=3000)
    try:
        for name in client.list_database_names():
            if name.startswith(f"{prefix}_"):
                client.drop_database(name)
    finally:
        client.close()
    admin = KafkaAdminClient(bootstrap_servers=infra.kafka)
    try:
        mine = [t for t in admin.list_topics() if t.startswith(f"{prefix}.")]
        if mine:
            admin.delete_topics(mine)
    finally:
        admin.close()


def service_settings(service: str, environ: dict[str, str], **overrides: str) -> Settings:
    """A service's settings in the isolated world ``environ``."""
    config = importlib.import_module(f"services.{service}.config")
    return config.load_settings({**environ, **overrides})


@pytest.fixture
def environ(infra: Infra) -> dict[str, str]:
    """Environment variables of an isolated Sportello: own databases, own topics."""
    return isolated_environ(infra)


@pytest.fixture
def token_for(environ: dict[str, str]):
    """``token_for("operator", counters=("c1",))``: a valid bearer token for this test's world."""
    from tests.support import mint_token

    def make(role: str = "admin", **scope) -> str:
        return mint_token(environ, role, **scope)

    return make


@pytest.fixture
def settings_for(environ: dict[str, str], infra: Infra) -> Iterator:
    """``settings_for("intake")``: a service's settings in this test's isolated world.

    At the end, the test's databases and topics are dropped.
    """

    def make(service: str, **overrides: str) -> Settings:
        return service_settings(service, environ, **overrides)

    yield make
    drop_isolated(infra, environ)
