"""casework's REST API under ``/api/v1``."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from services.casework.entrypoints import schemas
from services.casework.service_layer.handlers import Dependencies
from shared.domain import NotFound

case_files = Blueprint(
    "case_files",
    __name__,
    url_prefix="/api/v1/case-files",
    description="Fascicoli dei casi e loro percorsi di invio.",
)


def deps() -> Dependencies:
    """The dependencies of this application."""
    return current_app.extensions["sportello.deps"]


@case_files.route("")
class CaseFiles(MethodView):
    @case_files.arguments(schemas.CaseFileListQuery, location="query")
    @case_files.response(200, schemas.CaseFileSchema(many=True))
    def get(self, query: dict[str, Any]) -> list:
        """Case files, newest first."""
        state = query.get("state")
        return deps().case_files.list(
            state.value if state else None, query["limit"], query["offset"]
        )


@case_files.route("/<case_id>")
class CaseFileById(MethodView):
    @case_files.response(200, schemas.CaseFileSchema)
    def get(self, case_id: str) -> Any:
        """One case file."""
        case_file = deps().case_files.get(case_id)
        if case_file is None:
            raise NotFound("Fascicolo non trovato.", id=case_id)
        return case_file


BLUEPRINTS = (case_files,)
