"""intake's domain: buildings, counters and their slots, tenants, appointments and cases.

Pure Python: no framework, no database. An aggregate records what happened in ``events``; the
service layer stores them with the aggregate (outbox) in one write.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from services.intake.domain.identifiers import (
    check_fiscal_code,
    check_pdr,
    check_pod,
    normalize_fiscal_code,
    normalize_phone,
    normalize_pod,
)
from shared.domain import Conflict, DomainError


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


class HardshipSignal(StrEnum):
    """First signs of precarietà (a change in life) or povertà (a lasting condition)."""

    JOB_LOSS = "perdita_lavoro"
    ILLNESS = "malattia"
    SEPARATION = "separazione"
    BEREAVEMENT = "lutto"
    INCOME_DROP = "calo_reddito"
    ARREARS_REPEATED = "morosita_ripetute"
    COLD_HOME = "casa_fredda"
    GIVES_UP_HEATING = "rinuncia_riscaldamento"
    OTHER = "altro"


class HardshipKind(StrEnum):
    """Which kind of energy hardship the first signs point to (casework assesses it)."""

    PRECARITY = "precarieta"
    POVERTY = "poverta"
    NOT_ASSESSED = "da_valutare"


class IseeBand(StrEnum):
    """The household's ISEE band (euro per year)."""

    UP_TO_9530 = "fino_9530"
    UP_TO_15000 = "9530_15000"
    UP_TO_20000 = "15000_20000"
    UP_TO_30000 = "20000_30000"
    OVER_30000 = "oltre_30000"
    UNKNOWN = "non_disponibile"


class Commodity(StrEnum):
    """Electricity (luce, kWh, POD) or gas (Smc, PDR)."""

    ELECTRICITY = "luce"
    GAS = "gas"


UNITS = {Commodity.ELECTRICITY: "kWh", Commodity.GAS: "Smc"}


class ContactChannel(StrEnum):
    """How a custode sociale prefers to be reached."""

    EMAIL = "email"
    SMS = "sms"
    INBOX = "inbox"


class ConsentChannel(StrEnum):
    """Channels a tenant may consent to be contacted on."""

    EMAIL = "email"
    SMS = "sms"


class CounterKind(StrEnum):
    """A fixed counter, or an itinerant one in a block's common rooms."""

    FIXED = "fisso"
    ITINERANT = "itinerante"


class AppointmentKind(StrEnum):
    """An individual meeting in a counter slot, a home visit or a group session."""

    MEETING = "incontro"
    HOME_VISIT = "sopralluogo"
    GROUP_SESSION = "incontro_plenario"


class AppointmentStatus(StrEnum):
    """Booked or cancelled (a rescheduled appointment stays booked, at its new time)."""

    BOOKED = "prenotato"
    CANCELLED = "annullato"


class CaseStatus(StrEnum):
    """Intake's view of a case: open until casework closes or archives it."""

    OPEN = "aperto"
    CLOSED = "chiuso"
    ARCHIVED = "archiviato"


# casework's end states (``to_state`` of ``casework.case.state_changed``), as intake records them.
# Words of the event contract, not casework's code: services share only the contracts.
CASE_ENDS: dict[str, CaseStatus] = {"chiuso": CaseStatus.CLOSED, "archiviato": CaseStatus.ARCHIVED}


def status_after(casework_state: str) -> CaseStatus | None:
    """What intake's copy of a case becomes when casework moves it to ``casework_state``.

    Only an end (``chiuso``, ``archiviato``) changes it: the case leaves the open state here and
    no longer holds its (tenant, need). Any other move (``in_valutazione``, ``sospeso``…) is
    casework's business: ``None``, the case stays open.
    """
    return CASE_ENDS.get(casework_state)


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


@dataclass(frozen=True)
class BuildingUpdated:
    """Domain event: a building's data changed (custodi, committee, works notes…)."""

    building_id: str


BUILDING_EDITABLE = (
    "name",
    "address",
    "municipio",
    "custodians",
    "committee_contact",
    "works_notes",
)


@dataclass
class Building:
    """A public-housing complex (complesso SAP/ERP) where a counter works or tenants live.

    ``version`` counts the changes: it guards against lost updates and lets consumers of
    ``building.updated`` keep the newest snapshot whatever order the events arrive in.
    """

    id: str
    name: str
    address: str
    municipio: int
    custodians: list[Custodian] = field(default_factory=list)
    committee_contact: str | None = None
    works_notes: str | None = None
    version: int = 1
    events: list[object] = field(default_factory=list, compare=False, repr=False)

    def update(self, changes: dict[str, Any]) -> bool:
        """Apply ``changes`` to the editable fields; False (no event) when nothing changes."""
        if "custodians" in changes:
            changes = {**changes, "custodians": list(changes["custodians"])}
        return _apply_changes(self, changes, BUILDING_EDITABLE, BuildingUpdated(self.id))


