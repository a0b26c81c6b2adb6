"""The web app's Flask application factory.

Served by ``gunicorn -c services/web/gunicorn_conf.py``. Pages are server-rendered (Jinja2, in
Italian); a small script queues the counter's forms in the browser while the connection is down.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import Flask, g, jsonify, render_template, request, send_from_directory
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from services.web.bootstrap import bootstrap
from services.web.config import load_settings, secret_key
from services.web.entrypoints import auth, cases, counter, custode, dashboard, team
from services.web.entrypoints.common import ZONE, api_token, identity
from shared.config import Settings
from shared.logs import bind_correlation_id, configure_logging

log = logging.getLogger(__name__)

BLUEPRINTS = (
    auth.blp,
    counter.blp,
    cases.blp,
    team.blp,
    custode.blp,
    dashboard.blp,
)

HTTP_TITLES = {
    400: "Richiesta non valida",
    403: "Il tuo ruolo non consente questa operazione",
    404: "Pagina non trovata",
    405: "Operazione non consentita su questa pagina",
    413: "Richiesta troppo grande",
    429: "Troppi tentativi di accesso: riprova tra un minuto",
}


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web app. Nothing is contacted until a page needs it."""
    settings = settings or load_settings()
    configure_logging("web", settings.log_level)
    app = Flask(__name__, template_folder="../templates", static_folder="../static")
    app.config.update(
        SECRET_KEY=secret_key(settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
    )
    app.extensions["sportello.settings"] = settings
    clients = bootstrap(settings)
    for client in (clients.intake, clients.casework, clients.notifications):
        client.token = api_token
    app.extensions["sportello.web.clients"] = clients
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    # Sign-in checks who people are: a client address gets a few attempts a minute (then 429).
    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://", headers_enabled=True)
    app.view_functions["auth.signin_post"] = limiter.limit(
        settings.extra["signin_rate_limit"],
        error_message="Troppi tentativi di accesso: riprova tra un minuto.",
    )(app.view_functions["auth.signin_post"])

    @app.before_request
    def _correlation() -> None:
        g.correlation_id = bind_correlation_id(request.headers.get("X-Correlation-ID"))

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["X-Correlation-ID"] = g.get("correlation_id", "")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.context_processor
    def _globals() -> dict[str, Any]:
        return {"me": g.get("identity") or identity(), "unavailable": g.get("unavailable", [])}

    @app.template_filter("labels")
    def _labels(values: Any, names: dict[str, str]) -> str:
        """Codes as their Italian names, comma separated (an unknown code stays as it is)."""
        return ", ".join(names.get(str(v), str(v)) for v in values or [])

    @app.template_filter("local")
    def _local(value: Any, with_time: bool = True) -> str:
        """An ISO moment from an API as a Milan date (and time), the way people read it."""
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value or "")
        if moment.tzinfo is not None:
            moment = moment.astimezone(ZONE)
        return moment.strftime("%d/%m/%Y %H:%M" if with_time else "%d/%m/%Y")

    @app.get("/sw.js")
    def service_worker() -> Any:
        # At the root, so its scope may be /sportello (a worker's scope cannot be above its URL).
        response = send_from_directory(app.static_folder or "", "sw.js", max_age=0)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["Content-Type"] = "text/javascript; charset=utf-8"
        return response

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz() -> Any:
        # No store of its own: ready as soon as it serves; pages say which API is down.
        return jsonify(status="ok")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        title = HTTP_TITLES.get(status, "Errore")
        if request.accept_mimetypes.best == "application/json":
            return jsonify(status=status, message=title), status
        return render_template("error.html", title=title, status=status), status

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        log.exception("unexpected error in a page", exc_info=exc)
        title = "Errore interno: l'operazione non è stata completata."
        return render_template("error.html", title=title, status=500), 500

    return app
