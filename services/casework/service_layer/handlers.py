"""casework's event handlers: each one idempotent, so redelivery has no second effect."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from services.casework.adapters.repository import CaseFileRepository
from services.casework.domain.model import CaseFile
from shared.events import Event
from shared.events.intake import CASE_OPENED

log = logging.getLogger(__name__)


@dataclass
class Dependencies:
    """What casework's handlers need; ``bootstrap`` wires the real ones."""

    case_files: CaseFileRepository


def on_case_opened(event: Event, deps: Dependencies) -> None:
    """Open the case file of a case intake opened (once, however often the event arrives)."""
    created = deps.case_files.add_once(CaseFile.from_intake(event.id, event.data))
    log.info(
        "case file %s",
        "opened" if created else "already open (redelivery)",
        extra={"case_id": event.subject, "event_id": event.id},
    )


EVENT_HANDLERS = {
    CASE_OPENED: on_case_opened,
}
