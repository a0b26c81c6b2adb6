"""What every API client shares: short timeouts, the one JSON error shape, "service down".

An API that does not answer, answers 5xx or answers something that is not JSON raises
``Unavailable`` naming the part of Sportello it serves (in Italian), so a page can say which part
is down instead of failing. A 4xx raises ``ApiError`` carrying the API's JSON error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from shared.logs import current_correlation_id


class Unavailable(Exception):
    """An API did not answer usefully; ``part`` names what people cannot use now."""

    def __init__(self, part: str) -> None:
        super().__init__(part)
        self.part = part


class ApiError(Exception):
    """An API refused the request (4xx) with the project's JSON error shape."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message", str(status)))
        self.status = status
        self.body = body

    @property
    def code(self) -> str:
        """The stable error code (e.g. ``validation_error``)."""
        return str(self.body.get("code", ""))

    @property
    def message(self) -> str:
        """The Italian message of the API."""
        return str(self.body.get("message", "Richiesta rifiutata."))

    @property
    def field_errors(self) -> dict[str, Any]:
        """marshmallow's field errors of the JSON body (empty when there are none)."""
        errors = self.body.get("errors") or {}
        return errors.get("json") or errors.get("query") or {}


class ApiClient:
    """A JSON client of one API under ``<base>/api/v1``."""

    def __init__(self, base_url: str, part: str, timeout_s: float) -> None:
        self.base = base_url.rstrip("/") + "/api/v1"
        self.part = part
        self.timeout_s = timeout_s
        self.session = requests.Session()
        # Who the calls are made for: a fresh bearer token per page (set by the app factory).
        self.token: Callable[[], str] | None = None

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET ``path``; the decoded JSON body."""
        return self._call("GET", path, params=params)

    def post(self, path: str, body: dict[str, Any], idempotency_key: str | None = None) -> Any:
        """POST ``body`` as JSON (with an ``Idempotency-Key`` when given)."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self._call("POST", path, json=body, headers=headers)

    def put(self, path: str, body: dict[str, Any]) -> Any:
        """PUT ``body`` as JSON."""
        return self._call("PUT", path, json=body)

    def _call(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kw: Any
    ) -> Any:
        all_headers = {"Accept": "application/json", **(headers or {})}
        if self.token is not None:
            all_headers["Authorization"] = f"Bearer {self.token()}"
        correlation_id = current_correlation_id()
        if correlation_id:
            all_headers["X-Correlation-ID"] = correlation_id
        try:
            response = self.session.request(
                method, self.base + path, headers=all_headers, timeout=self.timeout_s, **kw
            )
        except requests.RequestException:
            raise Unavailable(self.part) from None
        if response.status_code >= 500:
            raise Unavailable(self.part)
        try:
            body = response.json()
        except ValueError:
            raise Unavailable(self.part) from None
        if response.status_code >= 400:
            raise ApiError(response.status_code, body if isinstance(body, dict) else {})
        return body
