"""casework's worker: consumes intake's events, scans deadlines, publishes its own outbox.

``python -m services.casework.entrypoints.worker``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from services.casework.adapters.documents import ALIAS, OUTBOX_COLLECTIONS
from services.casework.bootstrap import bootstrap
from services.casework.config import load_settings
from services.casework.service_layer.handlers import (
    EVENT_HANDLERS,
    Dependencies,
    anonymise_expired,
    offset_clock,
    on_cases_opened,
    scan_deadlines,
)
from shared import mongo
from shared.config import Settings
from shared.events.intake import CASE_OPENED
from shared.kafka import dispatcher
from shared.worker import Consumption, Worker, backfill_once, serve

log = logging.getLogger(__name__)

# Retention is a matter of days: one pass an hour is plenty.
RETENTION_INTERVAL = timedelta(hours=1)


class DeadlineScanner:
    """Periodically announces overdue referrals and approaching disconnections.

    ``today`` comes from ``clock`` (injectable: tests and drills move it). Exactly-once per breach
    does not depend on there being one scanner: see ``scan_deadlines``.
    Also anonymises case files past their retention (``RETENTION_CLOSED_CASE_DAYS``), hourly.
    """

    def __init__(
        self,
        deps: Dependencies,
        interval_s: float,
        stop_event: threading.Event,
        clock: Callable[[], datetime],
        retention: timedelta | None = None,
    ) -> None:
        self.deps = deps
        self.retention = retention
        self.last_retention: datetime | None = None
        self.interval_s = interval_s
        self.stop_event = stop_event
        self.clock = clock
        self.rounds = 0

    def run(self) -> None:
        """Scan every ``interval_s`` until stopped; an outage pauses the scan, never kills it."""
        tasks: list[tuple[str, Callable[[], object]]] = [
            ("stranded writes", self.deps.case_files.publish_stranded),
            ("deadline scan", self.scan),
            ("retention", self.apply_retention),
        ]
        while not self.stop_event.is_set():
            for name, task in tasks:  # apart: one failing does not hold back the others
                try:
                    task()
                except Exception as exc:  # noqa: BLE001 - the next round retries
                    log.warning("%s failed: %s", name, exc)
            self.rounds += 1
            self.stop_event.wait(self.interval_s)

    def scan(self) -> int:
        """Announce today's breaches and disconnection alerts; returns the events written."""
        written = scan_deadlines(self.deps, self.clock().date())
        if written:
            log.info("deadline scan announced %d events", written)
        return written

    def apply_retention(self) -> int:
        """Anonymise expired case files, if an hour passed since the last pass."""
        now = self.clock()
        if self.retention is None or (
            self.last_retention is not None and now - self.last_retention < RETENTION_INTERVAL
        ):
            return 0
        done = anonymise_expired(self.deps, self.retention, now)
        self.last_retention = now
        return done


class CaseworkWorker(Worker):
    """The shared worker plus the deadline scanner, a thread stopped by the same stop event."""

    def __init__(self, settings: Settings, deps: Dependencies) -> None:
        super().__init__(
            settings,
            mongo.database(ALIAS),
            OUTBOX_COLLECTIONS,
            Consumption(
                topics=[settings.topic("intake")],
                handler=dispatcher(EVENT_HANDLERS, deps),
                bulk={CASE_OPENED: lambda events: on_cases_opened(events, deps)},
            ),
        )
        self.scanner = DeadlineScanner(
            deps,
            settings.extra["scan_interval_s"],
            self.stop_event,
            offset_clock(deps.clock, settings.extra["scan_clock_offset_days"]),
            timedelta(days=settings.extra["retention_closed_case_days"]),
        )

    def run(self) -> None:
        """Scan deadlines in a thread beside the relay and the consumer."""
        thread = threading.Thread(target=self.scanner.run, name="deadline-scan", daemon=True)
        thread.start()
        try:
            super().run()
        finally:
            self.stop()
            thread.join(timeout=10)


def build_worker(settings: Settings) -> Worker:
    """casework's worker, wired to the real store and broker."""
    deps = bootstrap(settings)
    backfill_once(
        "case file list entries", lambda: deps.case_files.backfill(deps.clock()), "case_files"
    )
    return CaseworkWorker(settings, deps)


def main() -> None:
    """Consume, scan and relay until SIGTERM."""
    serve(load_settings(), build_worker)


if __name__ == "__main__":
    main()
