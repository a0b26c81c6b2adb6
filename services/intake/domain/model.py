"""intake's domain: buildings with their custodi sociali, and cases opened for tenants.

Pure Python: no framework, no database. An aggregate records what happened in ``events``; the
service layer stores them with the aggregate (outbox) in one write.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from shared.domain import DomainError


class Channel(StrEnum):
    """How the case was opened."""

    COUNTER = "sportello"
    HOME_VISIT = "visita_domiciliare"
    GROUP_SESSION = "incontro_plenario"
    PHONE = "telefono"


class Need(StrEnum):
    """What the tenant needs help with."""

    BILL_READING = "lettura_bollette"
    SUPPLIER_COMPARISON = "analisi_fornitori"
    ARREARS = "morosita"
    HEATING_COMFORT = "riscaldamento_comfort"
    APPLIANCE_CONSUMPTION = "consumi_elettrodomestici"
    ENERGY_DIARY = "diario_energetico"
    WORKS_INFORMATION = "informazioni_lavori"
    OTHER = "altro"


class ContactChannel(StrEnum):
    """How a custode sociale prefers to be reached."""

    EMAIL = "email"
    SMS = "sms"
    INBOX = "inbox"


def new_id(prefix: str) -> str:
    """A readable unique id, e.g. ``case_4f1c…``."""
    return f"{prefix}_{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Custodian:
    """A custode sociale of a building (the Municipio's social custodian)."""

    name: str
    email: str | None = None
    phone: str | None = None
    channel: ContactChannel = ContactChannel.EMAIL


@dataclass
class Building:
    """A public-housing complex (complesso SAP/ERP) where a counter works or tenants live."""

    id: str
    name: str
    address: str
    municipio: int
    custodians: list[Custodian] = field(default_factory=list)
    committee_contact: str | None = None
    works_notes: str | None = None


@dataclass(frozen=True)
class CaseOpened:
    """Domain event: a case was opened."""

    case_id: str


@dataclass
class Case:
    """A tenant's request for help at the Sportello Energia."""

    id: str
    tenant_id: str
    building_id: str
    counter_id: str | None
    channel: Channel
    needs: list[Need]
    description: str
    disconnection_date: date | None
    urgent: bool
    opened_by: str
    opened_at: datetime
    events: list[object] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def open(
        cls,
        *,
        tenant_id: str,
        building_id: str,
        counter_id: str | None,
        channel: Channel,
        needs: list[Need],
        description: str,
        disconnection_date: date | None,
        urgent: bool,
        opened_by: str,
        now: datetime,
    ) -> Case:
        """Open a case. A disconnection notice makes it urgent (a deadline set from outside)."""
        if not needs:
            raise DomainError("Indicare almeno un bisogno.", field="needs")
        case = cls(
            id=new_id("case"),
            tenant_id=tenant_id,
            building_id=building_id,
            counter_id=counter_id,
            channel=channel,
            needs=list(dict.fromkeys(needs)),
            description=description,
            disconnection_date=disconnection_date,
            urgent=urgent or disconnection_date is not None,
            opened_by=opened_by,
            opened_at=now,
        )
        case.events.append(CaseOpened(case.id))
        return case
