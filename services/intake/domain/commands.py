"""Commands intake accepts: imperative, plain data, one handler each."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from services.intake.domain.model import (
    AppointmentKind,
    Bill,
    Channel,
    ConsentChannel,
    CounterKind,
    Custodian,
    HardshipKind,
    HardshipSignal,
    IseeBand,
    Need,
    Schedule,
)


@dataclass(frozen=True)
class RegisterBuilding:
    """Register a housing complex and its custodi sociali."""

    name: str
    address: str
    municipio: int
    custodians: list[Custodian] = field(default_factory=list)
    committee_contact: str | None = None
    works_notes: str | None = None


@dataclass(frozen=True)
class RegisterCounter:
    """Register a counter (sportello) with its schedules and operators."""

    name: str
    kind: CounterKind
    building_id: str
    room: str
    schedules: list[Schedule]
    operators: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class UpdateBuilding:
    """Change some of a building's data (``expected_version`` guards against lost updates)."""

    building_id: str
    changes: dict[str, Any]
    expected_version: int | None = None


@dataclass(frozen=True)
class UpdateCounter:
    """Change some of a counter's data (``expected_version`` guards against lost updates)."""

    counter_id: str
    changes: dict[str, Any]
    expected_version: int | None = None


@dataclass(frozen=True)
class ConsentInput:
    """A consent as an operator records it."""

    channel: ConsentChannel
    granted: bool
    recorded_by: str


@dataclass(frozen=True)
class RegisterTenant:
    """Register a tenant of a building."""

    building_id: str
    first_name: str
    last_name: str
    fiscal_code: str
    apartment: str | None = None
    phone: str | None = None
    email: str | None = None
    preferred_language: str = "it"
    household_size: int | None = None
    consents: list[ConsentInput] = field(default_factory=list)


@dataclass(frozen=True)
class UpdateTenant:
    """Change some of a tenant's data (``expected_version`` guards against lost updates)."""

    tenant_id: str
    changes: dict[str, Any]
    expected_version: int | None = None


@dataclass(frozen=True)
class RecordConsent:
    """Give or withdraw a tenant's consent for one channel."""

    tenant_id: str
    channel: ConsentChannel
    granted: bool
    recorded_by: str


@dataclass(frozen=True)
class BookAppointment:
    """Book a meeting in a counter slot, a home visit or a group session."""

    kind: AppointmentKind
    tenant_ids: list[str]
    booked_by: str
    starts_at: datetime
    ends_at: datetime | None = None
    counter_id: str | None = None
    building_id: str | None = None
    case_id: str | None = None
    location: str = ""
    notes: str = ""


@dataclass(frozen=True)
class RescheduleAppointment:
    """Move an appointment, with the reason."""

    appointment_id: str
    starts_at: datetime
    reason: str
    actor: str
    ends_at: datetime | None = None


@dataclass(frozen=True)
class CancelAppointment:
    """Cancel an appointment, with the reason."""

    appointment_id: str
    reason: str
    actor: str


@dataclass(frozen=True)
class OpenCase:
    """Open a case for a tenant."""

    tenant_id: str
    channel: Channel
    needs: list[Need]
    opened_by: str
    building_id: str | None = None
    counter_id: str | None = None
    description: str = ""
    disconnection_date: date | None = None
    urgent: bool = False
    hardship_signals: list[HardshipSignal] = field(default_factory=list)
    hardship_kind: HardshipKind = HardshipKind.NOT_ASSESSED
    bills: list[Bill] = field(default_factory=list)
    isee_band: IseeBand | None = None
    receives_bonus_sociale: bool | None = None
    linked_case_id: str | None = None
