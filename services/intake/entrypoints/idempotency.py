"""``Idempotency-Key`` for POSTs and PATCHes: a retried request (flaky wifi at an itinerant
counter) gets the first answer again instead of doing the work twice.

The key is claimed (unique ``_id`` in the store) *before* the work, so two concurrent retries
cannot both do it: the second one waits for the first answer (409 while it is being computed).
The same key with a different body is refused (422). A request that fails gives its key back, so
a retry may succeed; a claim left by a crashed process is taken over after a grace period.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, timedelta
from typing import Any

from flask import Response, current_app, request

from services.intake.adapters.repository import IdempotencyStore
from shared.web import ApiError

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 200
IN_PROGRESS_GRACE = timedelta(seconds=60)

# OpenAPI description of the header, for ``@blp.doc(parameters=[...])``.
PARAMETER = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "schema": {"type": "string", "maxLength": MAX_KEY_LENGTH},
    "description": "Una chiave unica per richiesta: ripetendo la stessa richiesta con la stessa "
    "chiave si riceve la prima risposta, senza rifare l'operazione.",
}


def _request_hash(route: str) -> str:
    raw = request.get_data(cache=True)
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = raw
    return hashlib.sha256(route.encode() + b"\n" + canonical).hexdigest()


def idempotent(route: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Make a POST or PATCH view honour ``Idempotency-Key``; put it above the flask-smorest
    decorators."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = request.headers.get(HEADER)
            if key is None:
                return view(*args, **kwargs)
            if not key.strip() or len(key) > MAX_KEY_LENGTH or not key.isprintable():
                raise ApiError(
                    422,
                    "invalid_idempotency_key",
                    "Idempotency-Key non valida.",
                    errors={
                        "headers": {HEADER: [f"Da 1 a {MAX_KEY_LENGTH} caratteri stampabili."]}
                    },
                )
            # Path parameters are part of the route: the same key on two appointments is two keys.
            scope = f"{route}|{json.dumps(kwargs, sort_keys=True, default=str)}|{key}"
            store_key = hashlib.sha256(scope.encode()).hexdigest()
            fingerprint = _request_hash(route)
            store = IdempotencyStore()
            clock = current_app.extensions["sportello.bus"].deps.clock
            previous = store.claim(store_key, fingerprint, clock())
            if previous is not None and previous["state"] == "in_corso":
                created = previous["created_at"]
                created = created if created.tzinfo else created.replace(tzinfo=UTC)
                if created < clock() - IN_PROGRESS_GRACE:
                    store.release(store_key)  # left by a crashed request: start again
                    previous = store.claim(store_key, fingerprint, clock())
            if previous is not None:
                return _replay(previous, fingerprint)
            try:
                response = view(*args, **kwargs)
            except BaseException:
                store.release(store_key)
                raise
            if isinstance(response, Response) and 200 <= response.status_code < 300:
                headers = {"Content-Type": response.headers.get("Content-Type", "")}
                store.complete(
                    store_key,
                    response.status_code,
                    response.get_data(as_text=True),
                    json.dumps(headers),
                )
            else:
                store.release(store_key)
            return response

        return wrapper

    return decorator


def _replay(previous: dict, fingerprint: str) -> Response:
    if previous["request_hash"] != fingerprint:
        raise ApiError(
            422,
            "idempotency_key_reused",
            "Questa Idempotency-Key è già stata usata per una richiesta diversa.",
            errors={"headers": {HEADER: ["Usare una chiave nuova per una richiesta nuova."]}},
        )
    if previous["state"] != "completata":
        raise ApiError(
            409,
            "idempotency_in_progress",
            "Una richiesta con la stessa Idempotency-Key è in corso: riprovare tra poco.",
        )
    response = Response(previous["body"], status=previous["status_code"])
    for name, value in json.loads(previous["headers"] or "{}").items():
        if value:
            response.headers[name] = value
    response.headers[REPLAYED_HEADER] = "true"
    return response
