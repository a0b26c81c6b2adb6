"""casework's HTTP schemas (marshmallow): unknown fields are rejected, messages are Italian."""

from __future__ import annotations

from typing import Any

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_dump,
    post_load,
    validate,
    validates_schema,
)

from services.casework.domain import energy
from services.casework.domain.assessment import Classification, Evidence, IseeBand
from services.casework.domain.commands import MeasuredFigure
from services.casework.domain.model import (
    CASE_TRANSITIONS,
    CaseState,
    OutcomeKind,
    ReferralState,
)
from services.casework.entrypoints import scope
from shared import auth
from shared.schemas import PageQuery, StrictSchema

ID = validate.Length(min=1, max=100)
ACTOR = validate.Length(min=1, max=100)
REASON = validate.Length(min=3, max=500)
TEXT = validate.Length(min=1, max=2000)
NAME = validate.Length(min=1, max=120)
# The form tokens accept too (shared.auth): a configured path is usable end to end.
PATH_NAME = validate.Regexp(auth.PATH_NAME, error="Nome di percorso non valido.")


def plausible_year(value: Any) -> None:
    """Dates of casework's records lie between 2000 and 2100 (and stay storable in UTC)."""
    if not 2000 <= value.year <= 2100:
        raise ValidationError("Data fuori dall'intervallo ammesso (anni 2000-2100).")


def actor_field() -> fields.String:
    """Who acts (until authentication exists, the client says it)."""
    return fields.String(
        required=True, validate=ACTOR, metadata={"description": "Chi esegue l'operazione."}
    )


# --- queries ---


class CaseFileListQuery(PageQuery):
    state = fields.Enum(CaseState, by_value=True)
    assignee = fields.String(validate=ACTOR, metadata={"description": "Casi assegnati a chi."})
    mine = fields.Boolean(
        metadata={"description": "«I miei casi»: quelli assegnati a chi fa la richiesta (token)."}
    )
    path = fields.String(validate=PATH_NAME)
    building_id = fields.String(validate=ID)
    counter_id = fields.String(validate=ID)
    overdue = fields.Boolean(
        metadata={
            "description": "Solo casi con invii scaduti, dal più scaduto (scadenza più vecchia, "
            "poi il caso aperto da più tempo)."
        }
    )

    @validates_schema
    def _one_assignee(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("mine") and data.get("assignee"):
            raise ValidationError("Indicare «mine» oppure «assignee», non entrambi.", "mine")


class OutcomeReportQuery(StrictSchema):
    group_by = fields.String(
        load_default="path", validate=validate.OneOf(["building", "counter", "path"])
    )


# --- case file ---


class BuildingSnapshotSchema(Schema):
    id = fields.String()
    name = fields.String()
    address = fields.String()
    municipio = fields.Integer()


class BillSchema(Schema):
    supplier = fields.String()
    offer = fields.String(allow_none=True)
    commodity = fields.String()
    period_start = fields.Date()
    period_end = fields.Date()
    consumption = fields.Float(allow_none=True)
    unit = fields.String(allow_none=True)
    amount_cents = fields.Integer()
    arrears_cents = fields.Integer()


class TransitionSchema(Schema):
    from_state = fields.String(allow_none=True)
    to_state = fields.String()
    actor = fields.String()
    at = fields.AwareDateTime()
    reason = fields.String()


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
    allowed_next_states = fields.Method("_allowed")
    assignee = fields.String(allow_none=True)
    classification = fields.Enum(Classification, by_value=True, allow_none=True)
    outcome = fields.String(allow_none=True)
    hardship_signals = fields.List(fields.String())
    isee_band = fields.String(allow_none=True)
    receives_bonus_sociale = fields.Boolean(allow_none=True)
    bills = fields.List(fields.Nested(BillSchema))
    history = fields.List(fields.Nested(TransitionSchema))
    open_referrals = fields.Method("_open_referrals")
    next_due = fields.Date(allow_none=True)
    version = fields.Integer()

    def _allowed(self, case: Any) -> list[str]:
        return [s.value for s in CASE_TRANSITIONS[case.state]]

    def _open_referrals(self, case: Any) -> int:
        return len(case.open_referrals)

    @post_dump
    def _project(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        # A path caseworker gets only the fields of the categories its path receives.
        return scope.project(data, scope.visible_case_fields())


class TransitionInSchema(StrictSchema):
    to_state = fields.Enum(CaseState, by_value=True, required=True)
    actor = actor_field()
    reason = fields.String(load_default="", validate=validate.Length(max=500))
    outcome = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=3, max=1000),
        metadata={"description": "Esito del caso (obbligatorio per chiuso)."},
    )

    @validates_schema
    def _outcome_to_close(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("to_state") == CaseState.CLOSED and not data.get("outcome"):
            raise ValidationError("Per chiudere il caso serve un esito.", "outcome")


class AssignInSchema(StrictSchema):
    assignee = fields.String(required=True, validate=ACTOR)
    actor = actor_field()


# --- assessment ---


class EvidenceSchema(StrictSchema):
    income_cents_per_year = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=1, max=10**10)
    )
    energy_spend_cents_per_year = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=0, max=10**9)
    )
    arrears_cents = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10**9))
    disconnection_risk = fields.Boolean(load_default=False)
    isee_band = fields.Enum(IseeBand, by_value=True, load_default=None, allow_none=True)
    hardship_signals = fields.List(
        fields.String(validate=NAME), load_default=list, validate=validate.Length(max=20)
    )
    home_visit_findings = fields.List(
        fields.String(validate=TEXT), load_default=list, validate=validate.Length(max=50)
    )
    indicators = fields.List(
        fields.String(validate=TEXT), load_default=list, validate=validate.Length(max=50)
    )

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Evidence:
        return Evidence(**data)


