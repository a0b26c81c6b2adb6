"""JSON logs that carry the correlation id of the request or event being handled."""

from __future__ import annotations

import contextvars
import logging
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from pythonjsonlogger.json import JsonFormatter

from shared.tracing import current_trace_id

_correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "correlation_id", default=None
)


def current_correlation_id() -> str | None:
    """The correlation id of the work in progress, if any."""
    return _correlation_id.get()


def new_correlation_id() -> str:
    """A fresh correlation id."""
    return uuid.uuid4().hex


@contextmanager
def correlation(correlation_id: str | None) -> Iterator[str]:
    """Run a block with ``correlation_id`` (a new one when None) attached to every log line."""
    cid = correlation_id or new_correlation_id()
    token = _correlation_id.set(cid)
    try:
        yield cid
    finally:
        _correlation_id.reset(token)


def bind_correlation_id(correlation_id: str | None) -> str:
    """Attach a correlation id to the current context until the next bind (HTTP requests)."""
    cid = correlation_id or new_correlation_id()
    _correlation_id.set(cid)
    return cid


class _ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.correlation_id = _correlation_id.get()
        record.trace_id = current_trace_id()
        return True


def configure_logging(service: str, level: str = "INFO", kafka_level: str = "WARNING") -> None:
    """Send JSON log lines to stderr, each with the service name and correlation id.

    kafka-python logs every connection and rebalance step at INFO: its lines have their own
    ``kafka_level`` (the stricter of the two applies).
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "{asctime}{levelname}{name}{message}{service}{correlation_id}{trace_id}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(_ContextFilter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    strictest = max(logging.getLevelName(kafka_level), logging.getLevelName(level))
    logging.getLogger("kafka").setLevel(strictest)
