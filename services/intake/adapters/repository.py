"""Repositories: turn intake's documents into domain objects and back."""

from __future__ import annotations

from collections.abc import Iterable

from services.intake.adapters.documents import BuildingDoc, CaseDoc, CustodianDoc
from services.intake.domain.model import (
    Building,
    Case,
    Channel,
    ContactChannel,
    Custodian,
    Need,
)
from shared.events import Event
from shared.outbox import stage


class BuildingRepository:
    """Buildings in MongoDB."""

    def add(self, building: Building) -> None:
        """Insert a new building."""
        _building_doc(building).save(force_insert=True)

    def get(self, building_id: str) -> Building | None:
        """The building with ``building_id``, if any."""
        doc = BuildingDoc.objects(id=building_id).first()
        return _building(doc) if doc else None

    def list(
        self, municipio: int | None = None, limit: int = 100, offset: int = 0
    ) -> list[Building]:
        """Buildings sorted by name."""
        query = BuildingDoc.objects(municipio=municipio) if municipio else BuildingDoc.objects
        return [_building(d) for d in query.order_by("name").skip(offset).limit(limit)]

    def count(self) -> int:
        """How many buildings there are."""
        return BuildingDoc.objects.count()


class CaseRepository:
    """Cases in MongoDB; each write stores the case and its events together."""

    def __init__(self, topic: str) -> None:
        self.topic = topic

    def add(self, case: Case, events: Iterable[Event]) -> None:
        """Insert a new case with its events in the same document write."""
        doc = CaseDoc(
            id=case.id,
            tenant_id=case.tenant_id,
            building_id=case.building_id,
            counter_id=case.counter_id,
            channel=case.channel.value,
            needs=[n.value for n in case.needs],
            description=case.description,
            disconnection_date=case.disconnection_date,
            urgent=case.urgent,
            opened_by=case.opened_by,
            opened_at=case.opened_at,
        )
        stage(doc, self.topic, events)
        doc.save(force_insert=True)

    def get(self, case_id: str) -> Case | None:
        """The case with ``case_id``, if any."""
        doc = CaseDoc.objects(id=case_id).exclude("outbox").first()
        if doc is None:
            return None
        return Case(
            id=doc.id,
            tenant_id=doc.tenant_id,
            building_id=doc.building_id,
            counter_id=doc.counter_id,
            channel=Channel(doc.channel),
            needs=[Need(n) for n in doc.needs],
            description=doc.description,
            disconnection_date=doc.disconnection_date,
            urgent=doc.urgent,
            opened_by=doc.opened_by,
            opened_at=doc.opened_at,
        )


def _building_doc(b: Building) -> BuildingDoc:
    return BuildingDoc(
        id=b.id,
        name=b.name,
        address=b.address,
        municipio=b.municipio,
        custodians=[
            CustodianDoc(name=c.name, email=c.email, phone=c.phone, channel=c.channel.value)
            for c in b.custodians
        ],
        committee_contact=b.committee_contact,
        works_notes=b.works_notes,
    )


def _building(doc: BuildingDoc) -> Building:
    return Building(
        id=doc.id,
        name=doc.name,
        address=doc.address,
        municipio=doc.municipio,
        custodians=[
            Custodian(name=c.name, email=c.email, phone=c.phone, channel=ContactChannel(c.channel))
            for c in doc.custodians
        ],
        committee_contact=doc.committee_contact,
        works_notes=doc.works_notes,
    )
