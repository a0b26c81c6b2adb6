"""casework's handlers.

Event handlers (intake's events) are idempotent, so redelivery has no second effect. Command
handlers load the case file, let the domain decide, and store the new state with its events in
one compare-and-set write; a concurrent write makes them reload and decide again.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from services.casework.adapters.repository import CaseFileRepository
from services.casework.domain import commands
from services.casework.domain.model import CaseFile, DomainEvent
from services.casework.domain.paths import ReferralPath
from shared import privacy
from shared.clock import now_utc
from shared.domain import Conflict, NotFound
from shared.events import Event, make_event
from shared.events import casework as contracts
from shared.events.intake import CASE_OPENED, TENANT_ERASURE_REQUESTED

log = logging.getLogger(__name__)

T = TypeVar("T")

# Domain event kinds → the contract each one is published as.
CONTRACTS: dict[str, str] = {
    "case.assessed": contracts.CASE_ASSESSED,
    "case.state_changed": contracts.CASE_STATE_CHANGED,
    "case.closed": contracts.CASE_CLOSED,
    "case.anonymised": contracts.CASE_ANONYMISED,
    "case.disconnection_deadline_approaching": contracts.DISCONNECTION_DEADLINE_APPROACHING,
    "referral.sent": contracts.REFERRAL_SENT,
    "referral.accepted": contracts.REFERRAL_ACCEPTED,
    "referral.declined": contracts.REFERRAL_DECLINED,
    "referral.completed": contracts.REFERRAL_COMPLETED,
    "referral.cancelled": contracts.REFERRAL_CANCELLED,
    "referral.overdue": contracts.REFERRAL_OVERDUE,
    "home_visit.recorded": contracts.HOME_VISIT_RECORDED,
}

# Attempts of a read-decide-write round before a concurrent-write conflict reaches the caller.
MAX_WRITE_ATTEMPTS = 5


@dataclass
class Dependencies:
    """What casework's handlers need; ``bootstrap`` wires the real ones."""

    case_files: CaseFileRepository
    topic: str
    paths: dict[str, ReferralPath]
    clock: Callable[[], datetime] = now_utc
    energy_price_cents_per_kwh: float = 30.0
    anomaly_share: float = 0.3
    disconnection_alert_days: list[int] = field(default_factory=lambda: [10, 3, 1])

    def path(self, name: str) -> ReferralPath:
        """The configured path ``name``."""
        try:
            return self.paths[name]
        except KeyError:
            raise NotFound(
                f"Percorso sconosciuto: {name}. "
                f"Percorsi configurati: {', '.join(sorted(self.paths))}.",
                code="unknown_path",
                path=name,
            ) from None


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def contract_events(case_file: CaseFile, domain_events: list[DomainEvent]) -> list[Event]:
    """The domain's events as contract events, keyed by the case id."""
    return [
        make_event(CONTRACTS[e.kind], case_file.id, {k: _jsonable(v) for k, v in e.data.items()})
        for e in domain_events
    ]


def mutate(
    case_id: str,
    deps: Dependencies,
    change: Callable[[CaseFile, datetime], T],
    *,
    only_with_events: bool = False,
) -> T:
    """Load ``case_id``, apply ``change`` and store state and events in one guarded write.

    ``only_with_events``: skip the write when the change caused no event (the scan's no-op).
    """
    for attempt in range(MAX_WRITE_ATTEMPTS):
        if attempt:
            # Back off a little, at random, so concurrent writers stop colliding.
            time.sleep(random.uniform(0, 0.02 * attempt))
        case_file = deps.case_files.get(case_id)
        if case_file is None:
            raise NotFound("Fascicolo non trovato.", id=case_id)
        result = change(case_file, deps.clock())
        events = contract_events(case_file, case_file.events)
        if only_with_events and not events:
            return result
        if deps.case_files.save(case_file, deps.topic, events):
            case_file.events.clear()
            return result
    raise Conflict(
        "Il fascicolo è stato modificato contemporaneamente: riprova.", code="concurrent_write"
    )


# --- intake's events --------------------------------------------------------------------------


