"""intake's HTTP schemas (marshmallow): unknown fields are rejected, messages are Italian."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.intake.domain.identifiers import (
    check_fiscal_code,
    check_pdr,
    check_phone,
    check_pod,
)
from services.intake.domain.model import (
    UNITS,
    AppointmentKind,
    AppointmentStatus,
    CaseStatus,
    Channel,
    Commodity,
    ConsentChannel,
    ContactChannel,
    CounterKind,
    HardshipKind,
    HardshipSignal,
    IseeBand,
    Need,
)
from shared.schemas import PageQuery, StrictSchema

ID = validate.Length(min=1, max=100)
ACTOR = validate.Length(min=1, max=100)
REASON = validate.Length(min=3, max=500)
# Dates and times far outside the service's life are typos, and would overflow date arithmetic.
DAYS = validate.Range(
    min=date(2000, 1, 1), max=date(2100, 12, 31), error="Data fuori dall'intervallo 2000–2100."
)
MOMENTS = validate.Range(
    min=datetime(2000, 1, 1, tzinfo=UTC),
    max=datetime(2100, 12, 31, tzinfo=UTC),
    error="Data e ora fuori dall'intervallo 2000–2100.",
)


def checked_by(check: Callable[[str], str | None]) -> Callable[[str], None]:
    """A marshmallow validator from a domain ``check_*`` function (same Italian message)."""

    def validator(value: str) -> None:
        problem = check(value)
        if problem:
            raise ValidationError(problem)

    return validator


# --- buildings ---


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


EXPECTED_VERSION = {"description": "La versione letta: 409 se nel frattempo è cambiata."}


class PatchSchema(StrictSchema):
    """A partial update: at least one field, and optionally the version it was read at."""

    expected_version = fields.Integer(validate=validate.Range(min=1), metadata=EXPECTED_VERSION)

    @validates_schema
    def _something_to_change(self, data: dict[str, Any], **_: Any) -> None:
        if not set(data) - {"expected_version"}:
            raise ValidationError("Indicare almeno un campo da modificare.", "_schema")


class BuildingPatchSchema(PatchSchema):
    """The fields of a building to change (the others stay); ``custodians`` replaces the list."""

    name = fields.String(validate=validate.Length(min=1, max=200))
    address = fields.String(validate=validate.Length(min=1, max=200))
    municipio = fields.Integer(validate=validate.Range(min=1, max=9))
    custodians = fields.List(fields.Nested(CustodianSchema), validate=validate.Length(max=20))
    committee_contact = fields.String(allow_none=True, validate=validate.Length(max=300))
    works_notes = fields.String(allow_none=True, validate=validate.Length(max=2000))


class BuildingSchema(BuildingInSchema):
    id = fields.String(dump_only=True)
    version = fields.Integer(dump_only=True)


class BuildingListQuery(PageQuery):
    municipio = fields.Integer(validate=validate.Range(min=1, max=9))


# --- counters ---


class ScheduleSchema(StrictSchema):
    weekday = fields.Integer(
        required=True,
        validate=validate.Range(min=0, max=6),
        metadata={"description": "0 = lunedì … 6 = domenica."},
    )
    start = fields.Time(required=True, format="%H:%M", metadata={"example": "14:00"})
    end = fields.Time(required=True, format="%H:%M", metadata={"example": "17:00"})
    slot_minutes = fields.Integer(load_default=30, validate=validate.Range(min=5, max=240))
    every_weeks = fields.Integer(
        load_default=1,
        validate=validate.Range(min=1, max=8),
        metadata={"description": "2 = a settimane alterne, contando da starts_on."},
    )
    starts_on = fields.Date(validate=DAYS, load_default=None, allow_none=True)
    ends_on = fields.Date(validate=DAYS, load_default=None, allow_none=True)

    @validates_schema(skip_on_field_errors=False)
    def _alternate_weeks_need_a_start(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("every_weeks", 1) > 1 and not data.get("starts_on"):
            raise ValidationError("Indicare la prima data della serie.", "starts_on")


class CounterInSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.Enum(CounterKind, by_value=True, required=True)
    building_id = fields.String(required=True, validate=ID)
    room = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"example": "Laboratorio Sociale, piano terra"},
    )
    schedules = fields.List(
        fields.Nested(ScheduleSchema), required=True, validate=validate.Length(min=1, max=14)
    )
    operators = fields.List(
        fields.String(validate=ACTOR), load_default=list, validate=validate.Length(max=50)
    )


class CounterPatchSchema(PatchSchema):
    """The fields of a counter to change (the others stay); lists replace the stored ones."""

    name = fields.String(validate=validate.Length(min=1, max=200))
    kind = fields.Enum(CounterKind, by_value=True)
    building_id = fields.String(validate=ID)
    room = fields.String(validate=validate.Length(min=1, max=200))
    schedules = fields.List(fields.Nested(ScheduleSchema), validate=validate.Length(min=1, max=14))
    operators = fields.List(fields.String(validate=ACTOR), validate=validate.Length(max=50))


class CounterSchema(CounterInSchema):
    id = fields.String(dump_only=True)
    version = fields.Integer(dump_only=True)


class CounterListQuery(PageQuery):
    building_id = fields.String(validate=ID)


class SlotQuery(StrictSchema):
    date_from = fields.Date(validate=DAYS, required=True, data_key="from")
    date_to = fields.Date(validate=DAYS, required=True, data_key="to")


class SlotSchema(Schema):
    starts_at = fields.AwareDateTime()
    ends_at = fields.AwareDateTime()
    available = fields.Boolean()


# --- tenants ---

LANGUAGE = validate.Regexp(r"^[a-z]{2}$", error="Codice lingua ISO 639-1, es. it, en, ar.")


class ConsentInSchema(StrictSchema):
    channel = fields.Enum(ConsentChannel, by_value=True, required=True)
    granted = fields.Boolean(required=True)
    recorded_by = fields.String(required=True, validate=ACTOR)


class ConsentSchema(ConsentInSchema):
    recorded_at = fields.AwareDateTime()


class TenantFieldsSchema(StrictSchema):
    """The fields of a tenant an operator writes (all optional here: used for updates)."""

    building_id = fields.String(validate=ID)
    apartment = fields.String(allow_none=True, validate=validate.Length(max=50))
    first_name = fields.String(validate=validate.Length(min=1, max=100))
    last_name = fields.String(validate=validate.Length(min=1, max=100))
    fiscal_code = fields.String(
        validate=checked_by(check_fiscal_code), metadata={"example": "RSSMRA85T10A562S"}
    )
    phone = fields.String(allow_none=True, validate=checked_by(check_phone))
    email = fields.Email(allow_none=True)
    preferred_language = fields.String(validate=LANGUAGE, metadata={"example": "it"})
    household_size = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=20))


class TenantInSchema(TenantFieldsSchema):
    building_id = fields.String(required=True, validate=ID)
    first_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    last_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    fiscal_code = fields.String(
        required=True,
        validate=checked_by(check_fiscal_code),
        metadata={"example": "RSSMRA85T10A562S"},
    )
    apartment = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=50))
    phone = fields.String(load_default=None, allow_none=True, validate=checked_by(check_phone))
    email = fields.Email(load_default=None, allow_none=True)
    preferred_language = fields.String(load_default="it", validate=LANGUAGE)
    household_size = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=1, max=20)
    )
    consents = fields.List(
        fields.Nested(ConsentInSchema), load_default=list, validate=validate.Length(max=2)
    )


class TenantPatchSchema(TenantFieldsSchema, PatchSchema):
    """The fields of a tenant to change (the others stay)."""


class TenantSchema(Schema):
    id = fields.String()
    version = fields.Integer()
    building_id = fields.String()
    apartment = fields.String(allow_none=True)
    first_name = fields.String()
    last_name = fields.String()
    fiscal_code = fields.String()
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    preferred_language = fields.String()
    household_size = fields.Integer(allow_none=True)
    consents = fields.List(fields.Nested(ConsentSchema))
    registered_at = fields.AwareDateTime()


class TenantListQuery(PageQuery):
    name = fields.String(
        validate=validate.Length(min=2, max=100),
        metadata={
            "description": "Inizio del cognome (poi del nome), senza distinzione di accenti."
        },
    )
    fiscal_code = fields.String(validate=validate.Length(min=16, max=16))
    building_id = fields.String(validate=ID)


# --- appointments ---


class AppointmentInSchema(StrictSchema):
    kind = fields.Enum(AppointmentKind, by_value=True, required=True)
    tenant_ids = fields.List(
        fields.String(validate=ID),
        load_default=list,
        validate=validate.Length(max=200),
        metadata={
            "description": "Un solo inquilino per incontro e sopralluogo; i partecipanti "
            "di un incontro plenario."
        },
    )
    case_id = fields.String(load_default=None, allow_none=True, validate=ID)
    counter_id = fields.String(load_default=None, allow_none=True, validate=ID)
    building_id = fields.String(load_default=None, allow_none=True, validate=ID)
    starts_at = fields.AwareDateTime(validate=MOMENTS, required=True)
    ends_at = fields.AwareDateTime(validate=MOMENTS, load_default=None, allow_none=True)
    location = fields.String(load_default="", validate=validate.Length(max=300))
    notes = fields.String(load_default="", validate=validate.Length(max=2000))
    booked_by = fields.String(required=True, validate=ACTOR)


class RescheduleSchema(StrictSchema):
    starts_at = fields.AwareDateTime(validate=MOMENTS, required=True)
    ends_at = fields.AwareDateTime(validate=MOMENTS, load_default=None, allow_none=True)
    reason = fields.String(required=True, validate=REASON)
    actor = fields.String(required=True, validate=ACTOR)


class CancelSchema(StrictSchema):
    reason = fields.String(required=True, validate=REASON)
    actor = fields.String(required=True, validate=ACTOR)


class AppointmentSchema(Schema):
    id = fields.String()
    kind = fields.Enum(AppointmentKind, by_value=True)
    status = fields.Enum(AppointmentStatus, by_value=True)
    case_id = fields.String(allow_none=True)
    tenant_ids = fields.List(fields.String())
    counter_id = fields.String(allow_none=True)
    building_id = fields.String()
    location = fields.String()
    starts_at = fields.AwareDateTime()
    ends_at = fields.AwareDateTime()
    booked_by = fields.String()
    booked_at = fields.AwareDateTime()
    notes = fields.String()
    cancel_reason = fields.String(allow_none=True)
    version = fields.Integer()


class AppointmentListQuery(PageQuery):
    counter_id = fields.String(validate=ID)
    tenant_id = fields.String(validate=ID)
    case_id = fields.String(validate=ID)
    building_id = fields.String(validate=ID)
    starts_from = fields.AwareDateTime(validate=MOMENTS, data_key="from")
    starts_to = fields.AwareDateTime(validate=MOMENTS, data_key="to")


# --- cases ---


class BillSchema(StrictSchema):
    supplier = fields.String(required=True, validate=validate.Length(min=1, max=200))
    offer = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    commodity = fields.Enum(Commodity, by_value=True, required=True)
    period_start = fields.Date(validate=DAYS, required=True)
    period_end = fields.Date(validate=DAYS, required=True)
    pod = fields.String(
        load_default=None,
        allow_none=True,
        validate=checked_by(check_pod),
        metadata={"example": "IT001E12345678"},
    )
    pdr = fields.String(
        load_default=None,
        allow_none=True,
        validate=checked_by(check_pdr),
        metadata={"example": "12345678901234"},
    )
    consumption = fields.Float(
        load_default=None, allow_none=True, validate=validate.Range(min=0, max=1_000_000)
    )
    unit = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(sorted(UNITS.values()))
    )
    amount_cents = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=0, max=100_000_000),
        metadata={"example": 18450},
    )
    arrears_cents = fields.Integer(
        load_default=0, strict=True, validate=validate.Range(min=0, max=100_000_000)
    )

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        commodity = data.get("commodity")
        if commodity == Commodity.ELECTRICITY and data.get("pdr"):
            errors["pdr"] = ["Il PDR riguarda il gas: per la luce indicare il POD."]
        if commodity == Commodity.GAS and data.get("pod"):
            errors["pod"] = ["Il POD riguarda la luce: per il gas indicare il PDR."]
        if commodity in UNITS and data.get("unit") and data["unit"] != UNITS[commodity]:
            errors["unit"] = [f"Per {commodity.value} l'unità è {UNITS[commodity]}."]
        start, end = data.get("period_start"), data.get("period_end")
        if start and end and end < start:
            errors["period_end"] = ["La fine del periodo precede l'inizio."]
        if errors:
            raise ValidationError(errors)


class CaseInSchema(StrictSchema):
    tenant_id = fields.String(required=True, validate=ID)
    building_id = fields.String(
        load_default=None,
        allow_none=True,
        validate=ID,
        metadata={"description": "Se indicato, deve essere l'edificio dell'inquilino."},
    )
    counter_id = fields.String(load_default=None, allow_none=True, validate=ID)
    channel = fields.Enum(Channel, by_value=True, load_default=Channel.COUNTER)
    needs = fields.List(
        fields.Enum(Need, by_value=True),
        required=True,
        validate=validate.Length(min=1, max=len(Need)),
    )
    description = fields.String(load_default="", validate=validate.Length(max=5000))
    disconnection_date = fields.Date(
        validate=DAYS,
        load_default=None,
        allow_none=True,
        metadata={"description": "Data del preavviso di distacco: rende il caso urgente."},
    )
    urgent = fields.Boolean(load_default=False)
    opened_by = fields.String(required=True, validate=ACTOR)
    hardship_signals = fields.List(
        fields.Enum(HardshipSignal, by_value=True),
        load_default=list,
        validate=validate.Length(max=len(HardshipSignal)),
    )
    hardship_kind = fields.Enum(HardshipKind, by_value=True, load_default=HardshipKind.NOT_ASSESSED)
    bills = fields.List(
        fields.Nested(BillSchema), load_default=list, validate=validate.Length(max=24)
    )
    isee_band = fields.Enum(IseeBand, by_value=True, load_default=None, allow_none=True)
    receives_bonus_sociale = fields.Boolean(load_default=None, allow_none=True)
    linked_case_id = fields.String(
        load_default=None,
        allow_none=True,
        validate=ID,
        metadata={"description": "Apre un caso collegato anche se ne esiste uno aperto."},
    )


class BillOutSchema(Schema):
    supplier = fields.String()
    offer = fields.String(allow_none=True)
    commodity = fields.Enum(Commodity, by_value=True)
    period_start = fields.Date()
    period_end = fields.Date()
    pod = fields.String(allow_none=True)
    pdr = fields.String(allow_none=True)
    consumption = fields.Float(allow_none=True)
    unit = fields.String(allow_none=True)
    amount_cents = fields.Integer()
    arrears_cents = fields.Integer()


class CaseSchema(Schema):
    id = fields.String()
    status = fields.Enum(CaseStatus, by_value=True)
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
    hardship_signals = fields.List(fields.Enum(HardshipSignal, by_value=True))
    hardship_kind = fields.Enum(HardshipKind, by_value=True)
    bills = fields.List(fields.Nested(BillOutSchema))
    isee_band = fields.Enum(IseeBand, by_value=True, allow_none=True)
    receives_bonus_sociale = fields.Boolean(allow_none=True)
    linked_case_id = fields.String(allow_none=True)


class CaseListQuery(PageQuery):
    counter_id = fields.String(validate=ID)
    building_id = fields.String(validate=ID)
    tenant_id = fields.String(validate=ID)
    urgent = fields.Boolean()
    status = fields.Enum(CaseStatus, by_value=True)
    opened_from = fields.Date(validate=DAYS, data_key="from")
    opened_to = fields.Date(validate=DAYS, data_key="to")
