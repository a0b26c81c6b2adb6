"""intake's worker: publishes the outbox and applies casework's ``case.closed`` and
``case.state_changed`` to ``archiviato`` (which free the tenant's needs for a new case),
``case.anonymised`` (retention) and the erasure confirmations of casework and notifications.
``python -m services.intake.entrypoints.worker``.
"""

from __future__ import annotations

from services.intake.adapters.documents import ALIAS, OUTBOX_COLLECTIONS
from services.intake.bootstrap import bootstrap
from services.intake.config import load_settings
from services.intake.service_layer.handlers import EVENT_HANDLERS
from services.intake.service_layer.privacy import PRIVACY_EVENT_HANDLERS
from shared import mongo
from shared.config import Settings
from shared.kafka import dispatcher
from shared.worker import Consumption, Worker, backfill_once, serve


def build_worker(settings: Settings) -> Worker:
    """intake's worker (outbox relay and consumer of casework's events), wired to the real ones."""
    bus = bootstrap(settings)
    deps, now = bus.deps, bus.deps.clock
    # Claims and entries of what was stored before they existed (the codice fiscale claims
    # return how many tenants are left without one).
    backfill_once("codice fiscale claims", deps.tenants.fiscal_codes.backfill, "left")
    backfill_once("case list entries", lambda: deps.cases.lists.backfill(now()), "cases")
    backfill_once("tenant list entries", lambda: deps.tenants.lists.backfill(now()), "tenants")
    backfill_once(
        "appointment refs", lambda: deps.appointments.refs.backfill(now()), "appointments"
    )
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
