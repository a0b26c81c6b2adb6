"""The send queue against the real store: a message whose insert lands while a sender is taking
its queue entry is still sent (its entry is not dropped as finished); a late result leaves alone
what another sender holds; a batch is taken once, in its order, and its results are recorded only
for the attempts that still hold them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from services.notifications.adapters.repository import NotificationRepository
from services.notifications.bootstrap import bootstrap
from services.notifications.domain.model import Notification
from services.notifications.service_layer.handlers import (
    Dependencies,
    Planner,
    update_read_models,
)
from services.notifications.service_layer.sender import BATCH, Sender
from shared import mongo
from shared.events import intake as ik
from shared.events import make_event
from shared.events.notifications import NOTIFICATION_DELIVERED
from shared.outbox import HINTS
from tests.integration.test_notifications_rules import DAY, Mailbox, claim, running_smtp
from tests.unit.test_notifications_rules import case_opened

LEASE = timedelta(minutes=1)


class LandsBetweenReads(NotificationRepository):
    """A repository whose first look at a message is followed, at once, by ``land``: the
    consumer's insert of that message landing between the sender's two reads of it."""

    def __init__(self, topic: str, land: Callable[[], Any]) -> None:
        super().__init__(topic)
        self.land = land

    @property
    def _coll(self) -> Any:
        messages, land = super()._coll, self.land

        class Messages:
            def __getattr__(self, name: str) -> Any:
                return getattr(messages, name)

            def find_one_and_update(self, *args: Any, **kwargs: Any) -> Any:
                found = messages.find_one_and_update(*args, **kwargs)
                land()
                return found

        return Messages()


@pytest.fixture
def planned(settings_for) -> Iterator[tuple[Dependencies, Notification]]:
    """notifications' dependencies on this test's store, and the custode's message a
    ``case.opened`` asks for, planned and not stored yet."""
    deps = bootstrap(settings_for("notifications"), clock=lambda: DAY)
    try:
        yield deps, custodian_message(deps)
    finally:
        mongo.disconnect("notifications")


def custodian_message(deps: Dependencies) -> Notification:
    """The custode's message a ``case.opened`` asks for, planned and not stored yet."""
    event = make_event(ik.CASE_OPENED, "case_1", case_opened())
    known = update_read_models(event, deps)
    [message] = Planner(event, deps, DAY, known).build().notifications
    return message


def test_a_message_stored_while_its_entry_is_taken_is_still_sent(planned) -> None:
    deps, message = planned
    repo = deps.notifications
    # The consumer queues the entry first, then inserts the message.
    repo._enqueue(message.id, message.due_at, message.created_at)
    [entry] = repo.due(DAY, 10)
    racing = LandsBetweenReads(repo.topic, lambda: repo.add_once(message))

    assert racing.take(entry, DAY, LEASE) is None  # not there when the sender looked
    assert [e["_id"] for e in repo.due(DAY, 10)] == [message.id], "the entry was dropped"
    taken = claim(repo, DAY, LEASE)
    assert taken is not None and taken.id == message.id
    assert taken.attempts == 1, "the look that found no message used up an attempt"


def test_a_late_result_leaves_the_entry_another_sender_holds(planned) -> None:
    deps, message = planned
    repo = deps.notifications
    repo.add_once(message)
    first = claim(repo, DAY, LEASE)
    assert first is not None
    # The first sender's lease expires; a second one takes the entry (its first write) and
    # has not taken the message yet when the first records a temporary failure.
    later = DAY + 2 * LEASE
    [entry] = repo.due(later, 10)
    held = {"lease_until": later + LEASE, "attempts": 2}
    repo._queue.update_one({"_id": entry["_id"]}, {"$set": held})
    assert repo.record_retry(first, later, later + timedelta(minutes=5), "timeout")
    stored = repo._queue.find_one({"_id": message.id}, {"_id": 0, "due_at": 0})
    assert stored["lease_until"] is not None and stored["attempts"] == 2, stored
    assert repo.due(later, 10) == [], "the entry the second sender holds was given back"


def stored_messages(
    repo: NotificationRepository, message: Notification, count: int
) -> list[Notification]:
    """``count`` copies of ``message`` (ids ``…-0``, ``…-1``, …), recorded and queued, each due a
    second before the one before it (so the due order is the reverse of the ids')."""
    copies = [
        replace(message, id=f"{message.id}-{i}", due_at=message.due_at - timedelta(seconds=i))
        for i in range(count)
    ]
    for m in copies:
        assert repo.add_once(m)
    return copies


def test_a_batch_is_taken_once_in_its_order(planned) -> None:
    deps, message = planned
    repo = deps.notifications
    copies = stored_messages(repo, message, 3)
    entries = repo.due(DAY, 10)

    taken = repo.take_all(entries, DAY, LEASE)
    assert [n.id for n in taken] == [m.id for m in reversed(copies)], "earliest due first"
    assert all((n.status.value, n.attempts) == ("in_invio", 1) for n in taken)
    # A second sender that read the same entries before the first took them gets none.
    assert repo.take_all(entries, DAY, LEASE) == []
    assert repo.due(DAY, 10) == [], "the batch is held by the first sender's lease"
    # After the lease, a sender takes them again, with the next attempt.
    later = DAY + 2 * LEASE
    again = repo.take_all(repo.due(later, 10), later, LEASE)
    assert sorted((n.id, n.attempts) for n in again) == sorted((m.id, 2) for m in copies)


