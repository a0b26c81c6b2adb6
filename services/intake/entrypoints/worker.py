"""intake's worker: publishes the outbox and applies casework's ``case.closed`` and
``case.state_changed`` to ``archiviato`` (which free the tenant's needs for a new case),
``case.anonymised`` (retention) and the erasure confirmations of casework and notifications.
``python -m services.intake.entrypoints.worker``.
"""

from __future__ import annotations

import logging

from pymongo.errors import PyMongoError

from services.intake.adapters.documents import ALIAS, OUTBOX_COLLECTIONS
from services.intake.bootstrap import bootstrap
from services.intake.config import load_settings
from services.intake.service_layer.handlers import EVENT_HANDLERS
from services.intake.service_layer.privacy import PRIVACY_EVENT_HANDLERS
from shared import mongo
from shared.config import Settings
from shared.kafka import dispatcher
from shared.worker import Consumption, Worker, serve

log = logging.getLogger(__name__)


def build_worker(settings: Settings) -> Worker:
    """intake's worker (outbox relay and consumer of casework's events), wired to the real ones."""
    bus = bootstrap(settings)
    try:
        # Tenants stored before the codice fiscale claims existed get theirs, once per database
        # (here, not in the API: it may take minutes, and the lookups fall back meanwhile).
        left = bus.deps.tenants.fiscal_codes.backfill()
        if left is not None:
            log.info("codice fiscale claims backfilled", extra={"left": left})
    except PyMongoError as exc:  # the store is down: the next start does it
        log.warning("codice fiscale claims not backfilled: %s", exc)
    try:
        # Likewise the case lists' entries of the cases stored before them (lists are read
        # with the cases query meanwhile).
        cases = bus.deps.cases.lists.backfill(bus.deps.clock())
        if cases is not None:
            log.info("case list entries backfilled", extra={"cases": cases})
    except PyMongoError as exc:
        log.warning("case list entries not backfilled: %s", exc)
    try:
        # And the tenant lists' entries of the tenants stored before them.
        tenants = bus.deps.tenants.lists.backfill(bus.deps.clock())
        if tenants is not None:
            log.info("tenant list entries backfilled", extra={"tenants": tenants})
    except PyMongoError as exc:
        log.warning("tenant list entries not backfilled: %s", exc)
    try:
        # And the tenants' entries of the appointments stored before them (erasure, export).
        seen = bus.deps.appointments.refs.backfill(bus.deps.clock())
        if seen is not None:
            log.info("appointment refs backfilled", extra={"appointments": seen})
    except PyMongoError as exc:
        log.warning("appointment refs not backfilled: %s", exc)
    return Worker(
        settings,
        mongo.database(ALIAS),
        OUTBOX_COLLECTIONS,
        Consumption(
            topics=[settings.topic("casework"), settings.topic("notifications")],
            handler=dispatcher(EVENT_HANDLERS | PRIVACY_EVENT_HANDLERS, bus.deps),
        ),
    )


def main() -> None:
    """Relay and consume until SIGTERM."""
    serve(load_settings(), build_worker)


if __name__ == "__main__":
    main()
