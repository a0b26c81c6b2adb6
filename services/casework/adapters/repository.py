"""Case files in MongoDB."""

from __future__ import annotations

from mongoengine import NotUniqueError

from services.casework.adapters.documents import BuildingSnapshotDoc, CaseFileDoc
from services.casework.domain.model import BuildingSnapshot, CaseFile, CaseState


class CaseFileRepository:
    """Case files, keyed by intake's case id."""

    def add_once(self, case_file: CaseFile) -> bool:
        """Insert ``case_file`` unless it exists; False when it was already there (redelivery)."""
        b = case_file.building
        doc = CaseFileDoc(
            id=case_file.id,
            tenant_id=case_file.tenant_id,
            building=BuildingSnapshotDoc(
                id=b.id, name=b.name, address=b.address, municipio=b.municipio
            ),
            counter_id=case_file.counter_id,
            channel=case_file.channel,
            needs=case_file.needs,
            description=case_file.description,
            urgent=case_file.urgent,
            disconnection_date=case_file.disconnection_date,
            opened_by=case_file.opened_by,
            opened_at=case_file.opened_at,
            state=case_file.state.value,
            source_event_id=case_file.source_event_id,
            applied_events=[case_file.source_event_id],
        )
        try:
            doc.save(force_insert=True)
        except NotUniqueError:
            return False
        return True

    def get(self, case_id: str) -> CaseFile | None:
        """The case file of ``case_id``, if any."""
        doc = CaseFileDoc.objects(id=case_id).exclude("outbox").first()
        return _case_file(doc) if doc else None

    def list(self, state: str | None = None, limit: int = 50, offset: int = 0) -> list[CaseFile]:
        """Case files, newest first."""
        query = CaseFileDoc.objects(state=state) if state else CaseFileDoc.objects
        docs = query.exclude("outbox").order_by("-opened_at").skip(offset).limit(limit)
        return [_case_file(d) for d in docs]


def _case_file(doc: CaseFileDoc) -> CaseFile:
    b = doc.building
    return CaseFile(
        id=doc.id,
        tenant_id=doc.tenant_id,
        building=BuildingSnapshot(b.id, b.name, b.address, b.municipio),
        counter_id=doc.counter_id,
        channel=doc.channel,
        needs=list(doc.needs),
        description=doc.description,
        urgent=doc.urgent,
        disconnection_date=doc.disconnection_date,
        opened_by=doc.opened_by,
        opened_at=doc.opened_at,
        state=CaseState(doc.state),
        source_event_id=doc.source_event_id,
    )
