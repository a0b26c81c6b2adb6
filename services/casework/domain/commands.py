"""Commands casework accepts: imperative, plain data, one handler each."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from services.casework.domain import energy
from services.casework.domain.assessment import Classification, Evidence
from services.casework.domain.model import CaseState, OutcomeKind


@dataclass(frozen=True)
class ChangeState:
    """Move a case along its lifecycle (closing needs an outcome)."""

    case_id: str
    to_state: CaseState
    actor: str
    reason: str = ""
    outcome: str | None = None


@dataclass(frozen=True)
class AssignCase:
    """Put an operator in charge of a case."""

    case_id: str
    assignee: str
    actor: str


@dataclass(frozen=True)
class AssessCase:
    """Record a person's classification; the rule set's proposal is stored beside it."""

    case_id: str
    classification: Classification
    evidence: Evidence
    actor: str
    note: str = ""


@dataclass(frozen=True)
class ProposeReferral:
    """Propose a referral of a case to a path."""

    case_id: str
    path: str
    reason: str
    actor: str
    assignee: str | None = None


@dataclass(frozen=True)
class SendReferral:
    """Send a proposed referral to its path."""

    case_id: str
    referral_id: str
    actor: str
    recipient: str | None = None


@dataclass(frozen=True)
class AcceptReferral:
    """The path takes the referral in charge."""

    case_id: str
    referral_id: str
    actor: str


@dataclass(frozen=True)
class DeclineReferral:
    """The path declines the referral."""

    case_id: str
    referral_id: str
    reason: str
    actor: str


@dataclass(frozen=True)
class MeasuredFigure:
    """A measured outcome reported with a referral's completion."""

    kind: OutcomeKind
    value: float
    note: str = ""


@dataclass(frozen=True)
class CompleteReferral:
    """The path reports the outcome of the referral."""

    case_id: str
    referral_id: str
    outcome: str
    outcome_for_tenant: str
    actor: str
    measured: list[MeasuredFigure] = field(default_factory=list)


@dataclass(frozen=True)
class CancelReferral:
    """Cancel a referral that is not over."""

    case_id: str
    referral_id: str
    reason: str
    actor: str


@dataclass(frozen=True)
class ReassignReferral:
    """Hand a sent referral to someone else (its deadline starts again)."""

    case_id: str
    referral_id: str
    assignee: str
    actor: str
    reason: str = ""


@dataclass(frozen=True)
class RecordHomeVisit:
    """Record a home visit (sopralluogo)."""

    case_id: str
    visited_at: datetime
    rooms: list[energy.RoomReading]
    appliances: list[energy.ApplianceMeasurement]
    recommendations: list[energy.Recommendation]
    actor: str


@dataclass(frozen=True)
class AddDiaryEntry:
    """A meter reading and/or a note in the energy diary."""

    case_id: str
    read_on: date
    actor: str
    commodity: str | None = None
    value: float | None = None
    note: str = ""


@dataclass(frozen=True)
class RecordOutcome:
    """A measured outcome of the help given."""

    case_id: str
    kind: OutcomeKind
    value: float
    actor: str
    referral_id: str | None = None
    note: str = ""


@dataclass(frozen=True)
class AddNote:
    """A note on a case."""

    case_id: str
    text: str
    actor: str


@dataclass(frozen=True)
class AddTask:
    """A task with a due date."""

    case_id: str
    title: str
    due_date: date
    actor: str
    assignee: str | None = None


@dataclass(frozen=True)
class CompleteTask:
    """Mark a task done."""

    case_id: str
    task_id: str
    actor: str
