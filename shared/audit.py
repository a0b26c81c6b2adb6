"""The audit trail: who read or changed a case file or a tenant's personal data, when, what, why.

Every request to an *audited* blueprint (a service names them: tenants, cases, case files, inboxes,
privacy requests…) leaves one entry in the service's own ``audit_log`` collection, whether it was
answered, refused (401/403) or failed: an admin looking into a data breach needs the refusals too.
An entry records

- **who**: the token's ``sub``, ``name`` and ``role`` (``anonimo`` when no valid token came);
- **when**: the server's UTC time;
- **what**: method, route, resource kind, the ids of the people and cases involved (``subjects``:
  from the URL and from the answer, e.g. every tenant of a listed page), the query parameters with
  free-text search values masked, and the answer's status;
- **why**: the ``X-Purpose`` header (at most 200 characters), else the purpose of the caller's role.

The trail is append-only: this module only inserts and reads, there is no route that changes or
deletes an entry, and ``GET /api/v1/audit`` is for admins. If a read cannot be recorded the read is
refused with 503: an unrecorded read of personal data is worse than no read.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import flask_smorest
from bson.errors import BSONError
from flask import Flask, Response, current_app, g, request
from flask.views import MethodView
from marshmallow import RAISE, Schema, fields, validate
from pymongo import DESCENDING
from pymongo.database import Database
from pymongo.errors import PyMongoError

from shared.auth import allow
from shared.logs import current_correlation_id

log = logging.getLogger(__name__)

COLLECTION = "audit_log"
PURPOSE_HEADER = "X-Purpose"
MAX_PURPOSE = 200
MAX_SUBJECTS = 500  # a page is at most a few hundred items; more would only bloat the entry

# Why each role reads personal data when it does not say otherwise (GDPR art. 5(1)(b)).
ROLE_PURPOSES: dict[str, str] = {
    "operator": "assistenza allo sportello",
    "path_caseworker": "gestione dell'invio al percorso",
    "custode": "segnalazioni al custode sociale",
    "coordinator": "coordinamento e statistiche",
    "admin": "amministrazione",
}

# Query parameters whose values are personal data (free-text search, contacts): recorded masked.
MASKED_PARAMETERS = frozenset(
    {"q", "search", "name", "fiscal_code", "codice_fiscale", "email", "phone"}
)
MASK = "***"

# The ids a route or an answer may carry, and the subject kind each names.
SUBJECT_KEYS: dict[str, str] = {
    "tenant_id": "tenant",
    "case_id": "case",
    "referral_id": "referral",
    "appointment_id": "appointment",
    "notification_id": "notification",
    "recipient": "recipient",
    "custodian": "recipient",
    "erasure_id": "erasure",
}

EXTENSION = "sportello.audit"


def install_audit(app: Flask, database: Any, resources: Mapping[str, str]) -> None:
    """Record every request to the blueprints named in ``resources`` (blueprint → resource kind).

    ``database`` is a callable returning the service's pymongo ``Database`` (resolved per request,
    so building the app contacts nothing).
    """
    app.extensions[EXTENSION] = database
    indexed: list[bool] = []  # once per process, on the first entry: building the app is offline

    @app.after_request
    def _audit(response: Response) -> Response:
        blueprint = request.blueprint
        if blueprint not in resources or request.method in {"OPTIONS", "HEAD"}:
            return response
        entry = build_entry(resources[blueprint], response)
        try:
            db = database()
            db[COLLECTION].insert_one(entry)
            if not indexed:
                ensure_indexes(db)
                indexed.append(True)
        except (PyMongoError, BSONError) as exc:
            log.error("audit entry not stored (%s %s): %s", request.method, request.path, exc)
            if request.method == "GET" and response.status_code < 400:
                from shared.web import error_response  # shared.web installs this module

                return error_response(
                    503,
                    "audit_unavailable",
                    "Registro degli accessi non disponibile: lettura non consentita, riprova tra"
                    " poco.",
                )
        return response


def build_entry(resource: str, response: Response) -> dict[str, Any]:
    """The audit entry of the current request and its ``response``."""
    who = getattr(g, "principal", None)
    role = who.role if who is not None else "anonimo"
    purpose = (request.headers.get(PURPOSE_HEADER) or "").strip()[:MAX_PURPOSE]
    return {
        "_id": uuid.uuid4().hex,
        "at": datetime.now(UTC),
        "actor": who.sub if who is not None else "anonimo",
        "actor_name": (who.name or who.sub) if who is not None else "",
        "role": role,
        "action": "read" if request.method == "GET" else "write",
        "method": request.method,
        "route": request.url_rule.rule if request.url_rule is not None else request.path,
        "resource": resource,
        "subjects": subjects_of(request.view_args or {}, _answer(response)),
        "query": masked_query(request.args.items(multi=True)),
        "purpose": purpose or ROLE_PURPOSES.get(role, "non dichiarata"),
        "status": response.status_code,
        "correlation_id": current_correlation_id(),
    }


def _answer(response: Response) -> Any:
    if response.status_code >= 400 or not response.is_json:
        return None
    return response.get_json(silent=True)


def subjects_of(view_args: Mapping[str, Any], answer: Any) -> list[str]:
    """``kind:id`` for every id the URL names and every id/tenant/case of the JSON answer."""
    found: dict[str, None] = {}

    def add(kind: str, value: Any) -> None:
        if isinstance(value, str) and value and len(found) < MAX_SUBJECTS:
            found[f"{kind}:{value}"] = None

    for key, value in view_args.items():
        add(SUBJECT_KEYS.get(key, key.removesuffix("_id")), value)
    items = answer if isinstance(answer, list) else [answer]
    for item in items:
        if not isinstance(item, dict):
            continue
        add(_kind_of_id(item), item.get("id"))
        for key, kind in SUBJECT_KEYS.items():
            add(kind, item.get(key))
    return list(found)


def _kind_of_id(item: Mapping[str, Any]) -> str:
    # Ids carry their kind as a prefix (ten_…, case_…, apt_…): the prefix names the subject.
    value = item.get("id")
    prefix = value.split("_", 1)[0] if isinstance(value, str) and "_" in value else ""
    return {"ten": "tenant", "case": "case", "apt": "appointment", "ntf": "notification"}.get(
        prefix, "record"
    )


def masked_query(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """The query parameters, personal values masked (a search for a name is not kept)."""
    query: dict[str, list[str]] = {}
    for key, value in pairs:
        value = MASK if key in MASKED_PARAMETERS else value[:100]
        query.setdefault(_storable_key(key), []).append(value)
    return query


def _storable_key(key: str) -> str:
    """A query parameter's name as a document key: no NUL, dot or leading ``$``, 100 chars.

    Names are whatever the client sent; an unknown one is refused with a 422 and still recorded.
    """
    key = key[:100].replace("\x00", "\ufffd").replace(".", "\uff0e")
    return "\uff04" + key[1:] if key.startswith("$") else key


def ensure_indexes(db: Database) -> None:
    """The admin's searches: by subject, by actor, newest first (MongoDB; FerretDB scans)."""
    db[COLLECTION].create_index([("subjects", 1), ("at", DESCENDING)])
    db[COLLECTION].create_index([("actor", 1), ("at", DESCENDING)])
    db[COLLECTION].create_index([("at", DESCENDING)])


