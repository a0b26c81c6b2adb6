"""notifications' worker: consumes intake and casework events, publishes its own outbox."""

from __future__ import annotations

from services.notifications.adapters.documents import ALIAS, OUTBOX_COLLECTIONS
from services.notifications.bootstrap import bootstrap
from services.notifications.config import load_settings
from services.notifications.service_layer.handlers import EVENT_HANDLERS
from shared import mongo
from shared.config import Settings
from shared.kafka import dispatcher
from shared.worker import Consumption, Worker, serve


def build_worker(settings: Settings) -> Worker:
    """notifications' worker, wired to the real store and broker."""
    deps = bootstrap(settings)
    return Worker(
        settings,
        mongo.database(ALIAS),
        OUTBOX_COLLECTIONS,
        Consumption(
            topics=[settings.topic("intake"), settings.topic("casework")],
            handler=dispatcher(EVENT_HANDLERS, deps),
        ),
    )


def main() -> None:
    """Consume and relay until SIGTERM."""
    serve(load_settings(), build_worker)


if __name__ == "__main__":
    main()
