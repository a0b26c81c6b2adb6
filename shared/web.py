"""Flask plumbing every service shares: one JSON error shape, health checks, correlation ids.

Every error a client can get has the same shape::

    {"status": 422, "code": "validation_error", "message": "Dati non validi.",
     "errors": {"json": {"tenant_id": ["Campo obbligatorio."]}}, "correlation_id": "…"}

``message`` is Italian (people read it), ``code`` is stable (programs read it), ``errors`` holds
marshmallow's field errors by location and field path. Nothing ever answers with a traceback.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

import flask_smorest
from flask import Flask, Response, g, jsonify, request
from marshmallow import Schema, fields
from opentelemetry.trace import SpanKind
from pymongo.errors import ConnectionFailure, PyMongoError
from werkzeug.exceptions import HTTPException

from shared import audit, auth, metrics, mongo, privacy, tracing
from shared.auth import AuthError, Principal
from shared.config import Settings
from shared.domain import DomainError
from shared.logs import bind_correlation_id, configure_logging, current_correlation_id

log = logging.getLogger(__name__)

CORRELATION_HEADER = "X-Correlation-ID"

# Italian messages for the HTTP errors Flask and webargs raise on their own.
HTTP_MESSAGES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "Richiesta non valida: il corpo deve essere JSON valido."),
    401: ("non_autenticato", "Autenticazione richiesta."),
    403: ("vietato", "Operazione non consentita per il tuo ruolo."),
    404: ("not_found", "Risorsa non trovata."),
    405: ("method_not_allowed", "Metodo HTTP non consentito su questa risorsa."),
    406: ("not_acceptable", "Formato di risposta non disponibile."),
    409: ("conflict", "Conflitto con lo stato attuale della risorsa."),
    412: ("precondition_failed", "Precondizione non soddisfatta."),
    413: ("payload_too_large", "Richiesta troppo grande."),
    415: ("unsupported_media_type", "Il corpo deve essere application/json."),
    422: ("validation_error", "Dati non validi: controlla i campi indicati."),
    428: ("precondition_required", "Precondizione richiesta."),
    429: ("too_many_requests", "Troppe richieste: riprova tra poco."),
    500: ("internal_error", "Errore interno: l'operazione non è stata completata."),
    503: ("unavailable", "Servizio momentaneamente non disponibile: riprova tra poco."),
}


class ErrorSchema(Schema):
    """The one error shape of every Sportello API."""

    status = fields.Integer(required=True, metadata={"example": 422})
    code = fields.String(required=True, metadata={"example": "validation_error"})
    message = fields.String(required=True, metadata={"example": "Dati non validi."})
    errors = fields.Dict(metadata={"description": "Field errors by location and field path."})
    details = fields.Dict(metadata={"description": "Further facts, e.g. the id of a duplicate."})
    correlation_id = fields.String(allow_none=True)


class ApiError(Exception):
    """An error a view maps a domain failure to: status, stable code, Italian message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        errors: dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.details = details


def error_response(
    status: int,
    code: str | None = None,
    message: str | None = None,
    *,
    errors: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
) -> Response:
    """A JSON response in the project's error shape."""
    default_code, default_message = HTTP_MESSAGES.get(
        status, (HTTPStatus(status).phrase.lower().replace(" ", "_"), HTTPStatus(status).phrase)
    )
    body: dict[str, Any] = {
        "status": status,
        "code": code or default_code,
        "message": message or default_message,
        "correlation_id": current_correlation_id(),
    }
    if errors:
        body["errors"] = errors
    if details:
        body["details"] = details
    response = jsonify(body)
    response.status_code = status
    return response


class Api(flask_smorest.Api):
    """flask-smorest's Api, answering every HTTP error in the project's error shape."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Response:  # type: ignore[override]
        """Turn werkzeug/webargs HTTP errors into the project's error shape."""
        status = error.code or 500
        data = getattr(error, "data", None) or {}
        errors = data.get("messages") if isinstance(data, dict) else None
        if status == 400 and errors:
            # webargs answers 400 for a body that is not JSON at all.
            errors = None
        response = error_response(status, errors=errors)
        for name, value in (data.get("headers") or {}).items() if isinstance(data, dict) else ():
            response.headers[name] = value
        return response


ReadinessCheck = Callable[[], None]


