"""Events published by intake (topic ``<prefix>.intake``; key = case id, or tenant id; building
and counter events: the building id, the counter id)."""

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
    version = fields.Integer(
        load_default=None,
        allow_none=True,
        metadata={"description": "The building's version: a newer snapshot wins."},
    )


class BuildingUpdatedData(BuildingData):
    """A building's full new snapshot (``version`` orders the updates)."""

    version = fields.Integer(required=True)
    committee_contact = fields.String(load_default=None, allow_none=True)
    works_notes = fields.String(load_default=None, allow_none=True)


class ScheduleData(EventData):
    """A counter's recurring opening (local times ``HH:MM``; weekday 0 = Monday)."""

    weekday = fields.Integer(required=True, validate=validate.Range(min=0, max=6))
    start = fields.String(required=True)
    end = fields.String(required=True)
    slot_minutes = fields.Integer(required=True)
    every_weeks = fields.Integer(load_default=1)
    starts_on = fields.Date(load_default=None, allow_none=True)
    ends_on = fields.Date(load_default=None, allow_none=True)


class CounterData(EventData):
    """A counter's full snapshot (``version`` orders the updates)."""

    counter_id = fields.String(required=True)
    version = fields.Integer(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["fisso", "itinerante"]))
    building_id = fields.String(required=True)
    room = fields.String(required=True)
    schedules = fields.List(fields.Nested(ScheduleData), load_default=list)
    operators = fields.List(fields.String(), load_default=list)


class ConsentData(EventData):
    """A tenant's consent to be contacted on one channel."""

    channel = fields.String(required=True, validate=validate.OneOf(["email", "sms"]))
    granted = fields.Boolean(required=True)
    recorded_by = fields.String(required=True)
    recorded_at = fields.AwareDateTime(required=True)


class TenantData(EventData):
    """A tenant as other services may know them (full snapshot; ``version`` orders updates)."""

    tenant_id = fields.String(required=True)
    version = fields.Integer(required=True)
    building_id = fields.String(required=True)
    apartment = fields.String(load_default=None, allow_none=True)
    first_name = fields.String(required=True)
    last_name = fields.String(required=True)
    fiscal_code = fields.String(load_default=None, allow_none=True)
    phone = fields.String(load_default=None, allow_none=True)
    email = fields.String(load_default=None, allow_none=True)
    preferred_language = fields.String(load_default="it")
    household_size = fields.Integer(load_default=None, allow_none=True)
    consents = fields.List(fields.Nested(ConsentData), load_default=list)


class ConsentChangedData(EventData):
    """A tenant gave or withdrew consent for a channel."""

    tenant_id = fields.String(required=True)
    consent = fields.Nested(ConsentData, required=True)


class BillData(EventData):
    """An energy bill as structured data (money in integer cents)."""

    supplier = fields.String(required=True)
    offer = fields.String(load_default=None, allow_none=True)
    commodity = fields.String(required=True, validate=validate.OneOf(["luce", "gas"]))
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    pod = fields.String(load_default=None, allow_none=True)
    pdr = fields.String(load_default=None, allow_none=True)
    consumption = fields.Float(load_default=None, allow_none=True)
    unit = fields.String(load_default=None, allow_none=True)  # kWh (luce) or Smc (gas)
    amount_cents = fields.Integer(required=True)
    arrears_cents = fields.Integer(load_default=0)


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
    hardship_signals = fields.List(fields.String(), load_default=list)
    bills = fields.List(fields.Nested(BillData), load_default=list)
    isee_band = fields.String(load_default=None, allow_none=True)
    receives_bonus_sociale = fields.Boolean(load_default=None, allow_none=True)
    linked_case_id = fields.String(load_default=None, allow_none=True)
    hardship_kind = fields.String(
        load_default="da_valutare",
        validate=validate.OneOf(["precarieta", "poverta", "da_valutare"]),
        metadata={"description": "What the first signs point to; casework assesses it."},
    )


