"""casework's domain: the case file built from intake's events.

Pure Python. The full lifecycle (assessment, referrals, deadlines) grows here; the foundation
holds what a case file starts with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class CaseState(StrEnum):
    """Where a case file stands."""

    OPEN = "aperto"


@dataclass(frozen=True)
class BuildingSnapshot:
    """Only what casework needs about the building."""

    id: str
    name: str
    address: str
    municipio: int


@dataclass
class CaseFile:
    """A case file, opened from intake's ``case.opened``."""

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
    events: list[object] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def from_intake(cls, event_id: str, data: dict) -> CaseFile:
        """Open the file of a case intake opened (``data`` is the validated event data)."""
        b = data["building"]
        return cls(
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
        )
