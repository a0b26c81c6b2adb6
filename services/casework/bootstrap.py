"""Wires casework's handlers to real adapters. The only place that builds them."""

from __future__ import annotations

from services.casework.adapters.documents import ALIAS, DOCUMENTS
from services.casework.adapters.repository import CaseFileRepository
from services.casework.service_layer.handlers import HANDLERS, Dependencies
from shared import crypto, mongo
from shared.clock import now_utc
from shared.config import Settings
from shared.messagebus import MessageBus


def bootstrap(settings: Settings) -> Dependencies:
    """Connect to casework's database and return the handlers' dependencies."""
    # First: without its keys the service must not start (nor write a plaintext field).
    cipher = crypto.cipher_from_settings(settings)
    crypto.register(ALIAS, cipher)
    mongo.connect(ALIAS, settings.mongodb_uri, settings.database)
    mongo.ensure_indexes(*DOCUMENTS)
    extra = settings.extra
    return Dependencies(
        case_files=CaseFileRepository(cipher, extra["disconnection_alert_days"]),
        topic=settings.topic(settings.service),
        paths=extra["paths"],
        clock=now_utc,
        energy_price_cents_per_kwh=extra["energy_price_cents_per_kwh"],
        anomaly_share=extra["anomaly_share"],
        disconnection_alert_days=extra["disconnection_alert_days"],
    )


def message_bus(deps: Dependencies) -> MessageBus[Dependencies]:
    """The command bus over ``deps``."""
    return MessageBus(HANDLERS, deps)
