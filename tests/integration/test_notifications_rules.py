"""A test per notification rule, through the real broker: events published to the test's Kafka
topics, the notifications worker (consumer, sender, relay) running in-process with an injectable
clock, a real SMTP server (aiosmtpd) and a local HTTP server in the SMS provider's role.

The fixtures here are reused by the other ``test_notifications_*`` integration tests.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from services.notifications.adapters.documents import CaseDoc, NotificationDoc, TenantDoc
from services.notifications.adapters.repository import SEND_QUEUE, NotificationRepository
from services.notifications.domain.model import Notification
from services.notifications.entrypoints.worker import NotificationsWorker, build_worker
from shared import mongo
from shared.config import Settings
from shared.events import Event, decode, make_event
from shared.events import casework as cw
from shared.events import intake as ik
from shared.events.notifications import NOTIFICATION_DELIVERED
from shared.kafka import EventProducer, ensure_topics
from shared.privacy import ANONYMOUS
from tests.support import read_topic, wait_for
from tests.unit.test_notifications_rules import (
    appointment_data,
    case_opened,
    referral,
    tenant_data,
)

DAY = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # 10:00 in Rome


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Clock:
    """An injectable clock the test moves by hand (millisecond precision, like the store)."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            return self.now

    def set(self, now: datetime) -> None:
        with self.lock:
            self.now = now


# --- a real SMTP server ------------------------------------------------------------------------


class Mailbox:
    """What the SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        msg["X-Rcpt-To"] = ",".join(envelope.rcpt_tos)
        self.messages.append(msg)  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in m["X-Rcpt-To"]]


@contextlib.contextmanager
def running_smtp() -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server (aiosmtpd) on a free port, and what it received."""
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


# --- an SMS provider stub ------------------------------------------------------------------------


@dataclass
class SmsProviderStub:
    """A local HTTP server in the SMS provider's role: it honours the Idempotency-Key like a
    real gateway (a second request with the same key sends nothing new)."""

    requests: list[dict] = field(default_factory=list)
    delivered: dict[str, dict] = field(default_factory=dict)
    statuses: list[int] = field(default_factory=list)  # answers to give first, then 200
    hold: threading.Event | None = None  # the next request hangs until this is set
    port: int = 0

    def sent_to(self, phone: str) -> list[dict]:
        return [m for m in self.delivered.values() if m["to"] == phone]


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    with running_smtp() as running:
        yield running


@contextlib.contextmanager
def running_sms_stub() -> Iterator[SmsProviderStub]:
    """The SMS provider stub on a free port."""
    stub = SmsProviderStub()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            key = self.headers.get("Idempotency-Key", "")
            with lock:
                stub.requests.append({"key": key, **body})
                hold = stub.hold
                stub.hold = None  # only the first request hangs
            if hold is not None:
                hold.wait(timeout=120)  # the caller may be killed meanwhile
            with lock:
                status = stub.statuses.pop(0) if stub.statuses else 200
                if status == 200:
                    stub.delivered.setdefault(key, body)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps({"id": f"sms-{key[:8]}"}).encode())
            except OSError:
                pass  # the caller is gone (killed mid-call)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def sms() -> Iterator[SmsProviderStub]:
    with running_sms_stub() as stub:
        yield stub


# --- the worker and the broker -------------------------------------------------------------------


@dataclass
class World:
    """One isolated notifications world: settings, clock, worker, producer."""

    settings: Settings
    clock: Clock
    worker: NotificationsWorker
    producer: EventProducer
    mailbox: Mailbox
    sms: SmsProviderStub

    def publish(self, type_: str, data: dict, subject: str = "case_1") -> Event:
        event = make_event(type_, subject, data)
        self.publish_event(event)
        return event

    def publish_event(self, event: Event) -> None:
        producer = event.source.rsplit("/", 1)[-1]
        self.producer.publish(self.settings.topic(producer), event)

    def delivery_events(self, notification_id: str) -> list[Event]:
        """The delivery events published about one notification (waits for the first)."""

        def about_it(records: list) -> list[Event]:
            events = [decode(r.value) for r in records]
            return [e for e in events if e.data.get("notification_id") == notification_id]

        records = read_topic(
            self.settings.kafka_bootstrap_servers,
            self.settings.topic("notifications"),
            lambda rs: bool(about_it(rs)),
        )
        return about_it(records)

    def notes(self, **filters: Any) -> list[NotificationDoc]:
        return list(NotificationDoc.objects(**filters).order_by("created_at"))

    def note(self, **filters: Any) -> NotificationDoc:
        return wait_for(lambda: NotificationDoc.objects(**filters).first(), what=str(filters))

    def wait_status(self, status: str, **filters: Any) -> NotificationDoc:
        return wait_for(
            lambda: NotificationDoc.objects(status=status, **filters).first(),
            what=f"{status} {filters}",
        )