def _apply_changes(
    aggregate: Building | Counter, changes: dict[str, Any], editable: tuple[str, ...], event: object
) -> bool:
    """Set the changed fields of ``aggregate``, bump its version and record ``event``."""
    unknown = set(changes) - set(editable)
    if unknown:
        raise DomainError("Campi non modificabili.", fields=sorted(unknown))
    changed = {k: v for k, v in changes.items() if getattr(aggregate, k) != v}
    if not changed:
        return False
    for name, value in changed.items():
        setattr(aggregate, name, value)
    aggregate.version += 1
    aggregate.events.append(event)
    return True


# --- counters and their slots ---


@dataclass(frozen=True)
class Schedule:
    """A recurring opening, e.g. every second Tuesday 14:00–17:00 in 30-minute slots.

    ``every_weeks`` counts from ``starts_on`` (the first opening, which must fall on ``weekday``,
    0 = Monday); ``ends_on`` closes the series. Times are local (the service's time zone).
    """

    weekday: int
    start: time
    end: time
    slot_minutes: int = 30
    every_weeks: int = 1
    starts_on: date | None = None
    ends_on: date | None = None

    def validate(self) -> None:
        """Raise ``DomainError`` when the schedule cannot produce slots."""
        if not 0 <= self.weekday <= 6:
            raise DomainError("Giorno della settimana non valido (0 = lunedì).", field="weekday")
        if self.end <= self.start:
            raise DomainError("L'orario di fine deve seguire quello di inizio.", field="end")
        if not 5 <= self.slot_minutes <= 240:
            raise DomainError("Durata dello slot tra 5 e 240 minuti.", field="slot_minutes")
        if not 1 <= self.every_weeks <= 8:
            raise DomainError("Ricorrenza tra 1 e 8 settimane.", field="every_weeks")
        if self.starts_on and self.starts_on.weekday() != self.weekday:
            raise DomainError(
                "La data di inizio non cade nel giorno della settimana indicato.",
                field="starts_on",
            )
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise DomainError("La data di fine precede quella di inizio.", field="ends_on")

    def occurs_on(self, day: date) -> bool:
        """Whether the counter opens on ``day`` under this schedule."""
        if day.weekday() != self.weekday:
            return False
        if self.starts_on and day < self.starts_on:
            return False
        if self.ends_on and day > self.ends_on:
            return False
        if self.every_weeks > 1 and self.starts_on:
            return ((day - self.starts_on).days // 7) % self.every_weeks == 0
        return True

    def slots_on(self, day: date, zone: ZoneInfo) -> list[Slot]:
        """The slots of ``day`` (empty when the counter is closed that day)."""
        if not self.occurs_on(day):
            return []
        slots = []
        start = datetime.combine(day, self.start, zone)
        close = datetime.combine(day, self.end, zone)
        step = timedelta(minutes=self.slot_minutes)
        while start + step <= close:
            slots.append(Slot(start, start + step))
            start += step
        return slots


@dataclass(frozen=True, order=True)
class Slot:
    """A bookable time at a counter."""

    starts_at: datetime
    ends_at: datetime


MAX_SLOT_RANGE_DAYS = 92


def validate_schedules(schedules: list[Schedule]) -> None:
    """Raise ``DomainError`` naming the first schedule that cannot produce slots."""
    for index, schedule in enumerate(schedules):
        try:
            schedule.validate()
        except DomainError as exc:
            exc.details = {**exc.details, "field": f"schedules.{index}.{exc.details.get('field')}"}
            raise


@dataclass(frozen=True)
class CounterUpdated:
    """Domain event: a counter's data changed (schedules, room, operators…)."""

    counter_id: str


COUNTER_EDITABLE = ("name", "kind", "building_id", "room", "schedules", "operators")


@dataclass
class Counter:
    """A sportello: fixed, or itinerant in a building's room, with its schedules and operators."""

    id: str
    name: str
    kind: CounterKind
    building_id: str
    room: str
    schedules: list[Schedule]
    operators: list[str] = field(default_factory=list)
    version: int = 1
    events: list[object] = field(default_factory=list, compare=False, repr=False)

    def update(self, changes: dict[str, Any]) -> bool:
        """Apply ``changes`` (schedules checked, operators deduplicated); False when nothing
        changes. Appointments already booked keep their time: moving them is the operator's
        choice, with a reason (reschedule)."""
        if "schedules" in changes:
            validate_schedules(changes["schedules"])
            changes = {**changes, "schedules": list(changes["schedules"])}
        if "operators" in changes:
            changes = {**changes, "operators": list(dict.fromkeys(changes["operators"]))}
        return _apply_changes(self, changes, COUNTER_EDITABLE, CounterUpdated(self.id))

    def slots(self, first: date, last: date, zone: ZoneInfo) -> list[Slot]:
        """Every slot between ``first`` and ``last`` (inclusive), in time order."""
        if last < first:
            raise DomainError("L'intervallo di date è invertito.", field="to")
        if (last - first).days > MAX_SLOT_RANGE_DAYS:
            raise DomainError(
                f"Intervallo troppo ampio: al massimo {MAX_SLOT_RANGE_DAYS} giorni.", field="to"
            )
        found: set[Slot] = set()
        day = first
        while day <= last:
            for schedule in self.schedules:
                found.update(schedule.slots_on(day, zone))
            day += timedelta(days=1)
        return sorted(found)

    def slot_at(self, starts_at: datetime, zone: ZoneInfo) -> Slot:
        """The slot that starts at ``starts_at``; ``DomainError`` when there is none."""
        local = starts_at.astimezone(zone)
        for schedule in self.schedules:
            for slot in schedule.slots_on(local.date(), zone):
                if slot.starts_at == local:
                    return slot
        raise DomainError(
            "Nessuno slot dello sportello inizia a quest'ora.",
            code="not_a_slot",
            field="starts_at",
        )


# --- tenants ---


@dataclass(frozen=True)
class Consent:
    """A tenant's consent for one channel: who recorded it and when; withdrawable."""

    channel: ConsentChannel
    granted: bool
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True)
class TenantRegistered:
    """Domain event: a tenant was registered."""

    tenant_id: str


