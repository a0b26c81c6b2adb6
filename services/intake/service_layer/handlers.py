"""intake's command handlers: load, decide in the domain, store state and events in one write."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.intake.adapters.privacy import PrivacyStore
from services.intake.adapters.repository import (
    AppointmentRepository,
    BuildingRepository,
    CaseRepository,
    Claims,
    CounterRepository,
    TenantRepository,
)
from services.intake.domain import commands
from services.intake.domain.model import (
    Appointment,
    AppointmentBooked,
    AppointmentCancelled,
    AppointmentKind,
    AppointmentRescheduled,
    AppointmentStatus,
    Building,
    Case,
    CaseStatus,
    Consent,
    ConsentChanged,
    Counter,
    HomeVisitRequested,
    Tenant,
    TenantRegistered,
    TenantUpdated,
    new_id,
    status_after,
    validate_schedules,
)
from shared.domain import Conflict, DomainError, NotFound
from shared.events import Event, make_event
from shared.events.casework import CASE_CLOSED, CASE_STATE_CHANGED
from shared.events.intake import (
    APPOINTMENT_BOOKED,
    APPOINTMENT_CANCELLED,
    APPOINTMENT_RESCHEDULED,
    BUILDING_UPDATED,
    CASE_OPENED,
    CONSENT_CHANGED,
    COUNTER_UPDATED,
    HOME_VISIT_REQUESTED,
    TENANT_REGISTERED,
    TENANT_UPDATED,
)

HOME_VISIT_LENGTH = timedelta(hours=1)
GROUP_SESSION_LENGTH = timedelta(hours=2)


@dataclass
class Dependencies:
    """What intake's handlers need; ``bootstrap`` wires the real ones."""

    buildings: BuildingRepository
    counters: CounterRepository
    tenants: TenantRepository
    appointments: AppointmentRepository
    cases: CaseRepository
    slot_claims: Claims
    open_case_claims: Claims
    clock: Callable[[], datetime]
    zone: ZoneInfo
    claim_grace: timedelta
    privacy: PrivacyStore


# --- buildings and counters ---


def register_building(cmd: commands.RegisterBuilding, deps: Dependencies) -> Building:
    """Register a building."""
    building = Building(
        id=new_id("bld"),
        name=cmd.name,
        address=cmd.address,
        municipio=cmd.municipio,
        custodians=list(cmd.custodians),
        committee_contact=cmd.committee_contact,
        works_notes=cmd.works_notes,
    )
    deps.buildings.add(building)
    return building


def register_counter(cmd: commands.RegisterCounter, deps: Dependencies) -> Counter:
    """Register a counter in a building, with schedules that produce its slots."""
    _building(deps, cmd.building_id)
    validate_schedules(cmd.schedules)
    counter = Counter(
        id=new_id("ctr"),
        name=cmd.name,
        kind=cmd.kind,
        building_id=cmd.building_id,
        room=cmd.room,
        schedules=list(cmd.schedules),
        operators=list(dict.fromkeys(cmd.operators)),
    )
    deps.counters.add(counter)
    return counter


def update_building(cmd: commands.UpdateBuilding, deps: Dependencies) -> Building:
    """Change a building's data; publishes the full snapshot in ``building.updated``."""
    building = _building(deps, cmd.building_id, field=None)
    _check_version(cmd.expected_version, building.version, "L'edificio")
    previous = building.version
    if building.update(dict(cmd.changes)):
        deps.buildings.update(building, previous, [building_updated_event(building)])
    return building


def update_counter(cmd: commands.UpdateCounter, deps: Dependencies) -> Counter:
    """Change a counter's data; publishes the full snapshot in ``counter.updated``."""
    counter = _counter(deps, cmd.counter_id, field=None)
    _check_version(cmd.expected_version, counter.version, "Lo sportello")
    if "building_id" in cmd.changes:
        _building(deps, cmd.changes["building_id"])
    previous = counter.version
    if counter.update(dict(cmd.changes)):
        deps.counters.update(counter, previous, [counter_updated_event(counter)])
    return counter