def test_a_batch_settles_the_entries_whose_message_it_cannot_take(planned) -> None:
    deps, message = planned
    repo = deps.notifications
    done, waiting = stored_messages(repo, message, 2)
    landing = replace(message, id=f"{message.id}-landing")
    # ``done`` was delivered meanwhile (its entry not yet deleted), ``landing``'s message is
    # still on its way (the consumer queues the entry first).
    repo._coll.update_one({"_id": done.id}, {"$set": {"status": "consegnata"}})
    repo._enqueue(landing.id, landing.due_at, landing.created_at)

    taken = repo.take_all(repo.due(DAY, 10), DAY, LEASE)
    assert [n.id for n in taken] == [waiting.id]
    left = {e["_id"]: e["attempts"] for e in repo._queue.find({}, {"attempts": 1})}
    assert left == {waiting.id: 1, landing.id: 0}, "finished: dropped; landing: given back"
    assert [e["_id"] for e in repo.due(DAY, 10)] == [landing.id]


def test_a_batch_records_only_the_results_of_the_attempts_that_hold_them(planned) -> None:
    deps, message = planned
    repo = deps.notifications
    copies = stored_messages(repo, message, 3)
    first = repo.take_all(repo.due(DAY, 10), DAY, LEASE)
    # The first sender stalls past its lease: a second sender takes one message over.
    later = DAY + 2 * LEASE
    [entry] = [e for e in repo.due(later, 10) if e["_id"] == copies[0].id]
    [over] = repo.take_all([entry], later, LEASE)

    recorded = repo.record_delivered_all([(n, later, "accettata") for n in first])
    assert recorded == {m.id for m in copies[1:]}
    for m in copies:
        doc = repo._coll.find_one({"_id": m.id})
        expected = ("in_invio", 2) if m.id == over.id else ("consegnata", 1)
        assert (doc["status"], doc["attempts"]) == expected, m.id
        events = [r["type"] for r in doc.get("outbox") or []]
        assert events == ([] if m.id == over.id else [NOTIFICATION_DELIVERED]), m.id
    queued = {e["_id"]: e["attempts"] for e in repo._queue.find({}, {"attempts": 1})}
    assert queued == {over.id: 2}, "the entry the second sender holds is left to it"
    # The relay is told of each delivery event.
    hinted = {h["doc_id"] for h in repo._coll.database[HINTS].find({"collection": "notifications"})}
    assert {m.id for m in copies[1:]} <= hinted


@pytest.fixture
def mailed(settings_for) -> Iterator[tuple[Dependencies, Mailbox]]:
    """notifications' dependencies on this test's store, with a real SMTP server."""
    with running_smtp() as (mailbox, port):
        settings = settings_for("notifications", NOTIFICATIONS_SMTP_PORT=str(port))
        try:
            yield bootstrap(settings, clock=lambda: DAY), mailbox
        finally:
            mongo.disconnect("notifications")


def delivered(repo: NotificationRepository, messages: list[Notification]) -> list[str]:
    """The ids of ``messages`` recorded as delivered at their first attempt."""
    docs = repo._coll.find({"_id": {"$in": [m.id for m in messages]}})
    return sorted(d["_id"] for d in docs if (d["status"], d["attempts"]) == ("consegnata", 1))


def test_the_sender_delivers_a_batch_once_each(mailed) -> None:
    deps, mailbox = mailed
    repo = deps.notifications
    copies = stored_messages(repo, custodian_message(deps), 5)
    sender = Sender(deps)

    assert sender.run_once() == 5
    assert sender.run_once() == 0
    assert sender.sent == 5
    assert delivered(repo, copies) == sorted(m.id for m in copies)
    assert repo._queue.count_documents({}) == 0
    ids = sorted(m["Message-ID"] for m in mailbox.messages)
    assert ids == sorted(f"<{m.id}@sportello.invalid>" for m in copies), "once each"


def test_entries_that_cannot_be_taken_do_not_hold_up_the_messages_due_after_them(mailed) -> None:
    deps, _ = mailed
    repo = deps.notifications
    # A whole batch of entries whose messages are still on their way, due first.
    for i in range(BATCH):
        repo._enqueue(f"landing-{i}", DAY - timedelta(minutes=1), DAY)
    [message] = stored_messages(repo, custodian_message(deps), 1)

    assert Sender(deps).run_once() == 1
    assert delivered(repo, [message]) == [message.id]
    assert len(repo.due(DAY, 100)) == BATCH, "the landing entries wait, due again"


def test_what_a_batch_delivered_is_recorded_when_a_later_send_fails(mailed) -> None:
    deps, mailbox = mailed
    repo = deps.notifications
    first, second = reversed(stored_messages(repo, custodian_message(deps), 2))
    email = deps.channels["email"]

    class Breaks:
        """The email channel, with a fault that is no send failure (a bug, say) on ``second``."""

        def send(self, n: Notification) -> str:
            if n.id == second.id:
                raise RuntimeError("guasto imprevisto")
            return email.send(n)

    deps.channels["email"] = Breaks()
    with pytest.raises(RuntimeError):
        Sender(deps).run_once()
    assert delivered(repo, [first, second]) == [first.id], "sent, so recorded"
    assert [m["Message-ID"] for m in mailbox.messages] == [f"<{first.id}@sportello.invalid>"]