@dataclass(frozen=True)
class TenantUpdated:
    """Domain event: a tenant's data changed."""

    tenant_id: str


@dataclass(frozen=True)
class ConsentChanged:
    """Domain event: a tenant gave or withdrew consent for a channel."""

    tenant_id: str
    consent: Consent


TENANT_EDITABLE = (
    "building_id",
    "apartment",
    "first_name",
    "last_name",
    "fiscal_code",
    "phone",
    "email",
    "preferred_language",
    "household_size",
)


@dataclass
class Tenant:
    """An inquilino of a building, with contact data and per-channel consents."""

    id: str
    building_id: str
    apartment: str | None
    first_name: str
    last_name: str
    fiscal_code: str
    phone: str | None
    email: str | None
    preferred_language: str
    household_size: int | None
    consents: list[Consent]
    version: int
    registered_at: datetime
    # Anonymised on the tenant's request (GDPR art. 17): nothing more is recorded about them.
    erased: bool = field(default=False, compare=False)
    events: list[object] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def register(
        cls, *, now: datetime, consents: list[Consent] | None = None, **data: Any
    ) -> Tenant:
        """A new tenant (version 1). The codice fiscale must be valid."""
        fiscal_code = normalize_fiscal_code(data.pop("fiscal_code"))
        problem = check_fiscal_code(fiscal_code)
        if problem:
            raise DomainError(problem, code="invalid_fiscal_code", field="fiscal_code")
        if data.get("phone"):
            data["phone"] = normalize_phone(data["phone"])  # one form for the SMS provider
        tenant = cls(
            id=new_id("ten"),
            fiscal_code=fiscal_code,
            consents=[],
            version=1,
            registered_at=now,
            **data,
        )
        for consent in consents or []:
            tenant._put_consent(consent)
        tenant.events.append(TenantRegistered(tenant.id))
        return tenant

    def consent_for(self, channel: ConsentChannel) -> Consent | None:
        """The current consent for ``channel``, if ever recorded."""
        return next((c for c in self.consents if c.channel == channel), None)

    def _put_consent(self, consent: Consent) -> None:
        self.consents = [c for c in self.consents if c.channel != consent.channel] + [consent]
        self.consents.sort(key=lambda c: c.channel.value)

    def update(self, changes: dict[str, Any]) -> bool:
        """Apply ``changes`` to the editable fields; False (no event) when nothing changes."""
        unknown = set(changes) - set(TENANT_EDITABLE)
        if unknown:
            raise DomainError("Campi non modificabili.", fields=sorted(unknown))
        if "fiscal_code" in changes:
            changes = {**changes, "fiscal_code": normalize_fiscal_code(changes["fiscal_code"])}
            problem = check_fiscal_code(changes["fiscal_code"])
            if problem:
                raise DomainError(problem, code="invalid_fiscal_code", field="fiscal_code")
        if changes.get("phone"):
            changes = {**changes, "phone": normalize_phone(changes["phone"])}
        changed = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if not changed:
            return False
        for name, value in changed.items():
            setattr(self, name, value)
        self.version += 1
        self.events.append(TenantUpdated(self.id))
        return True

    def record_consent(
        self, channel: ConsentChannel, granted: bool, recorded_by: str, now: datetime
    ) -> bool:
        """Give or withdraw consent; False (no event) when it is already so."""
        current = self.consent_for(channel)
        if current is not None and current.granted == granted:
            return False
        consent = Consent(channel, granted, recorded_by, now)
        self._put_consent(consent)
        self.version += 1
        self.events.append(ConsentChanged(self.id, consent))
        self.events.append(TenantUpdated(self.id))
        return True


