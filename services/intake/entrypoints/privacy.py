"""intake's GDPR routes: the admin's erasure request for a tenant and its progress.

The export (``GET /api/v1/privacy/tenants/<id>/export``) is shared plumbing (``shared.privacy``);
``held_about`` below is intake's part of it.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from services.intake.entrypoints import schemas
from services.intake.service_layer import privacy
from services.intake.service_layer.handlers import Dependencies
from shared.auth import allow
from shared.schemas import StrictSchema
from shared.web import principal

erasure = Blueprint(
    "erasure",
    __name__,
    url_prefix="/api/v1/privacy",
    description="Cancellazione (anonimizzazione) dei dati di un inquilino, confermata da ogni"
    " servizio.",
)

# Enough for every appointment and case a tenant can have had.
EXPORT_LIMIT = 10_000


class ErasureInSchema(StrictSchema):
    reason = fields.String(
        required=True,
        validate=validate.Length(min=3, max=500),
        metadata={"description": "Perché: es. «richiesta scritta dell'interessato del 3/11»."},
    )


class ConfirmationSchema(Schema):
    service = fields.String(required=True)
    at = fields.AwareDateTime(required=True)
    records = fields.Integer(required=True)


class ErasureSchema(Schema):
    id = fields.String(required=True)
    tenant_id = fields.String(required=True)
    requested_by = fields.String(required=True)
    requested_at = fields.AwareDateTime(required=True)
    reason = fields.String(required=True)
    state = fields.String(
        required=True, validate=validate.OneOf(["in_corso", "completata"]), metadata={}
    )
    confirmations = fields.List(fields.Nested(ConfirmationSchema), required=True)
    pending = fields.List(fields.String(), required=True)


def deps() -> Dependencies:
    """intake's dependencies."""
    return current_app.extensions["sportello.bus"].deps


@erasure.route("/tenants/<tenant_id>/erasure")
class TenantErasure(MethodView):
    @allow("admin")
    @erasure.arguments(ErasureInSchema())
    @erasure.response(202, ErasureSchema)
    @erasure.alt_response(404, description="Inquilino non trovato.")
    @erasure.alt_response(422, description="Motivo mancante.")
    def post(self, body: dict[str, Any], tenant_id: str) -> Any:
        """Erase (anonymise) a tenant everywhere: here at once, in the other services by events.

        A repeated request answers with the first one.
        """
        return privacy.request_erasure(deps(), tenant_id, principal().sub, body["reason"])

    @allow("admin")
    @erasure.response(200, ErasureSchema)
    @erasure.alt_response(404, description="Nessuna richiesta per questo inquilino.")
    def get(self, tenant_id: str) -> Any:
        """The erasure request and which services have confirmed it."""
        return privacy.erasure_status(deps(), tenant_id)


def held_about(dependencies: Dependencies, tenant_id: str) -> dict[str, Any]:
    """Everything intake holds about a tenant, as the API shows it (decrypted)."""
    tenant = dependencies.tenants.get(tenant_id)
    page = {"limit": EXPORT_LIMIT, "offset": 0}
    cases = dependencies.cases.list(
        counter_id=None,
        building_id=None,
        tenant_id=tenant_id,
        urgent=None,
        status=None,
        opened_from=None,
        opened_to=None,
        zone=dependencies.zone,
        **page,
    )
    appointments = dependencies.appointments.of_tenant(tenant_id)[:EXPORT_LIMIT]
    return {
        "tenant": schemas.TenantSchema().dump(tenant) if tenant else None,
        "cases": schemas.CaseSchema(many=True).dump(cases.items),
        "appointments": schemas.AppointmentSchema(many=True).dump(appointments),
    }
