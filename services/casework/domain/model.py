"""casework's domain: the case file, its lifecycle, its referrals and what the desk records.

Pure Python. The case file is one aggregate: every change goes through one of its methods, which
enforce the rules, record who did what, when and why, and append the domain events the change
causes to ``events`` (the service layer stores them in the same write, as contract events).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from services.casework.domain import energy
from services.casework.domain.assessment import Classification, Evidence, Proposal, propose
from services.casework.domain.paths import ReferralPath
from services.casework.domain.workdays import add_working_days
from shared.domain import Conflict, DomainError, NotFound


def new_id(prefix: str) -> str:
    """A new opaque id with a readable prefix."""
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


class CaseState(StrEnum):
    """Where a case file stands."""

    OPEN = "aperto"
    ASSESSING = "in_valutazione"
    IN_CHARGE = "in_carico"
    SUSPENDED = "sospeso"
    CLOSED = "chiuso"
    ARCHIVED = "archiviato"


# The case lifecycle. ``chiuso`` ends with an outcome; ``archiviato`` ends a case not pursued.
CASE_TRANSITIONS: dict[CaseState, tuple[CaseState, ...]] = {
    CaseState.OPEN: (CaseState.ASSESSING, CaseState.ARCHIVED),
    CaseState.ASSESSING: (
        CaseState.IN_CHARGE,
        CaseState.SUSPENDED,
        CaseState.CLOSED,
        CaseState.ARCHIVED,
    ),
    CaseState.IN_CHARGE: (CaseState.SUSPENDED, CaseState.CLOSED),
    CaseState.SUSPENDED: (
        CaseState.ASSESSING,
        CaseState.IN_CHARGE,
        CaseState.CLOSED,
        CaseState.ARCHIVED,
    ),
    CaseState.CLOSED: (),
    CaseState.ARCHIVED: (),
}
TERMINAL_CASE_STATES = (CaseState.CLOSED, CaseState.ARCHIVED)
# What an anonymised case file says instead of a tenant's id or a free-text outcome.
ANONYMOUS = "anonimizzato"
ERASURE_REASON = "cancellazione dei dati richiesta dall'interessato (GDPR art. 17)"


class ReferralState(StrEnum):
    """Where a referral stands."""

    PROPOSED = "proposta"
    SENT = "inviata"
    ACCEPTED = "presa_in_carico"
    DECLINED = "rifiutata"
    COMPLETED = "completata"
    CANCELLED = "annullata"


REFERRAL_TRANSITIONS: dict[ReferralState, tuple[ReferralState, ...]] = {
    ReferralState.PROPOSED: (ReferralState.SENT, ReferralState.CANCELLED),
    ReferralState.SENT: (ReferralState.ACCEPTED, ReferralState.DECLINED, ReferralState.CANCELLED),
    ReferralState.ACCEPTED: (ReferralState.COMPLETED, ReferralState.CANCELLED),
    ReferralState.DECLINED: (),
    ReferralState.COMPLETED: (),
    ReferralState.CANCELLED: (),
}
OPEN_REFERRAL_STATES = (ReferralState.PROPOSED, ReferralState.SENT, ReferralState.ACCEPTED)


class OutcomeKind(StrEnum):
    """What a measured outcome measures, and in which unit."""

    SUPPLIER_SAVING = "risparmio_fornitore"  # cents per year
    KWH_REDUCED = "riduzione_kwh"  # kWh per year
    SMC_REDUCED = "riduzione_smc"  # Smc per year
    BONUS_SOCIALE = "bonus_sociale"  # cents per year obtained
    ARREARS_SETTLED = "morosita_saldata"  # cents


OUTCOME_UNITS = {
    OutcomeKind.SUPPLIER_SAVING: "centesimi/anno",
    OutcomeKind.KWH_REDUCED: "kWh/anno",
    OutcomeKind.SMC_REDUCED: "Smc/anno",
    OutcomeKind.BONUS_SOCIALE: "centesimi/anno",
    OutcomeKind.ARREARS_SETTLED: "centesimi",
}


@dataclass(frozen=True)
class DomainEvent:
    """Something that happened to a case file; ``kind`` names the contract (e.g. referral.sent)."""

    kind: str
    data: dict[str, Any]


@dataclass(frozen=True)
class BuildingSnapshot:
    """Only what casework needs about the building."""

    id: str
    name: str
    address: str
    municipio: int


@dataclass(frozen=True)
class Bill:
    """An energy bill as intake recorded it (money in cents)."""

    supplier: str
    commodity: str
    period_start: date
    period_end: date
    amount_cents: int
    arrears_cents: int = 0
    consumption: float | None = None
    unit: str | None = None
    offer: str | None = None


@dataclass
class Transition:
    """One step of a lifecycle: who, when, why."""

    from_state: str | None
    to_state: str
    actor: str
    at: datetime
    reason: str = ""


@dataclass
class Assessment:
    """A person's classification, with the rule set's proposal beside it."""

    id: str
    classification: Classification
    proposed_classification: Classification
    ruleset_version: str
    reasons: list[str]
    evidence: Evidence
    actor: str
    at: datetime
    note: str = ""


@dataclass
class Referral:
    """A referral of the case to a path, with its own lifecycle and response deadline."""

    id: str
    path: str
    state: ReferralState
    reason: str
    created_by: str
    created_at: datetime
    assignee: str | None = None
    sent_at: datetime | None = None
    due_date: date | None = None
    breaches: int = 0
    announced_due: date | None = None
    decline_reason: str | None = None
    outcome: str | None = None
    outcome_for_tenant: str | None = None
    shared: dict[str, Any] = field(default_factory=dict)
    history: list[Transition] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        """Proposed, sent or accepted: the case cannot close."""
        return self.state in OPEN_REFERRAL_STATES

    def overdue_on(self, today: date) -> bool:
        """Sent and unanswered past its due date."""
        return (
            self.state == ReferralState.SENT and self.due_date is not None and today > self.due_date
        )


@dataclass
class Disclosure:
    """What was shared with whom: the record minimisation is audited on."""

    referral_id: str
    path: str
    recipient: str
    categories: list[str]
    actor: str
    at: datetime


@dataclass
class HomeVisit:
    """A sopralluogo: comfort per room, appliances, recommendations, computed savings."""

    id: str
    visited_at: datetime
    actor: str
    recorded_at: datetime
    rooms: list[energy.RoomReading]
    appliances: list[energy.ApplianceMeasurement]
    recommendations: list[energy.Recommendation]
    price_cents_per_kwh: float
    appliance_costs: list[energy.ApplianceCost]
    largest_savings: list[energy.Saving]
    findings: list[str]
    potential_savings_cents_per_year: int


@dataclass
class DiaryEntry:
    """A meter reading (with an optional note) or a note alone in the energy diary."""

    id: str
    read_on: date
    actor: str
    at: datetime
    commodity: str | None = None
    value: float | None = None
    note: str = ""


@dataclass
class MeasuredOutcome:
    """What the help achieved, as a figure."""

    id: str
    kind: OutcomeKind
    value: float
    unit: str
    actor: str
    at: datetime
    path: str | None = None
    referral_id: str | None = None
    note: str = ""


@dataclass
class Note:
    """A free-text note on the case."""

    id: str
    text: str
    actor: str
    at: datetime


@dataclass
class Task:
    """Something to do for the case, by a date."""

    id: str
    title: str
    due_date: date
    actor: str
    at: datetime
    assignee: str | None = None
    done_by: str | None = None
    done_at: datetime | None = None


@dataclass
class CaseFile:
    """A case file, opened from intake's ``case.opened``; ``version`` guards concurrent writes."""

    id: str
    tenant_id: str
    building: BuildingSnapshot
    counter_id: str | None
    channel: str
    needs: list[str]
    description: str
    urgent: bool
    disconnection_date: date | None
    opened_by: str
    opened_at: datetime
    state: CaseState = CaseState.OPEN
    source_event_id: str = ""
    hardship_signals: list[str] = field(default_factory=list)
    bills: list[Bill] = field(default_factory=list)
    isee_band: str | None = None
    receives_bonus_sociale: bool | None = None
    assignee: str | None = None
    classification: Classification | None = None
    outcome: str | None = None
    history: list[Transition] = field(default_factory=list)
    assessments: list[Assessment] = field(default_factory=list)
    referrals: list[Referral] = field(default_factory=list)
    disclosures: list[Disclosure] = field(default_factory=list)
    visits: list[HomeVisit] = field(default_factory=list)
    diary: list[DiaryEntry] = field(default_factory=list)
    outcomes: list[MeasuredOutcome] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    disconnection_alerts: list[int] = field(default_factory=list)
    anonymised_at: datetime | None = None
    version: int = 0
    events: list[DomainEvent] = field(default_factory=list, compare=False, repr=False)

    # --- opening ------------------------------------------------------------------------------

    @classmethod
    def from_intake(cls, event_id: str, data: dict) -> CaseFile:
        """Open the file of a case intake opened (``data`` is the validated event data).

        Only what casework needs is kept: no custodian contacts, no tenant's personal details.
        """
        b = data["building"]
        for bill in data.get("bills") or []:
            if bill["period_end"] < bill["period_start"]:
                # Valid by the contract, impossible in fact: the event is refused (and the
                # consumer dead-letters it after its retries) rather than stored half-true.
                raise DomainError(
                    "Bolletta con periodo non valido: la fine precede l'inizio.",
                    code="invalid_bill_period",
                    supplier=bill["supplier"],
                )
        case = cls(
            id=data["case_id"],
            tenant_id=data["tenant_id"],
            building=BuildingSnapshot(b["id"], b["name"], b["address"], b["municipio"]),
            counter_id=data.get("counter_id"),
            channel=data["channel"],
            needs=list(data["needs"]),
            description=data.get("description", ""),
            urgent=bool(data.get("urgent")),
            disconnection_date=data.get("disconnection_date"),
            opened_by=data["opened_by"],
            opened_at=data["opened_at"],
            source_event_id=event_id,
            hardship_signals=list(data.get("hardship_signals") or []),
            bills=[
                Bill(
                    supplier=x["supplier"],
                    commodity=x["commodity"],
                    period_start=x["period_start"],
                    period_end=x["period_end"],
                    amount_cents=x["amount_cents"],
                    arrears_cents=x.get("arrears_cents") or 0,
                    consumption=x.get("consumption"),
                    unit=x.get("unit"),
                    offer=x.get("offer"),
                )
                for x in data.get("bills") or []
            ],
            isee_band=data.get("isee_band"),
            receives_bonus_sociale=data.get("receives_bonus_sociale"),
        )
        case.history.append(
            Transition(None, CaseState.OPEN.value, data["opened_by"], data["opened_at"], "apertura")
        )
        return case

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def is_terminal(self) -> bool:
        """Closed or archived: nothing more can change."""
        return self.state in TERMINAL_CASE_STATES

    @property
    def open_referrals(self) -> list[Referral]:
        """Referrals not yet ended."""
        return [r for r in self.referrals if r.is_open]

    def _require_active(self) -> None:
        if self.is_terminal:
            raise Conflict(
                f"Il caso è {self.state.value}: non può più essere modificato.",
                code="case_terminal",
                state=self.state.value,
            )

    # --- retention ----------------------------------------------------------------------------

    @property
    def closed_at(self) -> datetime | None:
        """When the case reached its terminal state (closed or archived), if it has."""
        if not self.is_terminal:
            return None
        ends = [t.at for t in self.history if t.to_state in {s.value for s in TERMINAL_CASE_STATES}]
        return ends[-1] if ends else None

    def retention_expired(self, now: datetime, keep: timedelta) -> bool:
        """Closed (or archived) longer than ``keep`` ago and not yet anonymised."""
        closed = self.closed_at
        return self.anonymised_at is None and closed is not None and closed <= now - keep

    def anonymise(self, actor: str, at: datetime) -> None:
        """Keep only non-personal statistics of a closed case; the rest is removed for good.

        Kept: building and municipio, counter, channel, needs, urgency, dates, states and their
        history, classification, referral paths with their states and deadlines, disclosures (the
        minimisation record), measured outcomes (kind, value, unit, path). Removed: the link to
        the tenant and every free text, figure or observation about the household.
        """
        if not self.is_terminal:
            raise Conflict(
                "Solo un caso chiuso o archiviato può essere anonimizzato.",
                code="case_not_terminal",
                state=self.state.value,
            )
        if self.anonymised_at is not None:
            return
        self.tenant_id = ANONYMOUS
        self.description = ""
        self.outcome = ANONYMOUS if self.outcome else self.outcome
        self.disconnection_date = None
        self.hardship_signals = []
        self.bills = []
        self.isee_band = None
        self.receives_bonus_sociale = None
        for t in self.history:
            t.reason = ""
        for a in self.assessments:
            a.reasons, a.evidence, a.note = [], Evidence(), ""
        for r in self.referrals:
            r.reason, r.decline_reason, r.shared = "", None, {}
            r.outcome = ANONYMOUS if r.outcome else None
            r.outcome_for_tenant = None
            for t in r.history:
                t.reason = ""
        self.visits, self.diary, self.notes, self.tasks = [], [], [], []
        for o in self.outcomes:
            o.note = ""
        self.anonymised_at = at
        closed = self.closed_at
        self.events.append(
            DomainEvent(
                "case.anonymised",
                {"case_id": self.id, "actor": actor, "at": at, "closed_at": closed},
            )
        )

    def erase(self, actor: str, at: datetime) -> None:
        """The tenant asked to be erased (GDPR art. 17): end the case, whatever its state, and
        anonymise it. Open referrals are cancelled (their paths hear of it), an unfinished case is
        archived outside the usual lifecycle (a legal duty, not a decision on the case)."""
        if self.anonymised_at is not None:
            return
        for referral in self.open_referrals:
            self.cancel_referral(referral.id, ERASURE_REASON, actor, at)
        if not self.is_terminal:
            previous = self.state
            self.state = CaseState.ARCHIVED
            self.history.append(
                Transition(previous.value, CaseState.ARCHIVED.value, actor, at, ERASURE_REASON)
            )
            self.events.append(
                DomainEvent(
                    "case.state_changed",
                    {
                        "case_id": self.id,
                        "actor": actor,
                        "at": at,
                        "from_state": previous.value,
                        "to_state": CaseState.ARCHIVED.value,
                        "reason": ERASURE_REASON,
                    },
                )
            )
        self.anonymise(actor, at)

    def transition(
        self, to: CaseState, actor: str, at: datetime, reason: str = "", outcome: str | None = None
    ) -> None:
        """Move the case to ``to``; a forbidden move raises ``Conflict`` naming what is allowed."""
        allowed = CASE_TRANSITIONS[self.state]
        if to not in allowed:
            raise Conflict(
                f"Transizione non consentita: il caso è '{self.state.value}'"
                + (
                    f", stati successivi ammessi: {', '.join(s.value for s in allowed)}."
                    if allowed
                    else ", che è uno stato finale."
                ),
                code="forbidden_transition",
                current_state=self.state.value,
                allowed=[s.value for s in allowed],
                requested=to.value,
            )
        if to in TERMINAL_CASE_STATES and self.open_referrals:
            raise Conflict(
                "Il caso non può essere chiuso o archiviato finché ha invii aperti.",
                code="open_referrals",
                open_referrals=[r.id for r in self.open_referrals],
            )
        if to == CaseState.CLOSED and not (outcome and outcome.strip()):
            raise DomainError("Per chiudere il caso serve un esito.", code="outcome_required")
        previous = self.state
        self.state = to
        self.history.append(Transition(previous.value, to.value, actor, at, reason))
        base = {"case_id": self.id, "actor": actor, "at": at}
        self.events.append(
            DomainEvent(
                "case.state_changed",
                {**base, "from_state": previous.value, "to_state": to.value, "reason": reason},
            )
        )
        if to == CaseState.CLOSED:
            self.outcome = outcome
            self.events.append(DomainEvent("case.closed", {**base, "outcome": outcome}))

    def assign(self, assignee: str, actor: str, at: datetime) -> None:
        """Make ``assignee`` the operator in charge of the case (their "my cases" queue)."""
        self._require_active()
        previous = self.assignee
        self.assignee = assignee
        self.notes.append(
            Note(
                new_id("note"),
                f"Assegnato a {assignee} (prima: {previous or 'nessuno'})",
                actor,
                at,
            )
        )

    # --- assessment ---------------------------------------------------------------------------

    def evidence_from_file(self, evidence: Evidence) -> Evidence:
        """``evidence`` completed with what the file already knows (arrears, visits, signals)."""
        arrears = evidence.arrears_cents or sum(b.arrears_cents for b in self.bills)
        findings = evidence.home_visit_findings or [f for v in self.visits for f in v.findings]
        signals = sorted(set(evidence.hardship_signals) | set(self.hardship_signals))
        return Evidence(
            income_cents_per_year=evidence.income_cents_per_year,
            energy_spend_cents_per_year=evidence.energy_spend_cents_per_year,
            arrears_cents=arrears,
            disconnection_risk=evidence.disconnection_risk or self.disconnection_date is not None,
            isee_band=evidence.isee_band,
            hardship_signals=signals,
            home_visit_findings=findings,
            indicators=list(evidence.indicators),
        )

    def proposal(self, evidence: Evidence) -> tuple[Evidence, Proposal]:
        """The rule set's proposal on ``evidence`` completed from the file."""
        full = self.evidence_from_file(evidence)
        return full, propose(full)

    def assess(
        self,
        classification: Classification,
        evidence: Evidence,
        actor: str,
        at: datetime,
        note: str = "",
    ) -> Assessment:
        """Record a person's classification beside the rule set's proposal (history kept)."""
        self._require_active()
        full, proposal = self.proposal(evidence)
        assessment = Assessment(
            id=new_id("ass"),
            classification=classification,
            proposed_classification=proposal.classification,
            ruleset_version=proposal.ruleset_version,
            reasons=proposal.reasons,
            evidence=full,
            actor=actor,
            at=at,
            note=note,
        )
        self.assessments.append(assessment)
        self.classification = classification
        self.events.append(
            DomainEvent(
                "case.assessed",
                {
                    "case_id": self.id,
                    "actor": actor,
                    "at": at,
                    "classification": classification.value,
                    "proposed_classification": proposal.classification.value,
                    "ruleset_version": proposal.ruleset_version,
                },
            )
        )
        return assessment

    # --- external deadline: disconnection -----------------------------------------------------

    def check_disconnection(
        self, today: date, thresholds_days: list[int], actor: str, at: datetime
    ) -> bool:
        """Escalate once per threshold crossed as the disconnection date approaches.

        Returns True when something was announced. The case becomes urgent.
        """
        if self.is_terminal or self.disconnection_date is None:
            return False
        days_left = (self.disconnection_date - today).days
        crossed = [
            t for t in thresholds_days if days_left <= t and t not in self.disconnection_alerts
        ]
        if not crossed or days_left < 0:
            return False
        self.disconnection_alerts = sorted(set(self.disconnection_alerts) | set(crossed))
        self.urgent = True
        self.events.append(
            DomainEvent(
                "case.disconnection_deadline_approaching",
                {
                    "case_id": self.id,
                    "actor": actor,
                    "at": at,
                    "disconnection_date": self.disconnection_date,
                    "days_left": days_left,
                    "paths": self.paths_holding_referrals,
                },
            )
        )
        return True

    # --- referrals ----------------------------------------------------------------------------

    def referral(self, referral_id: str) -> Referral:
        """The referral ``referral_id`` of this case."""
        for r in self.referrals:
            if r.id == referral_id:
                return r
        raise NotFound("Invio non trovato.", id=referral_id)

    def propose_referral(
        self, path: ReferralPath, reason: str, actor: str, at: datetime, assignee: str | None = None
    ) -> Referral:
        """Propose a referral to ``path`` (not yet sent)."""
        self._require_active()
        referral = Referral(
            id=new_id("ref"),
            path=path.name,
            state=ReferralState.PROPOSED,
            reason=reason,
            created_by=actor,
            created_at=at,
            assignee=assignee,
            history=[Transition(None, ReferralState.PROPOSED.value, actor, at, reason)],
        )
        self.referrals.append(referral)
        return referral

    def _move_referral(
        self, referral: Referral, to: ReferralState, actor: str, at: datetime, reason: str = ""
    ) -> None:
        self._require_active()
        allowed = REFERRAL_TRANSITIONS[referral.state]
        if to not in allowed:
            raise Conflict(
                f"Transizione dell'invio non consentita: l'invio è '{referral.state.value}'"
                + (
                    f", stati successivi ammessi: {', '.join(s.value for s in allowed)}."
                    if allowed
                    else ", che è uno stato finale."
                ),
                code="forbidden_transition",
                current_state=referral.state.value,
                allowed=[s.value for s in allowed],
                requested=to.value,
            )
        referral.history.append(Transition(referral.state.value, to.value, actor, at, reason))
        referral.state = to

    def _referral_event(
        self, kind: str, referral: Referral, actor: str, at: datetime, **extra: Any
    ) -> None:
        self.events.append(
            DomainEvent(
                kind,
                {
                    "case_id": self.id,
                    "actor": actor,
                    "at": at,
                    "referral_id": referral.id,
                    "path": referral.path,
                    "due_date": referral.due_date,
                    **extra,
                },
            )
        )

    def send_referral(
        self,
        referral_id: str,
        path: ReferralPath,
        actor: str,
        at: datetime,
        recipient: str | None = None,
    ) -> Referral:
        """Send a proposed referral: its dossier holds only what the path may see; due date set."""
        referral = self.referral(referral_id)
        self._move_referral(referral, ReferralState.SENT, actor, at)
        if recipient:
            referral.assignee = recipient
        referral.sent_at = at
        referral.due_date = add_working_days(at.date(), path.response_working_days)
        referral.shared = self.dossier(path)
        self.disclosures.append(
            Disclosure(
                referral.id,
                path.name,
                referral.assignee or path.label,
                sorted(path.shares),
                actor,
                at,
            )
        )
        self._referral_event("referral.sent", referral, actor, at, reason=referral.reason)
        return referral

    def reassign_referral(
        self,
        referral_id: str,
        path: ReferralPath,
        assignee: str,
        actor: str,
        at: datetime,
        reason: str = "",
    ) -> Referral:
        """Hand a sent referral to someone else: the response deadline starts again."""
        self._require_active()
        referral = self.referral(referral_id)
        if referral.state != ReferralState.SENT:
            raise Conflict(
                "Solo un invio 'inviata' può essere riassegnato: "
                f"questo è '{referral.state.value}'.",
                code="forbidden_transition",
                current_state=referral.state.value,
                allowed=[ReferralState.SENT.value],
            )
        referral.assignee = assignee
        referral.sent_at = at
        referral.due_date = add_working_days(at.date(), path.response_working_days)
        referral.history.append(
            Transition(
                referral.state.value,
                referral.state.value,
                actor,
                at,
                reason or f"riassegnato a {assignee}",
            )
        )
        self.disclosures.append(
            Disclosure(referral.id, path.name, assignee, sorted(path.shares), actor, at)
        )
        return referral

    def accept_referral(self, referral_id: str, actor: str, at: datetime) -> Referral:
        """The path takes the referral in charge."""
        referral = self.referral(referral_id)
        self._move_referral(referral, ReferralState.ACCEPTED, actor, at)
        self._referral_event("referral.accepted", referral, actor, at)
        return referral

    def decline_referral(self, referral_id: str, reason: str, actor: str, at: datetime) -> Referral:
        """The path declines the referral, with a reason."""
        if not reason.strip():
            raise DomainError("Il rifiuto richiede una motivazione.", code="reason_required")
        referral = self.referral(referral_id)
        self._move_referral(referral, ReferralState.DECLINED, actor, at, reason)
        referral.decline_reason = reason
        self._referral_event("referral.declined", referral, actor, at, reason=reason)
        return referral

    def complete_referral(
        self,
        referral_id: str,
        outcome: str,
        outcome_for_tenant: str,
        actor: str,
        at: datetime,
        measured: list[tuple[OutcomeKind, float, str]] | None = None,
    ) -> Referral:
        """The path reports its outcome; it flows back into the case (note and measured figures)."""
        if not outcome.strip() or not outcome_for_tenant.strip():
            raise DomainError(
                "Il completamento richiede l'esito e un testo chiaro per l'inquilino.",
                code="outcome_required",
            )
        referral = self.referral(referral_id)
        self._move_referral(referral, ReferralState.COMPLETED, actor, at, outcome)
        referral.outcome = outcome
        referral.outcome_for_tenant = outcome_for_tenant
        for kind, value, note in measured or []:
            self._add_outcome(kind, value, actor, at, referral.path, referral.id, note)
        self._referral_event(
            "referral.completed",
            referral,
            actor,
            at,
            outcome=outcome,
            outcome_for_tenant=outcome_for_tenant,
        )
        return referral

    def cancel_referral(self, referral_id: str, reason: str, actor: str, at: datetime) -> Referral:
        """Cancel a referral that is not over."""
        referral = self.referral(referral_id)
        self._move_referral(referral, ReferralState.CANCELLED, actor, at, reason)
        self._referral_event("referral.cancelled", referral, actor, at, reason=reason)
        return referral

    def detect_overdue(self, today: date, actor: str, at: datetime) -> list[Referral]:
        """Announce each sent referral past its due date, once per breach (per due date)."""
        announced = []
        if self.is_terminal:
            return announced
        for referral in self.referrals:
            if referral.overdue_on(today) and referral.announced_due != referral.due_date:
                referral.breaches += 1
                referral.announced_due = referral.due_date
                self._referral_event(
                    "referral.overdue", referral, actor, at, breach=referral.breaches
                )
                announced.append(referral)
        return announced

    def dossier(self, path: ReferralPath) -> dict[str, Any]:
        """What ``path`` may see of this case: only its categories (minimisation)."""
        shares = set(path.shares)
        out: dict[str, Any] = {"case_id": self.id}
        if "anagrafica" in shares:
            out["tenant_id"] = self.tenant_id
            out["building"] = {
                "id": self.building.id,
                "name": self.building.name,
                "address": self.building.address,
                "municipio": self.building.municipio,
            }
            out["counter_id"] = self.counter_id
        if "bisogni" in shares:
            out["needs"] = list(self.needs)
            out["description"] = self.description
        if "bollette" in shares:
            out["bills"] = [
                {
                    "supplier": b.supplier,
                    "offer": b.offer,
                    "commodity": b.commodity,
                    "period_start": b.period_start.isoformat(),
                    "period_end": b.period_end.isoformat(),
                    "consumption": b.consumption,
                    "unit": b.unit,
                    "amount_cents": b.amount_cents,
                }
                for b in self.bills
            ]
        if "consumi" in shares:
            out["readings"] = [
                {"commodity": d.commodity, "read_on": d.read_on.isoformat(), "value": d.value}
                for d in self.diary
                if d.commodity
            ]
            out["appliances"] = [
                {"name": c.name, "kwh_per_year": c.kwh_per_year}
                for v in self.visits
                for c in v.appliance_costs
            ]
        if "morosita" in shares:
            out["arrears_cents"] = sum(b.arrears_cents for b in self.bills)
            out["disconnection_date"] = (
                self.disconnection_date.isoformat() if self.disconnection_date else None
            )
        if "valutazione" in shares and self.assessments:
            last = self.assessments[-1]
            out["classification"] = last.classification.value
            out["assessment_reasons"] = list(last.reasons)
        if "storia_sociale" in shares:
            out["hardship_signals"] = list(self.hardship_signals)
            out["notes"] = [n.text for n in self.notes]
        if "sopralluoghi" in shares:
            out["home_visit_findings"] = [f for v in self.visits for f in v.findings]
        return out

    # --- home visits, diary, outcomes, notes, tasks -------------------------------------------

    def record_visit(
        self,
        visited_at: datetime,
        rooms: list[energy.RoomReading],
        appliances: list[energy.ApplianceMeasurement],
        recommendations: list[energy.Recommendation],
        price_cents_per_kwh: float,
        actor: str,
        at: datetime,
    ) -> HomeVisit:
        """Record a home visit and compute its appliance costs and largest savings."""
        self._require_active()
        known = {a.name for a in appliances}
        unknown = sorted({r.appliance for r in recommendations if r.appliance} - known)
        if unknown:
            raise DomainError(
                "Raccomandazioni riferite ad apparecchi non misurati: " + ", ".join(unknown),
                code="unknown_appliance",
                appliances=unknown,
            )
        largest = energy.savings(appliances, recommendations, price_cents_per_kwh)
        visit = HomeVisit(
            id=new_id("vis"),
            visited_at=visited_at,
            actor=actor,
            recorded_at=at,
            rooms=rooms,
            appliances=appliances,
            recommendations=recommendations,
            price_cents_per_kwh=price_cents_per_kwh,
            appliance_costs=energy.appliance_costs(appliances, price_cents_per_kwh),
            largest_savings=largest,
            findings=energy.comfort_findings(rooms),
            potential_savings_cents_per_year=sum(s.cents_per_year for s in largest),
        )
        self.visits.append(visit)
        self.events.append(
            DomainEvent(
                "home_visit.recorded",
                {
                    "case_id": self.id,
                    "actor": actor,
                    "at": at,
                    "visit_id": visit.id,
                    "visited_at": visited_at,
                    "potential_savings_cents_per_year": visit.potential_savings_cents_per_year,
                },
            )
        )
        return visit

    def add_diary_entry(
        self,
        read_on: date,
        actor: str,
        at: datetime,
        commodity: str | None = None,
        value: float | None = None,
        note: str = "",
    ) -> DiaryEntry:
        """A meter reading (commodity + value) and/or a note in the energy diary."""
        self._require_active()
        if (commodity is None) != (value is None):
            raise DomainError(
                "Una lettura richiede sia il vettore (luce/gas) sia il valore.",
                code="incomplete_reading",
            )
        if commodity is None and not note.strip():
            raise DomainError("Indicare una lettura o una nota.", code="empty_diary_entry")
        entry = DiaryEntry(new_id("dia"), read_on, actor, at, commodity, value, note)
        self.diary.append(entry)
        return entry

    def consumption(self, anomaly_share: float) -> list[energy.Period]:
        """The diary's consumption per period, anomalies flagged."""
        readings = [
            energy.MeterReading(d.id, d.commodity, d.read_on, d.value)
            for d in self.diary
            if d.commodity is not None and d.value is not None
        ]
        return energy.consumption_periods(readings, anomaly_share)

    def _add_outcome(
        self,
        kind: OutcomeKind,
        value: float,
        actor: str,
        at: datetime,
        path: str | None,
        referral_id: str | None,
        note: str,
    ) -> MeasuredOutcome:
        if value < 0:
            raise DomainError(
                "Il valore di un esito misurato non può essere negativo.", code="negative_outcome"
            )
        outcome = MeasuredOutcome(
            new_id("out"), kind, value, OUTCOME_UNITS[kind], actor, at, path, referral_id, note
        )
        self.outcomes.append(outcome)
        return outcome

    def add_outcome(
        self,
        kind: OutcomeKind,
        value: float,
        actor: str,
        at: datetime,
        referral_id: str | None = None,
        note: str = "",
    ) -> MeasuredOutcome:
        """Record a measured outcome, attributed to a referral's path when given."""
        self._require_active()
        path = self.referral(referral_id).path if referral_id else None
        return self._add_outcome(kind, value, actor, at, path, referral_id, note)

    def add_note(self, text: str, actor: str, at: datetime) -> Note:
        """A note on the case."""
        self._require_active()
        note = Note(new_id("note"), text, actor, at)
        self.notes.append(note)
        return note

    def add_task(
        self, title: str, due_date: date, actor: str, at: datetime, assignee: str | None = None
    ) -> Task:
        """A task with a due date."""
        self._require_active()
        task = Task(new_id("task"), title, due_date, actor, at, assignee)
        self.tasks.append(task)
        return task

    def complete_task(self, task_id: str, actor: str, at: datetime) -> Task:
        """Mark a task done (once)."""
        for task in self.tasks:
            if task.id == task_id:
                if task.done_at is not None:
                    raise Conflict("L'attività è già completata.", code="task_done", id=task_id)
                task.done_by, task.done_at = actor, at
                return task
        raise NotFound("Attività non trovata.", id=task_id)

    # --- derived views ------------------------------------------------------------------------

    def timeline(self) -> list[dict[str, Any]]:
        """Every change, note, referral step, visit, reading, outcome and task, in time order."""
        items: list[dict[str, Any]] = []
        for t in self.history:
            items.append(
                {
                    "at": t.at,
                    "kind": "stato",
                    "actor": t.actor,
                    "summary": f"{t.from_state or '—'} → {t.to_state}",
                    "reason": t.reason,
                }
            )
        for a in self.assessments:
            items.append(
                {
                    "at": a.at,
                    "kind": "valutazione",
                    "actor": a.actor,
                    "summary": f"{a.classification.value} (proposta "
                    f"{a.proposed_classification.value}, regole {a.ruleset_version})",
                    "ref": a.id,
                }
            )
        for r in self.referrals:
            for step in r.history:
                items.append(
                    {
                        "at": step.at,
                        "kind": "invio",
                        "actor": step.actor,
                        "summary": f"{r.path}: {step.from_state or '—'} → {step.to_state}",
                        "reason": step.reason,
                        "ref": r.id,
                    }
                )
        for v in self.visits:
            items.append(
                {
                    "at": v.recorded_at,
                    "kind": "sopralluogo",
                    "actor": v.actor,
                    "summary": f"sopralluogo del {v.visited_at.date().isoformat()}, risparmio "
                    f"possibile {v.potential_savings_cents_per_year / 100:.2f} €/anno",
                    "ref": v.id,
                }
            )
        for d in self.diary:
            reading = f"{d.commodity} {d.value:g}" if d.commodity is not None else ""
            items.append(
                {
                    "at": d.at,
                    "kind": "diario",
                    "actor": d.actor,
                    "summary": f"{d.read_on.isoformat()} {reading} {d.note}".strip(),
                    "ref": d.id,
                }
            )
        for o in self.outcomes:
            items.append(
                {
                    "at": o.at,
                    "kind": "esito_misurato",
                    "actor": o.actor,
                    "summary": f"{o.kind.value}: {o.value:g} {o.unit}",
                    "ref": o.id,
                }
            )
        for n in self.notes:
            items.append(
                {"at": n.at, "kind": "nota", "actor": n.actor, "summary": n.text, "ref": n.id}
            )
        for k in self.tasks:
            items.append(
                {
                    "at": k.at,
                    "kind": "attivita",
                    "actor": k.actor,
                    "summary": f"{k.title} (entro {k.due_date.isoformat()})",
                    "ref": k.id,
                }
            )
            if k.done_at is not None:
                items.append(
                    {
                        "at": k.done_at,
                        "kind": "attivita_completata",
                        "actor": k.done_by or "",
                        "summary": k.title,
                        "ref": k.id,
                    }
                )
        for s in self.disclosures:
            items.append(
                {
                    "at": s.at,
                    "kind": "condivisione",
                    "actor": s.actor,
                    "summary": f"condiviso con {s.recipient} ({s.path}): {', '.join(s.categories)}",
                    "ref": s.referral_id,
                }
            )
        # Stable: equal times keep the order above (state before the steps it caused).
        return sorted(items, key=lambda i: i["at"])

    @property
    def referral_paths(self) -> list[str]:
        """Every path the case was referred to (the "by path" queue)."""
        return sorted({r.path for r in self.referrals})

    @property
    def paths_holding_referrals(self) -> list[str]:
        """Paths whose team holds an open referral of the case: sent or taken in charge (a
        proposal not sent yet has reached no team)."""
        holding = (ReferralState.SENT, ReferralState.ACCEPTED)
        return sorted({r.path for r in self.referrals if r.state in holding})

    @property
    def next_due(self) -> date | None:
        """Earliest due date of a referral awaiting an answer (the "overdue" queue)."""
        dues = [r.due_date for r in self.referrals if r.state == ReferralState.SENT and r.due_date]
        return min(dues) if dues else None

    @property
    def unannounced_due(self) -> date | None:
        """Earliest due date not yet announced as breached (what the overdue scan looks for)."""
        dues = [
            r.due_date
            for r in self.referrals
            if r.state == ReferralState.SENT and r.due_date and r.announced_due != r.due_date
        ]
        return min(dues) if dues else None

    def disconnection_alert_from(self, thresholds_days: list[int]) -> date | None:
        """From which day the disconnection scan has something to announce (None: nothing)."""
        if self.is_terminal or self.disconnection_date is None:
            return None
        pending = [t for t in thresholds_days if t not in self.disconnection_alerts]
        if not pending:
            return None
        return self.disconnection_date - timedelta(days=max(pending))