def _check_version(expected: int | None, current: int, what: str) -> None:
    """409 naming the current version when the caller edited an older one."""
    if expected is not None and expected != current:
        raise Conflict(
            f"{what} è stato modificato nel frattempo: ricaricare e riprovare.",
            code="version_conflict",
            current_version=current,
        )


# --- tenants ---


def register_tenant(cmd: commands.RegisterTenant, deps: Dependencies) -> Tenant:
    """Register a tenant; publishes ``tenant.registered`` (and ``consent_changed`` per consent)."""
    _building(deps, cmd.building_id)
    now = deps.clock()
    tenant = Tenant.register(
        now=now,
        building_id=cmd.building_id,
        apartment=cmd.apartment,
        first_name=cmd.first_name,
        last_name=cmd.last_name,
        fiscal_code=cmd.fiscal_code,
        phone=cmd.phone,
        email=cmd.email,
        preferred_language=cmd.preferred_language,
        household_size=cmd.household_size,
        consents=[Consent(c.channel, c.granted, c.recorded_by, now) for c in cmd.consents],
    )
    events = [tenant_event(TENANT_REGISTERED, tenant)]
    events += [consent_event(tenant.id, c) for c in tenant.consents]
    deps.tenants.add(tenant, events)
    return tenant


def update_tenant(cmd: commands.UpdateTenant, deps: Dependencies) -> Tenant:
    """Change a tenant's data; publishes the full snapshot in ``tenant.updated``."""
    tenant = _tenant(deps, cmd.tenant_id, field=None)
    _check_version(cmd.expected_version, tenant.version, "L'inquilino")
    if "building_id" in cmd.changes:
        _building(deps, cmd.changes["building_id"])
    previous, fiscal_code = tenant.version, tenant.fiscal_code
    if tenant.update(dict(cmd.changes)):
        deps.tenants.update(tenant, previous, _tenant_events(tenant), fiscal_code)
    return tenant


def record_consent(cmd: commands.RecordConsent, deps: Dependencies) -> Tenant:
    """Give or withdraw consent; publishes ``consent_changed`` and ``tenant.updated``."""
    tenant = _tenant(deps, cmd.tenant_id, field=None)
    previous = tenant.version
    if tenant.record_consent(cmd.channel, cmd.granted, cmd.recorded_by, deps.clock()):
        deps.tenants.update(tenant, previous, _tenant_events(tenant))
    return tenant


def _tenant_events(tenant: Tenant) -> list[Event]:
    events: list[Event] = []
    for happened in tenant.events:
        if isinstance(happened, ConsentChanged):
            events.append(consent_event(tenant.id, happened.consent))
        elif isinstance(happened, TenantUpdated):
            events.append(tenant_event(TENANT_UPDATED, tenant))
        elif isinstance(happened, TenantRegistered):  # pragma: no cover - only on register
            events.append(tenant_event(TENANT_REGISTERED, tenant))
    # One snapshot per write is enough: it already holds every change.
    snapshots = [e for e in events if e.type == TENANT_UPDATED]
    return [e for e in events if e.type != TENANT_UPDATED] + snapshots[-1:]


# --- appointments ---


