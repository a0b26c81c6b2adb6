"""casework's worker on the real broker and store: intake's events in, overdue announced once."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime

from services.casework.adapters.documents import CaseFileDoc, CaseFileVersionDoc
from services.casework.bootstrap import bootstrap, message_bus
from services.casework.domain import commands
from services.casework.entrypoints.worker import CaseworkWorker
from services.casework.service_layer.handlers import EVENT_HANDLERS, scan_deadlines
from shared import mongo
from shared.events import decode, encode, make_event
from shared.events.intake import CASE_OPENED
from shared.kafka import EventProducer, dispatcher, header
from shared.outbox import HINTS, event_text
from tests.support import read_topic, wait_for
from tests.unit.test_envelope import case_opened_data

SENT_ON = datetime(2026, 11, 23, 9, tzinfo=UTC)  # Monday: AMAT's 5 working days end on 30 Nov


def overdue_in_outbox(case_id: str) -> list[dict]:
    versions = CaseFileVersionDoc._get_collection().find({"case_id": case_id}).sort("version", 1)
    return [
        json.loads(event_text(r, "casework"))["data"]
        for v in versions
        for r in v["outbox"]
        if r["type"].endswith("referral.overdue.v1")
    ]


def test_two_scanners_racing_announce_each_breach_exactly_once(settings_for) -> None:
    deps_a = bootstrap(settings_for("casework"))
    deps_b = bootstrap(settings_for("casework"))
    try:
        for deps in (deps_a, deps_b):
            deps.clock = lambda: SENT_ON
        event = decode(
            encode(make_event(CASE_OPENED, "case_r", case_opened_data(case_id="case_r")))
        )
        dispatcher(EVENT_HANDLERS, deps_a)(event, [])
        bus = message_bus(deps_a)
        ref = bus.handle(commands.ProposeReferral("case_r", "amat", "bollette alte", "op"))
        bus.handle(commands.SendReferral("case_r", ref.id, "op"))

        def race(day: datetime) -> list[int]:
            barrier = threading.Barrier(4)
            written: list[int] = []

            def scan(deps) -> None:
                barrier.wait()
                for _ in range(3):
                    written.append(scan_deadlines(deps, day.date()))

            threads = [threading.Thread(target=scan, args=(d,)) for d in (deps_a, deps_b) * 2]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=30)
            return written

        assert sum(race(datetime(2026, 11, 30, tzinfo=UTC))) == 0  # the due day itself
        assert sum(race(datetime(2026, 12, 1, tzinfo=UTC))) == 1
        assert [d["breach"] for d in overdue_in_outbox("case_r")] == [1]

        # Reassigned on 2 Dec: due again on 11 Dec (7 and 8 are holidays in Milan); breach 2.
        deps_a.clock = lambda: datetime(2026, 12, 2, 9, tzinfo=UTC)
        bus.handle(commands.ReassignReferral("case_r", ref.id, "amat.bianchi", "coord"))
        assert sum(race(datetime(2026, 12, 11, tzinfo=UTC))) == 0
        assert sum(race(datetime(2026, 12, 12, tzinfo=UTC))) == 1
        overdue = overdue_in_outbox("case_r")
        assert [(d["breach"], d["due_date"], d["path"]) for d in overdue] == [
            (1, "2026-11-30", "amat"),
            (2, "2026-12-11", "amat"),
        ]
    finally:
        mongo.disconnect("casework")


def test_the_worker_opens_once_dead_letters_what_it_cannot_apply_and_announces_overdue_once(
    settings_for,
) -> None:
    s = settings_for(
        "casework", CASEWORK_SCAN_INTERVAL_S="0.2", CASEWORK_SCAN_CLOCK_OFFSET_DAYS="30"
    )
    worker = CaseworkWorker(s, bootstrap(s))
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    producer = EventProducer(s.kafka_bootstrap_servers)
    try:
        good = make_event(CASE_OPENED, "case_w", case_opened_data(case_id="case_w"))
        producer.publish(s.topic("intake"), good)
        producer.publish(s.topic("intake"), good)  # redelivery: the same event id
        bad = json.loads(encode(good))
        del bad["data"]["building"]
        producer.send(s.topic("intake"), "case_bad", json.dumps(bad).encode())

        impossible_bill = {
            "supplier": "Fornitore",
            "commodity": "luce",
            "amount_cents": 100,
            "period_start": "2026-05-01",
            "period_end": "2026-01-31",
        }
        refused = make_event(
            CASE_OPENED,
            "case_refused",
            case_opened_data(case_id="case_refused", bills=[impossible_bill]),
        )
        producer.publish(s.topic("intake"), refused)

        dlq = read_topic(s.kafka_bootstrap_servers, s.dead_letter_topic, lambda r: len(r) >= 2)
        reasons = [header(r.headers, "dlq.reason") for r in dlq]
        assert "building" in reasons[0]
        assert "periodo non valido" in reasons[1]
        assert not CaseFileDoc.objects(id="case_refused").count()
        wait_for(lambda: CaseFileDoc.objects(id="case_w").count(), what="case file")

        bus = message_bus(worker.scanner.deps)
        ref = bus.handle(commands.ProposeReferral("case_w", "amat", "bollette alte", "op"))
        bus.handle(commands.SendReferral("case_w", ref.id, "op"))

        topic = s.topic("casework")

        def overdue(records: list) -> list:
            return [r for r in records if b"referral.overdue" in r.value]

        records = read_topic(s.kafka_bootstrap_servers, topic, lambda rs: bool(overdue(rs)))
        rounds = worker.scanner.rounds
        wait_for(lambda: worker.scanner.rounds >= rounds + 3, what="three more scan rounds")
        versions = CaseFileVersionDoc._get_collection()

        def relayed() -> bool:
            ids = [v["_id"] for v in versions.find({"case_id": "case_w"}, {"_id": 1})]
            return not versions.database[HINTS].count_documents({"doc_id": {"$in": ids}})

        wait_for(relayed, what="outbox relayed")
        records = read_topic(s.kafka_bootstrap_servers, topic, lambda rs: bool(overdue(rs)))
        # Delivery is at least once: the relay may publish an event twice, with the same id
        # (consumers deduplicate by id). One breach is one event.
        announced = {e.id: e for e in (decode(r.value) for r in overdue(records))}
        assert len(announced) == 1
        (event,) = announced.values()
        assert event.data["breach"] == 1 and event.subject == "case_w"
        distinct = list({decode(r.value).id: decode(r.value).type for r in records}.values())
        assert [t.split(".casework.")[1] for t in distinct] == [
            "referral.sent.v1",
            "referral.overdue.v1",
        ]
        assert CaseFileDoc.objects.count() == 1
    finally:
        worker.stop()
        thread.join(timeout=20)
        producer.close()
        mongo.disconnect("casework")
    assert not thread.is_alive()


def test_an_approaching_disconnection_escalates_once_per_threshold(settings_for) -> None:
    deps = bootstrap(settings_for("casework"))
    try:
        data = case_opened_data(case_id="case_dis", disconnection_date="2026-12-10")
        event = decode(encode(make_event(CASE_OPENED, "case_dis", data)))
        dispatcher(EVENT_HANDLERS, deps)(event, [])
        # The teams holding an open referral are named in the alert; a mere proposal is not.
        deps.clock = lambda: SENT_ON
        bus = message_bus(deps)
        for path in ("welfare", "amat"):
            ref = bus.handle(commands.ProposeReferral("case_dis", path, "distacco", "op"))
            bus.handle(commands.SendReferral("case_dis", ref.id, "op"))
        bus.handle(commands.ProposeReferral("case_dis", "casa", "alloggio", "op"))
        for day in (date(2026, 11, 29), date(2026, 11, 30), date(2026, 12, 1)):
            scan_deadlines(deps, day)
        versions = CaseFileVersionDoc._get_collection().find({"case_id": "case_dis"})
        alerts = [
            json.loads(event_text(r, "casework"))["data"]
            for v in versions
            for r in v["outbox"]
            if r["type"].endswith("disconnection_deadline_approaching.v1")
        ]
        assert [(a["days_left"], a["disconnection_date"], a["paths"]) for a in alerts] == [
            (10, "2026-12-10", ["amat", "welfare"])
        ]
        assert deps.case_files.get("case_dis").urgent
    finally:
        mongo.disconnect("casework")