def settings_with(settings_for, smtp_port: int, sms_port: int, **extra: str) -> Settings:
    return settings_for(
        "notifications",
        NOTIFICATIONS_SMTP_PORT=str(smtp_port),
        NOTIFICATIONS_SMS_URL=f"http://127.0.0.1:{sms_port}/sms",
        NOTIFICATIONS_SENDER_POLL_MS="20",
        NOTIFICATIONS_SEND_TIMEOUT_S="3",
        **extra,
    )


def start_world(settings: Settings, clock: Clock, mailbox: Mailbox, stub: SmsProviderStub):
    ensure_topics(
        settings.kafka_bootstrap_servers,
        [settings.topic(s) for s in ("intake", "casework", "notifications")],
        settings.kafka_partitions,
    )
    worker = build_worker(settings, clock)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    producer = EventProducer(settings.kafka_bootstrap_servers)
    w = World(settings, clock, worker, producer, mailbox, stub)
    return w, thread


def warm_up(w: World) -> None:
    """Publish an event no rule matches and wait until the consumer applied it: the first
    group join can be slow on a busy broker; the tests' own waits then measure only their work."""
    data = {"case_id": "warmup", "actor": "t", "at": DAY.isoformat()}
    w.publish(cw.CASE_ASSESSED, {**data, "classification": "non_vulnerabile"}, subject="warmup")
    wait_for(
        lambda: w.worker.consumer is not None and w.worker.consumer.stats.applied >= 1,
        timeout_s=90,
        what="the worker's consumer to apply a first event",
    )


@pytest.fixture
def clock() -> Clock:
    return Clock(DAY)


@pytest.fixture
def world(settings_for, smtp, sms, clock, request, tmp_path) -> Iterator[World]:
    extra = dict(getattr(request, "param", {}) or {})
    if "rules_yaml" in extra:  # a test's own rules file
        path = tmp_path / "rules.yaml"
        path.write_text(extra.pop("rules_yaml"))
        extra["NOTIFICATIONS_RULES_FILE"] = str(path)
    settings = settings_with(settings_for, smtp[1], sms.port, **extra)
    w, thread = start_world(settings, clock, smtp[0], sms)
    try:
        warm_up(w)
        yield w
    finally:
        w.worker.stop()
        thread.join(timeout=30)
        w.producer.close()
        mongo.disconnect("notifications")


def register_tenant(w: World, **kw: Any) -> None:
    data = tenant_data(**kw)
    w.publish(ik.TENANT_REGISTERED, data, subject=data["tenant_id"])
    wait_for(
        lambda: TenantDoc.objects(id=data["tenant_id"], version=data["version"]).first(),
        what="tenant read model",
    )


def claim(repo: NotificationRepository, now: datetime, lease: timedelta) -> Notification | None:
    """The earliest due message, taken for sending as a sender takes it (``due``, ``take``)."""
    for entry in repo.due(now, 10):
        taken = repo.take(entry, now, lease)
        if taken is not None:
            return taken
    return None


def open_case(w: World, urgent: bool = False, custodians: list[dict] | None = None) -> Event:
    """Publish intake's ``case.opened`` and wait until notifications knows the case: a casework
    event a test publishes next travels on another topic, and Kafka orders nothing across topics
    (in production casework speaks of a case only after it has heard of it)."""
    event = w.publish(ik.CASE_OPENED, case_opened(urgent, custodians))
    case_id = event.data["case_id"]
    wait_for(lambda: CaseDoc.objects(id=case_id).first(), what="case read model")
    return event


