"""What every page shares: the signed-in identity, the API clients, "this part is down"."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from flask import abort, current_app, g, jsonify, redirect, request, session, url_for
from werkzeug.wrappers import Response

from services.web.adapters.http import ApiError, Unavailable
from services.web.bootstrap import Clients
from services.web.domain.identity import SIGN_IN_PRINCIPAL, Identity
from shared.auth import mint

T = TypeVar("T")

# The counters' local time: "today" at a counter is a day in Milan.
ZONE = ZoneInfo("Europe/Rome")


def clients() -> Clients:
    """The API clients of this app."""
    return current_app.extensions["sportello.web.clients"]


def identity() -> Identity | None:
    """Who is signed in, if anyone."""
    return Identity.from_session(session.get("identity"))


def api_token() -> str:
    """A short-lived token for who is signed in (the sign-in page's own when nobody is), signed
    with the web app's key; one per page request."""
    if "api_token" not in g:
        who = g.get("identity") or identity()
        principal = who.principal() if who else SIGN_IN_PRINCIPAL
        g.api_token = mint(current_app.extensions["sportello.settings"], principal)
    return str(g.api_token)


def now() -> datetime:
    """The local time at the counters."""
    return datetime.now(ZONE)


def requires(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A page for signed-in people with one of ``roles`` (others go to their own home)."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            who = identity()
            if who is None:
                if wants_json():
                    return jsonify(status=401, message="Accedi di nuovo per continuare."), 401
                return redirect(url_for("auth.signin", next=request.path))
            if roles and who.role not in roles:
                return redirect(url_for(who.home))
            g.identity = who
            return view(*args, **kwargs)

        return wrapper

    return decorate


def may(action: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A form post only roles allowed to take ``action`` may make (others get 403, the page never
    offered them the form). Goes under ``requires``, which sets ``g.identity``."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not g.identity.can(action):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def attempt(call: Callable[[], T], default: T) -> T:
    """``call()``, or ``default`` when its API is down (the page then names the missing part) or
    refuses a read (e.g. a counter that no longer exists: the page shows what it can)."""
    try:
        return call()
    except Unavailable as down:
        unavailable(down.part)
        return default
    except ApiError:
        return default


def unavailable(part: str) -> None:
    """Note that ``part`` of Sportello cannot be used now (shown at the top of the page)."""
    parts: list[str] = g.setdefault("unavailable", [])
    if part not in parts:
        parts.append(part)


def wants_json() -> bool:
    """A request from the page's script (the offline queue), which reads JSON answers."""
    return request.accept_mimetypes.best == "application/json"


def idempotency_key() -> str:
    """The request's Idempotency-Key (header from the offline queue, or the form's hidden field);
    a fresh one when neither is there."""
    key = request.headers.get("Idempotency-Key") or request.form.get("idempotency_key") or ""
    key = key.strip()
    if key and len(key) <= 200 and key.isprintable():
        return key
    return f"web-{uuid.uuid4()}"


def back(endpoint: str, **values: Any) -> Response:
    """Post/redirect/get."""
    return redirect(url_for(endpoint, **values), code=303)
