"""casework's HTTP schemas."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from services.casework.domain.model import CaseState


class CaseFileListQuery(Schema):
    class Meta:
        unknown = RAISE

    state = fields.Enum(CaseState, by_value=True)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


class BuildingSnapshotSchema(Schema):
    id = fields.String()
    name = fields.String()
    address = fields.String()
    municipio = fields.Integer()


class CaseFileSchema(Schema):
    id = fields.String()
    tenant_id = fields.String()
    building = fields.Nested(BuildingSnapshotSchema)
    counter_id = fields.String(allow_none=True)
    channel = fields.String()
    needs = fields.List(fields.String())
    description = fields.String()
    urgent = fields.Boolean()
    disconnection_date = fields.Date(allow_none=True)
    opened_by = fields.String()
    opened_at = fields.AwareDateTime()
    state = fields.Enum(CaseState, by_value=True)
