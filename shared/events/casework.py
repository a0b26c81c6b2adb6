"""Events published by casework (topic ``<prefix>.casework``; key = case id)."""

from __future__ import annotations

from marshmallow import fields, validate

from shared.events.intake import TenantErasedData
from shared.events.registry import EventData, register

PRODUCER = "casework"
CLASSIFICATIONS = ["precarieta_energetica", "poverta_energetica", "non_vulnerabile"]


class CaseEventData(EventData):
    """Every casework event names its case, who acted and when."""

    case_id = fields.String(required=True)
    actor = fields.String(required=True)
    at = fields.AwareDateTime(required=True)


class CaseAssessedData(CaseEventData):
    classification = fields.String(required=True, validate=validate.OneOf(CLASSIFICATIONS))
    proposed_classification = fields.String(load_default=None, allow_none=True)
    ruleset_version = fields.String(load_default=None, allow_none=True)


# The values of ``to_state`` that end a case: a case that reached one is over, for every follower
# (``chiuso`` also comes with ``case.closed``; ``archiviato`` only with ``case.state_changed``).
CASE_END_STATES = ("chiuso", "archiviato")


class CaseStateChangedData(CaseEventData):
    from_state = fields.String(required=True)
    to_state = fields.String(required=True)
    reason = fields.String(load_default="")


class DisconnectionDeadlineData(CaseEventData):
    """A disconnection notice's date is approaching (external deadline)."""

    disconnection_date = fields.Date(required=True)
    days_left = fields.Integer(required=True)
    # The paths whose teams hold an open referral of the case (sent or taken in charge), so they
    # are alerted too. Added to v1 with a default: events published before it load as "none".
    paths = fields.List(fields.String(), load_default=list)


class ReferralData(CaseEventData):
    """A step in a referral's life: sent, accepted, declined, completed, cancelled."""

    referral_id = fields.String(required=True)
    path = fields.String(required=True)  # welfare, casa, amat, or a configured path
    due_date = fields.Date(load_default=None, allow_none=True)
    reason = fields.String(load_default=None, allow_none=True)
    outcome = fields.String(load_default=None, allow_none=True)
    outcome_for_tenant = fields.String(load_default=None, allow_none=True)


class ReferralOverdueData(ReferralData):
    """A referral passed its response deadline (announced once per breach)."""

    breach = fields.Integer(required=True)


class HomeVisitRecordedData(CaseEventData):
    visit_id = fields.String(required=True)
    visited_at = fields.AwareDateTime(required=True)
    potential_savings_cents_per_year = fields.Integer(load_default=0)


class CaseClosedData(CaseEventData):
    outcome = fields.String(required=True)


class CaseAnonymisedData(CaseEventData):
    """A closed case's personal data was removed (retention); its statistics remain."""

    closed_at = fields.AwareDateTime(load_default=None, allow_none=True)


CASE_ASSESSED = register(
    PRODUCER,
    "casework.case.assessed",
    CaseAssessedData,
    "Un caso è stato valutato (precarietà, povertà o non vulnerabile).",
)
CASE_STATE_CHANGED = register(
    PRODUCER, "casework.case.state_changed", CaseStateChangedData, "Un caso ha cambiato stato."
)
DISCONNECTION_DEADLINE_APPROACHING = register(
    PRODUCER,
    "casework.case.disconnection_deadline_approaching",
    DisconnectionDeadlineData,
    "Si avvicina la data di distacco di un caso urgente.",
)
REFERRAL_SENT = register(
    PRODUCER,
    "casework.referral.sent",
    ReferralData,
    "Un invio a un percorso (Welfare, Casa, AMAT…) è stato inviato.",
)
REFERRAL_ACCEPTED = register(
    PRODUCER, "casework.referral.accepted", ReferralData, "Il percorso ha preso in carico l'invio."
)
REFERRAL_DECLINED = register(
    PRODUCER,
    "casework.referral.declined",
    ReferralData,
    "Il percorso ha rifiutato l'invio, con motivazione.",
)
REFERRAL_COMPLETED = register(
    PRODUCER, "casework.referral.completed", ReferralData, "L'invio si è concluso con un esito."
)
REFERRAL_CANCELLED = register(
    PRODUCER, "casework.referral.cancelled", ReferralData, "L'invio è stato annullato."
)
REFERRAL_OVERDUE = register(
    PRODUCER,
    "casework.referral.overdue",
    ReferralOverdueData,
    "L'invio ha superato il termine di risposta del percorso.",
)
HOME_VISIT_RECORDED = register(
    PRODUCER,
    "casework.home_visit.recorded",
    HomeVisitRecordedData,
    "L'esito di un sopralluogo è stato registrato.",
)
CASE_CLOSED = register(
    PRODUCER, "casework.case.closed", CaseClosedData, "Un caso è stato chiuso con un esito."
)
CASE_ANONYMISED = register(
    PRODUCER,
    "casework.case.anonymised",
    CaseAnonymisedData,
    "Un caso chiuso da più del periodo di conservazione è stato anonimizzato (restano le"
    " statistiche).",
)


TENANT_ERASED = register(
    PRODUCER,
    "casework.tenant.erased",
    TenantErasedData,
    "casework ha anonimizzato i fascicoli dell'inquilino che ha chiesto la cancellazione.",
)
