"""W3C trace context across HTTP and Kafka with OpenTelemetry.

Every HTTP request and every consumed event runs in a span; the ``traceparent`` of the current
span is written into the headers of the events it causes (through the outbox), and the consumer
continues the trace from them. So one request at intake and the notification it causes share a
trace id, visible in every JSON log line (``trace_id``). Spans are exported only when
``OTEL_TRACES_EXPORTER=console`` (off by default).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.trace import Span, SpanKind

_configured = False


def configure_tracing(service: str, exporter: str = "none") -> None:
    """Install the SDK tracer provider once per process (real trace ids even with no exporter)."""
    global _configured
    if _configured:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": f"sportello-{service}"}))
    if exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured = True


def tracer() -> trace.Tracer:
    """Sportello's tracer."""
    return trace.get_tracer("sportello")


def inject() -> dict[str, str]:
    """The current trace context as headers (``traceparent``, ``tracestate``)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def extract_kafka(headers: Iterable[tuple[str, bytes]] | None) -> context.Context:
    """The trace context carried by Kafka headers."""
    carrier = {k: v.decode("utf-8", "replace") for k, v in headers or () if v is not None}
    return propagate.extract(carrier)


def extract_http(headers: Mapping[str, str]) -> context.Context:
    """The trace context carried by HTTP headers."""
    return propagate.extract({k.lower(): v for k, v in headers.items()})


def current_trace_id() -> str | None:
    """The current trace id as 32 hex digits, if a span is active."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


@contextmanager
def span(name: str, parent: context.Context | None, kind: SpanKind) -> Iterator[Span]:
    """Run a block in a new span, child of ``parent`` (None: of the current span, if any)."""
    with tracer().start_as_current_span(name, context=parent, kind=kind) as current:
        yield current


def start_span(name: str, parent: context.Context, kind: SpanKind) -> tuple[Span, object]:
    """Start a span and make it current; returns what ``end_span`` needs (HTTP hooks)."""
    current = tracer().start_span(name, context=parent, kind=kind)
    token = context.attach(trace.set_span_in_context(current))
    return current, token


def end_span(current: Span, token: object) -> None:
    """End a span started with ``start_span``."""
    current.end()
    context.detach(token)  # type: ignore[arg-type]
