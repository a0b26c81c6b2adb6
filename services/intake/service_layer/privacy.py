"""intake's side of the GDPR rights: erasure on request, confirmed by every service by events.

intake owns the tenant, so the request is made here (``POST /api/v1/privacy/tenants/<id>/erasure``).
intake anonymises what it holds, then stores the request with its
``intake.tenant.erasure_requested`` event in one write; casework and notifications anonymise theirs
and answer with ``<service>.tenant.erased``, which intake records. The erasure is ``completata``
when every service has confirmed.
"""

from __future__ import annotations

from typing import Any

from services.intake.domain.model import new_id
from services.intake.service_layer.handlers import Dependencies, release_case_claims
from shared.domain import NotFound
from shared.events import Event, make_event
from shared.events.casework import CASE_ANONYMISED
from shared.events.casework import TENANT_ERASED as CASEWORK_ERASED
from shared.events.intake import TENANT_ERASURE_REQUESTED
from shared.events.notifications import TENANT_ERASED as NOTIFICATIONS_ERASED

# Every service that holds personal data, and so must confirm an erasure.
SERVICES = ("intake", "casework", "notifications")


def request_erasure(deps: Dependencies, tenant_id: str, requested_by: str, reason: str) -> dict:
    """Erase a tenant here and ask the other services to; a repeated request returns the first.

    Each step is idempotent and the request is stored last, so a request interrupted halfway is
    finished by asking again.
    """
    store = deps.privacy
    existing = store.erasure(tenant_id)
    if existing is not None:
        return erasure_view(existing)
    if deps.tenants.get(tenant_id) is None:
        raise NotFound("Inquilino non trovato.", id=tenant_id)
    case_ids = store.anonymise_cases(tenant_id)
    appointments = store.anonymise_appointments(tenant_id)
    store.anonymise_tenant(tenant_id)
    # A case opened meanwhile by a request that read the tenant before it was anonymised, and
    # listed by now: found by a second look. This narrows the race, it does not close it (such a
    # request may still be writing); casework erases its case file when it arrives.
    case_ids += store.anonymise_cases(tenant_id)
    store.drop_idempotent_answers([tenant_id, *case_ids])
    at = deps.clock()
    erasure_id = new_id("era")
    event = make_event(
        TENANT_ERASURE_REQUESTED,
        tenant_id,
        {
            "erasure_id": erasure_id,
            "tenant_id": tenant_id,
            "requested_by": requested_by,
            "requested_at": at.isoformat(),
        },
    )
    record = {
        "erasure_id": erasure_id,
        "tenant_id": tenant_id,
        "requested_by": requested_by,
        "requested_at": at,
        "reason": reason,
        "confirmations": {"intake": {"at": at, "records": 1 + len(case_ids) + appointments}},
    }
    store.record_erasure(tenant_id, record, event)
    stored = store.erasure(tenant_id)
    assert stored is not None  # just written (or written by a concurrent twin request)
    return erasure_view(stored)


def erasure_status(deps: Dependencies, tenant_id: str) -> dict:
    """The erasure request of a tenant and who has confirmed it (404 if none was made)."""
    record = deps.privacy.erasure(tenant_id)
    if record is None:
        raise NotFound("Nessuna richiesta di cancellazione per questo inquilino.", id=tenant_id)
    return erasure_view(record)


def erasure_view(record: dict[str, Any]) -> dict[str, Any]:
    """The request as the API shows it: ``completata`` once every service confirmed."""
    confirmations = record.get("confirmations") or {}
    pending = [s for s in SERVICES if s not in confirmations]
    return {
        "id": record["erasure_id"],
        "tenant_id": record["tenant_id"],
        "requested_by": record["requested_by"],
        "requested_at": record["requested_at"],
        "reason": record.get("reason", ""),
        "state": "in_corso" if pending else "completata",
        "confirmations": [
            {"service": s, "at": c["at"], "records": c["records"]}
            for s, c in sorted(confirmations.items())
        ],
        "pending": pending,
    }


def on_tenant_erased(event: Event, deps: Dependencies) -> None:
    """A service confirmed an erasure: record it (idempotent)."""
    service = {CASEWORK_ERASED: "casework", NOTIFICATIONS_ERASED: "notifications"}[event.type]
    deps.privacy.confirm(event.data["tenant_id"], service, event.data["at"], event.data["records"])


def on_case_anonymised(event: Event, deps: Dependencies) -> None:
    """casework's retention anonymised an ended case: intake's copy follows (idempotent).

    casework anonymises only closed or archived cases, so the case's (tenant, need) claims go
    first, while the copy still names the tenant they are keyed by (a case ended before intake
    followed archiving would otherwise hold them for ever).
    """
    case = deps.cases.get(event.data["case_id"])
    if case is not None:
        release_case_claims(deps, case)
    deps.privacy.anonymise_case(event.data["case_id"])


PRIVACY_EVENT_HANDLERS = {
    CASEWORK_ERASED: on_tenant_erased,
    NOTIFICATIONS_ERASED: on_tenant_erased,
    CASE_ANONYMISED: on_case_anonymised,
}
