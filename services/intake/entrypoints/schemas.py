"""intake's HTTP schemas (marshmallow): unknown fields are rejected, messages are Italian."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from services.intake.domain.model import Channel, ContactChannel, Need


class StrictSchema(Schema):
    """A request schema that refuses fields it does not know."""

    class Meta:
        unknown = RAISE


class CustodianSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    email = fields.Email(load_default=None, allow_none=True)
    phone = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(r"^\+?[0-9 ]{6,20}$", error="Numero di telefono non valido."),
    )
    channel = fields.Enum(ContactChannel, by_value=True, load_default=ContactChannel.EMAIL)


class BuildingInSchema(StrictSchema):
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"example": "Quartiere Saint Bon"},
    )
    address = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"example": "via Saint Bon 6, Milano"},
    )
    municipio = fields.Integer(required=True, validate=validate.Range(min=1, max=9))
    custodians = fields.List(
        fields.Nested(CustodianSchema), load_default=list, validate=validate.Length(max=20)
    )
    committee_contact = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=300)
    )
    works_notes = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=2000)
    )


class BuildingSchema(BuildingInSchema):
    id = fields.String(dump_only=True)


class BuildingListQuery(StrictSchema):
    municipio = fields.Integer(validate=validate.Range(min=1, max=9))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


class CaseInSchema(StrictSchema):
    tenant_id = fields.String(required=True, validate=validate.Length(min=1, max=100))
    building_id = fields.String(required=True, validate=validate.Length(min=1, max=100))
    counter_id = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=100)
    )
    channel = fields.Enum(Channel, by_value=True, load_default=Channel.COUNTER)
    needs = fields.List(
        fields.Enum(Need, by_value=True),
        required=True,
        validate=validate.Length(min=1, max=len(Need)),
    )
    description = fields.String(load_default="", validate=validate.Length(max=5000))
    disconnection_date = fields.Date(
        load_default=None,
        allow_none=True,
        metadata={"description": "Data del preavviso di distacco."},
    )
    urgent = fields.Boolean(load_default=False)
    opened_by = fields.String(required=True, validate=validate.Length(min=1, max=100))


class CaseSchema(Schema):
    id = fields.String()
    tenant_id = fields.String()
    building_id = fields.String()
    counter_id = fields.String(allow_none=True)
    channel = fields.Enum(Channel, by_value=True)
    needs = fields.List(fields.Enum(Need, by_value=True))
    description = fields.String()
    disconnection_date = fields.Date(allow_none=True)
    urgent = fields.Boolean()
    opened_by = fields.String()
    opened_at = fields.AwareDateTime()