def on_case_opened(event: Event, deps: Dependencies) -> None:
    """Open the case file of a case intake opened (once, however often the event arrives)."""
    case_file = CaseFile.from_intake(event.id, event.data)
    created = deps.case_files.add_once(case_file)
    if privacy.erased(deps.case_files.collection.database, case_file.tenant_id) is not None:
        # The case was opened before the tenant's erasure and reached us after it: erase it too.
        _erase_case_files(deps, [case_file.id])
    log.info(
        "case file %s",
        "opened" if created else "already open (redelivery)",
        extra={"case_id": event.subject, "event_id": event.id},
    )


def on_cases_opened(events: list[Event], deps: Dependencies) -> set[str]:
    """A backlog's run of ``case.opened`` at once (``shared.kafka.BulkHandler``): the new case
    files in one write, their list entries in another, then one read of the erasures.

    Returns the ids of the events applied. The others (data it cannot read, a case file already
    there, a tenant erased meanwhile) are left to ``on_case_opened``, one by one, which applies
    them as it would have anyway.
    """
    opened: dict[str, CaseFile] = {}
    for event in events:
        try:
            opened[event.id] = CaseFile.from_intake(event.id, event.data)
        except Exception as exc:  # noqa: BLE001 - on_case_opened retries it, then dead-letters it
            log.debug("case.opened %s left to one-by-one: %s", event.id, exc)
    added = deps.case_files.add_new(list(opened.values()))
    # After the writes, as on_case_opened: an erasure recorded before them is seen.
    db = deps.case_files.collection.database
    erased = privacy.erased_among(db, {c.tenant_id for c in opened.values() if c.id in added})
    applied = {i for i, c in opened.items() if c.id in added and c.tenant_id not in erased}
    log.info("case files opened in bulk", extra={"applied": len(applied), "events": len(events)})
    return applied


def _erase_case_files(deps: Dependencies, case_ids: list[str]) -> None:
    """Erase these case files (an erased one is skipped) and purge their published events."""
    for case_id in case_ids:
        mutate(case_id, deps, lambda c, at: c.erase(SYSTEM_ACTOR, at), only_with_events=True)
    deps.case_files.purge_event_history(case_ids)


def on_tenant_erasure_requested(event: Event, deps: Dependencies) -> None:
    """Erase every case file of the tenant, purge their event history, confirm once.

    The erasure is marked as begun before the case files are looked for, so a case file opened
    meanwhile (its ``case.opened`` on another partition, maybe in another worker) is either
    found here or erased by ``on_case_opened``, which checks after its write. Idempotent: an
    erased file is skipped; the confirmation is stored with the erasure record in one write,
    after the files, so a redelivery after a crash finishes the work and confirms.
    """
    tenant_id, erasure_id = event.data["tenant_id"], event.data["erasure_id"]
    db = deps.case_files.collection.database
    if privacy.finished(privacy.erased(db, tenant_id)):
        return
    privacy.begin_erasure(db, tenant_id, erasure_id, deps.clock())
    case_ids = deps.case_files.ids_of_tenant(tenant_id)
    _erase_case_files(deps, case_ids)
    at = deps.clock()
    confirmation = make_event(
        contracts.TENANT_ERASED,
        tenant_id,
        {
            "erasure_id": erasure_id,
            "tenant_id": tenant_id,
            "at": at.isoformat(),
            "records": len(case_ids),
        },
    )
    privacy.record_erasure(
        db,
        tenant_id=tenant_id,
        record={"erasure_id": erasure_id, "at": at, "records": len(case_ids)},
        topic=deps.topic,
        event=confirmation,
        cipher=deps.case_files.cipher,
    )
    log.info("tenant erased", extra={"erasure_id": erasure_id, "case_files": len(case_ids)})


EVENT_HANDLERS = {
    CASE_OPENED: on_case_opened,
    TENANT_ERASURE_REQUESTED: on_tenant_erasure_requested,
}


# --- commands ---------------------------------------------------------------------------------


def change_state(cmd: commands.ChangeState, deps: Dependencies) -> CaseFile:
    """Move a case along its lifecycle."""

    def change(c: CaseFile, now: datetime) -> CaseFile:
        c.transition(cmd.to_state, cmd.actor, now, cmd.reason, cmd.outcome)
        return c

    return mutate(cmd.case_id, deps, change)


