"""Wires intake's handlers to real adapters. The only place that builds them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from services.intake.adapters.documents import ALIAS, DOCUMENTS
from services.intake.adapters.repository import BuildingRepository, CaseRepository
from services.intake.service_layer.handlers import HANDLERS, Dependencies
from shared import mongo
from shared.clock import now_utc
from shared.config import Settings
from shared.messagebus import MessageBus


def bootstrap(
    settings: Settings, clock: Callable[[], datetime] = now_utc, create_indexes: bool = True
) -> MessageBus[Dependencies]:
    """Connect to intake's database and return its command bus."""
    mongo.connect(ALIAS, settings.mongodb_uri, settings.database)
    if create_indexes:
        mongo.ensure_indexes(*DOCUMENTS)
    deps = Dependencies(
        buildings=BuildingRepository(),
        cases=CaseRepository(topic=settings.topic("intake")),
        clock=clock,
    )
    return MessageBus(HANDLERS, deps)
