"""notifications' HTTP schemas."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from services.notifications.domain.model import RecipientKind, Status


class NotificationListQuery(Schema):
    class Meta:
        unknown = RAISE

    case_id = fields.String(validate=validate.Length(min=1, max=100))
    status = fields.Enum(Status, by_value=True)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


class RecipientSchema(Schema):
    kind = fields.Enum(RecipientKind, by_value=True)
    name = fields.String()
    address = fields.String(allow_none=True)


class NotificationSchema(Schema):
    id = fields.String()
    event_id = fields.String()
    event_type = fields.String()
    case_id = fields.String()
    recipient = fields.Nested(RecipientSchema)
    channel = fields.String()
    template = fields.String()
    status = fields.Enum(Status, by_value=True)
    created_at = fields.AwareDateTime()
