"""intake's Flask application factory.

Served by ``gunicorn -c services/intake/gunicorn_conf.py``.
"""

from __future__ import annotations

from flask import Flask

from services.intake.adapters.documents import ALIAS
from services.intake.bootstrap import bootstrap
from services.intake.config import load_settings
from services.intake.entrypoints import privacy
from services.intake.entrypoints.api import BLUEPRINTS
from shared.config import Settings
from shared.web import service_app

# The blueprints that serve a tenant's personal data or a case file: every request is audited.
AUDITED = {
    "tenants": "tenant",
    "appointments": "appointment",
    "cases": "case",
    "erasure": "privacy",
}


def create_app(settings: Settings | None = None) -> Flask:
    """Build the intake API. Nothing is contacted until a request needs it."""
    settings = settings or load_settings()
    bus = bootstrap(settings)
    return service_app(
        settings,
        title="Sportello — intake",
        description="Sportelli, edifici, inquilini, appuntamenti e apertura dei casi.",
        blueprints=(*BLUEPRINTS, privacy.erasure),
        db_alias=ALIAS,
        audited=AUDITED,
        held_about=lambda tenant_id: privacy.held_about(bus.deps, tenant_id),
        extensions={"sportello.bus": bus},
    )