PHONE = "+393330000001"
MAIL = "mario.rossi@example.org"
CUSTODIAN = "custodia.saintbon@example.org"


# --- the rules ---------------------------------------------------------------------------------


def test_appointment_booked_tells_the_tenant_and_schedules_a_reminder_24h_before(
    world: World,
) -> None:
    register_tenant(world)
    starts = DAY + timedelta(days=3)
    event = world.publish(ik.APPOINTMENT_BOOKED, appointment_data(starts.isoformat()))

    confirmation = world.wait_status("consegnata", rule="appuntamento_prenotato")
    assert confirmation.channel == "sms" and confirmation.event_id == event.id
    [sent] = wait_for(lambda: world.sms.sent_to(PHONE), what="confirmation SMS")
    assert "appuntamento confermato il 23/11/2026 alle 10:00" in sent["text"]
    assert [h["status"] for h in confirmation.history] == ["creata", "in_invio", "consegnata"]

    reminder = world.note(rule="promemoria_appuntamento")
    assert reminder.status == "creata"
    assert reminder.due_at.replace(tzinfo=UTC) == starts - timedelta(hours=24)

    world.clock.set(starts - timedelta(hours=24, minutes=1))
    world.worker.sender.run_once()
    assert reminder.reload().status == "creata", "sent before its time"
    world.clock.set(starts - timedelta(hours=23))
    world.wait_status("consegnata", rule="promemoria_appuntamento")
    texts = [m["text"] for m in world.sms.sent_to(PHONE)]
    assert len(texts) == 2 and "ricordiamo l'appuntamento di domani" in texts[1]

    # The delivery events went out through the notification's outbox.
    topic = world.settings.topic("notifications")
    records = read_topic(world.settings.kafka_bootstrap_servers, topic, lambda rs: len(rs) >= 2)
    delivered = [decode(r.value) for r in records]
    assert {e.type for e in delivered} == {NOTIFICATION_DELIVERED}
    assert {e.data["notification_id"] for e in delivered} == {confirmation.id, reminder.id}


def test_rescheduled_tells_the_tenant_and_moves_the_reminder(world: World) -> None:
    register_tenant(world)
    first = DAY + timedelta(days=3)
    world.publish(ik.APPOINTMENT_BOOKED, appointment_data(first.isoformat()))
    old = world.note(rule="promemoria_appuntamento")
    moved = first + timedelta(days=2)
    world.publish(
        ik.APPOINTMENT_RESCHEDULED,
        appointment_data(
            moved.isoformat(), previous_starts_at=first.isoformat(), reason="sala occupata"
        ),
    )
    world.wait_status("consegnata", rule="appuntamento_spostato")
    assert wait_for(lambda: old.reload().status == "annullata", what="old reminder cancelled")
    new = world.note(rule="promemoria_appuntamento_spostato")
    assert new.due_at.replace(tzinfo=UTC) == moved - timedelta(hours=24)
    assert any("spostato al 25/11/2026" in m["text"] for m in world.sms.sent_to(PHONE))


def test_cancelled_tells_the_tenant_and_cancels_the_pending_reminder(world: World) -> None:
    register_tenant(world, consents=("email",))
    starts = DAY + timedelta(days=3)
    world.publish(ik.APPOINTMENT_BOOKED, appointment_data(starts.isoformat()))
    reminder = world.note(rule="promemoria_appuntamento")
    world.publish(ik.APPOINTMENT_CANCELLED, appointment_data(starts.isoformat(), reason="malattia"))
    world.wait_status("consegnata", rule="appuntamento_annullato")
    assert wait_for(lambda: reminder.reload().status == "annullata", what="reminder cancelled")
    world.clock.set(starts - timedelta(hours=1))
    world.worker.sender.run_once()
    subjects = [m["Subject"] for m in world.mailbox.to(MAIL)]
    assert subjects == [
        "Sportello Energia: appuntamento confermato",
        "Sportello Energia: appuntamento annullato",
    ]
    assert world.sms.requests == []  # no SMS consent: no SMS