def book_appointment(cmd: commands.BookAppointment, deps: Dependencies) -> Appointment:
    """Book a meeting (one counter slot, never twice), a home visit or a group session."""
    now = deps.clock()
    case = _case(deps, cmd.case_id) if cmd.case_id else None
    tenant_ids = list(cmd.tenant_ids) or ([case.tenant_id] if case else [])
    tenants = [_tenant(deps, t, field="tenant_ids") for t in tenant_ids]
    counter = _counter(deps, cmd.counter_id) if cmd.counter_id else None
    starts_at, ends_at = cmd.starts_at, cmd.ends_at
    location = cmd.location
    if cmd.kind == AppointmentKind.MEETING:
        if counter is None:
            raise DomainError(
                "Un incontro si prenota in uno slot di sportello.", field="counter_id"
            )
        slot = counter.slot_at(starts_at, deps.zone)
        if ends_at is not None and ends_at != slot.ends_at:
            raise DomainError("La fine non coincide con quella dello slot.", field="ends_at")
        starts_at, ends_at = slot.starts_at, slot.ends_at
        building_id = counter.building_id
        location = location or counter.room
    elif cmd.kind == AppointmentKind.HOME_VISIT:
        tenant = tenants[0] if len(tenants) == 1 else None
        building_id = cmd.building_id or (tenant.building_id if tenant else "")
        ends_at = ends_at or starts_at + HOME_VISIT_LENGTH
        if tenant and not location:
            location = f"alloggio {tenant.apartment}" if tenant.apartment else "domicilio"
    else:
        building_id = cmd.building_id or (counter.building_id if counter else "")
        ends_at = ends_at or starts_at + GROUP_SESSION_LENGTH
        location = location or (counter.room if counter else "")
    if not building_id:
        raise DomainError("Indicare l'edificio.", field="building_id")
    building = _building(deps, building_id)
    if case and case.tenant_id not in tenant_ids:
        raise DomainError("Il caso non riguarda questi inquilini.", field="case_id")
    appointment = Appointment.book(
        kind=cmd.kind,
        case_id=cmd.case_id,
        tenant_ids=tenant_ids,
        counter_id=counter.id if counter else None,
        building_id=building.id,
        location=location,
        starts_at=starts_at.astimezone(UTC),
        ends_at=ends_at.astimezone(UTC),
        booked_by=cmd.booked_by,
        notes=cmd.notes,
        now=now,
    )
    key = _slot_key(appointment) if appointment.slot_bound else None
    if key:
        _take_slot(deps, key, appointment.id, now)
    try:
        deps.appointments.add(appointment, _appointment_events(appointment, building, now))
    except Exception:
        if key:
            deps.slot_claims.release(key, appointment.id)
        raise
    return appointment


def reschedule_appointment(cmd: commands.RescheduleAppointment, deps: Dependencies) -> Appointment:
    """Move an appointment (a meeting to another free slot of its counter), with the reason."""
    now = deps.clock()
    appointment = _appointment(deps, cmd.appointment_id)
    starts_at, ends_at = cmd.starts_at, cmd.ends_at
    if appointment.slot_bound:
        counter = _counter(deps, appointment.counter_id or "")
        slot = counter.slot_at(starts_at, deps.zone)
        if ends_at is not None and ends_at != slot.ends_at:
            raise DomainError("La fine non coincide con quella dello slot.", field="ends_at")
        starts_at, ends_at = slot.starts_at, slot.ends_at
    else:
        ends_at = ends_at or starts_at + (appointment.ends_at - appointment.starts_at)
    old_key = _slot_key(appointment) if appointment.slot_bound else None
    previous = appointment.version
    appointment.reschedule(starts_at.astimezone(UTC), ends_at.astimezone(UTC), cmd.reason, now)
    new_key = _slot_key(appointment) if appointment.slot_bound else None
    if new_key:
        _take_slot(deps, new_key, appointment.id, now)
    building = _building(deps, appointment.building_id)
    try:
        deps.appointments.update(
            appointment, previous, _appointment_events(appointment, building, now)
        )
    except Exception:
        if new_key:
            deps.slot_claims.release(new_key, appointment.id)
        raise
    if old_key:
        deps.slot_claims.release(old_key, appointment.id)
    return appointment


