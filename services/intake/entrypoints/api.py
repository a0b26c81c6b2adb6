"""intake's REST API under ``/api/v1``: views load, build a command, hand it to the bus.

Domain errors map to answers by themselves (``shared.web``): ``NotFound`` → 404, ``Conflict`` →
409, any other ``DomainError`` → 422.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from services.intake.domain import commands
from services.intake.domain.model import Bill, Custodian, Schedule
from services.intake.entrypoints import schemas, scope
from services.intake.entrypoints.idempotency import PARAMETER, idempotent
from services.intake.service_layer.handlers import counter_slots
from shared.auth import allow
from shared.domain import NotFound
from shared.messagebus import MessageBus
from shared.schemas import CAPPED_TOTAL_HEADERS, TOTAL_COUNT_HEADER, total_headers
from shared.web import forbid, principal

buildings = Blueprint(
    "buildings",
    __name__,
    url_prefix="/api/v1/buildings",
    description="Complessi di edilizia pubblica e i loro custodi sociali.",
)
counters = Blueprint(
    "counters",
    __name__,
    url_prefix="/api/v1/counters",
    description="Sportelli fissi e itineranti, i loro orari ricorrenti e gli slot prenotabili.",
)
tenants = Blueprint(
    "tenants",
    __name__,
    url_prefix="/api/v1/tenants",
    description="Inquilini: anagrafica, contatti e consensi per canale.",
)
appointments = Blueprint(
    "appointments",
    __name__,
    url_prefix="/api/v1/appointments",
    description="Incontri negli slot di sportello, sopralluoghi e incontri plenari.",
)
cases = Blueprint(
    "cases", __name__, url_prefix="/api/v1/cases", description="Casi aperti agli sportelli."
)


def bus() -> MessageBus:
    """The command bus of this application."""
    return current_app.extensions["sportello.bus"]


def paged(page: Any) -> tuple[list, int, dict[str, str]]:
    """A page as a flask-smorest answer: the items, 200, and the total (``total_headers``)."""
    return page.items, 200, total_headers(page.total)


# --- buildings ---


@buildings.route("")
class Buildings(MethodView):
    @allow("operator", "path_caseworker", "custode", "coordinator", "admin")
    @buildings.arguments(schemas.BuildingListQuery(), location="query", unknown=RAISE)
    @buildings.response(200, schemas.BuildingSchema(many=True), headers=TOTAL_COUNT_HEADER)
    @buildings.alt_response(422, description="Filtri non validi.")
    def get(self, query: dict[str, Any]) -> Any:
        """List buildings, sorted by name (a custode: only the buildings in its claim)."""
        repository = bus().deps.buildings
        municipio, ids = query.get("municipio"), scope.custode_buildings()
        items = repository.list(municipio, query["limit"], query["offset"], ids)
        return items, 200, {"X-Total-Count": str(repository.count(municipio, ids))}

    @allow("admin")
    @idempotent("buildings")
    @buildings.doc(parameters=[PARAMETER])
    @buildings.arguments(schemas.BuildingInSchema())
    @buildings.response(201, schemas.BuildingSchema)
    @buildings.alt_response(422, description="Dati non validi.")
    def post(self, body: dict[str, Any]) -> Any:
        """Register a building with its custodi sociali."""
        custodians = [Custodian(**c) for c in body.pop("custodians")]
        return bus().handle(commands.RegisterBuilding(custodians=custodians, **body))


@buildings.route("/<building_id>")
class BuildingById(MethodView):
    @allow("operator", "path_caseworker", "custode", "coordinator", "admin")
    @buildings.response(200, schemas.BuildingSchema)
    @buildings.alt_response(404, description="Edificio non trovato.")
    def get(self, building_id: str) -> Any:
        """One building (a custode: only one in its claim)."""
        scope.check_building(building_id)
        building = bus().deps.buildings.get(building_id)
        if building is None:
            raise NotFound("Edificio non trovato.", id=building_id)
        return building

    @allow("admin")
    # A retried PATCH with ``expected_version`` would otherwise meet its own change as a 409.
    @idempotent("buildings.patch")
    @buildings.doc(parameters=[PARAMETER])
    @buildings.arguments(schemas.BuildingPatchSchema())
    @buildings.response(200, schemas.BuildingSchema)
    @buildings.alt_response(404, description="Edificio non trovato.")
    @buildings.alt_response(409, description="Modificato nel frattempo (current_version).")
    @buildings.alt_response(422, description="Dati non validi.")
    def patch(self, body: dict[str, Any], building_id: str) -> Any:
        """Change a building (custodi sociali, committee contact, works notes…); publishes
        ``building.updated`` with the full snapshot."""
        expected = body.pop("expected_version", None)
        if "custodians" in body:
            body["custodians"] = [Custodian(**c) for c in body["custodians"]]
        return bus().handle(commands.UpdateBuilding(building_id, body, expected))


# --- counters ---


@counters.route("")
class Counters(MethodView):
    @allow("operator", "path_caseworker", "custode", "coordinator", "admin")
    @counters.arguments(schemas.CounterListQuery(), location="query", unknown=RAISE)
    @counters.response(200, schemas.CounterSchema(many=True), headers=TOTAL_COUNT_HEADER)
    @counters.alt_response(422, description="Filtri non validi.")
    def get(self, query: dict[str, Any]) -> Any:
        """List counters by name, optionally of one building."""
        return paged(
            bus().deps.counters.list(query.get("building_id"), query["limit"], query["offset"])
        )

    @allow("admin")
    @idempotent("counters")
    @counters.doc(parameters=[PARAMETER])
    @counters.arguments(schemas.CounterInSchema())
    @counters.response(201, schemas.CounterSchema)
    @counters.alt_response(404, description="Edificio non trovato.")
    @counters.alt_response(422, description="Dati non validi (anche orari incoerenti).")
    def post(self, body: dict[str, Any]) -> Any:
        """Register a counter with its recurring schedules (e.g. every second Tuesday)."""
        schedules = [Schedule(**s) for s in body.pop("schedules")]
        return bus().handle(commands.RegisterCounter(schedules=schedules, **body))


@counters.route("/<counter_id>")
class CounterById(MethodView):
    @allow("operator", "path_caseworker", "custode", "coordinator", "admin")
    @counters.response(200, schemas.CounterSchema)
    @counters.alt_response(404, description="Sportello non trovato.")
    def get(self, counter_id: str) -> Any:
        """One counter."""
        counter = bus().deps.counters.get(counter_id)
        if counter is None:
            raise NotFound("Sportello non trovato.", id=counter_id)
        return counter

    @allow("admin")
    @idempotent("counters.patch")
    @counters.doc(parameters=[PARAMETER])
    @counters.arguments(schemas.CounterPatchSchema())
    @counters.response(200, schemas.CounterSchema)
    @counters.alt_response(404, description="Sportello o edificio non trovato.")
    @counters.alt_response(409, description="Modificato nel frattempo (current_version).")
    @counters.alt_response(422, description="Dati non validi (anche orari incoerenti).")
    def patch(self, body: dict[str, Any], counter_id: str) -> Any:
        """Change a counter (schedules, room, operators…); publishes ``counter.updated`` with
        the full snapshot. Appointments already booked keep their time."""
        expected = body.pop("expected_version", None)
        if "schedules" in body:
            body["schedules"] = [Schedule(**s) for s in body["schedules"]]
        return bus().handle(commands.UpdateCounter(counter_id, body, expected))


@counters.route("/<counter_id>/slots")
class CounterSlots(MethodView):
    @allow("operator", "coordinator", "admin")
    @counters.arguments(schemas.SlotQuery(), location="query", unknown=RAISE)
    @counters.response(200, schemas.SlotSchema(many=True))
    @counters.alt_response(404, description="Sportello non trovato.")
    @counters.alt_response(422, description="Intervallo non valido (massimo 92 giorni).")
    def get(self, query: dict[str, Any], counter_id: str) -> Any:
        """The counter's slots between two dates (local), each with whether it is still free."""
        return counter_slots(bus().deps, counter_id, query["date_from"], query["date_to"])