class AppointmentData(EventData):
    """An individual meeting, a home visit (sopralluogo) or a group session (incontro plenario)."""

    appointment_id = fields.String(required=True)
    kind = fields.String(
        required=True, validate=validate.OneOf(["incontro", "sopralluogo", "incontro_plenario"])
    )
    case_id = fields.String(load_default=None, allow_none=True)
    tenant_ids = fields.List(fields.String(), load_default=list)
    counter_id = fields.String(load_default=None, allow_none=True)
    building_id = fields.String(required=True)
    location = fields.String(load_default="")
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True)
    status = fields.String(
        load_default="prenotato", validate=validate.OneOf(["prenotato", "annullato"])
    )


class AppointmentRescheduledData(AppointmentData):
    """An appointment moved; ``previous_starts_at`` is when it was."""

    previous_starts_at = fields.AwareDateTime(required=True)
    reason = fields.String(required=True)


class AppointmentCancelledData(AppointmentData):
    """An appointment cancelled, with the reason."""

    reason = fields.String(required=True)


class HomeVisitRequestedData(EventData):
    """A home visit (sopralluogo) was requested for a case."""

    case_id = fields.String(required=True)
    tenant_id = fields.String(required=True)
    building = fields.Nested(BuildingData, required=True)
    appointment_id = fields.String(load_default=None, allow_none=True)
    requested_for = fields.AwareDateTime(load_default=None, allow_none=True)
    reason = fields.String(load_default="")


BUILDING_UPDATED = register(
    PRODUCER,
    "intake.building.updated",
    BuildingUpdatedData,
    "I dati di un edificio sono cambiati: custodi sociali, comitato, note sui lavori…"
    " (istantanea completa, ordinata da version).",
)
COUNTER_UPDATED = register(
    PRODUCER,
    "intake.counter.updated",
    CounterData,
    "I dati di uno sportello sono cambiati: orari, sala, operatori… (istantanea completa,"
    " ordinata da version).",
)
TENANT_REGISTERED = register(
    PRODUCER, "intake.tenant.registered", TenantData, "Un inquilino è stato registrato."
)
TENANT_UPDATED = register(
    PRODUCER,
    "intake.tenant.updated",
    TenantData,
    "I dati di un inquilino sono cambiati (istantanea completa, ordinata da version).",
)
CONSENT_CHANGED = register(
    PRODUCER,
    "intake.tenant.consent_changed",
    ConsentChangedData,
    "Un inquilino ha dato o revocato il consenso per un canale.",
)
APPOINTMENT_BOOKED = register(
    PRODUCER, "intake.appointment.booked", AppointmentData, "Un appuntamento è stato prenotato."
)
APPOINTMENT_RESCHEDULED = register(
    PRODUCER,
    "intake.appointment.rescheduled",
    AppointmentRescheduledData,
    "Un appuntamento è stato spostato.",
)
APPOINTMENT_CANCELLED = register(
    PRODUCER,
    "intake.appointment.cancelled",
    AppointmentCancelledData,
    "Un appuntamento è stato annullato.",
)
HOME_VISIT_REQUESTED = register(
    PRODUCER,
    "intake.home_visit.requested",
    HomeVisitRequestedData,
    "È stato richiesto un sopralluogo a domicilio.",
)
CASE_OPENED = register(
    PRODUCER,
    "intake.case.opened",
    CaseOpenedData,
    "Un operatore ha aperto un caso per un inquilino (sportello, visita, incontro o telefono).",
)


class TenantErasureRequestedData(EventData):
    """A tenant asked for erasure (GDPR art. 17): every service anonymises what it holds."""

    erasure_id = fields.String(required=True)
    tenant_id = fields.String(required=True)
    requested_by = fields.String(required=True)
    requested_at = fields.AwareDateTime(required=True)


class TenantErasedData(EventData):
    """A service confirms that it anonymised everything it held about a tenant."""

    erasure_id = fields.String(required=True)
    tenant_id = fields.String(required=True)
    at = fields.AwareDateTime(required=True)
    records = fields.Integer(required=True, metadata={"description": "Documenti anonimizzati."})


TENANT_ERASURE_REQUESTED = register(
    PRODUCER,
    "intake.tenant.erasure_requested",
    TenantErasureRequestedData,
    "Un inquilino ha chiesto la cancellazione dei suoi dati: ogni servizio li anonimizza e lo"
    " conferma.",
)