def cancel_appointment(cmd: commands.CancelAppointment, deps: Dependencies) -> Appointment:
    """Cancel an appointment with the reason; its slot becomes free again."""
    appointment = _appointment(deps, cmd.appointment_id)
    previous = appointment.version
    appointment.cancel(cmd.reason)
    building = _building(deps, appointment.building_id)
    deps.appointments.update(
        appointment, previous, _appointment_events(appointment, building, deps.clock())
    )
    if appointment.slot_bound:
        deps.slot_claims.release(_slot_key(appointment), appointment.id)
    return appointment


def slot_key(counter_id: str | None, starts_at: datetime) -> str:
    """The ``_id`` of a slot's claim: counter and slot start in UTC."""
    return f"{counter_id}:{starts_at.astimezone(UTC).isoformat()}"


def _slot_key(appointment: Appointment) -> str:
    return slot_key(appointment.counter_id, appointment.starts_at)


def counter_slots(deps: Dependencies, counter_id: str, first: date, last: date) -> list[dict]:
    """A counter's slots between two local dates, each with whether it is still free."""
    counter = _counter(deps, counter_id)
    slots = counter.slots(first, last, deps.zone)
    taken = deps.slot_claims.held([slot_key(counter.id, s.starts_at) for s in slots])
    return [
        {
            "starts_at": s.starts_at,
            "ends_at": s.ends_at,
            "available": slot_key(counter.id, s.starts_at) not in taken,
        }
        for s in slots
    ]


def _take_slot(deps: Dependencies, key: str, appointment_id: str, now: datetime) -> None:
    """Claim a counter slot; a claim left by a booking that never landed may be taken over."""
    holder = deps.slot_claims.take(key, appointment_id, now)
    if holder is None:
        return
    owner = deps.appointments.get(holder)
    if owner is None:
        claimed_at = deps.slot_claims.claimed_at(key)
        stale = claimed_at is not None and _aware(claimed_at) < now - deps.claim_grace
    else:
        stale = owner.status == AppointmentStatus.CANCELLED or _slot_key(owner) != key
    if stale and deps.slot_claims.take_over(key, holder, appointment_id, now):
        return
    raise Conflict("Lo slot è già prenotato.", code="slot_taken", field="starts_at")


def _appointment_events(appointment: Appointment, building: Building, now: datetime) -> list[Event]:
    events: list[Event] = []
    base = appointment_data(appointment)
    for happened in appointment.events:
        if isinstance(happened, AppointmentBooked):
            events.append(make_event(APPOINTMENT_BOOKED, appointment.event_key, base))
        elif isinstance(happened, AppointmentRescheduled):
            data = {
                **base,
                "previous_starts_at": happened.previous_starts_at.isoformat(),
                "reason": happened.reason,
            }
            events.append(make_event(APPOINTMENT_RESCHEDULED, appointment.event_key, data))
        elif isinstance(happened, AppointmentCancelled):
            data = {**base, "reason": happened.reason}
            events.append(make_event(APPOINTMENT_CANCELLED, appointment.event_key, data))
        elif isinstance(happened, HomeVisitRequested):
            data = {
                "case_id": happened.case_id,
                "tenant_id": appointment.tenant_ids[0],
                "building": building_data(building),
                "appointment_id": appointment.id,
                "requested_for": appointment.starts_at.isoformat(),
                "reason": appointment.notes,
            }
            events.append(make_event(HOME_VISIT_REQUESTED, happened.case_id, data))
    return events


# --- cases ---