# --- appointments ---


@dataclass(frozen=True)
class AppointmentBooked:
    """Domain event: an appointment was booked."""

    appointment_id: str


@dataclass(frozen=True)
class AppointmentRescheduled:
    """Domain event: an appointment moved."""

    appointment_id: str
    previous_starts_at: datetime
    reason: str


@dataclass(frozen=True)
class AppointmentCancelled:
    """Domain event: an appointment was cancelled."""

    appointment_id: str
    reason: str


@dataclass(frozen=True)
class HomeVisitRequested:
    """Domain event: a home visit was requested for a case."""

    appointment_id: str
    case_id: str


MAX_APPOINTMENT = timedelta(hours=8)


@dataclass
class Appointment:
    """A meeting in a counter slot, a home visit (sopralluogo) or a group session."""

    id: str
    kind: AppointmentKind
    status: AppointmentStatus
    case_id: str | None
    tenant_ids: list[str]
    counter_id: str | None
    building_id: str
    location: str
    starts_at: datetime
    ends_at: datetime
    booked_by: str
    booked_at: datetime
    notes: str = ""
    cancel_reason: str | None = None
    version: int = 1
    events: list[object] = field(default_factory=list, compare=False, repr=False)

    @property
    def event_key(self) -> str:
        """Kafka key of this appointment's events: its case, else its (first) tenant."""
        return self.case_id or (self.tenant_ids[0] if self.tenant_ids else self.id)

    @property
    def slot_bound(self) -> bool:
        """Whether this appointment holds a counter slot (an individual meeting)."""
        return self.kind == AppointmentKind.MEETING

    @classmethod
    def book(
        cls,
        *,
        kind: AppointmentKind,
        case_id: str | None,
        tenant_ids: list[str],
        counter_id: str | None,
        building_id: str,
        location: str,
        starts_at: datetime,
        ends_at: datetime,
        booked_by: str,
        notes: str,
        now: datetime,
    ) -> Appointment:
        """Book an appointment. Meetings and home visits are for one tenant."""
        tenant_ids = list(dict.fromkeys(tenant_ids))
        if kind in (AppointmentKind.MEETING, AppointmentKind.HOME_VISIT) and len(tenant_ids) != 1:
            raise DomainError(
                "Un incontro individuale o un sopralluogo riguarda un solo inquilino.",
                field="tenant_ids",
            )
        if kind == AppointmentKind.MEETING and not counter_id:
            raise DomainError(
                "Un incontro si prenota in uno slot di sportello.", field="counter_id"
            )
        _check_times(starts_at, ends_at, now)
        appointment = cls(
            id=new_id("apt"),
            kind=kind,
            status=AppointmentStatus.BOOKED,
            case_id=case_id,
            tenant_ids=tenant_ids,
            counter_id=counter_id,
            building_id=building_id,
            location=location,
            starts_at=starts_at,
            ends_at=ends_at,
            booked_by=booked_by,
            booked_at=now,
            notes=notes,
        )
        appointment.events.append(AppointmentBooked(appointment.id))
        if kind == AppointmentKind.HOME_VISIT and case_id:
            appointment.events.append(HomeVisitRequested(appointment.id, case_id))
        return appointment

    def reschedule(
        self, starts_at: datetime, ends_at: datetime, reason: str, now: datetime
    ) -> None:
        """Move to a new time, with the reason."""
        self._require_booked()
        if starts_at == self.starts_at and ends_at == self.ends_at:
            raise Conflict("L'appuntamento è già a quest'ora.", code="same_time")
        _check_times(starts_at, ends_at, now)
        previous = self.starts_at
        self.starts_at, self.ends_at = starts_at, ends_at
        self.version += 1
        self.events.append(AppointmentRescheduled(self.id, previous, reason))

    def cancel(self, reason: str) -> None:
        """Cancel, with the reason."""
        self._require_booked()
        self.status = AppointmentStatus.CANCELLED
        self.cancel_reason = reason
        self.version += 1
        self.events.append(AppointmentCancelled(self.id, reason))

    def _require_booked(self) -> None:
        if self.status != AppointmentStatus.BOOKED:
            raise Conflict("L'appuntamento è annullato.", code="appointment_cancelled", id=self.id)


