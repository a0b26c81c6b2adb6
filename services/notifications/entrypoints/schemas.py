"""notifications' HTTP schemas."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from services.notifications.domain.model import Channel, RecipientKind, Status
from shared.schemas import PageQuery


class NotificationListQuery(PageQuery):
    case_id = fields.String(validate=validate.Length(min=1, max=100))
    status = fields.Enum(Status, by_value=True)
    recipient = fields.String(
        validate=validate.Length(min=1, max=200), metadata={"description": "Nome del destinatario."}
    )
    channel = fields.Enum(Channel, by_value=True)


class InboxQuery(PageQuery):
    unread = fields.Boolean(load_default=False)


class RecipientSchema(Schema):
    kind = fields.Enum(RecipientKind, by_value=True)
    name = fields.String()
    address = fields.String(allow_none=True)


class HistoryEntrySchema(Schema):
    status = fields.Enum(Status, by_value=True)
    at = fields.AwareDateTime()
    detail = fields.String()


class NotificationSchema(Schema):
    id = fields.String()
    event_id = fields.String()
    event_type = fields.String()
    rule = fields.String()
    case_id = fields.String(allow_none=True)
    recipient = fields.Nested(RecipientSchema)
    channel = fields.Enum(Channel, by_value=True)
    template = fields.String()
    language = fields.String()
    status = fields.Enum(Status, by_value=True)
    reason = fields.String(allow_none=True)
    attempts = fields.Integer()
    task = fields.Boolean()
    subject = fields.String()
    created_at = fields.AwareDateTime()
    due_at = fields.AwareDateTime()
    read_at = fields.AwareDateTime(allow_none=True)


class NotificationDetailSchema(NotificationSchema):
    text = fields.String()
    history = fields.List(fields.Nested(HistoryEntrySchema))


class UnreadCountSchema(Schema):
    recipient = fields.String()
    unread = fields.Integer()


class CustodianPreferenceSchema(Schema):
    class Meta:
        unknown = RAISE

    mode = fields.String(
        required=True,
        validate=validate.OneOf(["immediato", "riepilogo"]),
        metadata={"description": "immediato: ogni messaggio subito; riepilogo: uno al giorno."},
    )
    actor = fields.String(required=True, validate=validate.Length(min=1, max=100))


class CustodianPreferenceOut(Schema):
    custodian = fields.String()
    mode = fields.String()
