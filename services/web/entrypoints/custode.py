"""The custode sociale's inbox: messages about their buildings, unread first."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, render_template, request

from services.web.adapters.http import ApiError, Unavailable
from services.web.domain.queues import unread_first
from services.web.entrypoints.cases import _check_id
from services.web.entrypoints.common import (
    attempt,
    back,
    clients,
    may,
    requires,
    unavailable,
)

blp = Blueprint("custode", __name__, url_prefix="/custode")


@blp.get("")
@requires("custode")
def inbox() -> Any:
    """Every message addressed to me, unread first."""
    messages = attempt(lambda: clients().notifications.for_recipient(g.identity.custodian), [])
    return render_template("custode.html", messages=unread_first(messages))


@blp.post("/<notification_id>/letto")
@requires("custode")
@may("mark_read")
def mark_read(notification_id: str) -> Any:
    """Mark an in-app message read."""
    _check_id(notification_id)
    address = request.form.get("address", "")
    if not address or len(address) > 200:
        abort(400)
    try:
        clients().notifications.mark_read(address, notification_id)
    except Unavailable as down:
        unavailable(down.part)
    except ApiError:
        abort(404)
    return back("custode.inbox")
