"""notifications' Flask application factory.

Served by ``gunicorn -c services/notifications/gunicorn_conf.py``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from services.notifications.adapters.documents import ALIAS
from services.notifications.bootstrap import bootstrap, command_bus
from services.notifications.config import load_settings
from services.notifications.entrypoints.api import BLUEPRINTS
from shared.config import Settings
from shared.web import service_app

# The blueprints that serve a tenant's personal data or a case file: every request is audited.
AUDITED = {"notifications": "notification", "inbox": "inbox"}


def create_app(settings: Settings | None = None) -> Flask:
    """Build the notifications API. Nothing is contacted until a request needs it."""
    settings = settings or load_settings()
    bus = command_bus(bootstrap(settings))

    def held_about(tenant_id: str) -> dict[str, Any]:
        """The tenant's contacts, consents and every message to them or about their cases."""
        deps = bus.deps
        case_ids = deps.cases.ids_of_tenant(tenant_id)
        return {
            **deps.tenants.held(tenant_id),
            "case_ids": case_ids,
            "notifications": deps.notifications.about_tenant(tenant_id, case_ids),
        }

    return service_app(
        settings,
        title="Sportello — notifications",
        description=(
            "Notifiche a inquilini, custodi sociali e team: regole, modelli, canali, consegne."
        ),
        blueprints=BLUEPRINTS,
        db_alias=ALIAS,
        audited=AUDITED,
        held_about=held_about,
        extensions={"sportello.bus": bus},
    )
