"""Fault-injection fixtures: the whole system as real processes, killed and restarted on purpose.

These tests stop and restart the local broker and store, so they need the infrastructure that
``deploy/infra.sh`` runs (``make test`` does); elsewhere they are skipped. At the end the session
prints a tally of what was produced, consumed, suppressed as duplicate, dead-lettered and lost.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pymongo
import pytest

from deploy.system import SERVICES, System
from shared.dlq import read_dead_letters
from shared.events import PoisonEvent, decode
from tests.integration.test_notifications_rules import running_smtp
from tests.support import read_topic

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Tally:
    """What one scenario saw."""

    scenario: str
    produced: int = 0  # event records on the intake topic (duplicates included)
    unique_events: int = 0
    consumed: int = 0  # distinct effects stored by casework
    duplicates_suppressed: int = 0  # deliveries that found their effect already stored
    dead_lettered: int = 0
    lost: int = 0


TALLIES: list[Tally] = []


def pytest_terminal_summary(terminalreporter) -> None:
    if not TALLIES:
        return
    tr = terminalreporter
    tr.section("fault-injection tally")
    tr.write_line(
        f"{'scenario':44} {'produced':>9} {'unique':>7} {'consumed':>9} "
        f"{'dup.supp.':>9} {'dlq':>5} {'lost':>5}"
    )
    for t in TALLIES:
        tr.write_line(
            f"{t.scenario:44} {t.produced:>9} {t.unique_events:>7} {t.consumed:>9} "
            f"{t.duplicates_suppressed:>9} {t.dead_lettered:>5} {t.lost:>5}"
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def local_infra(infra) -> None:
    if not infra.local:
        pytest.skip("needs the broker and store run by deploy/infra.sh (make test) to restart them")


def infra_command(command: str, what: str) -> None:
    """Stop or start the local broker or store (infra.sh acts only without the env overrides)."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI")
    }
    subprocess.run([str(ROOT / "deploy" / "infra.sh"), command, what], check=True, env=env)


@dataclass
class World:
    """A running system and handles to check its effects."""

    system: System
    env: dict[str, str]
    mongo: pymongo.MongoClient = field(repr=False)

    @property
    def prefix(self) -> str:
        return self.env["SPORTELLO_DB_PREFIX"]

    def db(self, service: str):
        return self.mongo[f"{self.prefix}_{service}"]

    def topic(self, service: str) -> str:
        return f"{self.prefix}.{service}"

    def dead_letters(self, consumer: str) -> list:
        return read_dead_letters(
            self.env["KAFKA_BOOTSTRAP_SERVERS"], f"{self.prefix}.{consumer}.dlq"
        )

    def intake_events(self, case_ids: set[str]) -> tuple[int, int]:
        """(records, distinct event ids) of ``case.opened`` for ``case_ids`` on the intake topic."""
        records = read_topic(
            self.env["KAFKA_BOOTSTRAP_SERVERS"],
            self.topic("intake"),
            lambda rs: len({r.key for r in rs} & {c.encode() for c in case_ids}) >= len(case_ids),
            timeout_s=120,
        )
        ids = []
        for r in records:
            if r.key and r.key.decode() in case_ids:
                try:
                    event = decode(r.value)
                except PoisonEvent:
                    continue
                if event.type.endswith("case.opened.v1"):
                    ids.append(event.id)
        return len(ids), len(set(ids))

    def log_count(self, process: str, text: str) -> int:
        path = self.system.log_dir / f"{process}.log"
        return path.read_text().count(text) if path.exists() else 0


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    """Keep each phase's report on the item: the ``world`` fixture prints logs on failure."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


def print_log_tails(config: pytest.Config, system: System, lines: int = 30) -> None:
    """Show the end of every process log: in CI this is all there is to read after a failure."""
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    for log in sorted(system.log_dir.glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        terminal.write_line(f"----- {log.name} (last {len(tail)} lines) -----")
        for line in tail:
            terminal.write_line(line[:400])


@pytest.fixture
def smtp_port() -> Iterator[int]:
    """A real SMTP server for the custodi's emails: delivered once, not retried against a closed
    port for the whole scenario."""
    with running_smtp() as (_, port):
        yield port


@pytest.fixture
def world(
    environ: dict[str, str],
    tmp_path: Path,
    local_infra,
    smtp_port: int,
    request: pytest.FixtureRequest,
) -> Iterator[World]:
    env = dict(environ)
    env.update({f"{s.upper()}_PORT": str(free_port()) for s in SERVICES})
    env.update(
        {
            "KAFKA_PARTITIONS": "4",
            "GUNICORN_WORKERS": "2",
            "LOG_LEVEL": "INFO",
            "NOTIFICATIONS_SMTP_PORT": str(smtp_port),
            "WEB_PORT": str(free_port()),
            "WEB_SECRET_KEY": "fault-suite-only",
        }
    )
    system = System(tmp_path / "run", {**os.environ, **env})
    system.start()
    client = pymongo.MongoClient(env["MONGODB_URI"], serverSelectionTimeoutMS=5000)
    try:
        system.wait_ready(timeout_s=90)
        yield World(system, env, client)
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            print_log_tails(request.config, system)
    finally:
        system.stop(timeout_s=30)
        client.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Fault scenarios move thousands of events through real processes: give them room."""
    for item in items:
        if "tests/faults/" in str(item.fspath):
            item.add_marker(pytest.mark.timeout(900))