class EvidenceOutSchema(Schema):
    income_cents_per_year = fields.Integer(allow_none=True)
    energy_spend_cents_per_year = fields.Integer(allow_none=True)
    energy_share = fields.Float(allow_none=True)
    arrears_cents = fields.Integer()
    disconnection_risk = fields.Boolean()
    isee_band = fields.Enum(IseeBand, by_value=True, allow_none=True)
    hardship_signals = fields.List(fields.String())
    home_visit_findings = fields.List(fields.String())
    indicators = fields.List(fields.String())


class ProposalInSchema(StrictSchema):
    evidence = fields.Nested(EvidenceSchema, load_default=lambda: Evidence())


class ProposalSchema(Schema):
    classification = fields.Enum(Classification, by_value=True)
    reasons = fields.List(fields.String())
    ruleset_version = fields.String()
    evidence = fields.Nested(EvidenceOutSchema)


class AssessmentInSchema(StrictSchema):
    classification = fields.Enum(Classification, by_value=True, required=True)
    evidence = fields.Nested(EvidenceSchema, load_default=lambda: Evidence())
    actor = actor_field()
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class AssessmentSchema(Schema):
    id = fields.String()
    classification = fields.Enum(Classification, by_value=True)
    proposed_classification = fields.Enum(Classification, by_value=True)
    ruleset_version = fields.String()
    reasons = fields.List(fields.String())
    evidence = fields.Nested(EvidenceOutSchema)
    actor = fields.String()
    at = fields.AwareDateTime()
    note = fields.String()


# --- referrals ---


class ReferralPathSchema(Schema):
    name = fields.String()
    label = fields.String()
    response_working_days = fields.Integer()
    shares = fields.List(fields.String())


class ReferralInSchema(StrictSchema):
    path = fields.String(required=True, validate=PATH_NAME)
    reason = fields.String(required=True, validate=REASON)
    actor = actor_field()
    assignee = fields.String(load_default=None, allow_none=True, validate=ACTOR)


class ReferralSchema(Schema):
    id = fields.String()
    path = fields.String()
    state = fields.Enum(ReferralState, by_value=True)
    reason = fields.String()
    created_by = fields.String()
    created_at = fields.AwareDateTime()
    assignee = fields.String(allow_none=True)
    sent_at = fields.AwareDateTime(allow_none=True)
    due_date = fields.Date(allow_none=True)
    breaches = fields.Integer()
    decline_reason = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    outcome_for_tenant = fields.String(allow_none=True)
    shared = fields.Dict(metadata={"description": "Solo i dati che il percorso può vedere."})
    history = fields.List(fields.Nested(TransitionSchema))


class ActorInSchema(StrictSchema):
    actor = actor_field()


class SendInSchema(StrictSchema):
    actor = actor_field()
    recipient = fields.String(
        load_default=None,
        allow_none=True,
        validate=ACTOR,
        metadata={"description": "Ufficio o persona che riceve l'invio."},
    )


class ReasonInSchema(StrictSchema):
    actor = actor_field()
    reason = fields.String(required=True, validate=REASON)


class ReassignInSchema(StrictSchema):
    actor = actor_field()
    assignee = fields.String(required=True, validate=ACTOR)
    reason = fields.String(load_default="", validate=validate.Length(max=500))