def test_a_reminder_queued_before_queue_entries_named_their_appointment_is_cancelled_too(
    world: World,
) -> None:
    """cancel_pending finds an appointment's pending messages in the send queue (by its
    entries' ``appointment_id``) and cancels them by ``_id``; an entry written before entries
    named their appointment is still found, and ``requeue_pending`` fills the name in."""
    register_tenant(world, consents=("email",))
    queue = NotificationDoc._get_db()[SEND_QUEUE]
    starts = DAY + timedelta(days=3)
    world.publish(ik.APPOINTMENT_BOOKED, appointment_data(starts.isoformat()))
    reminder = world.note(rule="promemoria_appuntamento")
    assert queue.find_one({"_id": reminder.id})["appointment_id"] == "app_1"
    # Another appointment's reminder, queued by an older version (no appointment_id).
    other = appointment_data(starts.isoformat(), appointment_id="app_2")
    world.publish(ik.APPOINTMENT_BOOKED, other, subject="app_2")
    second = world.note(rule="promemoria_appuntamento", appointment_id="app_2")
    for entry_id in (reminder.id, second.id):
        queue.update_one({"_id": entry_id}, {"$unset": {"appointment_id": ""}})

    world.publish(ik.APPOINTMENT_CANCELLED, appointment_data(starts.isoformat(), reason="malattia"))
    assert wait_for(lambda: reminder.reload().status == "annullata", what="reminder cancelled")
    assert queue.find_one({"_id": reminder.id}) is None
    # Only the cancelled appointment's: the other reminder is pending, its entry left alone.
    assert second.reload().status == "creata"
    assert "appointment_id" not in queue.find_one({"_id": second.id})
    world.worker.deps.notifications.requeue_pending()
    assert queue.find_one({"_id": second.id})["appointment_id"] == "app_2"


def test_case_opened_tells_the_custodians_by_email(world: World) -> None:
    open_case(world)
    world.wait_status("consegnata", rule="caso_aperto")
    [mail] = wait_for(lambda: world.mailbox.to(CUSTODIAN), what="custodian email")
    assert mail["Subject"] == "Sportello Energia: nuovo caso nel suo stabile"
    assert mail["Message-ID"].startswith("<ntf_")
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Via Saint Bon 6" in text and "case_1" in text
    assert "<strong>Via Saint Bon 6</strong>" in html


def test_an_urgent_case_reaches_custodians_at_once_even_if_they_chose_the_digest(
    world: World,
) -> None:
    world.worker.deps.preferences.set("Custodia Saint Bon", "riepilogo", "test", DAY)
    open_case(world, urgent=True)
    note = world.wait_status("consegnata", rule="caso_urgente")
    assert note.due_at.replace(tzinfo=UTC) == DAY
    [mail] = wait_for(lambda: world.mailbox.to(CUSTODIAN), what="urgent email")
    assert "urgente" in mail["Subject"]
    assert (
        "distacco della fornitura per il 1 dicembre 2026" in mail.get_body(("plain",)).get_content()
    )


def test_a_custodian_who_chose_the_digest_gets_one_email_a_day(world: World) -> None:
    world.worker.deps.preferences.set("Custodia Saint Bon", "riepilogo", "test", DAY)
    open_case(world)
    world.publish(
        ik.HOME_VISIT_REQUESTED,
        {"case_id": "case_1", "tenant_id": "ten_1", "building": case_opened()["building"]},
    )
    held = wait_for(
        lambda: len(world.notes(status="in_riepilogo")) == 2 and world.notes(status="in_riepilogo"),
        what="two messages held for the digest",
    )
    digest = NotificationDoc.objects(id=held[0].digest_id).first()
    assert digest.template == "riepilogo_giornaliero" and len(digest.items) == 2
    # 18:00 in Rome is 17:00 UTC in November.
    assert digest.due_at.replace(tzinfo=UTC) == datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
    world.worker.sender.run_once()
    assert world.mailbox.to(CUSTODIAN) == []
    world.clock.set(datetime(2026, 11, 20, 17, 0, 1, tzinfo=UTC))
    world.wait_status("consegnata", id=digest.id)
    [mail] = world.mailbox.to(CUSTODIAN)
    assert mail["Subject"] == "Sportello Energia: riepilogo del giorno (2)"
    assert "sopralluogo richiesto" in mail.get_body(("plain",)).get_content()
    assert wait_for(lambda: len(world.notes(digest_id=digest.id, status="consegnata")) == 2)