def _check_times(starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    if ends_at <= starts_at:
        raise DomainError("La fine deve seguire l'inizio.", field="ends_at")
    if ends_at - starts_at > MAX_APPOINTMENT:
        raise DomainError("Un appuntamento dura al massimo 8 ore.", field="ends_at")
    if starts_at < now:
        raise DomainError("Non si prenota nel passato.", field="starts_at")


# --- cases ---


@dataclass(frozen=True)
class Bill:
    """An energy bill read with the tenant (money in integer cents)."""

    supplier: str
    commodity: Commodity
    period_start: date
    period_end: date
    amount_cents: int
    offer: str | None = None
    pod: str | None = None
    pdr: str | None = None
    consumption: float | None = None
    unit: str | None = None
    arrears_cents: int = 0

    def validated(self) -> Bill:
        """This bill, normalised; ``DomainError`` naming the field when it does not hold."""
        if self.period_end < self.period_start:
            raise DomainError("Il periodo della bolletta è invertito.", field="period_end")
        if self.amount_cents < 0 or self.arrears_cents < 0:
            raise DomainError("Gli importi non possono essere negativi.", field="amount_cents")
        if self.consumption is not None and self.consumption < 0:
            raise DomainError("Il consumo non può essere negativo.", field="consumption")
        unit = UNITS[self.commodity]
        if self.unit is not None and self.unit != unit:
            raise DomainError(f"Unità per {self.commodity.value}: {unit}.", field="unit")
        pod, pdr = self.pod, self.pdr
        if self.commodity == Commodity.ELECTRICITY:
            if pdr:
                raise DomainError("Il PDR riguarda il gas, non la luce.", field="pdr")
            if pod:
                problem = check_pod(pod)
                if problem:
                    raise DomainError(problem, code="invalid_pod", field="pod")
                pod = normalize_pod(pod)
        else:
            if pod:
                raise DomainError("Il POD riguarda la luce, non il gas.", field="pod")
            if pdr:
                problem = check_pdr(pdr)
                if problem:
                    raise DomainError(problem, code="invalid_pdr", field="pdr")
                pdr = "".join(pdr.split())
        return replace(self, pod=pod, pdr=pdr, unit=unit)


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
    hardship_signals: list[HardshipSignal] = field(default_factory=list)
    hardship_kind: HardshipKind = HardshipKind.NOT_ASSESSED
    bills: list[Bill] = field(default_factory=list)
    isee_band: IseeBand | None = None
    receives_bonus_sociale: bool | None = None
    linked_case_id: str | None = None
    status: CaseStatus = CaseStatus.OPEN
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
        hardship_signals: list[HardshipSignal] | None = None,
        hardship_kind: HardshipKind = HardshipKind.NOT_ASSESSED,
        bills: list[Bill] | None = None,
        isee_band: IseeBand | None = None,
        receives_bonus_sociale: bool | None = None,
        linked_case_id: str | None = None,
    ) -> Case:
        """Open a case. A disconnection notice makes it urgent (a deadline set from outside)."""
        if not needs:
            raise DomainError("Indicare almeno un bisogno.", field="needs")
        checked_bills = []
        for index, bill in enumerate(bills or []):
            try:
                checked_bills.append(bill.validated())
            except DomainError as exc:
                exc.details = {**exc.details, "field": f"bills.{index}.{exc.details.get('field')}"}
                raise
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
            hardship_signals=list(dict.fromkeys(hardship_signals or [])),
            hardship_kind=hardship_kind,
            bills=checked_bills,
            isee_band=isee_band,
            receives_bonus_sociale=receives_bonus_sociale,
            linked_case_id=linked_case_id,
        )
        case.events.append(CaseOpened(case.id))
        return case