def open_case(cmd: commands.OpenCase, deps: Dependencies) -> Case:
    """Open a case; refuses a second open case for the same tenant and need (409).

    A linked case (``linked_case_id``) is the operator's explicit choice to open another one.
    """
    now = deps.clock()
    tenant = _tenant(deps, cmd.tenant_id, field="tenant_id")
    building_id = cmd.building_id or tenant.building_id
    if building_id != tenant.building_id:
        raise DomainError(
            "L'inquilino non risulta in questo edificio.",
            code="tenant_not_in_building",
            field="building_id",
        )
    building = _building(deps, building_id)
    if cmd.counter_id:
        _counter(deps, cmd.counter_id)
    if cmd.linked_case_id:
        linked = deps.cases.get(cmd.linked_case_id)
        if linked is None or linked.tenant_id != tenant.id:
            raise NotFound(
                "Caso collegato non trovato per questo inquilino.",
                field="linked_case_id",
                id=cmd.linked_case_id,
            )
    case = Case.open(
        tenant_id=tenant.id,
        building_id=building.id,
        counter_id=cmd.counter_id,
        channel=cmd.channel,
        needs=cmd.needs,
        description=cmd.description,
        disconnection_date=cmd.disconnection_date,
        urgent=cmd.urgent,
        opened_by=cmd.opened_by,
        now=now,
        hardship_signals=cmd.hardship_signals,
        hardship_kind=cmd.hardship_kind,
        bills=cmd.bills,
        isee_band=cmd.isee_band,
        receives_bonus_sociale=cmd.receives_bonus_sociale,
        linked_case_id=cmd.linked_case_id,
    )
    keys = [] if cmd.linked_case_id else [f"{case.tenant_id}:{n.value}" for n in case.needs]
    _take_open_case_claims(deps, keys, case.id, now)
    try:
        deps.cases.add(case, [case_opened_event(case, building)])
    except Exception:
        for key in keys:
            deps.open_case_claims.release(key, case.id)
        raise
    return case


def _take_open_case_claims(
    deps: Dependencies, keys: list[str], case_id: str, now: datetime
) -> None:
    """Claim (tenant, need) for each need; on a live duplicate, give back what was taken."""
    taken: list[str] = []
    for key in keys:
        holder = deps.open_case_claims.take(key, case_id, now)
        if holder is not None and not _stale_case_claim(deps, key, holder, case_id, now):
            for mine in taken:
                deps.open_case_claims.release(mine, case_id)
            raise Conflict(
                "Esiste già un caso aperto per questo inquilino e questo bisogno: "
                "aprire un caso collegato indicando linked_case_id.",
                code="duplicate_case",
                existing_case_id=holder,
                need=key.rsplit(":", 1)[1],
            )
        taken.append(key)


def _stale_case_claim(
    deps: Dependencies, key: str, holder: str, case_id: str, now: datetime
) -> bool:
    owner = deps.cases.get(holder)
    if owner is None:
        claimed_at = deps.open_case_claims.claimed_at(key)
        stale = claimed_at is not None and _aware(claimed_at) < now - deps.claim_grace
    else:
        stale = owner.status != CaseStatus.OPEN
    return stale and deps.open_case_claims.take_over(key, holder, case_id, now)


def case_closed(event: Event, deps: Dependencies) -> None:
    """casework closed a case: intake marks it closed and frees its (tenant, need) claims."""
    _end_case(deps, event.data["case_id"], CaseStatus.CLOSED, event.data["at"])


def case_state_changed(event: Event, deps: Dependencies) -> None:
    """casework moved a case: an end (``archiviato``, also ``chiuso``) ends intake's copy too.

    Archiving announces itself only here (no ``case.closed``): without this, an archived case
    would keep its (tenant, need) and every later case for them would be a 409 duplicate.
    """
    status = status_after(event.data["to_state"])
    if status is not None:
        _end_case(deps, event.data["case_id"], status, event.data["at"])


def _end_case(deps: Dependencies, case_id: str, status: CaseStatus, at: datetime) -> None:
    """Mark the case ended, then free its claims; each step is idempotent on its own.

    The status is written first: should the worker stop in between, the claims are already stale
    for ``open_case`` (their case is not open) and the redelivered event frees them. A redelivery
    changes neither the status nor the end time (compare-and-set on ``aperto``), and a claim is
    given back only by the case holding it, never by a newer case of the same tenant and need.
    """
    case = deps.cases.get(case_id)
    if case is None:  # not a case opened here
        return
    deps.cases.mark_ended(case.id, status, at)
    release_case_claims(deps, case)


