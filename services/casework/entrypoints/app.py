"""casework's Flask application factory.

Served by ``gunicorn -c services/casework/gunicorn_conf.py``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from services.casework.adapters.codec import to_doc
from services.casework.adapters.documents import ALIAS
from services.casework.bootstrap import bootstrap, message_bus
from services.casework.config import load_settings
from services.casework.entrypoints.api import BLUEPRINTS
from shared.config import Settings
from shared.web import service_app

# The blueprints that serve a tenant's personal data or a case file: every request is audited.
AUDITED = {"case_files": "case_file", "queues": "case_file"}


def create_app(settings: Settings | None = None) -> Flask:
    """Build the casework API. Nothing is contacted until a request needs it."""
    settings = settings or load_settings()
    bus = message_bus(bootstrap(settings))

    def held_about(tenant_id: str) -> dict[str, Any]:
        """The tenant's case files, whole and decrypted (the GDPR export)."""
        return {"case_files": [to_doc(c) for c in bus.deps.case_files.of_tenant(tenant_id)]}

    return service_app(
        settings,
        title="Sportello — casework",
        description="Fascicoli, valutazioni, invii a Welfare, Casa e AMAT fino all'esito.",
        blueprints=BLUEPRINTS,
        db_alias=ALIAS,
        audited=AUDITED,
        held_about=held_about,
        extensions={"sportello.bus": bus},
    )