def assign_case(cmd: commands.AssignCase, deps: Dependencies) -> CaseFile:
    """Put an operator in charge of a case."""

    def change(c: CaseFile, now: datetime) -> CaseFile:
        c.assign(cmd.assignee, cmd.actor, now)
        return c

    return mutate(cmd.case_id, deps, change)


def assess_case(cmd: commands.AssessCase, deps: Dependencies) -> Any:
    """Record an assessment beside the rule set's proposal."""
    return mutate(
        cmd.case_id,
        deps,
        lambda c, now: c.assess(cmd.classification, cmd.evidence, cmd.actor, now, cmd.note),
    )


def propose_referral(cmd: commands.ProposeReferral, deps: Dependencies) -> Any:
    """Propose a referral to a configured path."""
    path = deps.path(cmd.path)
    return mutate(
        cmd.case_id,
        deps,
        lambda c, now: c.propose_referral(path, cmd.reason, cmd.actor, now, cmd.assignee),
    )


def _referral_path(deps: Dependencies, case_id: str, referral_id: str) -> ReferralPath:
    case_file = deps.case_files.get(case_id)
    if case_file is None:
        raise NotFound("Fascicolo non trovato.", id=case_id)
    return deps.path(case_file.referral(referral_id).path)


def send_referral(cmd: commands.SendReferral, deps: Dependencies) -> Any:
    """Send a referral: minimal dossier, disclosure recorded, deadline in working days."""
    path = _referral_path(deps, cmd.case_id, cmd.referral_id)
    return mutate(
        cmd.case_id,
        deps,
        lambda c, now: c.send_referral(cmd.referral_id, path, cmd.actor, now, cmd.recipient),
    )


def accept_referral(cmd: commands.AcceptReferral, deps: Dependencies) -> Any:
    """The path takes the referral in charge."""
    return mutate(
        cmd.case_id, deps, lambda c, now: c.accept_referral(cmd.referral_id, cmd.actor, now)
    )


def decline_referral(cmd: commands.DeclineReferral, deps: Dependencies) -> Any:
    """The path declines the referral."""
    return mutate(
        cmd.case_id,
        deps,
        lambda c, now: c.decline_referral(cmd.referral_id, cmd.reason, cmd.actor, now),
    )


def complete_referral(cmd: commands.CompleteReferral, deps: Dependencies) -> Any:
    """The path reports its outcome, with measured figures."""
    measured = [(m.kind, m.value, m.note) for m in cmd.measured]
    return mutate(
        cmd.case_id,
        deps,
        lambda c, now: c.complete_referral(
            cmd.referral_id, cmd.outcome, cmd.outcome_for_tenant, cmd.actor, now, measured
        ),
    )


def cancel_referral(cmd: commands.CancelReferral, deps: Dependencies) -> Any:
    """Cancel a referral."""
    return mutate(
        cmd.case_id,
        deps,
        lambda c, now: c.cancel_referral(cmd.referral_id, cmd.reason, cmd.actor, now),
    )


def reassign_referral(cmd: commands.ReassignReferral, deps: Dependencies) -> Any:
    """Hand a sent referral to someone else; its deadline starts again."""
    path = _referral_path(deps, cmd.case_id, cmd.referral_id)
    return mutate(
        cmd.case_id,
        deps,
        lambda c, now: c.reassign_referral(
            cmd.referral_id, path, cmd.assignee, cmd.actor, now, cmd.reason
        ),
    )


def record_home_visit(cmd: commands.RecordHomeVisit, deps: Dependencies) -> Any:
    """Record a home visit and its computed savings."""
    return mutate(
        cmd.case_id,
        deps,
        lambda c, now: c.record_visit(
            cmd.visited_at,
            cmd.rooms,
            cmd.appliances,
            cmd.recommendations,
            deps.energy_price_cents_per_kwh,
            cmd.actor,
            now,
        ),
    )


def add_diary_entry(cmd: commands.AddDiaryEntry, deps: Dependencies) -> Any:
    """A reading or note in the energy diary."""
    return mutate(
        cmd.case_id,
        deps,
        lambda c, now: c.add_diary_entry(
            cmd.read_on, cmd.actor, now, cmd.commodity, cmd.value, cmd.note
        ),
    )


