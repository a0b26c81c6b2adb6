"""notifications' worker: consumes intake and casework events, sends due messages (a thread
beside the consumer), and publishes its own outbox (delivery events)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from services.notifications.adapters.documents import ALIAS, OUTBOX_COLLECTIONS
from services.notifications.bootstrap import bootstrap
from services.notifications.config import load_settings
from services.notifications.service_layer.handlers import (
    EVENT_HANDLERS,
    Dependencies,
    on_cases_anonymised,
    on_cases_opened,
)
from services.notifications.service_layer.sender import Sender
from shared import mongo
from shared.clock import now_utc
from shared.config import Settings
from shared.events import Event
from shared.events.casework import CASE_ANONYMISED
from shared.events.intake import CASE_OPENED
from shared.kafka import Headers, dispatcher
from shared.worker import Consumption, Worker, backfill_once, serve


class NotificationsWorker(Worker):
    """The shared worker (relay + consumer) plus the sender loop, stopped by the same event."""

    def __init__(self, settings: Settings, deps: Dependencies) -> None:
        handle = dispatcher(EVENT_HANDLERS, deps)

        def handle_then_wake_sender(event: Event, headers: Headers) -> None:
            handle(event, headers)
            self.sender.wake()  # what the event recorded may be due now

        def plan_then_wake_sender(events: list[Event]) -> set[str]:
            applied = on_cases_opened(events, deps)
            self.sender.wake()
            return applied

        super().__init__(
            settings,
            mongo.database(ALIAS),
            OUTBOX_COLLECTIONS,
            Consumption(
                topics=[settings.topic("intake"), settings.topic("casework")],
                handler=handle_then_wake_sender,
                bulk={
                    CASE_OPENED: plan_then_wake_sender,
                    CASE_ANONYMISED: lambda events: on_cases_anonymised(events, deps),
                },
            ),
        )
        self.deps = deps
        self.sender = Sender(deps, self.stop_event, poll_s=settings.extra["sender_poll_ms"] / 1000)

    def stop(self) -> None:
        """Stop consuming and relaying, and wake the sender so it sees the stop at once."""
        super().stop()
        self.sender.wake()

    def run(self) -> None:
        """Start the sender thread, then relay and consume until stopped."""
        thread = threading.Thread(target=self.sender.run, name="sender", daemon=True)
        thread.start()
        try:
            super().run()
        finally:
            self.stop()
            thread.join(timeout=30)


def build_worker(
    settings: Settings, clock: Callable[[], datetime] = now_utc
) -> NotificationsWorker:
    """notifications' worker, wired to the real store, broker and channels."""
    deps = bootstrap(settings, clock)
    backfill_once(
        "tenant refs", lambda: deps.notifications.refs.backfill(deps.clock()), "documents"
    )
    return NotificationsWorker(settings, deps)


def main() -> None:
    """Consume, send and relay until SIGTERM."""
    serve(load_settings(), build_worker)


if __name__ == "__main__":
    main()