def kafka_reachable(bootstrap_servers: str, timeout_s: float = 1.0) -> ReadinessCheck:
    """A readiness check: at least one bootstrap broker accepts a TCP connection."""

    def check() -> None:
        last: Exception | None = None
        for server in bootstrap_servers.split(","):
            host, _, port = server.rpartition(":")
            try:
                with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
                    return
            except OSError as exc:
                last = exc
        raise ConnectionError(f"nessun broker raggiungibile ({bootstrap_servers}): {last}")

    return check


def init_app(
    app: Flask,
    settings: Settings,
    *,
    title: str,
    description: str,
    readiness: dict[str, ReadinessCheck],
) -> Api:
    """Configure ``app`` the Sportello way and return its flask-smorest ``Api``."""
    app.config.update(
        API_TITLE=title,
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_REDOC_PATH="/docs",
        OPENAPI_REDOC_URL="https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js",
        API_SPEC_OPTIONS={"info": {"description": description}},
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    api = Api(app)

    @app.before_request
    def _begin() -> None:
        g.correlation_id = bind_correlation_id(request.headers.get(CORRELATION_HEADER))
        g.started = time.perf_counter()
        g.span = tracing.start_span(
            f"{request.method} {request.path}",
            tracing.extract_http(request.headers),
            SpanKind.SERVER,
        )

    @app.teardown_request
    def _end(_error: BaseException | None) -> None:
        if "span" in g:
            tracing.end_span(*g.pop("span"))

    @app.after_request
    def _headers(response: Response) -> Response:
        if "started" in g:
            endpoint = request.url_rule.rule if request.url_rule else "unmatched"
            metrics.HTTP_LATENCY.labels(
                settings.service, request.method, endpoint, str(response.status_code)
            ).observe(time.perf_counter() - g.started)
        response.headers[CORRELATION_HEADER] = current_correlation_id() or ""
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> Response:
        return error_response(
            error.status, error.code, error.message, errors=error.errors, details=error.details
        )

    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError) -> Response:
        return error_response(
            error.status, error.code, error.message, details=_jsonable(error.details) or None
        )

    @app.errorhandler(ConnectionFailure)
    def _store_down(error: ConnectionFailure) -> Response:
        log.warning("store unavailable: %s", error)
        return error_response(
            503, "store_unavailable", "Archivio dati non raggiungibile: riprova tra poco."
        )

    @app.errorhandler(PyMongoError)
    def _store_error(error: PyMongoError) -> Response:
        log.exception("store error")
        return error_response(503, "store_error", "Errore dell'archivio dati: riprova tra poco.")

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        if isinstance(error, HTTPException):
            return api.handle_http_exception(error)
        log.exception("unexpected error")
        return error_response(500)

    @app.get("/metrics")
    def metrics_endpoint() -> Response:
        """Prometheus metrics of this service (API and worker processes)."""
        body, content_type = metrics.render()
        return Response(body, content_type=content_type)

    @app.get("/healthz")
    def healthz() -> Response:
        """Liveness: the process answers."""
        return jsonify({"status": "ok", "service": settings.service})

    @app.get("/readyz")
    def readyz() -> Response:
        """Readiness: the store and the broker are reachable (503 naming what is not)."""
        checks: dict[str, str] = {}
        for name, check in readiness.items():
            try:
                check()
                checks[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
                checks[name] = f"non raggiungibile: {exc}"
        failing = [name for name, state in checks.items() if state != "ok"]
        if failing:
            return error_response(
                503,
                "not_ready",
                f"Servizio non pronto: {', '.join(failing)} non raggiungibile.",
                details={"service": settings.service, "checks": checks},
            )
        return jsonify({"status": "ready", "service": settings.service, "checks": checks})

    install_auth(app, settings)
    return api


# The views that answer without a token: health, metrics and the API documents.
PUBLIC_ENDPOINTS = frozenset(
    {"healthz", "readyz", "metrics_endpoint", "api-docs.openapi_json", "api-docs.openapi_redoc"}
)


def install_auth(app: Flask, settings: Settings) -> None:
    """Every request needs a valid bearer token and a role the route allows (else 401/403).

    A route that declares no roles (``shared.auth.allow``) is refused to everyone: forgetting the
    declaration cannot open a route. The principal is in ``g.principal`` (see ``principal()``).
    """
    keys = settings.auth_jwt_keys
    if not keys:
        log.warning("AUTH_JWT_KEYS is empty: every authenticated request will be refused")

    @app.before_request
    def _authenticate() -> Response | None:
        endpoint = request.endpoint
        if endpoint is None:
            return None  # no route: Flask answers 404/405 itself
        view = app.view_functions[endpoint]
        if endpoint in PUBLIC_ENDPOINTS or auth.is_public(view):
            return None
        try:
            who = auth.verify(keys, auth.bearer(request.headers.get("Authorization")))
        except AuthError as exc:
            response = error_response(401, "non_autenticato", exc.message)
            response.headers["WWW-Authenticate"] = 'Bearer realm="sportello"'
            return response
        g.principal = who
        if request.method == "OPTIONS":
            return None  # lists the allowed methods only
        roles = auth.declared_roles(view, request.method)
        if roles is None:
            log.error("route %s %s declares no roles: refused", request.method, endpoint)
        if roles is None or who.role not in roles:
            return error_response(
                403,
                "vietato",
                "Operazione non consentita per il tuo ruolo.",
                details={"role": who.role},
            )
        return None


def principal() -> Principal:
    """Who is calling (set by the authentication hook before any protected view runs)."""
    return g.principal


def forbid(message: str = "Operazione non consentita: fuori dal tuo ambito.") -> ApiError:
    """A 403 for a caller whose role is allowed but whose scope does not cover the resource."""
    return ApiError(403, "vietato", message)


def document_auth(api: Api) -> None:
    """Declare the bearer scheme and the 401/403 answers on every operation of ``api``."""
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    for name, description in (
        ("NON_AUTENTICATO", "Token mancante, non valido o scaduto."),
        ("VIETATO", "Ruolo o ambito non autorizzato."),
    ):
        api.spec.components.response(
            name,
            {
                "description": description,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        )
    spec_paths: dict[str, dict[str, Any]] = api.spec._paths  # apispec has no public walk
    for operations in spec_paths.values():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            operation["security"] = [{"bearerAuth": []}]
            responses = operation.setdefault("responses", {})
            responses.setdefault("401", {"$ref": "#/components/responses/NON_AUTENTICATO"})
            responses.setdefault("403", {"$ref": "#/components/responses/VIETATO"})


def _jsonable(details: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, (str, int, float, bool, type(None), list, dict)) else str(v)
        for k, v in details.items()
    }


def service_app(
    settings: Settings,
    *,
    title: str,
    description: str,
    blueprints: Iterable[flask_smorest.Blueprint],
    db_alias: str,
    extensions: dict[str, Any],
    audited: Mapping[str, str] | None = None,
    held_about: Callable[[str], dict[str, Any]] | None = None,
) -> Flask:
    """A service's Flask app: JSON logs, the shared plumbing, its blueprints and dependencies.

    ``audited`` maps the blueprints that serve personal data to the resource kind their requests
    are recorded under in the audit trail (``shared.audit``), which admins read at
    ``/api/v1/audit``. ``held_about(tenant_id)`` returns everything the service holds about a
    tenant: the admin's GDPR export at ``/api/v1/privacy/tenants/<id>/export`` (audited too).
    """
    configure_logging(settings.service, settings.log_level, settings.kafka_log_level)
    tracing.configure_tracing(settings.service, settings.traces_exporter)
    # No static files in an API: every route is either public (health, docs) or role-checked.
    app = Flask(f"services.{settings.service}", static_folder=None)
    app.extensions.update(extensions)
    app.extensions["sportello.settings"] = settings
    api = init_app(
        app,
        settings,
        title=title,
        description=description,
        readiness={
            "mongodb": lambda: mongo.ping(mongo.database(db_alias)),
            "kafka": kafka_reachable(settings.kafka_bootstrap_servers),
        },
    )
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
    api.register_blueprint(audit.blueprint)
    if held_about is not None:
        api.register_blueprint(
            privacy.privacy_blueprint(
                settings.service, lambda: mongo.database(db_alias), held_about
            )
        )
    audit.install_audit(
        app, lambda: mongo.database(db_alias), {**(audited or {}), "privacy": "privacy"}
    )
    document_auth(api)
    return app