def record_outcome(cmd: commands.RecordOutcome, deps: Dependencies) -> Any:
    """A measured outcome."""
    return mutate(
        cmd.case_id,
        deps,
        lambda c, now: c.add_outcome(
            cmd.kind, cmd.value, cmd.actor, now, cmd.referral_id, cmd.note
        ),
    )


def add_note(cmd: commands.AddNote, deps: Dependencies) -> Any:
    """A note."""
    return mutate(cmd.case_id, deps, lambda c, now: c.add_note(cmd.text, cmd.actor, now))


def add_task(cmd: commands.AddTask, deps: Dependencies) -> Any:
    """A task."""
    return mutate(
        cmd.case_id,
        deps,
        lambda c, now: c.add_task(cmd.title, cmd.due_date, cmd.actor, now, cmd.assignee),
    )


def complete_task(cmd: commands.CompleteTask, deps: Dependencies) -> Any:
    """Mark a task done."""
    return mutate(cmd.case_id, deps, lambda c, now: c.complete_task(cmd.task_id, cmd.actor, now))


HANDLERS: dict[type, Callable[[Any, Dependencies], Any]] = {
    commands.ChangeState: change_state,
    commands.AssignCase: assign_case,
    commands.AssessCase: assess_case,
    commands.ProposeReferral: propose_referral,
    commands.SendReferral: send_referral,
    commands.AcceptReferral: accept_referral,
    commands.DeclineReferral: decline_referral,
    commands.CompleteReferral: complete_referral,
    commands.CancelReferral: cancel_referral,
    commands.ReassignReferral: reassign_referral,
    commands.RecordHomeVisit: record_home_visit,
    commands.AddDiaryEntry: add_diary_entry,
    commands.RecordOutcome: record_outcome,
    commands.AddNote: add_note,
    commands.AddTask: add_task,
    commands.CompleteTask: complete_task,
}


# --- the deadline scan ------------------------------------------------------------------------

SYSTEM_ACTOR = "sistema"


def scan_deadlines(deps: Dependencies, today: date | None = None) -> int:
    """Announce overdue referrals and approaching disconnections; returns events written.

    Each announcement is part of a compare-and-set write on the case file, so two scanners
    (two workers) announce a breach exactly once between them.
    """
    now = deps.clock()
    today = today or now.date()
    written = 0
    for case_id in deps.case_files.due_for_scan(today):

        def change(c: CaseFile, at: datetime) -> int:
            c.detect_overdue(today, SYSTEM_ACTOR, at)
            c.check_disconnection(today, deps.disconnection_alert_days, SYSTEM_ACTOR, at)
            return len(c.events)

        try:
            written += mutate(case_id, deps, change, only_with_events=True)
        except (NotFound, Conflict) as exc:
            log.warning("deadline scan skipped %s: %s", case_id, exc)
    return written


def anonymise_expired(deps: Dependencies, keep: timedelta, now: datetime | None = None) -> int:
    """Anonymise case files closed (or archived) more than ``keep`` ago; returns how many.

    Idempotent: an anonymised file is skipped, and each one is a compare-and-set write with its
    ``case.anonymised`` event, so two workers running it anonymise (and announce) a file once.
    """
    now = now or deps.clock()
    done = 0
    for case_id in deps.case_files.retention_candidates(now - keep):

        def change(c: CaseFile, at: datetime) -> int:
            if not c.retention_expired(now, keep):
                return 0
            c.anonymise(SYSTEM_ACTOR, at)
            return 1

        try:
            done += mutate(case_id, deps, change, only_with_events=True)
        except (NotFound, Conflict) as exc:
            log.warning("retention skipped %s: %s", case_id, exc)
    if done:
        log.info("retention anonymised %d case files", done)
    return done


def offset_clock(clock: Callable[[], datetime], days: int) -> Callable[[], datetime]:
    """``clock`` moved ``days`` ahead (drills and tests of the deadline scan)."""
    if not days:
        return clock
    return lambda: clock() + timedelta(days=days)
