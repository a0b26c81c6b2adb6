"""Events published by notifications (topic ``<prefix>.notifications``; key = case id or
notification id)."""

from __future__ import annotations

from marshmallow import fields

from shared.events.intake import TenantErasedData
from shared.events.registry import EventData, register

PRODUCER = "notifications"


class DeliveryData(EventData):
    notification_id = fields.String(required=True)
    case_id = fields.String(load_default=None, allow_none=True)
    cause_event_id = fields.String(required=True)
    recipient_kind = fields.String(required=True)
    channel = fields.String(required=True)
    at = fields.AwareDateTime(required=True)
    reason = fields.String(load_default=None, allow_none=True)


NOTIFICATION_DELIVERED = register(
    PRODUCER,
    "notifications.notification.delivered",
    DeliveryData,
    "Una notifica è stata consegnata sul suo canale.",
)
NOTIFICATION_FAILED = register(
    PRODUCER,
    "notifications.notification.failed",
    DeliveryData,
    "Una notifica non è stata consegnata (errore permanente).",
)
NOTIFICATION_NOT_SENT = register(
    PRODUCER,
    "notifications.notification.not_sent",
    DeliveryData,
    "Una notifica non è stata inviata (manca il consenso o il contatto); il motivo è registrato.",
)


TENANT_ERASED = register(
    PRODUCER,
    "notifications.tenant.erased",
    TenantErasedData,
    "notifications ha anonimizzato contatti e messaggi dell'inquilino che ha chiesto la"
    " cancellazione.",
)
