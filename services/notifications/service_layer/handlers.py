"""notifications' event handlers: record each intended message once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from services.notifications.adapters.repository import NotificationRepository
from services.notifications.domain.model import custodians_of_new_case
from shared.events import Event
from shared.events.intake import CASE_OPENED

log = logging.getLogger(__name__)


@dataclass
class Dependencies:
    """What notifications' handlers need; ``bootstrap`` wires the real ones."""

    notifications: NotificationRepository
    clock: Callable[[], datetime]


def on_case_opened(event: Event, deps: Dependencies) -> None:
    """Tell the building's custodi sociali about a new case."""
    for notification in custodians_of_new_case(event.id, event.type, event.data, deps.clock()):
        if deps.notifications.add_once(notification):
            log.info(
                "notification recorded",
                extra={"notification_id": notification.id, "case_id": event.subject},
            )


EVENT_HANDLERS = {
    CASE_OPENED: on_case_opened,
}
