"""intake's command handlers: load, decide in the domain, store state and events in one write."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from services.intake.adapters.repository import BuildingRepository, CaseRepository
from services.intake.domain import commands
from services.intake.domain.model import Building, Case, new_id
from shared.domain import NotFound
from shared.events import Event, make_event
from shared.events.intake import CASE_OPENED


@dataclass
class Dependencies:
    """What intake's handlers need; ``bootstrap`` wires the real ones."""

    buildings: BuildingRepository
    cases: CaseRepository
    clock: Callable[[], datetime]


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


def open_case(cmd: commands.OpenCase, deps: Dependencies) -> Case:
    """Open a case; its ``case.opened`` event is stored with it and published by the relay."""
    building = deps.buildings.get(cmd.building_id)
    if building is None:
        raise NotFound("Edificio non trovato.", field="building_id", id=cmd.building_id)
    case = Case.open(
        tenant_id=cmd.tenant_id,
        building_id=building.id,
        counter_id=cmd.counter_id,
        channel=cmd.channel,
        needs=cmd.needs,
        description=cmd.description,
        disconnection_date=cmd.disconnection_date,
        urgent=cmd.urgent,
        opened_by=cmd.opened_by,
        now=deps.clock(),
    )
    deps.cases.add(case, [case_opened_event(case, building)])
    return case


def case_opened_event(case: Case, building: Building) -> Event:
    """The ``case.opened`` contract event for ``case``."""
    return make_event(
        CASE_OPENED,
        subject=case.id,
        data={
            "case_id": case.id,
            "tenant_id": case.tenant_id,
            "counter_id": case.counter_id,
            "building": {
                "id": building.id,
                "name": building.name,
                "address": building.address,
                "municipio": building.municipio,
                "custodians": [
                    {"name": c.name, "email": c.email, "phone": c.phone, "channel": c.channel.value}
                    for c in building.custodians
                ],
            },
            "channel": case.channel.value,
            "needs": [n.value for n in case.needs],
            "description": case.description,
            "urgent": case.urgent,
            "disconnection_date": (
                case.disconnection_date.isoformat() if case.disconnection_date else None
            ),
            "opened_by": case.opened_by,
            "opened_at": case.opened_at.isoformat(),
        },
    )


HANDLERS = {
    commands.RegisterBuilding: register_building,
    commands.OpenCase: open_case,
}
