"""Wires notifications' handlers to real adapters. The only place that builds them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from services.notifications.adapters.documents import ALIAS, DOCUMENTS
from services.notifications.adapters.repository import NotificationRepository
from services.notifications.service_layer.handlers import Dependencies
from shared import mongo
from shared.clock import now_utc
from shared.config import Settings


def bootstrap(settings: Settings, clock: Callable[[], datetime] = now_utc) -> Dependencies:
    """Connect to notifications' database and return the handlers' dependencies."""
    mongo.connect(ALIAS, settings.mongodb_uri, settings.database)
    mongo.ensure_indexes(*DOCUMENTS)
    return Dependencies(notifications=NotificationRepository(), clock=clock)
