"""casework's worker: consumes intake's events and publishes its own outbox. ``python -m`` it."""

from __future__ import annotations

from services.casework.adapters.documents import ALIAS, OUTBOX_COLLECTIONS
from services.casework.bootstrap import bootstrap
from services.casework.config import load_settings
from services.casework.service_layer.handlers import EVENT_HANDLERS
from shared import mongo
from shared.config import Settings
from shared.kafka import dispatcher
from shared.worker import Consumption, Worker, serve


def build_worker(settings: Settings) -> Worker:
    """casework's worker, wired to the real store and broker."""
    deps = bootstrap(settings)
    return Worker(
        settings,
        mongo.database(ALIAS),
        OUTBOX_COLLECTIONS,
        Consumption(topics=[settings.topic("intake")], handler=dispatcher(EVENT_HANDLERS, deps)),
    )


def main() -> None:
    """Consume and relay until SIGTERM."""
    serve(load_settings(), build_worker)


if __name__ == "__main__":
    main()
