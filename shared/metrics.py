"""Prometheus metrics every service exposes at ``/metrics``.

With gunicorn several processes serve one API and a separate worker process consumes; they share
``PROMETHEUS_MULTIPROC_DIR`` (set per service by ``deploy/system.py``), so one scrape of the API's
``/metrics`` shows the API's and the worker's figures together. Without it (tests, one process),
the default registry is used.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

HTTP_LATENCY = Histogram(
    "sportello_http_request_duration_seconds",
    "HTTP request latency.",
    ["service", "method", "endpoint", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENTS_PRODUCED = Counter(
    "sportello_events_produced_total", "Events published by the outbox relay.", ["service", "type"]
)
EVENTS_CONSUMED = Counter(
    "sportello_events_consumed_total",
    "Events a consumer applied (or found nothing to do for).",
    ["service", "type"],
)
EVENTS_FAILED = Counter(
    "sportello_events_failed_total",
    "Failed attempts of an event handler (each retry counts).",
    ["service", "type"],
)
EVENTS_DEAD_LETTERED = Counter(
    "sportello_events_dead_lettered_total",
    "Events sent to the dead-letter topic.",
    ["service", "error_type"],
)
CONSUMER_LAG = Gauge(
    "sportello_consumer_lag",
    "Records between the consumer's position and the end of the partition.",
    ["service", "topic", "partition"],
    multiprocess_mode="livesum",
)
OUTBOX_BACKLOG = Gauge(
    "sportello_outbox_backlog",
    "Aggregates with events waiting to be published.",
    ["service"],
    multiprocess_mode="livemax",
)
NOTIFICATIONS = Counter(
    "sportello_notifications_total",
    "Notifications by channel and status reached.",
    ["channel", "status"],
)


def render() -> tuple[bytes, str]:
    """The metrics exposition (body, content type), across processes when configured so."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