class MeasuredFigureSchema(StrictSchema):
    kind = fields.Enum(OutcomeKind, by_value=True, required=True)
    value = fields.Float(required=True, validate=validate.Range(min=0, max=10**9))
    note = fields.String(load_default="", validate=validate.Length(max=500))

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> MeasuredFigure:
        return MeasuredFigure(**data)


class CompleteInSchema(StrictSchema):
    actor = actor_field()
    outcome = fields.String(required=True, validate=REASON)
    outcome_for_tenant = fields.String(
        required=True,
        validate=REASON,
        metadata={"description": "L'esito in parole semplici, per l'inquilino."},
    )
    measured = fields.List(
        fields.Nested(MeasuredFigureSchema), load_default=list, validate=validate.Length(max=20)
    )


class DisclosureSchema(Schema):
    referral_id = fields.String()
    path = fields.String()
    recipient = fields.String()
    categories = fields.List(fields.String())
    actor = fields.String()
    at = fields.AwareDateTime()


# --- home visits ---


class RoomInSchema(StrictSchema):
    room = fields.String(required=True, validate=NAME)
    temperature_c = fields.Float(required=True, validate=validate.Range(min=-10, max=50))
    humidity_pct = fields.Float(required=True, validate=validate.Range(min=0, max=100))
    mould = fields.Boolean(load_default=False)
    draughts = fields.Boolean(load_default=False)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> energy.RoomReading:
        return energy.RoomReading(**data)


class ApplianceInSchema(StrictSchema):
    name = fields.String(required=True, validate=NAME)
    power_w = fields.Float(required=True, validate=validate.Range(min=0, max=20_000))
    hours_per_day = fields.Float(required=True, validate=validate.Range(min=0, max=24))

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> energy.ApplianceMeasurement:
        return energy.ApplianceMeasurement(**data)


class RecommendationInSchema(StrictSchema):
    text = fields.String(required=True, validate=TEXT)
    appliance = fields.String(load_default=None, allow_none=True, validate=NAME)
    reduction_pct = fields.Float(load_default=0.0, validate=validate.Range(min=0, max=100))

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> energy.Recommendation:
        return energy.Recommendation(**data)


class HomeVisitInSchema(StrictSchema):
    visited_at = fields.AwareDateTime(required=True, validate=plausible_year)
    rooms = fields.List(
        fields.Nested(RoomInSchema), load_default=list, validate=validate.Length(max=30)
    )
    appliances = fields.List(
        fields.Nested(ApplianceInSchema), load_default=list, validate=validate.Length(max=50)
    )
    recommendations = fields.List(
        fields.Nested(RecommendationInSchema), load_default=list, validate=validate.Length(max=50)
    )
    actor = actor_field()

    @validates_schema
    def _unique_appliances(self, data: dict[str, Any], **_: Any) -> None:
        names = [a.name for a in data.get("appliances", [])]
        if len(names) != len(set(names)):
            raise ValidationError("Ogni apparecchio va indicato una sola volta.", "appliances")


class RoomSchema(Schema):
    room = fields.String()
    temperature_c = fields.Float()
    humidity_pct = fields.Float()
    mould = fields.Boolean()
    draughts = fields.Boolean()


class ApplianceSchema(Schema):
    name = fields.String()
    power_w = fields.Float()
    hours_per_day = fields.Float()


class RecommendationSchema(Schema):
    text = fields.String()
    appliance = fields.String(allow_none=True)
    reduction_pct = fields.Float()


class ApplianceCostSchema(Schema):
    name = fields.String()
    kwh_per_year = fields.Float()
    cost_cents_per_year = fields.Integer()


class SavingSchema(Schema):
    text = fields.String()
    appliance = fields.String(allow_none=True)
    kwh_per_year = fields.Float()
    cents_per_year = fields.Integer()


class HomeVisitSchema(Schema):
    id = fields.String()
    visited_at = fields.AwareDateTime()
    actor = fields.String()
    recorded_at = fields.AwareDateTime()
    rooms = fields.List(fields.Nested(RoomSchema))
    appliances = fields.List(fields.Nested(ApplianceSchema))
    recommendations = fields.List(fields.Nested(RecommendationSchema))
    price_cents_per_kwh = fields.Float()
    appliance_costs = fields.List(fields.Nested(ApplianceCostSchema))
    largest_savings = fields.List(fields.Nested(SavingSchema))
    findings = fields.List(fields.String())
    potential_savings_cents_per_year = fields.Integer()


# --- diary, outcomes, notes, tasks ---


