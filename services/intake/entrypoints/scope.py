"""Row-level scope of intake's callers: what an operator or a custode may see of the rows a route
serves (the role itself is checked before, by ``shared.web``).

- An operator works on the counters in its ``counters`` claim: cases opened there, appointments
  there (or, without a counter — home visits, group sessions — at the buildings of those counters).
  Tenants are not scoped: a tenant may come to any counter, so every operator may find and register
  any tenant.
- A custode sees only the buildings in its ``buildings`` claim.

Everyone else (coordinator, admin) sees every row their role can reach.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.intake.adapters.repository import CounterRepository, CounterScope
from services.intake.domain.model import Appointment, Case
from shared.web import forbid, principal

OUT_OF_SCOPE = "Fuori dal tuo ambito: riguarda uno sportello che non è tra i tuoi."


def operator_scope(counters: CounterRepository) -> CounterScope | None:
    """The counters (and their buildings) the calling operator works on; None for other roles."""
    who = principal()
    if who.role != "operator":
        return None
    buildings = []
    for counter_id in who.counters:
        counter = counters.get(counter_id)
        if counter is not None:
            buildings.append(counter.building_id)
    return CounterScope(tuple(who.counters), tuple(buildings))


def check_counter_filter(counter_id: str | None) -> None:
    """An operator may filter only by one of its own counters (403 otherwise)."""
    who = principal()
    if who.role == "operator" and counter_id and counter_id not in who.counters:
        raise forbid(OUT_OF_SCOPE)


def check_case(case: Case) -> None:
    """An operator reads only the cases opened at its counters (403 otherwise)."""
    who = principal()
    if who.role == "operator" and case.counter_id not in who.counters:
        raise forbid(OUT_OF_SCOPE)


def check_appointment(appointment: Appointment, counters: CounterRepository) -> None:
    """An operator reads and changes only the appointments of its counters (403 otherwise)."""
    scope = operator_scope(counters)
    if scope is None:
        return
    if appointment.counter_id is not None:
        allowed = appointment.counter_id in scope.counters
    else:
        allowed = appointment.building_id in scope.buildings
    if not allowed:
        raise forbid(OUT_OF_SCOPE)


def custode_buildings() -> Sequence[str] | None:
    """The buildings a custode may see (its ``buildings`` claim); None for other roles."""
    who = principal()
    return who.buildings if who.role == "custode" else None


def check_building(building_id: str) -> None:
    """A custode reads only the buildings in its claim (403 otherwise)."""
    allowed = custode_buildings()
    if allowed is not None and building_id not in allowed:
        raise forbid("Fuori dal tuo ambito: non sei custode di questo edificio.")