def release_case_claims(deps: Dependencies, case: Case) -> None:
    """Give back the (tenant, need) claims ``case`` still holds (none left: nothing happens)."""
    for need in case.needs:
        deps.open_case_claims.release(f"{case.tenant_id}:{need.value}", case.id)


# --- events ---


def building_data(building: Building) -> dict[str, Any]:
    """The ``BuildingData`` of the contracts (with its version: a newer snapshot wins)."""
    return {
        "id": building.id,
        "name": building.name,
        "address": building.address,
        "municipio": building.municipio,
        "custodians": [
            {"name": c.name, "email": c.email, "phone": c.phone, "channel": c.channel.value}
            for c in building.custodians
        ],
        "version": building.version,
    }


def building_updated_event(building: Building) -> Event:
    """``building.updated``: the full snapshot, keyed by the building id."""
    data = {
        **building_data(building),
        "committee_contact": building.committee_contact,
        "works_notes": building.works_notes,
    }
    return make_event(BUILDING_UPDATED, subject=building.id, data=data)


def counter_updated_event(counter: Counter) -> Event:
    """``counter.updated``: the full snapshot, keyed by the counter id."""
    return make_event(
        COUNTER_UPDATED,
        subject=counter.id,
        data={
            "counter_id": counter.id,
            "version": counter.version,
            "name": counter.name,
            "kind": counter.kind.value,
            "building_id": counter.building_id,
            "room": counter.room,
            "schedules": [
                {
                    "weekday": s.weekday,
                    "start": s.start.strftime("%H:%M"),
                    "end": s.end.strftime("%H:%M"),
                    "slot_minutes": s.slot_minutes,
                    "every_weeks": s.every_weeks,
                    "starts_on": s.starts_on.isoformat() if s.starts_on else None,
                    "ends_on": s.ends_on.isoformat() if s.ends_on else None,
                }
                for s in counter.schedules
            ],
            "operators": list(counter.operators),
        },
    )


def consent_data(consent: Consent) -> dict[str, Any]:
    """The ``ConsentData`` of the contracts."""
    return {
        "channel": consent.channel.value,
        "granted": consent.granted,
        "recorded_by": consent.recorded_by,
        "recorded_at": consent.recorded_at.isoformat(),
    }


def tenant_event(type_: str, tenant: Tenant) -> Event:
    """``tenant.registered`` / ``tenant.updated``: the full snapshot, keyed by the tenant id."""
    return make_event(
        type_,
        subject=tenant.id,
        data={
            "tenant_id": tenant.id,
            "version": tenant.version,
            "building_id": tenant.building_id,
            "apartment": tenant.apartment,
            "first_name": tenant.first_name,
            "last_name": tenant.last_name,
            "fiscal_code": tenant.fiscal_code,
            "phone": tenant.phone,
            "email": tenant.email,
            "preferred_language": tenant.preferred_language,
            "household_size": tenant.household_size,
            "consents": [consent_data(c) for c in tenant.consents],
        },
    )


def consent_event(tenant_id: str, consent: Consent) -> Event:
    """``tenant.consent_changed``, keyed by the tenant id."""
    return make_event(
        CONSENT_CHANGED,
        subject=tenant_id,
        data={"tenant_id": tenant_id, "consent": consent_data(consent)},
    )


def appointment_data(appointment: Appointment) -> dict[str, Any]:
    """The ``AppointmentData`` of the contracts."""
    return {
        "appointment_id": appointment.id,
        "kind": appointment.kind.value,
        "case_id": appointment.case_id,
        "tenant_ids": list(appointment.tenant_ids),
        "counter_id": appointment.counter_id,
        "building_id": appointment.building_id,
        "location": appointment.location,
        "starts_at": appointment.starts_at.isoformat(),
        "ends_at": appointment.ends_at.isoformat(),
        "status": appointment.status.value,
    }