class DiaryInSchema(StrictSchema):
    read_on = fields.Date(required=True, validate=plausible_year)
    commodity = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(["luce", "gas"])
    )
    value = fields.Float(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=0, max=10**9),
        metadata={"description": "Lettura del contatore: kWh (luce) o Smc (gas)."},
    )
    note = fields.String(load_default="", validate=validate.Length(max=2000))
    actor = actor_field()


class DiaryEntrySchema(Schema):
    id = fields.String()
    read_on = fields.Date()
    commodity = fields.String(allow_none=True)
    value = fields.Float(allow_none=True)
    note = fields.String()
    actor = fields.String()
    at = fields.AwareDateTime()


class PeriodSchema(Schema):
    commodity = fields.String()
    start = fields.Date()
    end = fields.Date()
    consumption = fields.Float()
    per_day = fields.Float()
    anomaly = fields.String(allow_none=True)


class DiarySchema(Schema):
    entries = fields.List(fields.Nested(DiaryEntrySchema))
    periods = fields.List(fields.Nested(PeriodSchema))
    anomaly_share = fields.Float()


class OutcomeInSchema(StrictSchema):
    kind = fields.Enum(OutcomeKind, by_value=True, required=True)
    value = fields.Float(required=True, validate=validate.Range(min=0, max=10**9))
    referral_id = fields.String(load_default=None, allow_none=True, validate=ID)
    note = fields.String(load_default="", validate=validate.Length(max=500))
    actor = actor_field()


class OutcomeSchema(Schema):
    id = fields.String()
    kind = fields.Enum(OutcomeKind, by_value=True)
    value = fields.Float()
    unit = fields.String()
    path = fields.String(allow_none=True)
    referral_id = fields.String(allow_none=True)
    note = fields.String()
    actor = fields.String()
    at = fields.AwareDateTime()


class OutcomeTotalSchema(Schema):
    building = fields.String(allow_none=True)
    counter = fields.String(allow_none=True)
    path = fields.String(allow_none=True)
    kind = fields.String()
    unit = fields.String()
    total = fields.Float()
    count = fields.Integer()


class NoteInSchema(StrictSchema):
    text = fields.String(required=True, validate=TEXT)
    actor = actor_field()


class NoteSchema(Schema):
    id = fields.String()
    text = fields.String()
    actor = fields.String()
    at = fields.AwareDateTime()


class TaskInSchema(StrictSchema):
    title = fields.String(required=True, validate=validate.Length(min=3, max=300))
    due_date = fields.Date(required=True, validate=plausible_year)
    assignee = fields.String(load_default=None, allow_none=True, validate=ACTOR)
    actor = actor_field()


class TaskSchema(Schema):
    id = fields.String()
    title = fields.String()
    due_date = fields.Date()
    assignee = fields.String(allow_none=True)
    actor = fields.String()
    at = fields.AwareDateTime()
    done_by = fields.String(allow_none=True)
    done_at = fields.AwareDateTime(allow_none=True)


class TimelineItemSchema(Schema):
    at = fields.AwareDateTime()
    kind = fields.String()
    actor = fields.String()
    summary = fields.String()
    reason = fields.String()
    ref = fields.String()


# --- queues ---


class OverdueReferralSchema(Schema):
    case_id = fields.String()
    referral_id = fields.String()
    path = fields.String()
    assignee = fields.String(allow_none=True)
    due_date = fields.Date()
    breaches = fields.Integer()
    building_id = fields.String()
    counter_id = fields.String(allow_none=True)


class CountsSchema(Schema):
    cases_by_state = fields.Dict(keys=fields.String(), values=fields.Integer())
    referrals_by_path = fields.Dict(
        keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.Integer())
    )


class BuildingCountSchema(Schema):
    building_id = fields.String()
    name = fields.String()
    cases = fields.Integer()


class ResponseTimeSchema(Schema):
    answered = fields.Integer(metadata={"description": "Invii a cui il percorso ha risposto."})
    mean = fields.Float(metadata={"description": "Ore medie dall'invio alla prima risposta."})
    median = fields.Float(metadata={"description": "Ore mediane dall'invio alla prima risposta."})


class DashboardSchema(Schema):
    total_cases = fields.Integer()
    cases_by_state = fields.Dict(keys=fields.String(), values=fields.Integer())
    cases_by_path = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "Casi con almeno un invio (non solo proposto) al percorso."},
    )
    cases_by_building = fields.List(fields.Nested(BuildingCountSchema))
    referrals_by_path = fields.Dict(
        keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.Integer())
    )
    first_response_hours = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(ResponseTimeSchema),
        metadata={"description": "Per percorso, sugli invii con una risposta."},
    )
