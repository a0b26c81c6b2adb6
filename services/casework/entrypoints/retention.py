"""Anonymise the case files closed longer than ``RETENTION_CLOSED_CASE_DAYS`` ago, once.

``python -m services.casework.entrypoints.retention``: the worker does the same every hour; this
command is for a first pass or a drill. Each anonymised file publishes ``casework.case.anonymised``
through the outbox (the worker's relay sends it).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import timedelta

from services.casework.adapters.documents import ALIAS
from services.casework.bootstrap import bootstrap
from services.casework.config import load_settings
from services.casework.service_layer.handlers import anonymise_expired
from shared import mongo


def main(argv: Sequence[str] | None = None) -> int:
    """One retention pass; prints how many case files were anonymised."""
    del argv  # no options: the period comes from the environment
    settings = load_settings()
    try:
        deps = bootstrap(settings)
        keep = timedelta(days=settings.extra["retention_closed_case_days"])
        done = anonymise_expired(deps, keep)
    finally:
        mongo.disconnect(ALIAS)
    print(f"{done} fascicoli anonimizzati (chiusi da più di {keep.days} giorni)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
