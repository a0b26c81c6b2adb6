"""intake's worker: publishes the outbox (intake consumes no events). ``python -m`` this module."""

from __future__ import annotations

from services.intake.adapters.documents import ALIAS, DOCUMENTS, OUTBOX_COLLECTIONS
from services.intake.config import load_settings
from shared import mongo
from shared.config import Settings
from shared.worker import Worker, serve


def build_worker(settings: Settings) -> Worker:
    """intake's worker (the outbox relay), wired to the real store and broker."""
    db = mongo.connect(ALIAS, settings.mongodb_uri, settings.database)
    mongo.ensure_indexes(*DOCUMENTS)
    return Worker(settings, db, OUTBOX_COLLECTIONS)


def main() -> None:
    """Run the outbox relay until SIGTERM."""
    serve(load_settings(), build_worker)


if __name__ == "__main__":
    main()
