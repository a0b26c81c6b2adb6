"""A minimal command bus: one visible table maps each command type to its handler."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

Deps = TypeVar("Deps")


class MessageBus(Generic[Deps]):
    """Dispatches a command to its one handler with the service's dependencies.

    A command has exactly one handler and its errors propagate to the caller (a view or a
    consumer), which maps them to an HTTP answer or a retry / dead-letter decision.
    """

    def __init__(self, handlers: Mapping[type, Callable[[Any, Deps], Any]], deps: Deps) -> None:
        self.handlers = handlers
        self.deps = deps

    def handle(self, command: object) -> Any:
        """Run ``command``'s handler and return its result."""
        try:
            handler = self.handlers[type(command)]
        except KeyError:
            raise LookupError(f"no handler for {type(command).__name__}") from None
        return handler(command, self.deps)
