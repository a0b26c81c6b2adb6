"""Wires casework's handlers to real adapters. The only place that builds them."""

from __future__ import annotations

from services.casework.adapters.documents import ALIAS, DOCUMENTS
from services.casework.adapters.repository import CaseFileRepository
from services.casework.service_layer.handlers import Dependencies
from shared import mongo
from shared.config import Settings


def bootstrap(settings: Settings) -> Dependencies:
    """Connect to casework's database and return the handlers' dependencies."""
    mongo.connect(ALIAS, settings.mongodb_uri, settings.database)
    mongo.ensure_indexes(*DOCUMENTS)
    return Dependencies(case_files=CaseFileRepository())