def test_a_redelivery_while_the_digest_is_being_sent_does_not_send_the_item_alone(
    world: World,
) -> None:
    world.worker.deps.preferences.set("Custodia Saint Bon", "riepilogo", "test", DAY)
    event = open_case(world)
    [item] = wait_for(lambda: world.notes(status="in_riepilogo"), what="an item held")
    digest_id = item.digest_id
    # The first delivery joined the digest and died before recording the item; then the digest
    # fell due and a sender took it.
    item.delete()
    # Claimed "at 18:00" while the worker's own clock stays in the afternoon, so its sender
    # thread leaves the digest alone.
    due = datetime(2026, 11, 20, 17, 0, 1, tzinfo=UTC)
    claimed = claim(world.worker.deps.notifications, due, timedelta(minutes=5))
    assert claimed is not None and claimed.id == digest_id
    world.publish_event(event)  # the redelivery, now that the digest is on its way
    again = world.note(id=item.id)
    assert (again.status, again.digest_id) == ("in_riepilogo", digest_id)
    world.worker.sender.run_once()
    assert world.mailbox.to(CUSTODIAN) == [], "the item went out on its own"


def test_a_sender_whose_lease_expired_records_nothing_over_the_one_that_took_over(
    world: World,
) -> None:
    register_tenant(world)
    starts = DAY + timedelta(days=3)
    world.publish(ik.APPOINTMENT_BOOKED, appointment_data(starts.isoformat()))
    world.wait_status("consegnata", rule="appuntamento_prenotato")  # the one due now: gone
    reminder = world.note(rule="promemoria_appuntamento")
    # Claimed at its due time while the worker's own clock stays earlier: its sender thread
    # leaves the reminder alone.
    due = reminder.due_at.replace(tzinfo=UTC)
    repo = world.worker.deps.notifications
    first = claim(repo, due, timedelta(minutes=1))
    assert first is not None and first.id == reminder.id
    assert claim(repo, due, timedelta(minutes=1)) is None  # held by the first sender's lease
    second = claim(repo, due + timedelta(minutes=2), timedelta(minutes=1))
    assert second is not None and (first.attempts, second.attempts) == (1, 2)

    assert not repo.record_delivered(first, due + timedelta(minutes=3), "late")
    assert repo.record_delivered(second, due + timedelta(minutes=3), "ok")
    assert not repo.record_failed(first, due + timedelta(minutes=4), "late")
    reminder.reload()
    assert (reminder.status, reminder.attempts) == ("consegnata", 2)
    statuses = [h["status"] for h in reminder.history]
    assert statuses == ["creata", "in_invio", "in_invio", "consegnata"]
    assert claim(repo, due + timedelta(hours=1), timedelta(1)) is None


def test_home_visit_requested_tells_the_custodians_and_the_tenant(world: World) -> None:
    register_tenant(world)
    world.publish(
        ik.HOME_VISIT_REQUESTED,
        {
            "case_id": "case_1",
            "tenant_id": "ten_1",
            "building": case_opened()["building"],
            "requested_for": (DAY + timedelta(days=2)).isoformat(),
            "reason": "muffa in camera",
        },
    )
    world.wait_status("consegnata", rule="sopralluogo_custode")
    world.wait_status("consegnata", rule="sopralluogo_inquilino")
    [mail] = world.mailbox.to(CUSTODIAN)
    assert "muffa in camera" in mail.get_body(("plain",)).get_content()
    [text] = [m["text"] for m in world.sms.sent_to(PHONE)]
    assert "visita a domicilio per il 22/11/2026 alle 10:00" in text
    assert "muffa" not in text  # no sensitive detail in an SMS


