"""notifications' REST API under ``/api/v1``: views load, build a command, hand it to the bus."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from services.notifications.domain import commands
from services.notifications.entrypoints import schemas
from services.notifications.service_layer.handlers import Dependencies
from shared.auth import allow
from shared.messagebus import MessageBus
from shared.web import forbid, principal

notifications = Blueprint(
    "notifications",
    __name__,
    url_prefix="/api/v1/notifications",
    description="Messaggi a inquilini, custodi sociali, team dei percorsi e coordinatori.",
)
inbox = Blueprint(
    "inbox",
    __name__,
    url_prefix="/api/v1/inbox",
    description="Casella in-app del personale: elenco, non letti, segna come letto.",
)
custodians = Blueprint(
    "custodians",
    __name__,
    url_prefix="/api/v1/custodians",
    description="Preferenze dei custodi sociali: messaggi immediati o riepilogo giornaliero.",
)


def bus() -> MessageBus[Dependencies]:
    """The command bus of this application."""
    return current_app.extensions["sportello.bus"]


def own_name(recipient: str | None) -> None:
    """A custode sees and sets only what is addressed to them (their name in the token)."""
    who = principal()
    if who.role == "custode" and recipient != who.name:
        raise forbid("Puoi vedere solo i messaggi indirizzati a te.")


def own_inbox(recipient: str) -> None:
    """An inbox is its owner's: the caller's ``sub`` or ``name`` (a custode's inbox id is its
    name, an operator's its user name); a path caseworker also reads its path team's inbox, an
    admin any inbox (403 otherwise)."""
    who = principal()
    if who.role == "admin" or recipient in (who.sub, who.name):
        return
    if who.role == "path_caseworker":
        team = bus().deps.directory.teams.get(who.path) or {}
        if team.get("channel") == "inbox" and recipient == team.get("inbox", team.get("name")):
            return
    raise forbid("Puoi leggere solo la tua casella.")


@notifications.route("")
class Notifications(MethodView):
    @allow("custode", "coordinator", "admin")
    @notifications.arguments(schemas.NotificationListQuery(), location="query", unknown=RAISE)
    @notifications.response(200, schemas.NotificationSchema(many=True))
    @notifications.alt_response(422, description="Parametri non validi.")
    def get(self, query: dict[str, Any]) -> list:
        """Notifications, newest first, by case, status, recipient and channel."""
        own_name(query.get("recipient"))
        who = principal()
        # A custode whose token names its buildings: only messages about those (or about none).
        buildings = who.buildings if who.role == "custode" and who.buildings else None
        status, channel = query.get("status"), query.get("channel")
        return bus().deps.notifications.list(
            query.get("case_id"),
            status.value if status else None,
            query.get("recipient"),
            channel.value if channel else None,
            query["limit"],
            query["offset"],
            buildings,
        )


@notifications.route("/<notification_id>")
class NotificationDetail(MethodView):
    @allow("coordinator", "admin")
    @notifications.response(200, schemas.NotificationDetailSchema)
    @notifications.alt_response(404, description="Notifica non trovata.")
    def get(self, notification_id: str) -> Any:
        """One notification with its text and its status history."""
        return bus().deps.notifications.get(notification_id)


@inbox.route("/<recipient>")
class Inbox(MethodView):
    @allow("operator", "path_caseworker", "custode", "coordinator", "admin")
    @inbox.arguments(schemas.InboxQuery(), location="query", unknown=RAISE)
    @inbox.response(200, schemas.NotificationDetailSchema(many=True))
    @inbox.alt_response(422, description="Parametri non validi.")
    def get(self, query: dict[str, Any], recipient: str) -> list:
        """A staff member's inbox, newest first (``unread=true``: only unread)."""
        own_inbox(recipient)
        return bus().deps.notifications.inbox(
            recipient, query["unread"], query["limit"], query["offset"]
        )


@inbox.route("/<recipient>/unread-count")
class UnreadCount(MethodView):
    @allow("operator", "path_caseworker", "custode", "coordinator", "admin")
    @inbox.response(200, schemas.UnreadCountSchema)
    @inbox.alt_response(503, description="Archivio non raggiungibile.")
    def get(self, recipient: str) -> dict:
        """How many messages of the inbox are unread."""
        own_inbox(recipient)
        return {"recipient": recipient, "unread": bus().deps.notifications.unread_count(recipient)}


@inbox.route("/<recipient>/<notification_id>/read")
class MarkRead(MethodView):
    @allow("operator", "path_caseworker", "custode", "coordinator", "admin")
    @inbox.response(200, schemas.NotificationDetailSchema)
    @inbox.alt_response(404, description="Messaggio non trovato nella casella.")
    def post(self, recipient: str, notification_id: str) -> Any:
        """Mark a message read (idempotent)."""
        own_inbox(recipient)
        return bus().handle(commands.MarkRead(recipient, notification_id))


@custodians.route("/<custodian>/preference")
class CustodianPreference(MethodView):
    @allow("custode", "admin")
    @custodians.arguments(schemas.CustodianPreferenceSchema())
    @custodians.response(200, schemas.CustodianPreferenceOut)
    @custodians.alt_response(422, description="Dati non validi.")
    def put(self, body: dict[str, Any], custodian: str) -> dict:
        """Choose immediate messages or one daily digest (urgent ones always come at once)."""
        own_name(custodian)
        return bus().handle(commands.SetCustodianPreference(custodian, body["mode"], body["actor"]))


BLUEPRINTS = (notifications, inbox, custodians)
