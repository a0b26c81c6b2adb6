"""Commands intake accepts: imperative, plain data, one handler each."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from services.intake.domain.model import Channel, Custodian, Need


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
class OpenCase:
    """Open a case for a tenant."""

    tenant_id: str
    building_id: str
    channel: Channel
    needs: list[Need]
    opened_by: str
    counter_id: str | None = None
    description: str = ""
    disconnection_date: date | None = None
    urgent: bool = False
