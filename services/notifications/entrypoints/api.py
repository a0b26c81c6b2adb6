"""notifications' REST API under ``/api/v1``."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from services.notifications.entrypoints import schemas
from services.notifications.service_layer.handlers import Dependencies

notifications = Blueprint(
    "notifications",
    __name__,
    url_prefix="/api/v1/notifications",
    description="Messaggi a inquilini, custodi sociali e team dei percorsi.",
)


def deps() -> Dependencies:
    """The dependencies of this application."""
    return current_app.extensions["sportello.deps"]


@notifications.route("")
class Notifications(MethodView):
    @notifications.arguments(schemas.NotificationListQuery, location="query")
    @notifications.response(200, schemas.NotificationSchema(many=True))
    def get(self, query: dict[str, Any]) -> list:
        """Notifications, newest first, by case and status."""
        status = query.get("status")
        return deps().notifications.list(
            query.get("case_id"), status.value if status else None, query["limit"], query["offset"]
        )


BLUEPRINTS = (notifications,)