def test_referral_sent_tells_the_paths_team(world: World) -> None:
    world.publish(cw.REFERRAL_SENT, referral("amat", reason="analisi fornitori"))
    world.wait_status("consegnata", rule="invio_percorso")
    [mail] = wait_for(lambda: world.mailbox.to("aiuto.energia@amat-mi.example"), what="team")
    assert mail["Subject"] == "Sportello Energia: nuovo invio al percorso AMAT"
    assert "10 dicembre 2026" in mail.get_body(("plain",)).get_content()


def test_referral_overdue_tells_the_team_and_the_coordinator(world: World) -> None:
    world.publish(cw.REFERRAL_OVERDUE, referral("casa", breach=2))
    world.wait_status("consegnata", rule="invio_scaduto", recipient__kind="team_percorso")
    world.wait_status("consegnata", rule="invio_scaduto", recipient__kind="coordinatore")
    assert len(world.mailbox.to("casa.sportello@comune.milano.example")) == 1
    [mail] = world.mailbox.to("coordinamento.socialita@mm.example")
    assert "ritardo numero 2" in mail.get_body(("plain",)).get_content()


def test_an_approaching_disconnection_tells_each_path_team_once_even_redelivered(
    world: World,
) -> None:
    open_case(world)  # the building (and its custodian) comes from intake's case.opened
    data = {
        "case_id": "case_1",
        "actor": "sistema",
        "at": DAY.isoformat(),
        "disconnection_date": "2026-11-23",
        "days_left": 3,
        # Two configured teams, and a path added by casework's configuration with no team yet.
        "paths": ["amat", "welfare", "acqua"],
    }
    event = make_event(cw.DISCONNECTION_DEADLINE_APPROACHING, "case_1", data)
    for _ in range(3):  # at-least-once delivery: the same event three times
        world.publish_event(event)
    wait_for(
        lambda: world.worker.consumer and world.worker.consumer.stats.applied >= 5,
        what="the case and the three copies applied",
    )
    for team in ("aiuto.energia@amat-mi.example", "welfare.sportello@comune.milano.example"):
        wait_for(lambda team=team: world.mailbox.to(team), what=f"alert to {team}")
    world.wait_status("consegnata", rule="distacco_imminente")  # the custodian, as before
    world.worker.sender.run_once()

    amat = world.mailbox.to("aiuto.energia@amat-mi.example")
    welfare = world.mailbox.to("welfare.sportello@comune.milano.example")
    assert len(amat) == 1 and len(welfare) == 1
    assert amat[0]["Subject"] == "Sportello Energia: distacco imminente, percorso AMAT"
    text = welfare[0].get_body(("plain",)).get_content()
    assert "case_1" in text and "23 novembre 2026: mancano 3 giorni" in text
    assert "Welfare" in text
    teams = world.notes(rule="distacco_imminente_percorsi")
    assert sorted((n.recipient.ref, n.status) for n in teams) == [
        ("acqua", "non_inviata"),
        ("amat", "consegnata"),
        ("welfare", "consegnata"),
    ]
    [unreachable] = [n for n in teams if n.recipient.ref == "acqua"]
    assert unreachable.reason == "nessun team configurato per il percorso acqua"
    custodian = [m["Subject"] for m in world.mailbox.to(CUSTODIAN)]
    assert custodian.count("Sportello Energia: distacco imminente nel suo stabile") == 1


def test_referral_completed_tells_the_operator_and_the_tenant_in_plain_language(
    world: World,
) -> None:
    register_tenant(world, language="en")
    open_case(world)
    world.publish(
        cw.REFERRAL_COMPLETED,
        referral(
            outcome="contributo regionale 250 EUR",
            outcome_for_tenant="You will receive help of 250 euro on your next bill.",
        ),
    )
    operator = world.wait_status("consegnata", rule="esito_invio_operatore")
    assert operator.channel == "inbox" and operator.recipient.address == "operatore.bianchi"
    tenant = world.wait_status("consegnata", rule="esito_invio_inquilino")
    assert tenant.channel == "email" and tenant.language == "en"
    [mail] = world.mailbox.to(MAIL)
    assert mail["Subject"] == "Sportello Energia: an update on your request"
    assert "250 euro on your next bill" in mail.get_body(("plain",)).get_content()
    assert world.sms.requests == []


