"""Events published by intake (topic ``<prefix>.intake``; key = case id, or tenant id)."""

from __future__ import annotations

from marshmallow import fields, validate

from shared.events.registry import EventData, register

PRODUCER = "intake"


class CustodianData(EventData):
    """A custode sociale of a building, as notifications needs it to reach them."""

    name = fields.String(required=True)
    email = fields.Email(load_default=None, allow_none=True)
    phone = fields.String(load_default=None, allow_none=True)
    channel = fields.String(
        load_default="email", validate=validate.OneOf(["email", "sms", "inbox"])
    )


class BuildingData(EventData):
    """What consumers need about the building a case belongs to."""

    id = fields.String(required=True)
    name = fields.String(required=True)
    address = fields.String(required=True)
    municipio = fields.Integer(required=True, validate=validate.Range(min=1, max=9))
    custodians = fields.List(fields.Nested(CustodianData), load_default=list)


class CaseOpenedData(EventData):
    """A counter operator opened a case for a tenant."""

    case_id = fields.String(required=True)
    tenant_id = fields.String(required=True)
    counter_id = fields.String(load_default=None, allow_none=True)
    building = fields.Nested(BuildingData, required=True)
    channel = fields.String(required=True)
    needs = fields.List(fields.String(), required=True)
    description = fields.String(load_default="")
    urgent = fields.Boolean(load_default=False)
    disconnection_date = fields.Date(load_default=None, allow_none=True)
    opened_by = fields.String(required=True)
    opened_at = fields.AwareDateTime(required=True)


CASE_OPENED = register(
    PRODUCER,
    "intake.case.opened",
    CaseOpenedData,
    "Un operatore ha aperto un caso per un inquilino (sportello, visita, incontro o telefono).",
)