# --- tenants ---


@tenants.route("")
class Tenants(MethodView):
    @allow("operator", "admin")
    @tenants.arguments(schemas.TenantListQuery(), location="query", unknown=RAISE)
    @tenants.response(200, schemas.TenantSchema(many=True), headers=CAPPED_TOTAL_HEADERS)
    @tenants.alt_response(422, description="Filtri non validi.")
    def get(self, query: dict[str, Any]) -> Any:
        """Search tenants by name (surname first), codice fiscale or building; sorted by name."""
        fiscal_code = query.get("fiscal_code")
        return paged(
            bus().deps.tenants.search(
                name=query.get("name"),
                fiscal_code=fiscal_code.upper() if fiscal_code else None,
                building_id=query.get("building_id"),
                limit=query["limit"],
                offset=query["offset"],
            )
        )

    @allow("operator", "admin")
    @idempotent("tenants")
    @tenants.doc(parameters=[PARAMETER])
    @tenants.arguments(schemas.TenantInSchema())
    @tenants.response(201, schemas.TenantSchema)
    @tenants.alt_response(404, description="Edificio non trovato.")
    @tenants.alt_response(409, description="Codice fiscale già registrato.")
    @tenants.alt_response(422, description="Dati non validi (codice fiscale, telefono, email…).")
    def post(self, body: dict[str, Any]) -> Any:
        """Register a tenant; publishes ``tenant.registered`` with the full snapshot."""
        consents = [commands.ConsentInput(**c) for c in body.pop("consents")]
        return bus().handle(commands.RegisterTenant(consents=consents, **body))