def test_redelivered_events_send_nothing_new(world: World) -> None:
    register_tenant(world)
    event = make_event(ik.APPOINTMENT_BOOKED, "case_1", appointment_data(DAY.isoformat()))
    for _ in range(3):
        world.publish_event(event)
    world.wait_status("consegnata", rule="appuntamento_prenotato")
    # The third copy was consumed too (the consumer's group has caught up) before we count.
    wait_for(lambda: world.worker.consumer and world.worker.consumer.stats.applied >= 5)
    world.worker.sender.run_once()
    assert len(world.sms.requests) == 1
    assert len(world.notes(event_id=event.id)) == 1


def test_a_case_opened_redelivered_after_the_erasure_does_not_link_the_tenant_again(
    world: World,
) -> None:
    opened = open_case(world)
    wait_for(lambda: CaseDoc.objects(id="case_1").first(), what="case model")
    erasure = {
        "erasure_id": "era_1",
        "tenant_id": "ten_1",
        "requested_by": "operatore.bianchi",
        "requested_at": DAY.isoformat(),
    }
    world.publish(ik.TENANT_ERASURE_REQUESTED, erasure, subject="ten_1")
    wait_for(lambda: CaseDoc.objects.get(id="case_1").tenant_id == ANONYMOUS, what="case unlinked")
    world.publish_event(opened)  # redelivered, late
    wait_for(lambda: world.worker.consumer and world.worker.consumer.stats.applied >= 4)
    assert CaseDoc.objects.get(id="case_1").tenant_id == ANONYMOUS
    assert len(world.notes(event_id=opened.id)) == 1


def test_a_tenant_without_consent_gets_nothing_and_the_reason_is_stored(world: World) -> None:
    open_case(world)  # the building and its custodian are known
    register_tenant(world, consents=())
    world.publish(ik.APPOINTMENT_BOOKED, appointment_data((DAY + timedelta(hours=2)).isoformat()))
    note = world.note(rule="appuntamento_prenotato", recipient__kind="inquilino")
    assert note.status == "non_inviata"
    assert note.reason == "sms: nessun consenso registrato; email: nessun consenso registrato"
    # Last resort: the custodian gets a task in their inbox to deliver the message by hand.
    task = world.wait_status("consegnata", rule="appuntamento_prenotato:consegna")
    assert task.task and task.channel == "inbox" and task.recipient.address == "Custodia Saint Bon"
    assert "consegnare a mano" in task.text and "Mario Rossi" in task.text
    world.worker.sender.run_once()
    assert world.sms.requests == [] and world.mailbox.to(MAIL) == []
    [outcome] = world.delivery_events(note.id)
    assert outcome.type.endswith("notification.not_sent.v1")
    assert outcome.data["reason"] == note.reason


def test_a_withdrawn_consent_stops_a_scheduled_reminder(world: World) -> None:
    register_tenant(world, consents=("sms",))
    starts = DAY + timedelta(days=3)
    world.publish(ik.APPOINTMENT_BOOKED, appointment_data(starts.isoformat()))
    world.wait_status("consegnata", rule="appuntamento_prenotato")
    world.publish(
        ik.CONSENT_CHANGED,
        {
            "tenant_id": "ten_1",
            "consent": {
                "channel": "sms",
                "granted": False,
                "recorded_by": "operatore.bianchi",
                "recorded_at": (DAY + timedelta(hours=1)).isoformat(),
            },
        },
        subject="ten_1",
    )
    wait_for(
        lambda: not world.worker.deps.tenants.get("ten_1").consents["sms"].granted,
        what="consent withdrawn",
    )
    world.clock.set(starts - timedelta(hours=23))
    reminder = world.wait_status("non_inviata", rule="promemoria_appuntamento")
    assert "consenso revocato" in reminder.reason
    assert len(world.sms.requests) == 1  # only the confirmation, sent while consent held
    [outcome] = world.delivery_events(reminder.id)
    assert outcome.type.endswith("notification.not_sent.v1")


NIGHT = datetime(2026, 11, 20, 22, 0, tzinfo=UTC)  # 23:00 in Rome


