"""intake's REST API under ``/api/v1``: views load, build a command, hand it to the bus."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from services.intake.domain import commands
from services.intake.domain.model import Custodian
from services.intake.entrypoints import schemas
from shared.domain import NotFound
from shared.messagebus import MessageBus

buildings = Blueprint(
    "buildings",
    __name__,
    url_prefix="/api/v1/buildings",
    description="Complessi di edilizia pubblica e i loro custodi sociali.",
)
cases = Blueprint(
    "cases", __name__, url_prefix="/api/v1/cases", description="Casi aperti agli sportelli."
)


def bus() -> MessageBus:
    """The command bus of this application."""
    return current_app.extensions["sportello.bus"]


@buildings.route("")
class Buildings(MethodView):
    @buildings.arguments(schemas.BuildingListQuery, location="query")
    @buildings.response(200, schemas.BuildingSchema(many=True))
    def get(self, query: dict[str, Any]) -> list:
        """List buildings, sorted by name."""
        return bus().deps.buildings.list(query.get("municipio"), query["limit"], query["offset"])

    @buildings.arguments(schemas.BuildingInSchema)
    @buildings.response(201, schemas.BuildingSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Register a building with its custodi sociali."""
        custodians = [Custodian(**c) for c in body.pop("custodians")]
        return bus().handle(commands.RegisterBuilding(custodians=custodians, **body))


@buildings.route("/<building_id>")
class BuildingById(MethodView):
    @buildings.response(200, schemas.BuildingSchema)
    def get(self, building_id: str) -> Any:
        """One building."""
        building = bus().deps.buildings.get(building_id)
        if building is None:
            raise NotFound("Edificio non trovato.", id=building_id)
        return building


@cases.route("")
class Cases(MethodView):
    @cases.arguments(schemas.CaseInSchema)
    @cases.response(201, schemas.CaseSchema)
    @cases.alt_response(404, description="Edificio non trovato.")
    def post(self, body: dict[str, Any]) -> Any:
        """Open a case for a tenant; publishes ``case.opened``."""
        return bus().handle(commands.OpenCase(**body))


@cases.route("/<case_id>")
class CaseById(MethodView):
    @cases.response(200, schemas.CaseSchema)
    def get(self, case_id: str) -> Any:
        """One case."""
        case = bus().deps.cases.get(case_id)
        if case is None:
            raise NotFound("Caso non trovato.", id=case_id)
        return case


BLUEPRINTS = (buildings, cases)