@tenants.route("/<tenant_id>")
class TenantById(MethodView):
    # Not path caseworkers: they read what their path needs in casework's case file.
    @allow("operator", "admin")
    @tenants.response(200, schemas.TenantSchema)
    @tenants.alt_response(404, description="Inquilino non trovato.")
    def get(self, tenant_id: str) -> Any:
        """One tenant."""
        tenant = bus().deps.tenants.get(tenant_id)
        if tenant is None:
            raise NotFound("Inquilino non trovato.", id=tenant_id)
        return tenant

    @allow("operator", "admin")
    # A retried PATCH with ``expected_version`` would otherwise meet its own change as a 409.
    @idempotent("tenants.patch")
    @tenants.doc(parameters=[PARAMETER])
    @tenants.arguments(schemas.TenantPatchSchema())
    @tenants.response(200, schemas.TenantSchema)
    @tenants.alt_response(404, description="Inquilino o edificio non trovato.")
    @tenants.alt_response(409, description="Modificato nel frattempo, o codice fiscale già usato.")
    @tenants.alt_response(422, description="Dati non validi.")
    def patch(self, body: dict[str, Any], tenant_id: str) -> Any:
        """Change a tenant's data; publishes ``tenant.updated`` with the full snapshot."""
        expected = body.pop("expected_version", None)
        return bus().handle(commands.UpdateTenant(tenant_id, body, expected))


@tenants.route("/<tenant_id>/consents")
class TenantConsents(MethodView):
    @allow("operator", "admin")
    @idempotent("tenants.consents")
    @tenants.doc(parameters=[PARAMETER])
    @tenants.arguments(schemas.ConsentInSchema())
    @tenants.response(200, schemas.TenantSchema)
    @tenants.alt_response(404, description="Inquilino non trovato.")
    @tenants.alt_response(422, description="Dati non validi.")
    def post(self, body: dict[str, Any], tenant_id: str) -> Any:
        """Give or withdraw consent for a channel; publishes ``consent_changed``."""
        return bus().handle(commands.RecordConsent(tenant_id=tenant_id, **body))


# --- appointments ---


@appointments.route("")
class Appointments(MethodView):
    @allow("operator", "coordinator", "admin")
    @appointments.arguments(schemas.AppointmentListQuery(), location="query", unknown=RAISE)
    @appointments.response(200, schemas.AppointmentSchema(many=True), headers=TOTAL_COUNT_HEADER)
    @appointments.alt_response(422, description="Filtri non validi.")
    def get(self, query: dict[str, Any]) -> Any:
        """Appointments in time order, by counter, tenant, case, building and time range (an
        operator: only those of its counters)."""
        scope.check_counter_filter(query.get("counter_id"))
        return paged(
            bus().deps.appointments.list(
                counter_id=query.get("counter_id"),
                tenant_id=query.get("tenant_id"),
                case_id=query.get("case_id"),
                building_id=query.get("building_id"),
                starts_from=query.get("starts_from"),
                starts_to=query.get("starts_to"),
                limit=query["limit"],
                offset=query["offset"],
                scope=scope.operator_scope(bus().deps.counters),
            )
        )

    @allow("operator", "admin")
    @idempotent("appointments")
    @appointments.doc(parameters=[PARAMETER])
    @appointments.arguments(schemas.AppointmentInSchema())
    @appointments.response(201, schemas.AppointmentSchema)
    @appointments.alt_response(
        404, description="Inquilino, sportello, edificio o caso non trovato."
    )
    @appointments.alt_response(409, description="Slot già prenotato.")
    @appointments.alt_response(422, description="Dati non validi, o nessuno slot a quest'ora.")
    def post(self, body: dict[str, Any]) -> Any:
        """Book a meeting in a counter slot, a home visit or a group session."""
        # An operator books only at its own counters (home visits and sessions have none).
        scope.check_counter_filter(body.get("counter_id"))
        return bus().handle(commands.BookAppointment(**body))


def scoped_appointment(appointment_id: str) -> Any:
    """The appointment ``appointment_id`` (404), if the caller's scope covers it (403)."""
    appointment = bus().deps.appointments.get(appointment_id)
    if appointment is None:
        raise NotFound("Appuntamento non trovato.", id=appointment_id)
    scope.check_appointment(appointment, bus().deps.counters)
    return appointment