def test_a_night_time_sms_is_held_until_the_quiet_hours_end(world: World) -> None:
    world.clock.set(NIGHT)
    register_tenant(world)
    world.publish(ik.APPOINTMENT_BOOKED, appointment_data((NIGHT + timedelta(days=1)).isoformat()))
    note = world.note(rule="appuntamento_prenotato")
    morning = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)  # 08:00 in Rome
    assert note.channel == "sms" and note.due_at.replace(tzinfo=UTC) == morning
    world.worker.sender.run_once()
    world.clock.set(morning - timedelta(seconds=1))
    world.worker.sender.run_once()
    assert world.sms.requests == [] and note.reload().status == "creata"
    world.clock.set(morning)
    world.wait_status("consegnata", rule="appuntamento_prenotato")
    assert len(world.sms.sent_to(PHONE)) == 1


def test_a_permanent_sms_failure_falls_back_to_email(world: World) -> None:
    register_tenant(world)
    world.sms.statuses = [400]
    world.publish(ik.APPOINTMENT_BOOKED, appointment_data((DAY + timedelta(hours=5)).isoformat()))
    failed = world.wait_status("fallita", rule="appuntamento_prenotato", channel="sms")
    assert "HTTP 400" in failed.reason
    fallback = world.wait_status("consegnata", rule="appuntamento_prenotato", channel="email")
    assert fallback.fallbacks == []
    [mail] = world.mailbox.to(MAIL)
    assert mail["Subject"] == "Sportello Energia: appuntamento confermato"


@pytest.mark.parametrize("world", [{"NOTIFICATIONS_MAX_ATTEMPTS": "3"}], indirect=True)
def test_temporary_failures_are_retried_with_backoff_then_become_permanent(world: World) -> None:
    open_case(world)
    register_tenant(world, consents=("sms",))
    world.sms.statuses = [503, 503, 503]
    world.publish(ik.APPOINTMENT_BOOKED, appointment_data((DAY + timedelta(hours=5)).isoformat()))
    note = world.wait_status("da_riprovare", rule="appuntamento_prenotato")
    assert note.due_at.replace(tzinfo=UTC) == DAY + timedelta(seconds=30)
    world.clock.set(DAY + timedelta(seconds=30))
    wait_for(lambda: note.reload().attempts == 2 and note.status == "da_riprovare")
    assert note.due_at.replace(tzinfo=UTC) == DAY + timedelta(seconds=90)  # 30 s + 60 s
    world.clock.set(DAY + timedelta(seconds=90))
    note = world.wait_status("fallita", rule="appuntamento_prenotato")
    assert [h["status"] for h in note.history] == [
        "creata",
        "in_invio",
        "da_riprovare",
        "in_invio",
        "da_riprovare",
        "in_invio",
        "fallita",
    ]
    assert "tentativi esauriti (3)" in note.reason
    assert len(world.sms.requests) == 3 and world.sms.delivered == {}
    # No other consented channel: the custodian is asked to deliver it by hand.
    world.wait_status("consegnata", rule="appuntamento_prenotato:consegna")


BROKEN_RULES = """
rules:
  - {id: rotta, event: casework.referral.sent, to: [coordinators], template: invio_scaduto}
  - {id: buona, event: casework.referral.overdue, to: [coordinators], template: invio_scaduto}
coordinators:
  - {name: Coordinamento, email: coord@example.org, channel: email}
"""


@pytest.mark.parametrize("world", [{"rules_yaml": BROKEN_RULES}], indirect=True)
def test_an_event_that_cannot_be_rendered_is_dead_lettered_and_the_worker_goes_on(
    world: World,
) -> None:
    # The broken rule renders the overdue template (it needs ``breach``) for referral.sent.
    bad = world.publish(cw.REFERRAL_SENT, referral("welfare"))
    good = world.publish(cw.REFERRAL_OVERDUE, referral("welfare", breach=1))
    dlq = read_topic(
        world.settings.kafka_bootstrap_servers, world.settings.dead_letter_topic, lambda rs: rs
    )
    [record] = dlq
    assert decode(record.value).id == bad.id
    reason = dict(record.headers)["dlq.reason"].decode()
    assert "breach" in reason and "rotta" in reason
    world.wait_status("consegnata", event_id=good.id)
    assert world.notes(event_id=bad.id) == []