def case_opened_event(case: Case, building: Building) -> Event:
    """The ``case.opened`` contract event for ``case``."""
    return make_event(
        CASE_OPENED,
        subject=case.id,
        data={
            "case_id": case.id,
            "tenant_id": case.tenant_id,
            "counter_id": case.counter_id,
            "building": building_data(building),
            "channel": case.channel.value,
            "needs": [n.value for n in case.needs],
            "description": case.description,
            "urgent": case.urgent,
            "disconnection_date": (
                case.disconnection_date.isoformat() if case.disconnection_date else None
            ),
            "opened_by": case.opened_by,
            "opened_at": case.opened_at.isoformat(),
            "hardship_signals": [s.value for s in case.hardship_signals],
            "hardship_kind": case.hardship_kind.value,
            "bills": [
                {
                    "supplier": b.supplier,
                    "offer": b.offer,
                    "commodity": b.commodity.value,
                    "period_start": b.period_start.isoformat(),
                    "period_end": b.period_end.isoformat(),
                    "pod": b.pod,
                    "pdr": b.pdr,
                    "consumption": b.consumption,
                    "unit": b.unit,
                    "amount_cents": b.amount_cents,
                    "arrears_cents": b.arrears_cents,
                }
                for b in case.bills
            ],
            "isee_band": case.isee_band.value if case.isee_band else None,
            "receives_bonus_sociale": case.receives_bonus_sociale,
            "linked_case_id": case.linked_case_id,
        },
    )


# --- loading, with the 404 of each missing thing ---


def _building(deps: Dependencies, building_id: str, field: str | None = "building_id") -> Building:
    building = deps.buildings.get(building_id)
    if building is None:
        details = {"field": field} if field else {}
        raise NotFound("Edificio non trovato.", id=building_id, **details)
    return building


def _counter(deps: Dependencies, counter_id: str, field: str | None = "counter_id") -> Counter:
    counter = deps.counters.get(counter_id)
    if counter is None:
        details = {"field": field} if field else {}
        raise NotFound("Sportello non trovato.", id=counter_id, **details)
    return counter


def _tenant(deps: Dependencies, tenant_id: str, field: str | None) -> Tenant:
    tenant = deps.tenants.get(tenant_id)
    details = {"field": field} if field else {}
    if tenant is None:
        raise NotFound("Inquilino non trovato.", id=tenant_id, **details)
    if tenant.erased:  # read with the tenant: no look at the erasure records
        raise Conflict(
            "L'inquilino ha chiesto la cancellazione dei suoi dati: non se ne registrano altri.",
            code="tenant_erased",
            id=tenant_id,
            **details,
        )
    return tenant


def _case(deps: Dependencies, case_id: str) -> Case:
    case = deps.cases.get(case_id)
    if case is None:
        raise NotFound("Caso non trovato.", field="case_id", id=case_id)
    return case


def _appointment(deps: Dependencies, appointment_id: str) -> Appointment:
    appointment = deps.appointments.get(appointment_id)
    if appointment is None:
        raise NotFound("Appuntamento non trovato.", id=appointment_id)
    return appointment


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# Events from other services that intake applies (consumed by its worker).
EVENT_HANDLERS: dict[str, Callable[[Event, Dependencies], None]] = {
    CASE_CLOSED: case_closed,
    CASE_STATE_CHANGED: case_state_changed,
}

HANDLERS: dict[type, Callable[[Any, Dependencies], Any]] = {
    commands.RegisterBuilding: register_building,
    commands.RegisterCounter: register_counter,
    commands.UpdateBuilding: update_building,
    commands.UpdateCounter: update_counter,
    commands.RegisterTenant: register_tenant,
    commands.UpdateTenant: update_tenant,
    commands.RecordConsent: record_consent,
    commands.BookAppointment: book_appointment,
    commands.RescheduleAppointment: reschedule_appointment,
    commands.CancelAppointment: cancel_appointment,
    commands.OpenCase: open_case,
}
