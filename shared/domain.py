"""Domain error types every service's domain raises. Pure Python: no framework.

The HTTP layer (``shared.web``) maps them: ``NotFound`` → 404, ``Conflict`` → 409, any other
``DomainError`` → 422. ``message`` is Italian because people read it.
"""

from __future__ import annotations


class DomainError(Exception):
    """A domain rule refuses the request."""

    status = 422
    code = "domain_rule"

    def __init__(self, message: str, *, code: str | None = None, **details: object) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details


class NotFound(DomainError):
    """The thing asked for does not exist."""

    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The request conflicts with the current state (duplicate, forbidden transition, …)."""

    status = 409
    code = "conflict"