@appointments.route("/<appointment_id>")
class AppointmentById(MethodView):
    @allow("operator", "coordinator", "admin")
    @appointments.response(200, schemas.AppointmentSchema)
    @appointments.alt_response(404, description="Appuntamento non trovato.")
    def get(self, appointment_id: str) -> Any:
        """One appointment."""
        return scoped_appointment(appointment_id)


@appointments.route("/<appointment_id>/reschedule")
class AppointmentReschedule(MethodView):
    @allow("operator", "admin")
    @idempotent("appointments.reschedule")
    @appointments.doc(parameters=[PARAMETER])
    @appointments.arguments(schemas.RescheduleSchema())
    @appointments.response(200, schemas.AppointmentSchema)
    @appointments.alt_response(404, description="Appuntamento non trovato.")
    @appointments.alt_response(409, description="Slot già prenotato, o appuntamento annullato.")
    @appointments.alt_response(422, description="Dati non validi.")
    def post(self, body: dict[str, Any], appointment_id: str) -> Any:
        """Move an appointment, with the reason; publishes ``appointment.rescheduled``."""
        scoped_appointment(appointment_id)
        return bus().handle(commands.RescheduleAppointment(appointment_id=appointment_id, **body))


@appointments.route("/<appointment_id>/cancel")
class AppointmentCancel(MethodView):
    @allow("operator", "admin")
    @idempotent("appointments.cancel")
    @appointments.doc(parameters=[PARAMETER])
    @appointments.arguments(schemas.CancelSchema())
    @appointments.response(200, schemas.AppointmentSchema)
    @appointments.alt_response(404, description="Appuntamento non trovato.")
    @appointments.alt_response(409, description="Già annullato.")
    @appointments.alt_response(422, description="Dati non validi.")
    def post(self, body: dict[str, Any], appointment_id: str) -> Any:
        """Cancel an appointment, with the reason; its slot is free again."""
        scoped_appointment(appointment_id)
        return bus().handle(commands.CancelAppointment(appointment_id=appointment_id, **body))


# --- cases ---


@cases.route("")
class Cases(MethodView):
    # Not path caseworkers: they read the case files referred to their path, in casework.
    @allow("operator", "coordinator", "admin")
    @cases.arguments(schemas.CaseListQuery(), location="query", unknown=RAISE)
    @cases.response(200, schemas.CaseSchema(many=True), headers=CAPPED_TOTAL_HEADERS)
    @cases.alt_response(422, description="Filtri non validi.")
    def get(self, query: dict[str, Any]) -> Any:
        """Cases, newest first, by counter, building, tenant, date range, urgency and status (an
        operator: only those of its counters)."""
        scope.check_counter_filter(query.get("counter_id"))
        who = principal()
        status = query.get("status")
        return paged(
            bus().deps.cases.list(
                counter_id=query.get("counter_id"),
                building_id=query.get("building_id"),
                tenant_id=query.get("tenant_id"),
                urgent=query.get("urgent"),
                status=status.value if status else None,
                opened_from=query.get("opened_from"),
                opened_to=query.get("opened_to"),
                limit=query["limit"],
                offset=query["offset"],
                zone=bus().deps.zone,
                counters=who.counters if who.role == "operator" else None,
            )
        )

    @allow("operator", "admin")
    @idempotent("cases")
    @cases.doc(parameters=[PARAMETER])
    @cases.arguments(schemas.CaseInSchema())
    @cases.response(201, schemas.CaseSchema)
    @cases.alt_response(404, description="Inquilino, edificio, sportello o caso collegato assente.")
    @cases.alt_response(
        409, description="Caso già aperto per lo stesso bisogno (existing_case_id)."
    )
    @cases.alt_response(422, description="Dati non validi (POD, PDR, bollette, bisogni…).")
    def post(self, body: dict[str, Any]) -> Any:
        """Open a case for a tenant; publishes ``case.opened``."""
        who = principal()
        # An operator opens cases only at the counters their token names.
        if who.role == "operator" and body.get("counter_id") not in who.counters:
            raise forbid("Puoi aprire casi solo presso i tuoi sportelli.")
        bills = [Bill(**b) for b in body.pop("bills")]
        return bus().handle(commands.OpenCase(bills=bills, **body))


@cases.route("/<case_id>")
class CaseById(MethodView):
    @allow("operator", "coordinator", "admin")
    @cases.response(200, schemas.CaseSchema)
    @cases.alt_response(404, description="Caso non trovato.")
    def get(self, case_id: str) -> Any:
        """One case (an operator: only one opened at its counters)."""
        case = bus().deps.cases.get(case_id)
        if case is None:
            raise NotFound("Caso non trovato.", id=case_id)
        scope.check_case(case)
        return case


BLUEPRINTS = (buildings, counters, tenants, appointments, cases)
