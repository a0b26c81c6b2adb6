"""The send queue against the real store: a message whose insert lands while a sender is taking
its queue entry is still sent (its entry is not dropped as finished)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
from shared import mongo
from shared.events import intake as ik
from shared.events import make_event
from tests.integration.test_notifications_rules import DAY, claim
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
        event = make_event(ik.CASE_OPENED, "case_1", case_opened())
        known = update_read_models(event, deps)
        [message] = Planner(event, deps, DAY, known).build().notifications
        yield deps, message
    finally:
        mongo.disconnect("notifications")


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
