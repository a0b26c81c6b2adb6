"""Exactly one message even when the worker is killed mid-send: real worker processes, SIGKILL.

The worker records its intent (``in_invio``, attempt, lease) before it talks to the channel. Here
it is killed while the channel holds the call, then a new worker process starts: once the lease
expires it takes the message again and the recipient gets exactly one message.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pymongo
import pytest

from shared.events import intake as ik
from shared.events import make_event
from shared.kafka import EventProducer, ensure_topics
from tests.integration.test_notifications_rules import (
    Mailbox,
    SmsProviderStub,
    running_sms_stub,
    running_smtp,
)
from tests.support import wait_for
from tests.unit.test_notifications_rules import appointment_data, case_opened, tenant_data

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """``python -m services.notifications.entrypoints.worker`` with the test's environment."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services.notifications.entrypoints.worker"],
            env={**os.environ, **env, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    with running_smtp() as running:
        yield running


@pytest.fixture
def sms() -> Iterator[SmsProviderStub]:
    with running_sms_stub() as stub:
        yield stub


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A port that accepts TCP connections and never answers (an SMTP server that hangs)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


def quiet_hours_far_from_now() -> str:
    """A one-minute quiet window twelve hours away, so no SMS of this test waits for morning."""
    far = datetime.now(UTC) + timedelta(hours=12)
    return f"{far:%H}:00-{far:%H}:01"


@pytest.fixture
def base_env(environ: dict[str, str], settings_for) -> dict[str, str]:
    settings = settings_for("notifications")  # registers the test's databases and topics cleanup
    ensure_topics(
        settings.kafka_bootstrap_servers,
        [settings.topic(s) for s in ("intake", "casework", "notifications")],
        settings.kafka_partitions,
    )
    return {
        **environ,
        "NOTIFICATIONS_SEND_LEASE_S": "2",
        "NOTIFICATIONS_SEND_TIMEOUT_S": "60",
        "NOTIFICATIONS_SENDER_POLL_MS": "50",
        "NOTIFICATIONS_QUIET_HOURS": quiet_hours_far_from_now(),
        "NOTIFICATIONS_TIMEZONE": "UTC",
    }


def notifications(environ: dict[str, str]) -> pymongo.collection.Collection:
    client = pymongo.MongoClient(environ["MONGODB_URI"])
    return client[f"{environ['SPORTELLO_DB_PREFIX']}_notifications"].notifications


def publish(environ: dict[str, str], producer: str, type_: str, data: dict, subject: str) -> None:
    events = EventProducer(environ["KAFKA_BOOTSTRAP_SERVERS"])
    try:
        events.publish(
            f"{environ['SPORTELLO_TOPIC_PREFIX']}.{producer}", make_event(type_, subject, data)
        )
    finally:
        events.close()


def test_a_worker_killed_between_recording_and_sending_an_email_sends_it_once(
    base_env, black_hole, smtp, tmp_path
) -> None:
    mailbox, smtp_port = smtp
    store = notifications(base_env)
    first = WorkerProcess(
        {**base_env, "NOTIFICATIONS_SMTP_PORT": str(black_hole)}, tmp_path / "worker1.log"
    )
    try:
        publish(base_env, "intake", ik.CASE_OPENED, case_opened(), "case_1")
        # The intent is recorded and the send has started: the SMTP server never greets.
        note = wait_for(
            lambda: store.find_one({"rule": "caso_aperto", "status": "in_invio"}),
            timeout_s=90,
            what="the intent to send recorded",
        )
        first.kill()
    finally:
        first.stop()
    assert mailbox.messages == []

    second = WorkerProcess(
        {**base_env, "NOTIFICATIONS_SMTP_PORT": str(smtp_port)}, tmp_path / "worker2.log"
    )
    try:
        done = wait_for(
            lambda: store.find_one({"_id": note["_id"], "status": "consegnata"}),
            timeout_s=90,
            what="the message delivered after the restart",
        )
        # Give a wrongly duplicated send every chance to show up before counting.
        wait_for(lambda: not store.find_one({"status": {"$in": ["creata", "in_invio"]}}))
    finally:
        second.stop()
    assert len(mailbox.messages) == 1
    assert mailbox.messages[0]["Message-ID"] == f"<{note['_id']}@sportello.invalid>"
    assert [h["status"] for h in done["history"]] == [
        "creata",
        "in_invio",
        "in_invio",
        "consegnata",
    ]
    assert done["attempts"] == 2


def test_a_worker_killed_while_the_sms_provider_holds_the_call_sends_one_sms(
    base_env,
    sms,
    tmp_path,
) -> None:
    release = threading.Event()
    sms.hold = release
    env = {**base_env, "NOTIFICATIONS_SMS_URL": f"http://127.0.0.1:{sms.port}/sms"}
    store = notifications(base_env)
    first = WorkerProcess(env, tmp_path / "worker1.log")
    try:
        tenant = tenant_data(consents=("sms",))
        publish(base_env, "intake", ik.TENANT_REGISTERED, tenant, "ten_1")
        # Another key, maybe another partition: wait until the tenant is known.
        wait_for(lambda: store.database.tenants.find_one({"_id": "ten_1"}), timeout_s=90)
        starts = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
        publish(base_env, "intake", ik.APPOINTMENT_BOOKED, appointment_data(starts), "case_1")
        wait_for(lambda: sms.requests, timeout_s=90, what="the provider to receive the request")
        note = store.find_one({"rule": "appuntamento_prenotato"})
        assert note["status"] == "in_invio"
        first.kill()  # the provider got the request; the worker never learnt the answer
    finally:
        first.stop()

    second = WorkerProcess(env, tmp_path / "worker2.log")
    try:
        release.set()
        wait_for(
            lambda: store.find_one({"_id": note["_id"], "status": "consegnata"}),
            timeout_s=90,
            what="the SMS recorded as delivered after the restart",
        )
    finally:
        second.stop()
    # Sent twice over the wire, with the same idempotency key: the provider sent one SMS.
    assert [r["key"] for r in sms.requests] == [note["_id"], note["_id"]]
    assert len(sms.delivered) == 1