def entries(
    db: Database,
    *,
    actor: str | None = None,
    subject: str | None = None,
    resource: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """A page of entries matching the filters, newest first, and how many match in all."""
    query: dict[str, Any] = {}
    if actor:
        query["actor"] = actor
    if subject:
        query["subjects"] = subject
    if resource:
        query["resource"] = resource
    if since or until:
        query["at"] = {
            **({"$gte": since} if since else {}),
            **({"$lt": until} if until else {}),
        }
    collection = db[COLLECTION]
    found = list(
        collection.find(query)
        .sort([("at", DESCENDING), ("_id", DESCENDING)])
        .skip(offset)
        .limit(limit)
    )
    for entry in found:
        entry["id"] = entry.pop("_id")
    return found, collection.count_documents(query)


# --- the admin's API ---


class AuditQuery(Schema):
    """Filters of the audit trail."""

    actor = fields.String(metadata={"description": "Chi: il ``sub`` del token."})
    subject = fields.String(
        validate=validate.Regexp(
            r"^[a-z_]+:.+$", error="Formato atteso: tipo:id, es. tenant:ten_…"
        ),
        metadata={"description": "Di chi o di che cosa, es. ``tenant:ten_…`` o ``case:case_…``."},
    )
    resource = fields.String(metadata={"description": "Tipo di risorsa, es. ``tenant``."})
    since = fields.AwareDateTime(metadata={"description": "Dal (incluso)."})
    until = fields.AwareDateTime(metadata={"description": "Al (escluso)."})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000))


class AuditEntrySchema(Schema):
    """One access to personal data."""

    id = fields.String(required=True)
    at = fields.AwareDateTime(required=True, default_timezone=UTC)
    actor = fields.String(required=True)
    actor_name = fields.String()
    role = fields.String(required=True)
    action = fields.String(required=True, metadata={"description": "read o write."})
    method = fields.String(required=True)
    route = fields.String(required=True)
    resource = fields.String(required=True)
    subjects = fields.List(fields.String(), required=True)
    query = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    purpose = fields.String(required=True)
    status = fields.Integer(required=True)
    correlation_id = fields.String(allow_none=True)


blueprint = flask_smorest.Blueprint(
    "audit",
    __name__,
    url_prefix="/api/v1/audit",
    description="Registro degli accessi ai dati personali (solo lettura, per gli amministratori).",
)


@blueprint.route("")
class AuditTrail(MethodView):
    @allow("admin")
    @blueprint.arguments(AuditQuery(), location="query", unknown=RAISE)
    @blueprint.response(
        200,
        AuditEntrySchema(many=True),
        headers={"X-Total-Count": {"description": "Voci in tutto.", "schema": {"type": "integer"}}},
    )
    @blueprint.alt_response(422, description="Filtri non validi.")
    def get(self, query: dict[str, Any]) -> Any:
        """Who read or changed personal data, newest first."""
        found, total = entries(current_app.extensions[EXTENSION](), **query)
        return found, 200, {"X-Total-Count": str(total)}
