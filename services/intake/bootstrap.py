"""Wires intake's handlers to real adapters. The only place that builds them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from services.intake.adapters.documents import ALIAS, DOCUMENTS
from services.intake.adapters.privacy import PrivacyStore
from services.intake.adapters.repository import (
    AppointmentRepository,
    BuildingRepository,
    CaseRepository,
    CounterRepository,
    TenantRepository,
    open_case_claims,
    slot_claims,
)
from services.intake.service_layer.handlers import HANDLERS, Dependencies
from shared import crypto, mongo
from shared.clock import now_utc
from shared.config import Settings
from shared.messagebus import MessageBus


def bootstrap(
    settings: Settings, clock: Callable[[], datetime] = now_utc, create_indexes: bool = True
) -> MessageBus[Dependencies]:
    """Connect to intake's database and return its command bus."""
    # First: without its keys the service must not start (nor write a plaintext field).
    crypto.register(ALIAS, crypto.cipher_from_settings(settings))
    mongo.connect(ALIAS, settings.mongodb_uri, settings.database)
    if create_indexes:
        mongo.ensure_indexes(*DOCUMENTS)
    topic = settings.topic("intake")
    claim_grace = timedelta(seconds=settings.extra["claim_grace_s"])
    tenants = TenantRepository(topic=topic, claim_grace=claim_grace, clock=clock)
    deps = Dependencies(
        buildings=BuildingRepository(topic=topic),
        counters=CounterRepository(topic=topic),
        tenants=tenants,
        appointments=AppointmentRepository(topic=topic),
        cases=CaseRepository(topic=topic),
        slot_claims=slot_claims(),
        open_case_claims=open_case_claims(),
        clock=clock,
        zone=settings.extra["timezone"],
        claim_grace=claim_grace,
        privacy=PrivacyStore(topic=topic),
    )
    return MessageBus(HANDLERS, deps)
